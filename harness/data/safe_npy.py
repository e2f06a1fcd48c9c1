"""Read `.npy` files without running code: a restricted unpickler for object arrays.

The TF-DCon release stores each table as a pickled Python dict inside a 0-d object array.
`np.load(allow_pickle=True)` would execute whatever the pickle names, so we parse the
`.npy` header ourselves and unpickle with a `find_class` that admits only NumPy array,
dtype and scalar reconstruction and builtin containers. Any other global is refused with
a `DataError` naming the file and the global, before anything is called.
"""

from __future__ import annotations

import ast
import io
import pickle
from pathlib import Path

import numpy as np

from harness.errors import DataError

MAGIC = b"\x93NUMPY"

# (module, name) -> the object handed to the unpickler. Old pickles name numpy.core,
# NumPy 2 names numpy._core; both map to the same safe callables.
_ALLOWED_GLOBALS: dict[tuple[str, str], object] = {}
for _module in ("numpy.core.multiarray", "numpy._core.multiarray"):
    _ALLOWED_GLOBALS[(_module, "_reconstruct")] = np._core.multiarray._reconstruct
    _ALLOWED_GLOBALS[(_module, "scalar")] = np._core.multiarray.scalar
for _module in ("numpy.core.numeric", "numpy._core.numeric"):
    _ALLOWED_GLOBALS[(_module, "_frombuffer")] = np._core.numeric._frombuffer
_ALLOWED_GLOBALS[("numpy", "ndarray")] = np.ndarray
_ALLOWED_GLOBALS[("numpy", "dtype")] = np.dtype
for _name, _obj in (
    ("list", list),
    ("dict", dict),
    ("tuple", tuple),
    ("set", set),
    ("frozenset", frozenset),
    ("bytearray", bytearray),
):
    _ALLOWED_GLOBALS[("builtins", _name)] = _obj
# NumPy dtype classes (numpy.dtypes.Int64DType, ...) appear in pickles written by NumPy 2.
_DTYPE_CLASS_MODULES = ("numpy.dtypes",)


class _RestrictedUnpickler(pickle.Unpickler):
    def __init__(self, stream: io.BytesIO, source: str):
        super().__init__(stream, encoding="latin1")
        self._source = source

    def find_class(self, module: str, name: str):
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is not None:
            return allowed
        if module in _DTYPE_CLASS_MODULES and name.endswith("DType"):
            cls = getattr(np.dtypes, name, None)
            if isinstance(cls, type) and issubclass(cls, np.dtype):
                return cls
        raise DataError(
            f"refused pickle global {module}.{name} (only NumPy arrays and builtin containers load)",
            file=self._source,
        )

    def persistent_load(self, pid):
        raise DataError("refused pickle persistent id", file=self._source)


def restricted_loads(data: bytes, source: str = "<bytes>"):
    """Unpickle `data`, admitting only NumPy array reconstruction and builtin containers."""
    try:
        return _RestrictedUnpickler(io.BytesIO(data), source).load()
    except DataError:
        raise
    except (
        pickle.UnpicklingError,
        EOFError,
        ValueError,
        TypeError,
        AttributeError,
        IndexError,
        KeyError,
        MemoryError,
    ) as exc:
        raise DataError(f"unreadable pickle: {type(exc).__name__}: {exc}", file=source) from None


def _parse_header(raw: bytes, source: str) -> tuple[dict, int]:
    if not raw.startswith(MAGIC):
        raise DataError("not a .npy file (bad magic)", file=source)
    if len(raw) < 10:
        raise DataError("truncated .npy header", file=source)
    major = raw[6]
    if major == 1:
        size_bytes = 2
    elif major in (2, 3):
        size_bytes = 4
    else:
        raise DataError(f"unsupported .npy format version {major}", file=source)
    start = 8 + size_bytes
    if len(raw) < start:
        raise DataError("truncated .npy header", file=source)
    header_len = int.from_bytes(raw[8:start], "little")
    end = start + header_len
    if len(raw) < end:
        raise DataError("truncated .npy header", file=source)
    encoding = "utf-8" if major == 3 else "latin1"
    try:
        header = ast.literal_eval(raw[start:end].decode(encoding))
    except (SyntaxError, ValueError, UnicodeDecodeError) as exc:
        raise DataError(f"bad .npy header: {exc}", file=source) from None
    if not isinstance(header, dict) or not {"descr", "fortran_order", "shape"} <= header.keys():
        raise DataError("bad .npy header: expected keys descr, fortran_order, shape", file=source)
    return header, end


def load_npy_bytes(raw: bytes, source: str = "<bytes>"):
    """Parse `.npy` bytes. Object arrays go through the restricted unpickler.

    A 0-d object array (how the release stores its dicts) yields the object inside it.
    """
    header, offset = _parse_header(raw, source)
    try:
        dtype = (
            np.dtype(header["descr"])
            if not isinstance(header["descr"], list)
            else np.dtype([tuple(f) for f in header["descr"]])
        )
    except (TypeError, ValueError) as exc:
        raise DataError(f"bad .npy dtype {header['descr']!r}: {exc}", file=source) from None
    shape = tuple(header["shape"])
    body = raw[offset:]
    if dtype.hasobject:
        array = restricted_loads(body, source)
        if not isinstance(array, np.ndarray):
            raise DataError(f"expected a pickled array, got {type(array).__name__}", file=source)
        if array.shape != shape:
            raise DataError(f"array shape {array.shape} does not match header {shape}", file=source)
        return array.item() if array.shape == () else array
    count = int(np.prod(shape)) if shape else 1
    if len(body) < count * dtype.itemsize:
        raise DataError(
            f"truncated array data ({len(body)} of {count * dtype.itemsize} bytes)", file=source
        )
    array = np.frombuffer(body, dtype=dtype, count=count)
    order = "F" if header["fortran_order"] else "C"
    return array.reshape(shape, order=order).copy()


def load_npy(path: str | Path):
    """Read a `.npy` file safely (see `load_npy_bytes`)."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return load_npy_bytes(raw, str(path))
