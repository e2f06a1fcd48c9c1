"""The one trainer for every content-based recommender.

Each train positive is paired with `negatives` sampled negatives (`recommenders.sampling`);
the model scores the 5 candidates and softmax cross-entropy puts the positive first. Adam;
dev metrics after every epoch; early stopping on dev NDCG@5 with patience, keeping the best
epoch's weights. Each unique item of a batch is encoded once, in buckets of similar text
length; with `encode_chunk_rows` set (long histories: MIND), in checkpointed pieces of the
buckets (`recommenders.evaluator.encode_item_rows`). Seeds drive every random choice
(initialisation, dropout, sampling, order), and CPU runs are bit-for-bit repeatable at a
fixed thread count (default 1). CUDA with bfloat16 autocast and deterministic kernels when
present.

Defaults (measured on MovieLens, 2 shared CPU cores): batch 2048 (a step costs about the
same for 256 or 2048 samples, since it encodes most of the 1,682 items either way), Adam at
1e-2 (the paper's 5e-3 at batch 1024 reached the same test metrics in ~1.5x the time), at
most 6 epochs, patience 2 with a minimum dev gain of 0.001.
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import pandas as pd
import torch

import recommenders
from harness.dataset import NEGATIVES_CATALOGUE, NEGATIVES_ORIGINAL, Dataset
from harness.errors import DataError
from harness.metrics import parse_metric, report_metrics
from harness.progress import progress
from recommenders.base import ContentRecommender, WordRows
from recommenders.cpu_memory import keep_freed_memory
from recommenders.evaluator import (
    all_item_vectors,
    encode_item_rows,
    metrics_of,
    resolve_device,
    score_rows,
    user_vectors,
)
from recommenders.inputs import ItemTexts, UserHistories
from recommenders.sampling import NegativeSampler
from recommenders.settings import TrainSettings


@dataclass
class TrainedModel:
    model: ContentRecommender
    model_name: str
    seed: int
    settings: TrainSettings
    epochs_run: int
    best_epoch: int  # 1-based; its weights are the ones kept
    epochs: list[dict]  # per epoch: epoch, train_loss, seconds and dev metrics
    wall_seconds: float  # whole call: setup, training and dev evaluation
    cpu_seconds: float  # process CPU time of the whole call (less sensitive to a busy machine)
    samples_per_second: float  # training samples (positives) per second of training steps
    device: str

    @property
    def dev_metrics(self) -> list[dict]:
        return self.epochs


@contextlib.contextmanager
def seeded_torch(seed: int, threads: int, device: torch.device) -> Iterator[None]:
    """Seed torch and fix the thread count; on CUDA also require deterministic kernels.

    The CPU kernels the models use are deterministic at a fixed thread count (a test checks
    bit-for-bit repeats); `torch.use_deterministic_algorithms` would import the compiler
    stack (seconds), so it is switched on only where it matters, on CUDA. All is restored.
    """
    previous_threads = torch.get_num_threads()
    torch.set_num_threads(threads)
    torch.manual_seed(seed)
    deterministic = device.type == "cuda"
    if deterministic:
        previous_fill = torch.utils.deterministic.fill_uninitialized_memory
        previous_mode = torch.are_deterministic_algorithms_enabled()
        previous_warn = torch.is_deterministic_algorithms_warn_only_enabled()
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.utils.deterministic.fill_uninitialized_memory = False  # costly, changes nothing
    try:
        yield
    finally:
        torch.set_num_threads(previous_threads)
        if deterministic:  # as it was: a caller inside another seeded block keeps its mode
            torch.use_deterministic_algorithms(previous_mode, warn_only=previous_warn)
            torch.utils.deterministic.fill_uninitialized_memory = previous_fill


def _autocast(device: torch.device, enabled: bool):
    if device.type == "cuda" and enabled:
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


class _TrainingData:
    """Train positives, their users' history rows and the negative sampler for one dataset."""

    def __init__(
        self,
        dataset: Dataset,
        items: ItemTexts,
        histories: UserHistories,
        negatives_from: Dataset,
        count: int,
    ):
        train = dataset.split("train")
        positives = train[train["label"] == 1]
        if positives.empty:
            raise DataError(
                "the train split has no positive interactions", file=f"{dataset.name}:interactions"
            )
        source = f"{dataset.name}:train"
        self.positive_rows = items.rows(positives["item_id"].to_numpy(), source)
        self.user_rows = histories.user_rows(positives["user_id"].to_numpy(), source)
        self.rule = dataset.meta.get("negatives_from", NEGATIVES_ORIGINAL)
        original_train = negatives_from.split("train")
        shown = original_train[original_train["label"] == 0]
        if self.rule == NEGATIVES_CATALOGUE:  # the catalogue only: no shown-not-clicked pool
            shown = shown.iloc[:0]
        shown_rows = items.item_index.get_indexer(shown["item_id"].to_numpy())
        known = shown_rows >= 0  # items a condensed set dropped cannot be negatives
        self.sampler = NegativeSampler(
            positives["user_id"].to_numpy(),
            self.positive_rows,
            shown[known],
            shown_rows[known],
            num_items=items.pad_row,
            count=count,
            excluded=(
                catalogue_exclusions(positives, negatives_from, items)
                if self.rule == NEGATIVES_CATALOGUE
                else None
            ),
        )

    def __len__(self) -> int:
        return len(self.positive_rows)


def catalogue_exclusions(
    positives: pd.DataFrame, reference: Dataset, items: ItemTexts
) -> dict[int, np.ndarray]:
    """The ``catalogue`` rule's item rows per train user: the user's train positives and
    every item of the user's dev and test rows in `reference` (never a negative)."""
    held_out = reference.interactions[reference.interactions["split"].isin(("dev", "test"))]
    held_out = held_out[held_out["user_id"].isin(positives["user_id"].unique())]
    both = pd.concat([positives[["user_id", "item_id"]], held_out[["user_id", "item_id"]]])
    rows = items.item_index.get_indexer(both["item_id"].to_numpy())
    known = rows >= 0
    return {
        int(user): group.to_numpy()
        for user, group in pd.Series(rows[known]).groupby(both["user_id"].to_numpy()[known])
    }


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _train_step(
    model: ContentRecommender,
    items: ItemTexts,
    histories: UserHistories,
    candidates: torch.Tensor,
    user_rows: torch.Tensor,
    device: torch.device,
    chunk_rows: int | None = None,
) -> torch.Tensor:
    """Cross-entropy loss of one batch; candidates [b, 1 + negatives], positive first."""
    history = histories.rows[user_rows]
    history_mask = histories.mask[user_rows].to(device)
    unique_rows, inverse = torch.unique(
        torch.cat([candidates.flatten(), history.flatten()]), return_inverse=True
    )
    # the batch's words gathered once: one dense word-table gradient per step, not per bucket
    words = WordRows.gather(model.word_embedding, items.tokens[unique_rows])
    vectors = encode_item_rows(model, items, unique_rows, device, words, chunk_rows)
    inverse = inverse.to(device)
    batch, width = candidates.shape
    candidate_vectors = vectors[inverse[: batch * width]].view(batch, width, -1)
    history_vectors = vectors[inverse[batch * width :]].view(batch, history.shape[1], -1)
    users = model.encode_users(history_vectors, history_mask)
    logits = torch.einsum("bd,bcd->bc", users, candidate_vectors).float()
    return torch.nn.functional.cross_entropy(
        logits, torch.zeros(batch, dtype=torch.long, device=device)
    )


def effective_batch_size(settings: TrainSettings, samples: int) -> int:
    """`batch_size`, made smaller for a small train set so that an epoch has at least
    `min_steps_per_epoch` optimiser steps (a condensed set of 2,000 positives would get one
    step per epoch at batch 2048)."""
    return max(1, min(settings.batch_size, math.ceil(samples / settings.min_steps_per_epoch)))


class EarlyStopping:
    """Best-epoch weights and patience on a dev metric (higher is better)."""

    def __init__(self, patience: int, min_improvement: float):
        self.patience, self.min_improvement = patience, min_improvement
        self.best_score, self.best_epoch, self.best_state = -math.inf, 0, None
        self.gain_score, self.last_gain = -math.inf, 0  # patience counts from the last real gain

    def update(self, epoch: int, score: float, model: torch.nn.Module) -> bool:
        """Record an epoch; True when training should stop."""
        if math.isnan(score):  # no usable dev group: keep the latest weights
            self.best_epoch, self.best_state, self.last_gain = epoch, _copy_state(model), epoch
            return False
        if score > self.best_score:
            self.best_score, self.best_epoch, self.best_state = score, epoch, _copy_state(model)
        if score > self.gain_score + self.min_improvement:
            self.gain_score, self.last_gain = score, epoch
            return False
        return epoch - self.last_gain >= self.patience


def _train_epoch(
    model, optimizer, data, items, histories, rng, settings, device, bar_label
) -> float:
    """One pass over the train positives in a seeded order; returns the mean loss."""
    model.train()
    order = torch.from_numpy(rng.permutation(len(data)))
    negatives = torch.from_numpy(data.sampler.sample(rng))
    positive_rows = torch.from_numpy(data.positive_rows)
    user_rows = torch.from_numpy(data.user_rows)
    batch_size = effective_batch_size(settings, len(data))
    total_loss = 0.0
    starts = range(0, len(data), batch_size)
    for start in progress(starts, desc=bar_label or "", unit="batch", enabled=bar_label is not None):
        index = order[start : start + batch_size]
        candidates = torch.cat([positive_rows[index, None], negatives[index]], dim=1)
        with _autocast(device, settings.amp):
            loss = _train_step(
                model,
                items,
                histories,
                candidates,
                user_rows[index],
                device,
                settings.encode_chunk_rows,
            )
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        total_loss += float(loss.detach()) * len(index)
    return total_loss / len(data)


def train_model(
    dataset: Dataset,
    model_name: str,
    seed: int,
    settings: TrainSettings | None = None,
    *,
    negatives_from: Dataset | None = None,
    evaluate_on: Dataset | None = None,
    progress: bool = True,
    on_epoch: Callable[[int, dict], None] | None = None,
) -> TrainedModel:
    """Train `model_name` on `dataset`'s train split and keep the best dev epoch.

    `negatives_from`: the dataset whose train split supplies shown-not-clicked negatives
    (the ORIGINAL one for a condensed set; default `dataset`). `evaluate_on`: the dataset
    whose dev split and item text early stopping reads (default `negatives_from`, else
    `dataset`: the paper tests with the original users and item contents).
    `on_epoch(epoch, metrics)` is called after each epoch (1-based) with the epoch record.
    """
    settings = settings or TrainSettings()
    model_class = recommenders.get(model_name)
    device = resolve_device(settings.device)
    if settings.encode_chunk_rows is not None and device.type == "cpu":
        keep_freed_memory()  # the pieces' memory is reused, not faulted in again
    started, cpu_started = time.perf_counter(), time.process_time()
    dev_dataset = evaluate_on or negatives_from or dataset
    dev_metric = parse_metric(settings.early_stop_metric).name
    dev_metrics = list(dict.fromkeys([*report_metrics(dev_dataset), dev_metric]))
    with seeded_torch(seed, settings.threads, device):
        model = model_class.from_options(dict(settings.model_options)).to(device)
        items = ItemTexts.from_dataset(dataset, settings.max_tokens)
        histories = UserHistories.from_dataset(dataset, items, settings.max_history)
        data = _TrainingData(
            dataset, items, histories, negatives_from or dataset, settings.negatives
        )
        if dev_dataset is dataset:
            dev_items, dev_histories = items, histories
        else:
            dev_items = ItemTexts.from_dataset(dev_dataset, settings.max_tokens)
            dev_histories = UserHistories.from_dataset(dev_dataset, dev_items, settings.max_history)
        dev_frame = dev_dataset.split("dev")
        optimizer = torch.optim.Adam(model.parameters(), lr=settings.lr, fused=True)
        rng = np.random.default_rng(seed)
        stopping = EarlyStopping(settings.patience, settings.min_improvement)
        epochs: list[dict] = []
        train_seconds = 0.0
        for epoch in range(1, settings.max_epochs + 1):
            epoch_start = time.perf_counter()
            label = f"{model_name} seed {seed} epoch {epoch}" if progress else None
            loss = _train_epoch(
                model, optimizer, data, items, histories, rng, settings, device, label
            )
            train_seconds += time.perf_counter() - epoch_start
            record = {"epoch": epoch, "train_loss": loss}
            if len(dev_frame):
                source = f"{dev_dataset.name}:dev"
                scores = score_rows(model, dev_items, dev_histories, dev_frame, device, source)
                record.update(metrics_of(dev_frame, scores, dev_metrics).metrics)
            record["seconds"] = time.perf_counter() - epoch_start
            epochs.append(record)
            if on_epoch is not None:
                on_epoch(epoch, dict(record))
            if stopping.update(epoch, record.get(dev_metric, math.nan), model):
                break
        model.load_state_dict(stopping.best_state)
        model.eval()
    return TrainedModel(
        model=model,
        model_name=model_class.name,
        seed=seed,
        settings=settings,
        epochs_run=len(epochs),
        best_epoch=stopping.best_epoch,
        epochs=epochs,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        samples_per_second=len(data) * len(epochs) / train_seconds
        if train_seconds > 0
        else math.nan,
        device=str(device),
    )


@torch.no_grad()
def user_embeddings(trained_or_model, dataset: Dataset, user_ids) -> np.ndarray:
    """[len(user_ids), user_dim] user vectors z_u from their histories in `dataset`."""
    model: ContentRecommender = getattr(trained_or_model, "model", trained_or_model)
    settings = getattr(trained_or_model, "settings", None) or TrainSettings()
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        items = ItemTexts.from_dataset(dataset, settings.max_tokens)
        histories = UserHistories.from_dataset(dataset, items, settings.max_history)
        rows = histories.user_rows(
            np.asarray(user_ids, dtype=np.int64), f"{dataset.name}:histories"
        )
        vectors = user_vectors(
            model, all_item_vectors(model, items, device), histories, rows, device
        )
    finally:
        model.train(was_training)
    return vectors.cpu().numpy()
