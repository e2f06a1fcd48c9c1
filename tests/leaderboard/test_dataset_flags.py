"""`leaderboard build` flags records made from another dataset than their name and version."""

from __future__ import annotations

from pathlib import Path

from cli_runner import invoke_condbench
from leaderboard_factory import make_record

from harness.data.fingerprints import pinned_fingerprint
from leaderboard.dataset_check import dataset_flags
from leaderboard.record import DatasetInfo, write_record
from leaderboard.site import load_results

REPO = Path(__file__).resolve().parents[2]
SAME, OTHER = "ab" * 32, "cd" * 32


def _record(seed: int, sha256: str, version: str = "1", method: str = "tfdcon"):
    record = make_record(method=method, seed=seed)
    dataset = DatasetInfo(name="movielens-tfdcon", version=version, sha256=sha256)
    return record.model_copy(update={"dataset": dataset})


def _build(tmp_path, records):
    for record in records:
        write_record(record, tmp_path / "results")
    return invoke_condbench("leaderboard", "build", tmp_path / "results", "-o", tmp_path / "site")


def test_a_record_of_another_dataset_is_flagged_in_the_output_and_on_the_site(tmp_path):
    records = [_record(seed, SAME) for seed in range(3)] + [_record(3, OTHER)]
    done = _build(tmp_path, records)
    assert done.exit_code == 0, done.output
    odd = tmp_path / "results" / records[3].relative_path()
    assert done.stderr.splitlines()[-2] == (
        "warning: 1 record(s) of movielens-tfdcon 1 were made from another dataset than the "
        f"most records' (sha256 {SAME[:12]}…), e.g. {odd}"
    )
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    assert 'class="note dataset-flag"' in index and "1 record(s) of movielens-tfdcon 1" in index


def test_records_are_compared_with_the_pinned_fingerprint_of_their_version(tmp_path):
    version = "c6252de-2"
    pinned = pinned_fingerprint("movielens-tfdcon", version)
    records = [_record(s, SAME, version) for s in range(2)] + [_record(2, pinned, version)]
    [flag] = dataset_flags([(r, None) for r in records])
    assert (flag.count, flag.reference, flag.basis) == (2, pinned, "pinned")
    assert flag.example == str(records[0].relative_path())


def test_agreeing_records_and_records_without_a_fingerprint_are_not_flagged():
    records = [_record(s, SAME) for s in range(3)] + [_record(3, "")]
    assert dataset_flags([(r, None) for r in records]) == []


def test_the_committed_records_raise_no_flag():
    loaded = load_results(REPO / "results")
    assert dataset_flags([(item.record, item.path) for item in loaded]) == []
