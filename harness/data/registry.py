"""The known datasets: name -> source. A new source is one module plus one register line here."""

from __future__ import annotations

from harness.data.goodreads_ucsd import GOODREADS_UCSD
from harness.data.mind import MIND_LARGE, MIND_SMALL
from harness.data.ml100k import ML_100K
from harness.data.ml100k_seq import ML_100K_SEQ
from harness.data.source import DataSource
from harness.data.tfdcon_release import GOODREADS, MOVIELENS
from harness.errors import ConfigError, DataError
from harness.registry import Registry

DATASETS: Registry[DataSource] = Registry("dataset")
for _source in (MOVIELENS, GOODREADS, ML_100K, ML_100K_SEQ, MIND_SMALL, MIND_LARGE, GOODREADS_UCSD):
    DATASETS.register(_source.name, _source)


def get_source(name: str) -> DataSource:
    """The source registered as `name`; an unknown name is a `DataError` listing the known."""
    try:
        return DATASETS.get(name)
    except ConfigError as exc:
        raise DataError(str(exc)) from None
