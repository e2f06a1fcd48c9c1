"""A cached condensed set is checked against its seal: altered, it is condensed again."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.parquet as pq
from factories import tiny_config, write_config

from harness.cache_seal import FOLDER_SEAL
from harness.run.config import load_config
from harness.run.runner import GridRunner, expand_cells, parse_only, select_cells


def _runner_and_cell(tiny_folder, root):
    config = load_config(write_config(root / "tiny.yaml", tiny_config(tiny_folder)))
    cell = select_cells(expand_cells(config), parse_only("method=random,seed=0"))[0]
    return GridRunner(config, root / "results", cache=root / "cache", progress=False), cell


def _flip_one_label(path) -> None:
    table = pq.read_table(path)
    index = table.schema.get_field_index("label")
    labels = table.column(index).to_pylist()
    labels[0] = 1 - labels[0]
    field = table.schema.field(index)
    pq.write_table(table.set_column(index, field, pa.array(labels, type=field.type)), path)


def test_an_altered_condensed_set_is_condensed_again(tiny_folder, tmp_path, capsys):
    runner, cell = _runner_and_cell(tiny_folder, tmp_path)
    original = runner.original(cell.dataset)
    made_set, made = runner.condensed(cell, original)
    folder = tmp_path / "cache" / "condensed" / made["key"]
    assert made["cached"] is False and (folder / FOLDER_SEAL).is_file()
    assert runner.condensed(cell, original)[1]["cached"] is True
    capsys.readouterr()

    _flip_one_label(folder / "interactions.parquet")  # valid Parquet, another train set
    again, how = runner.condensed(cell, original)
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"cache: condensed set {folder}: interactions.parquet ")
    assert line.endswith("; rebuilding it")
    assert how["cached"] is False
    assert again.fingerprint() == made_set.fingerprint()
    assert runner.condensed(cell, original)[1]["cached"] is True  # sealed again
