"""User embeddings z_u from a recommender trained on Original, cached on disk.

The cache key is a content hash of the dataset (items, histories, interactions), the model
name, the seed and the train settings, so changing any input can never serve a stale array.
Files: ``<cache root>/embeddings/<key>.npz`` holding ``user_ids`` and ``embeddings``
(plain arrays, read with ``allow_pickle=False``), sealed (`harness.cache_seal`): one that
fails its seal or does not read is computed again. Processes that need the same entry take
turns (``<key>.lock``, `harness.cache_seal.cached_file`), so it is trained once.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from harness.cache_seal import cached_file
from harness.dataset import Dataset
from harness.errors import DataError
from harness.hashing import content_key

EMBEDDINGS_FOLDER = "embeddings"
KEY_VERSION = 1


def settings_dict(settings: Any) -> dict:
    """The train settings as hashed into the cache key (`TrainSettings.model_dump()`)."""
    if settings is None:
        return {}
    if hasattr(settings, "model_dump"):
        return settings.model_dump()
    return dict(settings)


@dataclass
class RecommenderUserEmbeddings:
    """Trains `model_name` on Original once per (dataset, model, seed, settings) and caches z_u."""

    cache_dir: Path
    model_name: str = "naml"
    seed: int = 0
    settings: Any = None
    progress: bool = True

    def cache_key(self, dataset: Dataset) -> str:
        payload = {
            "version": KEY_VERSION,
            "dataset": dataset.fingerprint(),
            "model": self.model_name,
            "seed": self.seed,
            "settings": settings_dict(self.settings),
        }
        return content_key(payload)

    def path(self, dataset: Dataset) -> Path:
        return Path(self.cache_dir) / EMBEDDINGS_FOLDER / f"{self.cache_key(dataset)}.npz"

    def __call__(self, dataset: Dataset, user_ids: np.ndarray) -> np.ndarray:
        path = self.path(dataset)

        def build() -> tuple[np.ndarray, np.ndarray]:
            known_ids = np.sort(dataset.histories["user_id"].to_numpy(dtype=np.int64))
            return known_ids, self._compute(dataset, known_ids)

        # grid workers condensing two seeds take turns: one trains, the others read its file
        known_ids, table = cached_file(path, _read, build, _npz_bytes, what="user embeddings")
        return _lookup(known_ids, table, np.asarray(user_ids, dtype=np.int64), path)

    def _compute(self, dataset: Dataset, user_ids: np.ndarray) -> np.ndarray:
        # lazy: torch takes seconds to import; only uncached embeddings need training
        from recommenders.trainer import TrainSettings, train_model, user_embeddings

        settings = self.settings if self.settings is not None else TrainSettings()
        trained = train_model(dataset, self.model_name, self.seed, settings, progress=self.progress)
        return np.asarray(user_embeddings(trained.model, dataset, user_ids), dtype=np.float32)


def _npz_bytes(entry: tuple[np.ndarray, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    np.savez(buffer, user_ids=entry[0], embeddings=entry[1])
    return buffer.getvalue()


def _read(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as archive:
            return archive["user_ids"], archive["embeddings"]
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"not a user-embeddings archive ({exc})", file=str(path)) from None


def _lookup(known_ids: np.ndarray, table: np.ndarray, wanted: np.ndarray, path: Path) -> np.ndarray:
    position = np.searchsorted(known_ids, wanted)
    position = np.clip(position, 0, len(known_ids) - 1)
    missing = known_ids[position] != wanted
    if missing.any():
        raise DataError(f"no embedding for user {int(wanted[missing][0])}", file=str(path))
    return table[position]
