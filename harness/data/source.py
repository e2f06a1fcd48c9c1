"""What every dataset source provides; the registry in `harness.data.registry` names them."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Protocol

from harness.dataset import Dataset
from harness.errors import DataError

PathLike = str | os.PathLike | None


class DataSource(Protocol):
    """A named dataset: fetches its raw files and converts them into `Dataset`s.

    ``version`` changes whenever the conversion or the source files change, so a cached
    conversion is never served for other inputs. ``cutoffs`` are the K of the metrics
    reported on it (``NDCG@K``, ``Recall@K``); `load_dataset` writes them into
    ``Dataset.meta["cutoffs"]``, where `harness.metrics.report_metrics` reads them.
    """

    name: str
    description: str
    version: str
    variants: tuple[str, ...]
    cutoffs: tuple[int, ...]

    def fetch(self, *, mirror: PathLike = None, cache: PathLike = None) -> list[Path]:
        """Bring the raw files into the cache (verified) and return their paths."""
        ...

    def build(self, variant: str, *, mirror: PathLike = None, cache: PathLike = None) -> Dataset:
        """Convert the raw files into the common schema (fetching them first if needed)."""
        ...


class VariantUnavailable(DataError):
    """A variant that cannot be built from the public files (e.g. a file missing upstream)."""
