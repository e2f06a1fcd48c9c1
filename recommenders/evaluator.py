"""The one evaluator: score every candidate of every ranking group, then rank metrics.

Groups lacking a positive or a negative are dropped and counted. Item vectors are
computed once for all items, user vectors once per user, then each candidate row is a
dot product.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
import torch
from torch.utils.checkpoint import checkpoint

from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.metrics import (
    Metric,
    list_length_stats,
    parse_metrics,
    ranking_metrics,
    report_metrics,
)
from recommenders.base import ContentRecommender, WordRows
from recommenders.inputs import ItemTexts, UserHistories
from recommenders.settings import DEFAULT_MAX_HISTORY, DEFAULT_MAX_TOKENS
from recommenders.threads import torch_threads

ENCODE_BATCH = 2048


@dataclass(frozen=True)
class EvalResult:
    metrics: dict[str, float]
    groups_used: int
    groups_dropped: int
    candidates: dict[str, float]  # candidate-list length statistics of the groups used

    def to_dict(self) -> dict:
        return asdict(self)


def encode_item_rows(
    model: ContentRecommender,
    items: ItemTexts,
    rows: torch.Tensor,
    device: torch.device,
    words: WordRows | None = None,
    chunk_rows: int | None = None,
) -> torch.Tensor:
    """Item vectors of item-table `rows`; the pad row becomes the zero vector.

    Rows are encoded in buckets of similar text length (little padding), then put back in
    the order given. `words`: the word rows gathered for these items (a training step's).
    `chunk_rows` (training's ``encode_chunk_rows``): each bucket is encoded in pieces of at
    most that many rows, and with gradients on each piece is recomputed in the backward pass
    (activation checkpointing, dropout masks replayed), so a step holds the activations of
    one piece instead of all: the memory of long-history data sets.
    """
    buckets = items.length_buckets(rows)
    pieces = buckets if chunk_rows is None else [p for b in buckets for p in b.split(chunk_rows)]
    encode = model.encode_items
    if chunk_rows is not None and torch.is_grad_enabled():
        encode = functools.partial(checkpoint, model.encode_items, use_reentrant=False)
    vectors = torch.cat([encode(*items.batch(rows[piece], device), words) for piece in pieces])
    restore = torch.argsort(torch.cat(pieces)).to(device)
    vectors = vectors[restore]
    return vectors * (rows != items.pad_row).to(device)[:, None]


@torch.no_grad()
def all_item_vectors(
    model: ContentRecommender, items: ItemTexts, device: torch.device
) -> torch.Tensor:
    """[items + 1, user_dim] vectors of every item row (pad row last, zero)."""
    rows = torch.arange(items.pad_row + 1)
    chunks = [
        encode_item_rows(model, items, rows[start : start + ENCODE_BATCH], device).float()
        for start in range(0, len(rows), ENCODE_BATCH)
    ]
    return torch.cat(chunks)


@torch.no_grad()
def user_vectors(
    model: ContentRecommender,
    item_vectors: torch.Tensor,
    histories: UserHistories,
    user_rows: np.ndarray,
    device: torch.device,
) -> torch.Tensor:
    """[len(user_rows), user_dim] user vectors from the (precomputed) item vectors."""
    chunks = []
    rows = torch.as_tensor(user_rows, dtype=torch.long)
    for start in range(0, len(rows), ENCODE_BATCH):
        part = rows[start : start + ENCODE_BATCH]
        history = item_vectors[histories.rows[part].to(device)]
        chunks.append(model.encode_users(history, histories.mask[part].to(device)).float())
    if not chunks:
        return torch.empty(0, model.config.user_dim, device=device)
    return torch.cat(chunks)


@torch.no_grad()
def score_rows(
    model: ContentRecommender,
    items: ItemTexts,
    histories: UserHistories,
    frame: pd.DataFrame,
    device: torch.device,
    source: str = "interactions",
) -> np.ndarray:
    """One score per row of `frame` (user_id, item_id): user vector · item vector."""
    was_training = model.training
    model.eval()
    try:
        item_vectors = all_item_vectors(model, items, device)
        users, user_of_row = np.unique(frame["user_id"].to_numpy(), return_inverse=True)
        users_vec = user_vectors(
            model, item_vectors, histories, histories.user_rows(users, source), device
        )
        item_rows = torch.as_tensor(items.rows(frame["item_id"].to_numpy(), source), device=device)
        scores = (
            users_vec[torch.as_tensor(user_of_row, device=device)] * item_vectors[item_rows]
        ).sum(dim=1)
    finally:
        model.train(was_training)
    return scores.cpu().numpy().astype(np.float64)


def metrics_of(
    frame: pd.DataFrame, scores: np.ndarray, metrics: Sequence[str | Metric]
) -> EvalResult:
    result = ranking_metrics(
        frame["group_id"].to_numpy(), frame["label"].to_numpy(), scores, metrics
    )
    return EvalResult(
        metrics=result.means(),
        groups_used=len(result.group_ids),
        groups_dropped=result.groups_dropped,
        candidates=list_length_stats(result.list_lengths, result.positives),
    )


def resolve_device(device: str | torch.device | None) -> torch.device:
    """ "auto"/None -> CUDA when present, else CPU."""
    if device is None or str(device) == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    resolved = torch.device(device)
    if resolved.type == "cuda" and not torch.cuda.is_available():
        raise ConfigError(f"device {str(device)!r} asked for, but no CUDA device is available")
    return resolved


def evaluate(
    trained_or_model,
    dataset: Dataset,
    split: str = "test",
    metrics: Sequence[str | Metric] | None = None,
    *,
    device: str | torch.device | None = None,
) -> EvalResult:
    """Metrics of a `TrainedModel` (or a bare model) on `dataset`'s `split`.

    `metrics` defaults to AUC, MRR and the dataset's reported NDCG/Recall cutoffs. A
    `TrainedModel` is scored on its training's thread count (`TrainSettings.threads`), as
    its per-epoch dev scores were: the same on any machine, and no second thread left to
    wait on a core another worker holds (a bare model: torch's current thread count).
    """
    model: ContentRecommender = getattr(trained_or_model, "model", trained_or_model)
    settings = getattr(trained_or_model, "settings", None)
    max_tokens = getattr(settings, "max_tokens", DEFAULT_MAX_TOKENS)
    max_history = getattr(settings, "max_history", DEFAULT_MAX_HISTORY)
    parsed = parse_metrics(metrics if metrics is not None else report_metrics(dataset))
    target = resolve_device(device) if device is not None else next(model.parameters()).device
    model.to(target)
    items = ItemTexts.from_dataset(dataset, max_tokens)
    histories = UserHistories.from_dataset(dataset, items, max_history)
    frame = dataset.split(split)
    threads = getattr(settings, "threads", None)
    with torch_threads(threads) if threads else contextlib.nullcontext():
        scores = score_rows(
            model, items, histories, frame, target, source=f"{dataset.name}:{split}"
        )
    return metrics_of(frame, scores, parsed)
