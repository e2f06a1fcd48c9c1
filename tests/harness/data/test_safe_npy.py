"""The restricted unpickler: NumPy arrays and builtin containers load, nothing else runs."""

from __future__ import annotations

import io
import os
import pickle

import numpy as np
import pytest

from harness.data.safe_npy import load_npy, load_npy_bytes, restricted_loads
from harness.errors import DataError


def npy_bytes(obj) -> bytes:
    buffer = io.BytesIO()
    np.save(
        buffer,
        np.array(obj, dtype=object) if not isinstance(obj, np.ndarray) else obj,
        allow_pickle=True,
    )
    return buffer.getvalue()


def object_npy(payload: bytes) -> bytes:
    """A .npy container declaring an object array, followed by `payload` as its pickle."""
    header = "{'descr': '|O', 'fortran_order': False, 'shape': (), }"
    header = header + " " * (117 - len(header)) + "\n"
    return (
        b"\x93NUMPY\x01\x00" + len(header).to_bytes(2, "little") + header.encode("latin1") + payload
    )


class CreatesFile:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


class RunsCommand:
    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (os.system, (f"touch {self.path}",))


def test_release_style_dict_loads(tmp_path):
    table = {"mid": np.array([0, 2, 1]), "name": np.array([[1, 2], [3], [4, 5, 6]], dtype=object)}
    path = tmp_path / "content.npy"
    path.write_bytes(npy_bytes(table))
    loaded = load_npy(path)
    assert list(loaded) == ["mid", "name"]
    assert loaded["mid"].tolist() == [0, 2, 1]
    assert loaded["name"].tolist() == [[1, 2], [3], [4, 5, 6]]


def test_plain_numeric_array_loads_without_pickle(tmp_path):
    path = tmp_path / "plain.npy"
    np.save(path, np.arange(6, dtype=np.int32).reshape(2, 3))
    assert load_npy(path).tolist() == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.parametrize("payload_class", [CreatesFile, RunsCommand])
def test_code_running_pickle_is_refused_and_nothing_happens(tmp_path, payload_class):
    victim = tmp_path / "pwned"
    path = tmp_path / "evil.npy"
    path.write_bytes(object_npy(pickle.dumps(payload_class(victim), protocol=3)))
    with pytest.raises(DataError) as info:
        load_npy(path)
    message = str(info.value)
    assert str(path) in message
    assert "refused pickle global" in message
    assert ".open" in message or ".system" in message
    assert not victim.exists()


def test_malicious_element_inside_a_real_array_is_refused(tmp_path):
    victim = tmp_path / "pwned"
    inner = np.empty(2, dtype=object)
    inner[0] = [1, 2]
    inner[1] = CreatesFile(victim)
    with pytest.raises(DataError, match="refused pickle global"):
        restricted_loads(pickle.dumps({"name": inner}, protocol=3), "evil")
    assert not victim.exists()


def test_truncated_file_names_the_file(tmp_path):
    raw = npy_bytes({"mid": np.arange(100)})
    path = tmp_path / "cut.npy"
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(DataError, match="cut.npy.*unreadable pickle"):
        load_npy(path)
    path.write_bytes(raw[:20])
    with pytest.raises(DataError, match="truncated .npy header"):
        load_npy(path)


def test_not_an_npy_file_is_refused():
    with pytest.raises(DataError, match="bad magic"):
        load_npy_bytes(b"PK\x03\x04 this is a zip", "x.npy")
