"""The known datasets: name -> source. A new source is one module plus one entry here."""

from __future__ import annotations

from harness.data.goodreads_ucsd import GOODREADS_UCSD
from harness.data.mind import MIND_LARGE, MIND_SMALL
from harness.data.ml100k import ML_100K
from harness.data.source import DataSource
from harness.data.tfdcon_release import GOODREADS, MOVIELENS
from harness.errors import DataError

DATASETS: dict[str, DataSource] = {
    source.name: source
    for source in (MOVIELENS, GOODREADS, ML_100K, MIND_SMALL, MIND_LARGE, GOODREADS_UCSD)
}


def get_source(name: str) -> DataSource:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}; known: {', '.join(sorted(DATASETS))}") from None
