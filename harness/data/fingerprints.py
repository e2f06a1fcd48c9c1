"""The pinned dataset of each source version: the fingerprint of its original variant.

`Dataset.fingerprint()` of the ``original`` variant as condbench converts it from the
pinned source files (the release hashes in `harness.data.release_hashes`, the sources' own
pins); records name it as ``dataset.sha256``. `condbench leaderboard build` flags a record
of a pinned (name, version) whose fingerprint differs; a test converts each source the
mirror holds and checks it against its pin, so a converter change that alters the dataset
without a version bump fails there. Sources with live dumps (no fixed source hash) are not
pinned: their records are compared with each other.
"""

from __future__ import annotations

# dataset name -> source version -> fingerprint of the original variant
PINNED_FINGERPRINTS: dict[str, dict[str, str]] = {
    "movielens-tfdcon": {
        "c6252de-2": "bf6658773860db89de415e9c08a4e90cace2ee29b97b5002b305f780c399f9bc",
    },
    "goodreads-tfdcon": {
        "c6252de-3": "1c1c31849c02d2b671ce953b0e2f01426f190b6e85544e55b4329dc00c56101b",
    },
    "ml-100k-seq": {
        "1-ts-row": "b2e0ed4903c54eba045773a495d0f6d5bbc14ef9872a4bbb3d2196bdf9f1a06d",
    },
}


def pinned_fingerprint(name: str, version: str) -> str | None:
    """The fingerprint every record of dataset `name` at `version` must name, if pinned."""
    return PINNED_FINGERPRINTS.get(name, {}).get(version)
