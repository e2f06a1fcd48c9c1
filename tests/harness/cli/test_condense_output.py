"""`condbench condense -o`: never replaces a folder that is not a condbench dataset folder."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from harness.cli import main
from harness.cli.condense import check_output_folder
from harness.dataset import Dataset, normalise_interactions


def _tiny_dataset() -> Dataset:
    items = pd.DataFrame(
        {
            "item_id": np.arange(1, 5, dtype=np.int64),
            "title": [[10 * i, 10 * i + 1] for i in range(1, 5)],
        }
    )
    histories = pd.DataFrame({"user_id": [1, 2, 3], "history": [[1], [2], [3]]})
    rows = [("train", 1, 2, 1), ("train", 2, 3, 1), ("train", 3, 4, 1), ("test", 1, 4, 1)]
    rows += [("train", 1, 4, 0), ("test", 1, 3, 0)]
    interactions = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label"])
    interactions["group_id"] = interactions["user_id"]
    return Dataset(
        name="tiny",
        items=items,
        text_fields=("title",),
        histories=histories,
        interactions=normalise_interactions(interactions),
        meta={"name": "tiny", "variant": "original"},
    )


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()
    }


def _condense(output: str):
    # the output check runs before the dataset is loaded: an unknown dataset is never reached
    args = [
        "condense",
        "--dataset",
        "no-such-dataset",
        "--method",
        "random",
        "--quiet",
        "-o",
        output,
    ]
    return CliRunner().invoke(main, args)


def _one_line_error(result) -> str:
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_folder_with_other_files_is_refused_and_left_untouched(tmp_path):
    folder = tmp_path / "thesis"
    (folder / "chapters").mkdir(parents=True)
    (folder / "notes.txt").write_text("years of work")
    (folder / "chapters" / "one.tex").write_text("\\section{One}")
    before = _snapshot(folder)

    result = _condense(str(folder))

    assert result.exit_code == 2
    assert "not a condbench dataset folder" in _one_line_error(result)
    assert _snapshot(folder) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["thesis"]  # no temp/old folders left


def test_foreign_manifest_json_is_not_a_dataset_folder(tmp_path):
    folder = tmp_path / "entry"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps({"method": "mine"}))  # a submission's
    before = _snapshot(folder)

    result = _condense(str(folder))

    assert result.exit_code == 2
    assert "no condbench manifest.json" in _one_line_error(result)
    assert _snapshot(folder) == before


def test_dataset_folder_with_extra_files_is_refused(tmp_path):
    folder = _tiny_dataset().save(tmp_path / "set")
    (folder / "README.md").write_text("mine")
    before = _snapshot(folder)

    result = _condense(str(folder))

    assert result.exit_code == 2
    assert "'README.md'" in _one_line_error(result)
    assert _snapshot(folder) == before


@pytest.mark.parametrize("output", [".", "./", "sub/.."])
def test_working_folder_is_refused(tmp_path, monkeypatch, output):
    (tmp_path / "sub").mkdir()
    (tmp_path / "keep.txt").write_text("keep")
    monkeypatch.chdir(tmp_path)
    before = _snapshot(tmp_path)

    result = _condense(output)

    assert result.exit_code == 2
    assert "working folder" in _one_line_error(result)
    assert _snapshot(tmp_path) == before


def test_parent_of_the_working_folder_is_refused(tmp_path, monkeypatch):
    (tmp_path / "work").mkdir()
    monkeypatch.chdir(tmp_path / "work")
    result = _condense(str(tmp_path))
    assert result.exit_code == 2
    assert (tmp_path / "work").is_dir()


def test_new_empty_and_dataset_folders_are_accepted(tmp_path):
    check_output_folder(tmp_path / "new")
    (tmp_path / "empty").mkdir()
    check_output_folder(tmp_path / "empty")
    check_output_folder(_tiny_dataset().save(tmp_path / "set"))


def test_condense_replaces_an_earlier_condensed_set(tmp_path, monkeypatch):
    monkeypatch.setattr(
        "condensers.context.CondenseContext.load_variant",
        lambda self, name, variant: _tiny_dataset(),
    )
    monkeypatch.setattr("harness.cli.condense.condense_report", lambda *args: {})  # sizes
    folder = _tiny_dataset().save(tmp_path / "set")
    args = ["condense", "--dataset", "tiny", "--method", "original", "--budget", "all", "--quiet"]
    result = CliRunner().invoke(main, [*args, "-o", str(folder), "--json"])
    assert result.exit_code == 0, result.output
    written = Dataset.load(folder)
    assert written.meta["budget"] == "all"
    assert set(p.name for p in folder.iterdir()) <= {
        "manifest.json",
        "items.parquet",
        "histories.parquet",
        "interactions.parquet",
    }
