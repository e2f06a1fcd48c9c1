"""atomic_dir: nothing half-written is visible, and a folder another process writes meanwhile
(two grid workers caching the same content-keyed set) does not make the writer fail."""

from __future__ import annotations

import pytest

from harness.paths import atomic_dir


def test_a_folder_written_meanwhile_by_another_process_is_replaced(tmp_path):
    target = tmp_path / "cache" / "key"
    with atomic_dir(target) as tmp:
        (tmp / "data.txt").write_text("ours")
        target.mkdir(parents=True)  # the other worker finished first
        (target / "data.txt").write_text("theirs")
    assert (target / "data.txt").read_text() == "ours"
    assert [p.name for p in target.parent.iterdir()] == ["key"]  # no temporary folder left


def test_an_error_leaves_the_old_folder_as_it_was(tmp_path):
    target = tmp_path / "site"
    target.mkdir()
    (target / "index.html").write_text("old")
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "index.html").write_text("half")
        raise RuntimeError("crash")
    assert (target / "index.html").read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["site"]
