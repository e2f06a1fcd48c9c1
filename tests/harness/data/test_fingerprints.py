"""The pinned fingerprint of each source version is what the converter makes of it now."""

from __future__ import annotations

import pytest

from harness.data.fingerprints import PINNED_FINGERPRINTS
from harness.data.loading import load_dataset
from harness.data.registry import get_source

# ml-100k-seq is not in the test mirror: its pin is the fingerprint its 295 committed records
# name, and its source pins the built interaction table (ml100k_seq.INTERACTIONS_SHA256)
IN_MIRROR = ("movielens-tfdcon", "goodreads-tfdcon")


@pytest.mark.parametrize("name", IN_MIRROR)
def test_the_converted_dataset_is_the_pinned_one(name, mirror, session_cache):
    version = get_source(name).version
    assert version in PINNED_FINGERPRINTS[name], f"pin the fingerprint of {name} {version}"
    dataset = load_dataset(name, mirror=mirror, cache=session_cache)
    assert dataset.fingerprint() == PINNED_FINGERPRINTS[name][version]


def test_every_pinned_name_is_a_source():
    for name in PINNED_FINGERPRINTS:
        assert get_source(name).name == name
