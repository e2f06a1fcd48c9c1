"""Pooled sentence embeddings of groups of strings (TF-DCon's interest embeddings e_u), cached
on disk.

Every TF-DCon condensation of one dataset encodes the same users' interests (the replayed or
cached LLM answers do not depend on the seed), so each seed's set used to encode them again
(seconds each). The vectors are now kept under ``<cache root>/text-embeddings/<key>.npy``,
keyed by the encoder's name, its batch size and device, torch's thread count at the time
(the figures a thread count rounds differently are never served to another) and every
string of every group in order: an entry holds exactly what encoding those groups again in
this setting gives. Files are sealed (`harness.cache_seal`); one that fails its seal, does
not read or does not fit the groups is encoded again. Processes that need the same entry
take turns (`harness.cache_seal.cached_file`): one encodes, the others read its file.
"""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness.cache_seal import cached_file
from harness.errors import DataError
from harness.hashing import content_key
from recommenders.encoders import EMBEDDING_DIM, MODEL_NAME, SentenceEncoder

TEXT_EMBEDDINGS_FOLDER = "text-embeddings"
KEY_VERSION = 1


@dataclass
class CachedPooledEmbeddings:
    """`pooled(groups)` of `encoder` (`SentenceEncoder.pooled`), computed once per content."""

    cache_dir: Path
    encoder: SentenceEncoder

    def path(self, groups: Sequence[Sequence[str]]) -> Path:
        import torch  # lazy: the sentence encoder runs on torch; its thread count is keyed

        payload = {
            "version": KEY_VERSION,
            "encoder": MODEL_NAME,
            "batch_size": self.encoder.batch_size,
            "device": self.encoder.device,
            "threads": torch.get_num_threads(),
            "groups": [list(group) for group in groups],
        }
        return Path(self.cache_dir) / TEXT_EMBEDDINGS_FOLDER / f"{content_key(payload)}.npy"

    def pooled(self, groups: Sequence[Sequence[str]]) -> np.ndarray:
        """[len(groups), 384] float32: each group's mean string embedding (zero when empty)."""
        return cached_file(
            self.path(groups),
            lambda path: _read(path, len(groups)),
            lambda: np.asarray(self.encoder.pooled(groups), dtype=np.float32),
            _npy_bytes,
            what="text embeddings",
        )


def _npy_bytes(vectors: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    return buffer.getvalue()


def _read(path: Path, rows: int) -> np.ndarray:
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"not a text-embeddings array ({exc})", file=str(path)) from None
    if vectors.shape != (rows, EMBEDDING_DIM) or vectors.dtype != np.float32:
        raise DataError(
            f"text embeddings of shape {vectors.shape}, expected ({rows}, {EMBEDDING_DIM})",
            file=str(path),
        )
    return vectors
