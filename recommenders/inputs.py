"""Tensors the models read, built once per dataset: item token table and user history table."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

from harness.dataset import Dataset
from harness.errors import DataError


def _rows_of(index: pd.Index, ids: np.ndarray, what: str, source: str) -> np.ndarray:
    rows = index.get_indexer(ids)
    if (rows < 0).any():
        bad = int(np.asarray(ids)[np.flatnonzero(rows < 0)[0]])
        raise DataError(f"{what} {bad}", file=source)
    return rows


@dataclass(frozen=True)
class ItemTexts:
    """Token ids of each item's concatenated text fields, capped at `max_tokens`.

    Row ``pad_row`` (the last) is an empty item used to pad histories.
    """

    item_index: pd.Index
    tokens: torch.Tensor  # [items + 1, L] int64
    fields: torch.Tensor  # [items + 1, L] int64: which text field each token comes from
    lengths: torch.Tensor  # [items + 1] int64

    @property
    def pad_row(self) -> int:
        return len(self.item_index)

    @classmethod
    def from_dataset(cls, dataset: Dataset, max_tokens: int) -> ItemTexts:
        items = dataset.items
        sequences: list[list[int]] = []
        field_ids: list[list[int]] = []
        columns = [items[field].tolist() for field in dataset.text_fields]
        for per_field in zip(*columns, strict=True):
            seq: list[int] = []
            seg: list[int] = []
            for field_number, token_ids in enumerate(per_field):
                seq.extend(int(t) for t in token_ids)
                seg.extend([field_number] * len(token_ids))
            sequences.append(seq[:max_tokens])
            field_ids.append(seg[:max_tokens])
        width = max([len(s) for s in sequences] + [1])
        tokens = np.zeros((len(sequences) + 1, width), dtype=np.int64)
        fields = np.zeros_like(tokens)
        lengths = np.zeros(len(sequences) + 1, dtype=np.int64)
        for row, (seq, seg) in enumerate(zip(sequences, field_ids, strict=True)):
            tokens[row, : len(seq)] = seq
            fields[row, : len(seg)] = seg
            lengths[row] = len(seq)
        return cls(
            item_index=pd.Index(items["item_id"].to_numpy()),
            tokens=torch.from_numpy(tokens),
            fields=torch.from_numpy(fields),
            lengths=torch.from_numpy(lengths),
        )

    def rows(self, item_ids: np.ndarray, source: str = "items") -> np.ndarray:
        return _rows_of(self.item_index, item_ids, "unknown item id", source)

    def length_buckets(self, rows: torch.Tensor) -> list[torch.Tensor]:
        """Positions in `rows` grouped by text length (1, 2, 3-4, 5-8, ... tokens), so that
        encoding each group pads to at most twice its shortest item."""
        lengths = self.lengths[rows].clamp(min=1).float()
        bucket = torch.ceil(torch.log2(lengths)).long()
        return [torch.nonzero(bucket == b).squeeze(1) for b in torch.unique(bucket).tolist()]

    def batch(
        self, rows: torch.Tensor, device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(tokens, fields, mask) of `rows`, trimmed to the longest of them."""
        width = max(int(self.lengths[rows].max()), 1) if len(rows) else 1
        tokens = self.tokens[rows, :width]
        fields = self.fields[rows, :width]
        mask = torch.arange(width)[None, :] < self.lengths[rows][:, None]
        return tokens.to(device), fields.to(device), mask.to(device)


@dataclass(frozen=True)
class UserHistories:
    """Each user's fixed click history as item-table rows (the last `max_history` items)."""

    user_index: pd.Index
    rows: torch.Tensor  # [users, H] item rows, padded with the item table's pad row
    mask: torch.Tensor  # [users, H] bool

    @classmethod
    def from_dataset(cls, dataset: Dataset, items: ItemTexts, max_history: int) -> UserHistories:
        histories = dataset.histories
        lists = [list(h)[-max_history:] for h in histories["history"].tolist()]
        width = max([len(h) for h in lists] + [1])
        rows = np.full((len(lists), width), items.pad_row, dtype=np.int64)
        mask = np.zeros((len(lists), width), dtype=bool)
        flat = np.asarray([i for h in lists for i in h], dtype=np.int64)
        flat_rows = items.rows(flat, source=f"{dataset.name}:histories") if len(flat) else flat
        offset = 0
        for user_row, history in enumerate(lists):
            rows[user_row, : len(history)] = flat_rows[offset : offset + len(history)]
            mask[user_row, : len(history)] = True
            offset += len(history)
        return cls(
            user_index=pd.Index(histories["user_id"].to_numpy()),
            rows=torch.from_numpy(rows),
            mask=torch.from_numpy(mask),
        )

    def user_rows(self, user_ids: np.ndarray, source: str = "histories") -> np.ndarray:
        return _rows_of(self.user_index, user_ids, "no history for user", source)
