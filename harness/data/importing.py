"""Sequential data a user brings (`condbench data import FORMAT PATH...`): the formats and the
one function that turns files into a saved-ready `Dataset`.

Registered sources cannot know a user's file names, so these are not dataset sources: a
user converts their files once into a dataset folder (`Dataset.save`), which configs take
in ``grid.datasets``. Every format reads into a `SequentialEvents` and goes through the
same builder as ``ml-100k-seq`` (`harness.data.sequential_protocol`). A path that is not
there as given is looked for under the mirror folder (``--mirror`` / $CONDBENCH_MIRROR);
nothing is downloaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from harness.data.amazon_reviews import AMAZON_2018, AMAZON_2023
from harness.data.recbole_atomic import RECBOLE_ATOMIC
from harness.data.sequential_protocol import SequentialEvents, SequentialSettings, build_sequential
from harness.data.source import PathLike
from harness.dataset import Dataset
from harness.errors import DataError
from harness.paths import mirror_dir
from harness.registry import Registry


class SequentialFormat(Protocol):
    """A file format of sequential data: reads the user's files into events and item text."""

    name: str
    description: str

    def read(self, paths: Sequence[Path]) -> SequentialEvents: ...


IMPORT_FORMATS: Registry[SequentialFormat] = Registry("import format")
for _format in (RECBOLE_ATOMIC, AMAZON_2018, AMAZON_2023):
    IMPORT_FORMATS.register(_format.name, _format)


def resolve_input(path: str | Path, mirror: PathLike = None) -> Path:
    """`path` as given when it is a file, else the same relative path under the mirror."""
    given = Path(path).expanduser()
    if given.is_file():
        return given
    root = mirror_dir(mirror)
    if root is not None and not given.is_absolute() and (root / given).is_file():
        return root / given
    where = (
        f" (nor under the mirror {root})" if root is not None and not given.is_absolute() else ""
    )
    raise DataError(f"no such file{where}", file=str(path))


def import_sequential(
    format_name: str,
    paths: Sequence[str | Path],
    *,
    name: str,
    settings: SequentialSettings | None = None,
    mirror: PathLike = None,
) -> Dataset:
    """Read `paths` in format `format_name` and build the sequential dataset `name` (validated)."""
    reader = IMPORT_FORMATS.get(format_name)
    raw = reader.read([resolve_input(p, mirror) for p in paths])
    dataset = build_sequential(raw, name, settings)
    dataset.validate(source=name)
    return dataset
