"""The one trainer of the sequential track: SASRec and GRU4Rec from scratch, on hard or soft sets.

One recipe for every method (design/sequential-track.md): the train set's windows
(`recommenders.sequence_data`), a causal cross-entropy over all positions over ALL items
(one-hot targets for hard data, soft targets for soft data), Adam, full-ranking dev
metrics after every epoch on the ORIGINAL dataset (contexts: the users' original train
sequences) and early stopping on dev NDCG@10 with patience, keeping the best epoch's
weights. An epoch is one pass over the windows, or at least ``min_steps_per_epoch`` steps
cycling them (a 20-sequence set still trains).

Seeds drive every random choice (initialisation, dropout, order); CPU runs are bit-for-bit
repeatable at a fixed thread count (`recommenders.trainer.seeded_torch`: deterministic
kernels on CUDA). ``device: cuda`` runs the same code on a GPU; nothing needs one.

Also: `user_representations` (last hidden state of each user's original train sequence:
the k-center coreset's expert features) and `item_table` (the learned item input table).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from harness.dataset import Dataset
from harness.errors import DataError
from harness.full_ranking import (
    full_ranking_metric_names,
    full_ranking_metrics,
    item_rows,
    ranking_task,
)
from harness.metrics import parse_metric
from harness.progress import progress as progress_bar
from recommenders.evaluator import resolve_device
from recommenders.sequence_base import SequentialLearner
from recommenders.sequence_data import TrainingExamples, epoch_batches, training_examples
from recommenders.sequence_evaluator import check_same_items, last_states, score_users
from recommenders.sequence_items import text_item_vectors, text_token_states
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.threads import torch_threads
from recommenders.trainer import EarlyStopping, seeded_torch


@dataclass
class TrainedSequential:
    model: SequentialLearner
    learner: str
    seed: int
    settings: SequentialTrainSettings
    item_ids: np.ndarray  # the item table's ids, in row order
    epochs_run: int
    best_epoch: int  # 1-based; its weights are the ones kept
    epochs: list[dict]  # per epoch: epoch, train_loss, dev metrics, seconds
    wall_seconds: float  # whole call: setup, training and dev evaluation
    cpu_seconds: float
    samples_per_second: float  # target positions per second of training steps
    device: str

    @property
    def loss_history(self) -> list[float]:
        return [epoch["train_loss"] for epoch in self.epochs]


class _Tensors:
    """The examples as tensors on the training device."""

    def __init__(self, examples: TrainingExamples, device: torch.device):
        self.inputs = torch.as_tensor(examples.inputs, device=device)
        self.targets = torch.as_tensor(examples.targets, device=device)
        self.valid = torch.as_tensor(examples.valid, device=device)


def batch_loss(
    model: SequentialLearner, inputs: torch.Tensor, targets: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """Mean cross-entropy over the valid positions, over all items; `targets` are item rows
    (hard) or distributions over items (soft)."""
    table = model.item_table()
    states = model.encode(model.embed(inputs, table), valid)
    logits = model.logits(states[valid], table)
    return F.cross_entropy(logits, targets[valid])


def _train_epoch(model, optimizer, data: _Tensors, batches, bar_label) -> float:
    model.train()
    total, count = 0.0, 0
    for index in progress_bar(
        batches, desc=bar_label or "", unit="batch", enabled=bar_label is not None
    ):
        rows = torch.as_tensor(index, device=data.inputs.device)
        valid = data.valid[rows]
        loss = batch_loss(model, data.inputs[rows], data.targets[rows], valid)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        positions = int(valid.sum())
        total += float(loss.detach()) * positions
        count += positions
    return total / count


def train_sequential(
    dataset: Dataset,
    learner: str,
    seed: int,
    settings: SequentialTrainSettings | None = None,
    *,
    negatives_from: Dataset | None = None,
    evaluate_on: Dataset | None = None,
    progress: bool = True,
    on_epoch: Callable[[int, dict], None] | None = None,
    checkpoint: Callable[[int, SequentialLearner], None] | None = None,
) -> TrainedSequential:
    """Train `learner` on `dataset`'s train set (hard sequences or ``dataset.soft``) and keep
    the best dev epoch.

    `evaluate_on`: the dataset whose dev split early stopping reads (the ORIGINAL for a
    condensed set; default `dataset`). `negatives_from` is accepted for the track's trainer
    signature and unused: the loss ranks all items, nothing is sampled.
    `on_epoch(epoch, record)` is called after each epoch (1-based); `checkpoint(epoch, model)`
    too, with the model as that epoch left it (an expert's per-epoch checkpoints: TD3 resets its
    learner to them). Neither changes the training.
    """
    del negatives_from  # full softmax over all items: no sampled negatives
    learner_class = SEQUENTIAL_LEARNERS.get(learner)
    settings = learner_class.resolve_settings(settings or SequentialTrainSettings())
    device = resolve_device(settings.device)
    started, cpu_started = time.perf_counter(), time.process_time()
    dev_dataset = evaluate_on or dataset
    item_ids = dataset.items["item_id"].to_numpy(np.int64)
    check_same_items(item_ids, dev_dataset)
    dev_metric = parse_metric(settings.early_stop_metric).name
    dev_names = list(dict.fromkeys([*full_ranking_metric_names(dev_dataset), dev_metric]))
    dev_task = ranking_task(dev_dataset, "dev") if len(dev_dataset.split("dev")) else None
    examples = training_examples(dataset, settings.max_len)
    vectors = text_item_vectors(dataset) if settings.reads_text else None
    tokens = text_token_states(dataset) if settings.text_top_layer else None
    with seeded_torch(seed, settings.threads, device):
        model = learner_class(dataset.num_items, settings, vectors, tokens).to(device)
        optimizer = torch.optim.Adam(
            model.parameters(), lr=settings.lr, weight_decay=settings.weight_decay
        )
        data = _Tensors(examples, device)
        rng = np.random.default_rng(seed)
        stopping = EarlyStopping(settings.patience, settings.min_improvement)
        epochs: list[dict] = []
        train_seconds = 0.0
        for epoch in range(1, settings.max_epochs + 1):
            epoch_start = time.perf_counter()
            batches = epoch_batches(
                len(examples), settings.batch_size, settings.min_steps_per_epoch, rng
            )
            label = f"{learner_class.name} seed {seed} epoch {epoch}" if progress else None
            loss = _train_epoch(model, optimizer, data, batches, label)
            train_seconds += time.perf_counter() - epoch_start
            record = {"epoch": epoch, "train_loss": loss}
            if dev_task is not None:
                scores = score_users(model, dev_task, settings.eval_batch)
                record.update(full_ranking_metrics(scores, dev_task, dev_names).metrics)
            record["seconds"] = time.perf_counter() - epoch_start
            epochs.append(record)
            if on_epoch is not None:
                on_epoch(epoch, dict(record))
            if checkpoint is not None:
                checkpoint(epoch, model)
            if stopping.update(epoch, record.get(dev_metric, math.nan), model):
                break
        model.load_state_dict(stopping.best_state)
        model.eval()
    positions = examples.target_count * len(epochs)
    return TrainedSequential(
        model=model,
        learner=learner_class.name,
        seed=seed,
        settings=settings,
        item_ids=item_ids,
        epochs_run=len(epochs),
        best_epoch=stopping.best_epoch,
        epochs=epochs,
        wall_seconds=time.perf_counter() - started,
        cpu_seconds=time.process_time() - cpu_started,
        samples_per_second=positions / train_seconds if train_seconds > 0 else math.nan,
        device=str(device),
    )


def user_representations(trained: TrainedSequential, dataset: Dataset, user_ids) -> np.ndarray:
    """[len(user_ids), hidden] float32: the last hidden state of each user's original train
    sequence (``dataset.histories``, its last ``max_len`` items)."""
    check_same_items(trained.item_ids, dataset)
    history = dataset.history_of()
    model = trained.model
    max_len = model.settings.max_len
    contexts = np.full((len(user_ids), max_len), model.pad, dtype=np.int64)
    source = f"{dataset.name}:histories"
    for row, user in enumerate(np.asarray(user_ids, dtype=np.int64).tolist()):
        if user not in history:
            raise DataError(f"user {user} has no history", file=source)
        tail = item_rows(dataset, history[user], source)[-max_len:]
        if len(tail):
            contexts[row, max_len - len(tail) :] = tail
    with torch_threads(trained.settings.threads):  # the same bits on any machine
        states = last_states(model, contexts, trained.settings.eval_batch)
    return states.float().cpu().numpy()


@torch.no_grad()
def item_table(trained: TrainedSequential) -> np.ndarray:
    """[n_items, hidden] float32: the learned item input table, rows in item-table order."""
    return trained.model.item_table().float().cpu().numpy()
