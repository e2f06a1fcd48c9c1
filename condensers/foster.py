"""`foster`: FOSTER, first-order dataset distillation for text-based sequential recommendation.

**Implemented from the abstract** (``../shared/papers/foster-abstract.txt``; no code is
public): its three parts are built as it names them, and every choice it leaves open is a
named parameter of `FosterParams`, listed with its default in `OPEN_CHOICES` (the record's
``method.open_choices`` and the entry page show them) and in docs/results.md.

- **Learner**: ``sasrec-text`` (`recommenders.sasrec.SASRecText`): SASRec whose item table is
  the items' frozen all-MiniLM-L6-v2 vectors through a trained projection (options, through
  the track's training settings: ``item_input: text+id`` adds an item-id embedding;
  ``text_top_layer: true`` trains MiniLM's top layer too, `recommenders.text_top_layer`). The expert is that
  learner trained on the original with the track's settings (`condensers.sequence_expert`,
  cached with a checkpoint per epoch: its trajectory).
- **Synthetic sequences**: S × L soft sequences, learnable logits Z [S, L, n_items] (or, with
  ``rank`` r, latent [S, L, r] @ decoder [r, n_items]). Stored as P = softmax(Z) ("dense"),
  or in the low-rank factors ("latent").
- **1. Stochastic item-subset sampling.** Each step draws ``real_sequences`` real training
  windows and an item subset: every item of the real batch, then the ``mass_share`` × k items
  with the most synthetic mass, then uniform others until k (``subset_size``) items; the real
  batch's items always go in, so a step's subset may exceed k (the history records the mean
  size). Only those items are encoded (the learner's table of those rows), and both softmaxes
  (the synthetic sequences' distributions and the learner's output) range over the subset.
  ``subset_size: null`` encodes the whole corpus every step (the ablation).
- **2. First-order optimisation with trajectory-anchored reset.** No unrolled inner loop: at
  the current learner, the synthetic logits take one Adam step (``seq_lr``) on a matching loss
  between the real batch and the synthetic sequences: ``matching: gradient`` (default) is the
  mean over the learner's parameter tensors of 1 - cosine between its gradients on the two;
  ``distribution`` is the squared distance between their mean hidden states. Then the learner
  takes ``learner_steps`` Adam steps (``learner_lr``) on the synthetic sequences (next-item
  soft cross-entropy over the subset), and every ``reset_every`` steps it is reset to a
  random checkpoint of the expert's trajectory (epochs ``anchor_epochs``) with a fresh Adam.
  ``reset_every: null`` anchors once, at the start, and never again (the ablation).
- **3. Co-occurrence regulariser.** ``cooccurrence_weight`` λ times the mean, over synthetic
  sequences and pairs of their positions, of p_lᵀ C p_l' where C is the cosine of the items'
  text vectors over the subset, double-centred (``centred_similarity``: a pair scores by how
  much more alike its items are than each is to the rest, so items close to everything earn
  nothing by themselves) and its diagonal zeroed (an item with itself is not co-occurrence);
  subtracted from the loss, so it rewards semantically similar items in one sequence. λ = 0
  turns it off.

Epochs of ``steps_per_epoch`` steps; after each, the summary is validated by the track's
ranked recipe (a ``sasrec-text`` trained from scratch on it, seed 0, dev NDCG@10) and the best
is kept (the starting summary is validated too, as epoch 0 of the history: a figure of what
the steps add, not a candidate); the run is checkpointed (summary, best, both optimisers, the learner, the numpy
generator; torch seeded per epoch) under ``<cache>/distill/<key>.safetensors`` and resumes
there, as TD3's loop does (`condensers.distillation`). Profiles: ``smoke`` (CI), ``cpu``
(ml-100k-seq in a few minutes here) and ``paper`` (longer: GPU); fields given override.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import model_validator
from torch import nn

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.distillation import (
    DEV_METRIC,
    DISTILL_FOLDER,
    LOCK_SUFFIX,
    EpochSpan,
    RunState,
    Summary,
    close_epoch,
    epoch_seed,
    load_state,
    probs_shape_figures,
    save_state,
    scratch_validation,
    weights_digest,
    with_profile,
)
from condensers.sequence_expert import KEY_VERSION as EXPERT_KEY_VERSION
from condensers.sequence_sets import require_sequential, soft_set, user_sequences
from harness.cache_seal import read_sealed
from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.full_ranking import item_rows
from harness.hashing import content_key
from harness.paths import exclusive_lock
from harness.progress import progress as progress_bar
from harness.sequences import DENSE, LATENT, SEQUENTIAL_KIND, SoftSequences
from harness.typed import Number, Settings, StrictBool, StrictStr, check
from recommenders.evaluator import resolve_device
from recommenders.sequence_base import SequentialLearner
from recommenders.sequence_data import hard_examples
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.settings import Device, NonNegative, NonNegativeInt, PositiveInt, Rate
from recommenders.text_top_layer import TokenStates
from recommenders.trainer import seeded_torch

STATE_VERSION = 2  # 2: the real start draws full windows (1 drew padded ones too)
MATCHINGS = ("gradient", "distribution")
INITS = ("real", "last", "random")
PROFILES: dict[str, dict[str, Any]] = {
    # CI and the main job's quick look: a few dozen steps, validation by the scratch learner
    "smoke": {"epochs": 2, "steps_per_epoch": 30, "reset_every": 10},
    # ml-100k-seq on one CPU thread in a few minutes
    "cpu": {"epochs": 4, "steps_per_epoch": 150},
    # longer (ours: the abstract gives no schedule): for a GPU
    "paper": {"epochs": 20, "steps_per_epoch": 500},
}

# every choice the abstract leaves open, as the record and the entry page list it
OPEN_CHOICES: dict[str, str] = {
    "learner": "SASRec over frozen all-MiniLM-L6-v2 item vectors and a trained projection (sasrec-text)",
    "subset_size": "k items encoded per step (default 256; null: the whole corpus)",
    "mass_share": "share of k filled with the items of most synthetic mass (0.25)",
    "real_sequences": "real training windows per step (4)",
    "matching": "gradient matching, mean over parameter tensors of 1 - cosine (option: distribution matching of mean hidden states)",
    "reset_every": "steps between resets to a random expert checkpoint (50; null: never)",
    "anchor_epochs": "the expert epochs a reset draws from ([1, 20])",
    "learner_steps": "learner Adam steps on the synthetic sequences per step (1, lr 1e-3)",
    "cooccurrence_weight": "λ of the co-occurrence regulariser (1.0): pairs of distinct positions, text cosine",
    "centred_similarity": "the cosines double-centred over the subset (true), so hub items earn nothing alone",
    "init": "synthetic logits start from random real windows of L items (share 0.5 on the real item, the rest uniform); options: random users' last L items (random-kxl's set), Normal(0, 0.02)",
    "rank": "full logits (null) or latent × decoder of rank r",
    "seq_lr": "Adam on the synthetic logits (0.1, cosine schedule)",
    "schedule": "epochs × steps_per_epoch, scratch validation after each epoch, best kept",
}

_Profile = Annotated[
    StrictStr, check(lambda v: v in PROFILES, f"must be one of {sorted(PROFILES)}, got {{value!r}}")
]
_Matching = Annotated[
    StrictStr, check(lambda v: v in MATCHINGS, f"must be one of {list(MATCHINGS)}, got {{value!r}}")
]
_Init = Annotated[
    StrictStr, check(lambda v: v in INITS, f"must be one of {list(INITS)}, got {{value!r}}")
]
_Share = Annotated[
    Number, check(lambda v: 0 <= v <= 1, "must be a number in [0, 1], got {value!r}")
]
_OpenShare = Annotated[
    Number, check(lambda v: 0 < v < 1, "must be a number in (0, 1), got {value!r}")
]


class FosterParams(Settings):
    """FOSTER's settings (ours: the abstract gives none); ``profile`` fills the ones not given."""

    profile: _Profile = "cpu"
    length: PositiveInt = 50  # L
    learner: StrictStr = "sasrec-text"
    epochs: PositiveInt = 4
    steps_per_epoch: PositiveInt = 150
    subset_size: PositiveInt | None = 256  # k; None: the whole item corpus every step
    mass_share: _Share = 0.25
    real_sequences: PositiveInt = 4
    matching: _Matching = "gradient"
    reset_every: PositiveInt | None = 50  # None: anchored once, never reset
    anchor_epochs: EpochSpan = [1, 20]  # noqa: RUF012
    learner_steps: NonNegativeInt = 1
    learner_lr: Rate = 1e-3
    cooccurrence_weight: NonNegative = 1.0  # λ
    centred_similarity: StrictBool = True  # double-centre the subset's cosines (`centred`)
    init: _Init = "real"
    init_real_share: _OpenShare = 0.5
    init_std: Rate = 0.02
    rank: PositiveInt | None = None
    seq_lr: Rate = 0.1
    validation: Annotated[
        StrictStr,
        check(lambda v: v in ("scratch", "none"), "must be 'scratch' or 'none', got {value!r}"),
    ] = "scratch"
    summary_seed: NonNegativeInt | None = None  # fixes the distillation's seed (None: the cell's)
    threads: PositiveInt = 1
    device: Device = "cpu"

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, values: Any) -> Any:
        return with_profile(values, PROFILES)

    @model_validator(mode="after")
    def _consistent(self) -> FosterParams:
        if self.length < 2:
            raise ValueError(f"length must be at least 2 (a next item), got {self.length}")
        if self.learner not in SEQUENTIAL_LEARNERS.names():
            raise ValueError(
                f"learner must be one of {SEQUENTIAL_LEARNERS.names()}, got {self.learner!r}"
            )
        return self


# ---- the synthetic sequences ---------------------------------------------------------------
class SoftLogits(Summary):
    """Learnable logits Z [S, L, n] (full), or latent [S, L, r] @ decoder [r, n] (``rank``)."""

    def __init__(self, logits: torch.Tensor | None = None, *, latent=None, decoder=None):
        super().__init__()
        self.low_rank = logits is None
        if self.low_rank:
            self.latent, self.decoder = nn.Parameter(latent), nn.Parameter(decoder)
        else:
            self.logits = nn.Parameter(logits)

    def subset_logits(self, rows: torch.Tensor | None) -> torch.Tensor:
        """[S, L, k] logits of the items `rows` (all items when None)."""
        if self.low_rank:
            decoder = self.decoder if rows is None else self.decoder[:, rows]
            return self.latent @ decoder
        return self.logits if rows is None else self.logits[..., rows]

    def probs(self) -> torch.Tensor:
        return self.subset_logits(None).softmax(dim=-1)

    def soft_sequences(self, meta: dict) -> SoftSequences:
        if self.low_rank:
            return SoftSequences(form=LATENT, tensors=self.arrays(), meta=meta)
        with torch.no_grad():  # float64 softmax: rows sum to 1 in float32
            probs = self.logits.double().softmax(dim=-1).float().cpu().numpy()
        return SoftSequences(form=DENSE, tensors={"probs": probs}, meta=meta)


def initial_summary(
    params: FosterParams, sequences: int, dataset: Dataset, generator: torch.Generator,
    rng: np.random.Generator,
) -> SoftLogits:  # fmt: skip
    """Real items, log of share × one-hot + the rest spread uniformly: ``init: real``, S
    random training windows of L items, drawn among the windows with no padding when there
    are S of them (else among all; padding positions uniform); ``last``, S random users
    among those with L train items or more, their last L (random-kxl's set). ``random``:
    Normal(0, init_std) logits; a low-rank summary always starts so."""
    n, length = dataset.num_items, params.length
    if params.rank is not None:
        latent = torch.randn(sequences, length, params.rank, generator=generator)
        decoder = torch.randn(params.rank, n, generator=generator)
        return SoftLogits(latent=latent * params.init_std, decoder=decoder * params.init_std)
    if params.init == "random":
        return SoftLogits(torch.randn(sequences, length, n, generator=generator) * params.init_std)
    share = params.init_real_share
    probs = np.full((sequences, length, n), (1 - share) / n)
    starts = _last_items if params.init == "last" else _real_windows
    for row, items in enumerate(starts(dataset, length, sequences, rng)):
        for position, item in enumerate(items):
            if item < n:  # not padding (the pad row, or IGNORE)
                probs[row, position, item] += share
            else:
                probs[row, position] = 1.0 / n
    return SoftLogits(torch.as_tensor(np.log(probs), dtype=torch.float32))


def _real_windows(dataset: Dataset, length: int, sequences: int, rng) -> list[np.ndarray]:
    """S random training windows of `length` item rows (pad: n_items), full ones first."""
    examples = hard_examples(dataset, length - 1)
    full = np.flatnonzero(examples.valid.all(axis=1))  # windows of L real items
    pool = full if len(full) >= sequences else np.arange(len(examples))
    chosen = rng.choice(pool, size=sequences, replace=len(pool) < sequences)
    return [
        np.concatenate([examples.inputs[index], examples.targets[index][-1:]]) for index in chosen
    ]


def _last_items(dataset: Dataset, length: int, sequences: int, rng) -> list[np.ndarray]:
    """The last `length` item rows (left-padded) of S random users, among those with at
    least `length` train items when there are S of them."""
    by_user = user_sequences(dataset)
    users = sorted(by_user)
    long_enough = [u for u in users if len(by_user[u]) >= length]
    pool = long_enough if len(long_enough) >= sequences else users
    chosen = rng.choice(pool, size=sequences, replace=len(pool) < sequences)
    out = []
    for user in chosen:
        rows = item_rows(dataset, by_user[int(user)][-length:], dataset.name)
        out.append(np.concatenate([np.full(length - len(rows), dataset.num_items), rows]))
    return out


# ---- the pieces of a step --------------------------------------------------------------------
@dataclass(frozen=True)
class RealWindows:
    """The original's training windows (`recommenders.sequence_data.hard_examples`)."""

    inputs: np.ndarray  # int64 [N, max_len], pad = n_items
    targets: np.ndarray  # int64 [N, max_len], IGNORE at padding
    valid: np.ndarray  # bool [N, max_len]


def draw_subset(
    real_items: np.ndarray, mass: np.ndarray, size: int | None, mass_share: float,
    rng: np.random.Generator,
) -> np.ndarray:  # fmt: skip
    """Sorted item rows: `real_items`, then the `mass_share` × `size` items of largest
    `mass` not yet in, then uniform others up to `size` (every item when `size` is None)."""
    n = len(mass)
    if size is None or size >= n:
        return np.arange(n)
    chosen = np.zeros(n, dtype=bool)
    chosen[real_items] = True
    room = min(int(round(mass_share * size)), size - int(chosen.sum()))
    order = np.argsort(-mass, kind="stable")
    chosen[order[~chosen[order]][: max(room, 0)]] = True  # the heaviest not yet in
    missing = size - int(chosen.sum())
    if missing > 0:
        others = np.flatnonzero(~chosen)
        chosen[rng.choice(others, size=min(missing, len(others)), replace=False)] = True
    return np.flatnonzero(chosen)


def centred(similarity: torch.Tensor) -> torch.Tensor:
    """C double-centred (its row and column means removed, the grand mean added back): a
    pair scores by how much more alike its two items are than each is to the others, so a
    "hub" item close to everything earns nothing by itself."""
    rows = similarity.mean(dim=1, keepdim=True)
    return similarity - rows - rows.T + similarity.mean()


def cooccurrence(probs: torch.Tensor, similarity: torch.Tensor) -> torch.Tensor:
    """Mean over sequences and ordered pairs of distinct positions of p_lᵀ C p_l' (C's
    diagonal zeroed): how semantically close the items a sequence holds together are."""
    length = probs.shape[1]
    if length < 2:
        return probs.new_zeros(())
    similarity = similarity - torch.diag_embed(similarity.diagonal())
    total = probs.sum(dim=1)  # [S, k]
    all_pairs = ((total @ similarity) * total).sum(-1)
    same_position = ((probs @ similarity) * probs).sum((-1, -2))
    return ((all_pairs - same_position) / (length * (length - 1))).mean()


def within_cluster_share(probs: np.ndarray, clusters: np.ndarray) -> float:
    """The expected share of a sequence's pairs of distinct positions whose two items share a
    cluster (items of `clusters[i]`): what the co-occurrence regulariser moves."""
    probs = np.asarray(probs, dtype=np.float64)
    by_cluster = np.stack([probs[..., clusters == c].sum(-1) for c in np.unique(clusters)], -1)
    total = by_cluster.sum(1)  # [S, clusters]
    same = (total**2).sum(-1) - (by_cluster**2).sum((1, 2))
    length = probs.shape[1]
    return float((same / (length * (length - 1))).mean())


def subset_loss(
    learner: SequentialLearner, table: torch.Tensor, inputs: torch.Tensor, valid: torch.Tensor,
    targets: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:  # fmt: skip
    """(cross-entropy over the subset's items at the valid positions, their hidden states):
    `inputs` are subset positions [B, L] (pad = k) or distributions [B, L, k]; `targets`
    subset positions or distributions at the valid positions."""
    states = learner.encode(learner.embed(inputs, table), valid)[valid]
    return F.cross_entropy(learner.logits(states, table), targets), states


# ---- the condenser -----------------------------------------------------------------------------
class FosterCondenser(Condenser):
    name = "foster"
    label = "FOSTER (from the abstract)"
    summary = (
        "FOSTER: first-order distillation of soft sequences for a text-based SASRec, item-subset "
        "sampling, trajectory-anchored resets, co-occurrence regulariser (sequential)"
    )
    implemented_from: ClassVar[str] = "the abstract (arXiv, 29 May 2026); no code is public"
    open_choices: ClassVar[dict[str, str]] = OPEN_CHOICES
    data_kinds = (SEQUENTIAL_KIND,)
    Params = FosterParams
    smoke_options: ClassVar[dict[str, Any]] = {"profile": "smoke"}
    version = f"{STATE_VERSION}"

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        require_sequential(dataset, self.name)
        params: FosterParams = self.params
        _, count = budget.resolve_for(dataset)
        seed = (
            params.summary_seed if params.summary_seed is not None else int(rng.integers(2**31 - 1))
        )
        expert_source = ctx.sequence_expert(params.learner)
        with ctx.stage("expert"):
            expert = expert_source.trained(dataset)
            if not expert.settings.reads_text:
                raise ConfigError(
                    f"foster: the learner {params.learner!r} must read item text "
                    f"(sasrec-text, or training.item_input 'text' / 'text+id')"
                )
            checkpoints = expert_source.checkpoints(dataset)
        values = params.model_dump(mode="json")
        values.pop("profile")
        key = content_key(
            {
                "state": STATE_VERSION,
                "method": self.name,
                "dataset": dataset.fingerprint(),
                "params": values,
                "sequences": count,
                "seed": seed,
                "expert": expert_source.cache_key(dataset),
                "expert_version": EXPERT_KEY_VERSION,
                "expert_weights": weights_digest(expert.model),
            }
        )
        path = Path(ctx.cache_dir) / DISTILL_FOLDER / f"{key}.safetensors"
        with exclusive_lock(path.with_suffix(LOCK_SUFFIX)), ctx.stage("distill"):
            loop = FosterLoop(params, dataset, expert, checkpoints, count, seed, ctx, path)
            summary, state = loop.run()
        soft = summary.soft_sequences(
            {"method": self.name, "seed": seed, "best_epoch": state.best_epoch}
        )
        meta = {
            "distillation": {
                "seed": seed,
                "best_epoch": state.best_epoch,
                "best_dev": state.best_score,
                "history": state.history,
                "checkpoint": path.name,
            }
        }
        return soft_set(dataset, soft, variant=self.name, meta=meta)


class FosterLoop:
    """One FOSTER run (see the module docstring); `run` resumes from `path` if present."""

    def __init__(self, params, dataset, expert, checkpoints, sequences, seed, ctx, path):
        self.params, self.dataset, self.expert = params, dataset, expert
        self.sequences, self.seed, self.ctx, self.path = sequences, seed, ctx, path
        self.device = resolve_device(params.device)
        low, high = params.anchor_epochs
        self.anchors = [checkpoints[e] for e in sorted(checkpoints) if low <= e <= high] or [
            checkpoints[max(checkpoints)]
        ]
        examples = hard_examples(dataset, expert.settings.max_len)
        self.real = RealWindows(examples.inputs, examples.targets, examples.valid)
        vectors = expert.model.text_vectors.detach().to(self.device)
        self.text = F.normalize(vectors, dim=-1)  # cosine = dot product of unit vectors

    # ---- the learner --------------------------------------------------------------------------
    def _learner(self) -> SequentialLearner:
        learner_class = SEQUENTIAL_LEARNERS.get(self.expert.learner)
        model = self.expert.model
        vectors = model.text_vectors.cpu().numpy()
        tokens = None
        if hasattr(model, "token_states"):  # the expert trains the text encoder's top layer
            tokens = TokenStates(model.token_states.cpu().numpy(), model.token_mask.cpu().numpy())
        learner = learner_class(self.dataset.num_items, self.expert.settings, vectors, tokens)
        return learner.to(self.device)

    def _anchor(self, learner: SequentialLearner, rng: np.random.Generator) -> torch.optim.Adam:
        """Reset `learner` to a random checkpoint of the expert's trajectory; a fresh Adam."""
        state = self.anchors[int(rng.integers(len(self.anchors)))]
        learner.load_state_dict({name: value.to(self.device) for name, value in state.items()})
        return torch.optim.Adam(learner.parameters(), lr=self.params.learner_lr)

    # ---- the loop -------------------------------------------------------------------------------
    def run(self) -> tuple[SoftLogits, RunState]:
        p = self.params
        with seeded_torch(self.seed, p.threads, self.device):
            generator = torch.Generator().manual_seed(self.seed)
            rng = np.random.default_rng(self.seed)
            summary = initial_summary(p, self.sequences, self.dataset, generator, rng).to(
                self.device
            )
            optimizer = torch.optim.Adam(summary.parameters(), lr=p.seq_lr)
            learner = self._learner()
            learner_optimizer = self._anchor(learner, rng)
            state = RunState(numpy_rng=rng.bit_generator.state)
            best = summary.tensors()
            stored = read_sealed(
                self.path,
                lambda p: load_state(p, summary, optimizer, with_extra=True),
                what="distillation checkpoint",
            )
            if stored is not None:
                state, best, extra = stored
                learner_optimizer = self._restore_learner(learner, extra)
            if not state.done:
                self._epochs(summary, optimizer, learner, learner_optimizer, state, best)
            summary.load_tensors(best)
        return summary, state

    def _learner_tensors(self, learner, optimizer) -> dict[str, torch.Tensor]:
        tensors = {f"learner/{n}": v.detach().cpu().clone() for n, v in learner.named_parameters()}
        for name, param in learner.named_parameters():
            for moment, value in optimizer.state.get(param, {}).items():
                value = value.detach().cpu()
                tensors[f"learner_adam/{moment}/{name}"] = (
                    value.reshape(1) if moment == "step" else value
                ).clone()
        return tensors

    def _restore_learner(self, learner, extra: dict[str, torch.Tensor]) -> torch.optim.Adam:
        with torch.no_grad():
            for name, value in learner.named_parameters():
                value.copy_(extra[f"learner/{name}"])
        optimizer = torch.optim.Adam(learner.parameters(), lr=self.params.learner_lr)
        for name, param in learner.named_parameters():
            if f"learner_adam/step/{name}" in extra:
                optimizer.state[param] = {
                    "step": extra[f"learner_adam/step/{name}"].reshape(()),
                    "exp_avg": extra[f"learner_adam/exp_avg/{name}"].to(self.device),
                    "exp_avg_sq": extra[f"learner_adam/exp_avg_sq/{name}"].to(self.device),
                }
        return optimizer

    def _epochs(self, summary, optimizer, learner, learner_optimizer, state: RunState, best):
        p = self.params
        total = p.epochs * p.steps_per_epoch
        rng = np.random.default_rng()
        rng.bit_generator.state = state.numpy_rng
        if state.epoch == 0 and not state.history:  # where it starts (a figure, not a candidate)
            started = time.perf_counter()
            state.history.append({"epoch": 0, f"dev_{DEV_METRIC}": self._validate(summary),
                                  **probs_shape_figures(summary.probs()),
                                  "seconds": time.perf_counter() - started})  # fmt: skip
        for epoch in range(state.epoch + 1, p.epochs + 1):
            started = time.perf_counter()
            torch.manual_seed(epoch_seed(self.seed, epoch))
            sums: dict[str, float] = {}
            label = f"foster epoch {epoch}/{p.epochs}"
            for _ in progress_bar(
                range(p.steps_per_epoch), desc=label, unit="step", enabled=self.ctx.progress
            ):
                if p.reset_every is not None and state.outer_step % p.reset_every == 0:
                    learner_optimizer = self._anchor(learner, rng)
                for group in optimizer.param_groups:  # cosine over all steps
                    group["lr"] = (
                        p.seq_lr * 0.5 * (1 + math.cos(math.pi * state.outer_step / total))
                    )
                figures = self._step(summary, optimizer, learner, learner_optimizer, rng)
                state.outer_step += 1
                for name, value in figures.items():
                    sums[name] = sums.get(name, 0.0) + value / p.steps_per_epoch
            score = self._validate(summary)
            close_epoch(state, epoch, sums, score, summary, best, self.ctx, started)
            state.epoch, state.done = epoch, epoch == p.epochs
            state.numpy_rng = rng.bit_generator.state
            save_state(self.path, state, summary, best, optimizer,
                       extra=self._learner_tensors(learner, learner_optimizer))  # fmt: skip

    def _validate(self, summary: SoftLogits) -> float:
        if self.params.validation == "none":
            return math.nan
        train_set = soft_set(self.dataset, summary.soft_sequences({}), variant="validation")
        return scratch_validation(
            train_set, self.dataset, self.expert.learner, self.expert.settings
        )

    # ---- one step -----------------------------------------------------------------------------
    def _step(self, summary, optimizer, learner, learner_optimizer, rng) -> dict[str, float]:
        p = self.params
        n = self.dataset.num_items
        # the real batch, and the item subset it fixes
        chosen = rng.choice(len(self.real.valid), size=p.real_sequences, replace=False)
        inputs, targets = self.real.inputs[chosen], self.real.targets[chosen]
        valid = self.real.valid[chosen]
        real_items = np.unique(np.concatenate([inputs[inputs < n], targets[valid]]))
        with torch.no_grad():
            mass = summary.probs().sum((0, 1)).cpu().numpy()
        rows_np = draw_subset(real_items, mass, p.subset_size, p.mass_share, rng)
        rows = torch.as_tensor(rows_np, device=self.device)
        position = np.full(n + 1, len(rows_np), dtype=np.int64)  # the pad (and others) -> k
        position[rows_np] = np.arange(len(rows_np))
        real_inputs = torch.as_tensor(position[inputs], device=self.device)
        real_valid = torch.as_tensor(valid, device=self.device)
        real_targets = torch.as_tensor(
            position[np.where(valid, targets, n)][valid], device=self.device
        )
        # the synthetic sequences over the subset: inputs :L-1, soft targets 1:
        probs = summary.subset_logits(rows).softmax(dim=-1)
        syn_valid = torch.ones(
            probs.shape[0], probs.shape[1] - 1, dtype=torch.bool, device=self.device
        )

        # 2. the matching signal at the current learner (dropout off), first order
        learner.eval()
        table = learner.item_table(rows)  # 1. only the subset is encoded
        params = [w for w in learner.parameters() if w.requires_grad]
        real_loss, real_states = subset_loss(learner, table, real_inputs, real_valid, real_targets)
        syn_loss, syn_states = subset_loss(
            learner, table, probs[:, :-1], syn_valid, probs[:, 1:][syn_valid]
        )
        if p.matching == "gradient":
            real_grads = torch.autograd.grad(real_loss, params, retain_graph=True)
            syn_grads = torch.autograd.grad(syn_loss, params, create_graph=True)
            distances = [
                1 - F.cosine_similarity(r.flatten(), s.flatten(), dim=0, eps=1e-12)
                for r, s in zip(real_grads, syn_grads, strict=True)
                if r.abs().sum() > 0
            ]
            match = torch.stack(distances).mean()
        else:
            match = (real_states.detach().mean(0) - syn_states.mean(0)).pow(2).sum()
        # 3. the co-occurrence regulariser over the subset's text cosines
        text = self.text[rows]
        similarity = text @ text.T
        if p.centred_similarity:
            similarity = centred(similarity)
        regulariser = cooccurrence(probs, similarity)
        loss = match - p.cooccurrence_weight * regulariser
        grads = torch.autograd.grad(loss, list(summary.parameters()))
        optimizer.zero_grad(set_to_none=True)
        for param, grad in zip(summary.parameters(), grads, strict=True):
            param.grad = grad
        optimizer.step()

        # the learner trains on the (updated) synthetic sequences
        learner.train()
        with torch.no_grad():
            fixed = summary.subset_logits(rows).softmax(dim=-1)
        for _ in range(p.learner_steps):
            table = learner.item_table(rows)
            train_loss, _ = subset_loss(
                learner, table, fixed[:, :-1], syn_valid, fixed[:, 1:][syn_valid]
            )
            learner_optimizer.zero_grad(set_to_none=True)
            train_loss.backward()
            learner_optimizer.step()
        return {
            "match": float(match.detach()),
            "cooccurrence": float(regulariser.detach()),
            "real_ce": float(real_loss.detach()),
            "synthetic_ce": float(syn_loss.detach()),
            "subset_size": float(len(rows_np)),
        }
