"""Load a dataset by name: converted once into the cache as Parquet, read from there after."""

from __future__ import annotations

from pathlib import Path

from harness.data.registry import get_source
from harness.data.source import DataSource, PathLike, VariantUnavailable
from harness.dataset import Dataset
from harness.paths import cache_root


def dataset_folder(name: str, variant: str, cache: PathLike = None) -> Path:
    """Where the converted `variant` of dataset `name` lives (keyed by the source version)."""
    source = get_source(name)
    return cache_root(cache) / "datasets" / name / source.version / variant


def is_cached(name: str, variant: str, cache: PathLike = None) -> bool:
    return (dataset_folder(name, variant, cache) / "manifest.json").is_file()


def load_dataset(
    name: str,
    *,
    variant: str = "original",
    mirror: PathLike = None,
    cache: PathLike = None,
) -> Dataset:
    """The `variant` of dataset `name`, fetching and converting it on first use.

    The mirror (`mirror`, else $CONDBENCH_MIRROR) is tried before the network; every
    source file is sha256-checked; the conversion is validated, then written atomically.
    The source's metric cutoffs go into ``meta["cutoffs"]`` (also for a conversion cached
    before sources named them: their cache folder is not rebuilt for it).
    """
    source = get_source(name)
    folder = dataset_folder(name, variant, cache)
    if not (folder / "manifest.json").is_file():
        dataset = _with_cutoffs(source.build(variant, mirror=mirror, cache=cache), source)
        dataset.validate(source=f"{name}[{variant}]")
        dataset.save(folder)
    return _with_cutoffs(Dataset.load(folder), source)


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
            load_dataset(name, variant=variant, mirror=mirror, cache=cache)
        except VariantUnavailable:
            continue
        ready.append(variant)
    return ready
