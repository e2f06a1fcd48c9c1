"""Caches that cannot lie: a converted dataset is checked against its seal on every load."""

from __future__ import annotations

import json

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

import harness.data.loading as loading
from harness.cache_seal import FOLDER_SEAL, entry_problem, read_sealed, seal
from harness.dataset import Dataset

ML = "movielens-tfdcon"


@pytest.fixture
def converted(mirror, cache, capsys):
    """MovieLens converted into a fresh cache: (its folder, the dataset as first loaded)."""
    dataset = loading.load_dataset(ML, mirror=mirror, cache=cache)
    capsys.readouterr()
    return loading.dataset_folder(ML, "original", cache), dataset


def _reload(mirror, cache, capsys) -> tuple[Dataset, str]:
    dataset = loading.load_dataset(ML, mirror=mirror, cache=cache)
    return dataset, capsys.readouterr().err


def _flip_one_label(path) -> None:
    table = pq.read_table(path)
    labels = table.column("label").to_pylist()
    labels[0] = 1 - labels[0]
    index = table.schema.get_field_index("label")
    field = table.schema.field(index)
    pq.write_table(table.set_column(index, field, pa.array(labels, type=field.type)), path)


def test_a_parquet_altered_but_still_valid_is_detected_and_rebuilt(
    converted, mirror, cache, capsys
):
    folder, original = converted
    path = folder / "interactions.parquet"
    _flip_one_label(path)
    altered = Dataset.load(folder)  # still valid Parquet, and a different dataset
    assert altered.fingerprint() != original.fingerprint()
    dataset, err = _reload(mirror, cache, capsys)
    [line] = err.strip().splitlines()
    assert line.startswith(f"cache: converted dataset {folder}: interactions.parquet differs")
    assert line.endswith("; rebuilding it")
    assert dataset.fingerprint() == original.fingerprint()
    assert dataset.interactions.equals(original.interactions)
    assert entry_problem(folder, loading.conversion_inputs(loading.get_source(ML))) is None
    assert _reload(mirror, cache, capsys)[1] == ""  # sealed again: no second rebuild


def test_a_truncated_parquet_is_rebuilt(converted, mirror, cache, capsys):
    folder, original = converted
    path = folder / "items.parquet"
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    dataset, err = _reload(mirror, cache, capsys)
    assert "items.parquet is" in err and "(truncated or altered); rebuilding it" in err
    assert len(err.strip().splitlines()) == 1
    assert dataset.fingerprint() == original.fingerprint()


def test_a_cache_without_seal_is_rebuilt_once(converted, mirror, cache, capsys):
    folder, original = converted
    (folder / FOLDER_SEAL).unlink()  # as an older condbench left it
    assert not loading.is_cached(ML, "original", cache)
    dataset, err = _reload(mirror, cache, capsys)
    assert err.strip() == (
        f"cache: converted dataset {folder}: no seal (written by an older condbench, "
        "or cut short); rebuilding it"
    )
    assert dataset.fingerprint() == original.fingerprint()
    assert _reload(mirror, cache, capsys)[1] == ""
    assert loading.is_cached(ML, "original", cache)


def test_a_conversion_by_other_converter_code_is_rebuilt(
    converted, mirror, cache, capsys, monkeypatch
):
    folder, _ = converted
    monkeypatch.setattr(loading, "converter_digest", lambda: "edited")
    _, err = _reload(mirror, cache, capsys)
    assert "made from other inputs (converter, source_version); rebuilding it" in err
    assert json.loads((folder / FOLDER_SEAL).read_text())["inputs"]["converter"] == "edited"


def test_a_file_entry_fails_its_seal_when_added_to_missing_or_altered(tmp_path):
    folder = tmp_path / "entry"
    folder.mkdir()
    (folder / "a.bin").write_bytes(b"abc")
    seal(folder)
    assert entry_problem(folder) is None
    (folder / "b.bin").write_bytes(b"")
    assert entry_problem(folder) == "b.bin is not in its seal"
    (folder / "b.bin").unlink()
    (folder / "a.bin").write_bytes(b"abd")
    assert entry_problem(folder).startswith("a.bin differs from its seal")
    (folder / "a.bin").unlink()
    assert entry_problem(folder) == "a.bin is missing"
    single = tmp_path / "one.npy"
    single.write_bytes(b"x")
    assert read_sealed(single, lambda p: p.read_bytes()) is None  # unsealed: a miss
    seal(single, {"k": 1})
    assert read_sealed(single, lambda p: p.read_bytes(), inputs={"k": 1}) == b"x"
    assert read_sealed(tmp_path / "absent", lambda p: 1) is None
