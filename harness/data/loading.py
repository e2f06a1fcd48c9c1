"""Load a dataset by name: converted once into the cache as Parquet, read from there after.

A conversion is a sealed cache entry (`harness.cache_seal`): its files are checked against
their seal on every load, and the seal records a digest of the converter's code (this
package and `harness.dataset`), so a conversion made by other code is rebuilt even when the
source version did not change.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import harness.dataset
from harness.cache_seal import entry_problem, read_sealed
from harness.data.registry import get_source
from harness.data.source import DataSource, PathLike, VariantUnavailable
from harness.dataset import Dataset
from harness.paths import cache_root

CONVERTER_FILES = "*.py"  # of this package, with harness/dataset.py


def dataset_folder(name: str, variant: str, cache: PathLike = None) -> Path:
    """Where the converted `variant` of dataset `name` lives (keyed by the source version)."""
    source = get_source(name)
    return cache_root(cache) / "datasets" / name / source.version / variant


def converter_digest() -> str:
    """sha256 of the converter's code: every module of `harness.data` and `harness.dataset`."""
    files = sorted(Path(__file__).parent.glob(CONVERTER_FILES)) + [Path(harness.dataset.__file__)]
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def conversion_inputs(source: DataSource) -> dict[str, str]:
    """What a cached conversion was made from, recorded in its seal and checked on load."""
    return {"source_version": source.version, "converter": converter_digest()}


def is_cached(name: str, variant: str, cache: PathLike = None) -> bool:
    folder = dataset_folder(name, variant, cache)
    return folder.is_dir() and entry_problem(folder, conversion_inputs(get_source(name))) is None


def load_dataset(
    name: str,
    *,
    variant: str = "original",
    mirror: PathLike = None,
    cache: PathLike = None,
) -> Dataset:
    """The `variant` of dataset `name`, fetching and converting it on first use.

    The mirror (`mirror`, else $CONDBENCH_MIRROR) is tried before the network; every
    source file is sha256-checked; the conversion is validated, then written atomically and
    sealed. A cached conversion that fails its seal (altered, truncated, unsealed, made by
    other converter code) is converted again, with one line on stderr.
    The source's metric cutoffs go into ``meta["cutoffs"]`` (also for a conversion cached
    before sources named them: their cache folder is not rebuilt for it).
    """
    source = get_source(name)
    dataset = _cached_or_converted(name, variant, mirror, cache)
    if dataset is None:
        dataset = Dataset.load(dataset_folder(name, variant, cache))
    return _with_cutoffs(dataset, source)


def _cached_or_converted(
    name: str, variant: str, mirror: PathLike, cache: PathLike
) -> Dataset | None:
    """The cached conversion (read, its seal checked), or None once a new one is written
    (not read back: `fetch_dataset` needs no copy in memory; MIND-small's is ~0.8 GB)."""
    source = get_source(name)
    folder = dataset_folder(name, variant, cache)
    inputs = conversion_inputs(source)
    dataset = read_sealed(folder, Dataset.load, inputs=inputs, what="converted dataset")
    if dataset is not None:
        return dataset
    built = _with_cutoffs(source.build(variant, mirror=mirror, cache=cache), source)
    built.validate(source=f"{name}[{variant}]")
    built.save(folder, sealed=True, inputs=inputs)
    return None


def _with_cutoffs(dataset: Dataset, source: DataSource) -> Dataset:
    dataset.meta["cutoffs"] = [int(k) for k in source.cutoffs]
    return dataset


def fetch_dataset(name: str, *, mirror: PathLike = None, cache: PathLike = None) -> list[str]:
    """Fetch the raw files of `name` and convert every variant that can be built.

    Returns the variants now in the cache.
    """
    source = get_source(name)
    source.fetch(mirror=mirror, cache=cache)
    ready = []
    for variant in source.variants:
        try:
            _cached_or_converted(name, variant, mirror, cache)
        except VariantUnavailable:
            continue
        ready.append(variant)
    return ready
