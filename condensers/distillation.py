"""TD3's bi-level distillation loop, shared by `td3` (Tucker factors) and `farzi` (latent ×
decoder): the parameterisation is the one hook, `DistillationCondenser.make_summary`.

What the loop does (design/sequential-track.md, "TD3"; our choices where the facts are silent
are marked "ours"):

- **Expert**: the track's Original SASRec (`condensers.sequence_expert`: trained once per
  dataset, seed and settings, cached with a checkpoint per epoch). Its item table is TD3's
  frozen V; its last-position features on the real data are the feature-matching target.
- **Real data**: every train position of the original after a user's first item, as (the
  last ``max_len`` items before it, the item) pairs, in the original's order (users in
  order, time order within); batches of ``real_batch`` in that fixed order (ml-100k: 96,458
  pairs, 24 batches of 4096). ``steps_per_epoch`` may cap the batches of an epoch (smoke).
- **Epoch**: the learner (a SASRec of the expert's shape) starts from a random checkpoint of
  the expert's training, epochs ``expert_epochs`` (5-30, clipped to the epochs it ran).
- **Outer step**: a fresh Adam for the learner (``net_lr``, ``net_weight_decay``); c plain
  steps on the summary, c uniform in [0, inner_steps - window], without a graph; then
  ``window`` differentiable steps (`condensers.unrolled`); then the real batch through the
  unrolled learner: cross-entropy over all items at the last position plus
  ``feature_weight`` × MSE between its last-position features and the expert's. Adam on the
  summary's parameters (``seq_lr``, ``seq_weight_decay``), a cosine schedule over all outer
  steps, gradients clipped to norm ``grad_clip``. The learner keeps its unrolled weights
  (detached) into the next outer step of the epoch (ours). Inner steps run the learner in
  train mode (dropout on), the real batch in eval mode (ours).
- **Validation** after every epoch on the original's dev NDCG@10, full ranking; the best
  summary is kept. ``validation``: "scratch" (default: the track's ranked recipe, a SASRec
  trained from scratch on the summary with the track's settings, seed 0, early stopping),
  "warm" (TD3's own recipe, one warm-started learner: `warm_start_learner`) or "none" (the
  last summary is kept).
- **Checkpoint** after every epoch: one safetensors file (no pickle) under
  ``<cache>/distill/<key>.safetensors`` with the summary, the best summary, the outer Adam's
  moments and the numpy generator's state; torch (dropout) is seeded per epoch from (seed,
  epoch), so a killed run resumes at the next epoch and ends with the same bits as an
  unbroken one on any device. The key hashes the inputs the summary depends on (dataset,
  parameters but the own-recipe extra's, budget, seed, the expert's key and weights, the
  validation's settings). A finished file is reused: another cell with the same inputs
  (``summary_seed`` fixed, another learner seed) does not distil again; a lock beside it makes
  a second process wait instead of distilling the same summary too.
- **Devices**: ``device`` places the summary, the learner of the loop and the real batches;
  the expert, the validation's learners and TD3's own recipe run where the track's training
  settings put them (``training.device``).

Profiles (`PROFILES`): ``smoke`` (CI: seconds), ``cpu`` (TD3's ml-100k shapes, 3 epochs:
about 10 min on 2 CPU cores) and ``paper`` (its ``script/ml100k.sh``: 30 epochs). A field
given explicitly overrides the profile's value.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import time
from abc import abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F
from pydantic import PlainValidator, model_validator
from torch import nn

from condensers.base import Budget, Condenser
from condensers.context import EXTRA_EVALUATIONS, CondenseContext
from condensers.sequence_expert import KEY_VERSION as EXPERT_KEY_VERSION
from condensers.sequence_expert import expert_settings
from condensers.sequence_sets import require_sequential, soft_set
from condensers.unrolled import (
    AdamSettings,
    AdamState,
    InnerRun,
    Weights,
    inner_steps,
    item_logits,
    last_position_states,
)
from harness.cache_seal import read_json, read_sealed, seal
from harness.dataset import Dataset
from harness.errors import ConfigError, DataError
from harness.full_ranking import item_rows
from harness.hashing import content_key
from harness.paths import atomic_write_bytes, atomic_write_text, exclusive_lock
from harness.progress import progress as progress_bar
from harness.sequences import SEQUENTIAL_KIND, SoftSequences, hard_sequences
from harness.typed import Number, Settings, StrictBool, StrictStr, check
from recommenders.evaluator import resolve_device
from recommenders.sequence_base import SequentialLearner
from recommenders.sequence_evaluator import evaluate_sequential, last_states
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import TrainedSequential, train_sequential
from recommenders.settings import Device, NonNegative, NonNegativeInt, PositiveInt, Rate
from recommenders.threads import torch_threads
from recommenders.trainer import seeded_torch

DISTILL_FOLDER = "distill"
LOCK_SUFFIX = ".lock"
STATE_VERSION = 2  # 2: torch seeded per epoch, no generator state stored
DEV_METRIC = "NDCG@10"
VALIDATIONS = ("scratch", "warm", "none")
VALIDATION_SEED = 0  # the seed of the learner that validates a summary
PROFILES: dict[str, dict[str, Any]] = {
    # CI and the main job's quick look (seconds on a tiny world, about a minute on
    # ml-100k-seq): 24 short outer steps, every inner step differentiable, larger steps for
    # both optimisers so that so few steps show the method's direction, and validation by
    # TD3's (cheaper) warm recipe instead of the from-scratch learner (all ours)
    "smoke": {
        "epochs": 3,
        "steps_per_epoch": 8,
        "inner_steps": 10,
        "window": 10,
        "real_batch": 256,
        "seq_lr": 0.1,
        "net_lr": 0.05,
        "validation": "warm",
        "warm_steps": 20,
    },  # fmt: skip
    # TD3's ml-100k shapes, 3 epochs: about 10 min on 2 CPU cores
    "cpu": {"epochs": 3, "inner_steps": 200, "window": 40, "real_batch": 4096},
    # TD3's script/ml100k.sh: 30 epochs (minutes on a GPU, hours on a CPU)
    "paper": {"epochs": 30, "inner_steps": 200, "window": 40, "real_batch": 4096},
}

_Profile = Annotated[
    StrictStr, check(lambda v: v in PROFILES, f"must be one of {sorted(PROFILES)}, got {{value!r}}")
]
_Validation = Annotated[
    StrictStr,
    check(lambda v: v in VALIDATIONS, f"must be one of {list(VALIDATIONS)}, got {{value!r}}"),
]


def _epoch_span(value: Any) -> list[int]:
    """[first, last]: two integers, 1 <= first <= last."""
    if (
        not isinstance(value, list | tuple)
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in value)
        or not 1 <= value[0] <= value[1]
    ):
        raise ValueError(f"must be [first, last] epochs with 1 <= first <= last, got {value!r}")
    return [int(value[0]), int(value[1])]


EpochSpan = Annotated[list[int], PlainValidator(_epoch_span)]
_Positive = Annotated[Number, check(lambda v: v > 0, "must be a number > 0, got {value!r}")]


def with_profile(values: Any, profiles: dict[str, dict[str, Any]]) -> Any:
    """A loop's raw settings with its profile's values filled in where not given (the
    ``profile`` key, default "cpu"); anything else is left for validation to name."""
    if not isinstance(values, dict):
        return values
    profile = values.get("profile", "cpu")
    return {**profiles.get(profile, {}), **values} if isinstance(profile, str) else values


class DistillParams(Settings):
    """TD3's loop settings (ml-100k values); ``profile`` fills the ones not given."""

    profile: _Profile = "cpu"
    length: PositiveInt = 50  # L: positions of each synthetic sequence
    epochs: PositiveInt = 3
    inner_steps: PositiveInt = 200
    window: PositiveInt = 40  # differentiable (unrolled) steps at the end of the inner run
    learner_batch: PositiveInt = 15  # synthetic sequences per inner step
    real_batch: PositiveInt = 4096  # real (context, next item) pairs per outer step
    steps_per_epoch: PositiveInt | None = None  # cap on outer steps an epoch (None: all)
    seq_lr: Rate = 0.03
    seq_weight_decay: NonNegative = 1e-4
    net_lr: Rate = 0.005
    net_weight_decay: NonNegative = 5e-5
    grad_clip: _Positive = 1.0  # the summary's gradient norm is clipped to this
    feature_weight: NonNegative = 1.0  # the feature MSE's weight beside the real cross-entropy
    # the expert checkpoints the learner resets to (pydantic copies a mutable default)
    expert_epochs: EpochSpan = [5, 30]  # noqa: RUF012
    cut_min: PositiveInt = 5  # the augmentation's cut is uniform in [cut_min, L-2]
    validation: _Validation = "scratch"
    warm_steps: PositiveInt = 200  # steps of TD3's own (warm-start) recipe
    own_recipe: StrictBool = False  # also run TD3's recipe (3 learners) on test: an extra column
    own_recipe_learners: PositiveInt = 3
    summary_seed: NonNegativeInt | None = None  # fixes the distillation's seed (None: the cell's)
    threads: PositiveInt = 1
    device: Device = "cpu"  # "cuda" runs the same loop on a GPU

    @model_validator(mode="before")
    @classmethod
    def _from_profile(cls, values: Any) -> Any:
        return with_profile(values, PROFILES)

    @model_validator(mode="after")
    def _consistent(self) -> DistillParams:
        if self.window > self.inner_steps:
            raise ValueError(
                f"window ({self.window}) must not exceed inner_steps ({self.inner_steps})"
            )
        if self.length < 3:
            raise ValueError(f"length must be at least 3 (a cut needs room), got {self.length}")
        if self.cut_min > self.length - 2:
            raise ValueError(
                f"cut_min ({self.cut_min}) must be at most length - 2 ({self.length - 2})"
            )
        return self


class Summary(nn.Module):
    """A learnable synthetic sequence summary: `probs` is P [S, L, n_items]."""

    @abstractmethod
    def probs(self) -> torch.Tensor: ...

    @abstractmethod
    def soft_sequences(self, meta: dict) -> SoftSequences:
        """The summary as stored (its factors, frozen ones named)."""

    def arrays(self) -> dict[str, np.ndarray]:
        """Its learned tensors as numpy arrays, by name (what `soft_sequences` stores)."""
        return {name: value.detach().cpu().numpy() for name, value in self.named_parameters()}

    def tensors(self) -> dict[str, torch.Tensor]:
        """Its learned tensors by name (checkpointed)."""
        return {name: value.detach().cpu().clone() for name, value in self.named_parameters()}

    def load_tensors(self, tensors: dict[str, torch.Tensor]) -> None:
        with torch.no_grad():
            for name, value in self.named_parameters():
                value.copy_(tensors[name])


# ---- the real data ----------------------------------------------------------------------
@dataclass(frozen=True)
class RealPairs:
    """Every (context, next item) pair of the original train sequences, in order."""

    contexts: np.ndarray  # int64 [N, max_len], left-padded with the pad row
    targets: np.ndarray  # int64 [N], item rows

    def __len__(self) -> int:
        return len(self.targets)


def real_pairs(dataset: Dataset, max_len: int) -> RealPairs:
    """The pairs of `dataset`'s hard train sequences: each position after a sequence's
    first, with the (up to) `max_len` items before it."""
    _, sequences = hard_sequences(dataset)
    pad = dataset.num_items
    contexts, targets = [], []
    for items in sequences:
        rows = item_rows(dataset, items, f"{dataset.name}:train")
        if len(rows) < 2:
            continue
        padded = np.concatenate([np.full(max_len, pad, dtype=np.int64), rows])
        views = np.lib.stride_tricks.sliding_window_view(padded, max_len)
        contexts.append(views[1 : len(rows)])  # window j holds the max_len items before row j
        targets.append(rows[1:])
    if not targets:
        raise DataError("the train set has no sequence of two or more items", file=dataset.name)
    return RealPairs(np.concatenate(contexts).astype(np.int64), np.concatenate(targets))


# ---- the state of a run, checkpointed each epoch -----------------------------------------
@dataclass
class RunState:
    epoch: int = 0  # epochs done
    outer_step: int = 0
    best_epoch: int = 0
    best_score: float = -math.inf
    history: list[dict] = field(default_factory=list)
    numpy_rng: dict = field(default_factory=dict)
    done: bool = False


def save_state(
    path: Path,
    state: RunState,
    summary: Summary,
    best: dict[str, torch.Tensor],
    optimizer: torch.optim.Optimizer,
    extra: dict[str, torch.Tensor] | None = None,
) -> None:
    """Write the run's state atomically: a crash leaves the previous epoch's file. `extra`:
    more tensors of the run (names outside the summary/, best/ and outer/ prefixes)."""
    from safetensors.torch import save  # lazy: safetensors' torch half

    tensors = {f"summary/{k}": v for k, v in summary.tensors().items()}
    tensors.update({f"extra/{k}": v.contiguous() for k, v in (extra or {}).items()})
    tensors.update({f"best/{k}": v.contiguous() for k, v in best.items()})
    for index, (name, _) in enumerate(summary.named_parameters()):
        moments = optimizer.state.get(optimizer.param_groups[0]["params"][index], {})
        for moment in ("exp_avg", "exp_avg_sq", "step"):
            if moment in moments:  # "step" is a 0-d tensor: stored with one element
                value = moments[moment].detach().cpu()
                tensors[f"outer/{moment}/{name}"] = (
                    value.reshape(1) if moment == "step" else value
                ).clone()
    header = {"version": str(STATE_VERSION), "state": json.dumps(state.__dict__, default=float)}
    atomic_write_bytes(path, save(tensors, metadata=header))
    seal(path)


def load_state(
    path: Path, summary: Summary, optimizer: torch.optim.Optimizer, *, with_extra: bool = False
) -> tuple:
    """Restore a checkpoint into `summary` and `optimizer`; (the run state, the best tensors),
    and the `save_state` extra tensors third when `with_extra`."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        if header.get("version") != str(STATE_VERSION):
            raise ValueError(f"state version {header.get('version')!r}, expected {STATE_VERSION}")
        state = RunState(**json.loads(header["state"]))
        summary.load_tensors(
            {k.removeprefix("summary/"): v for k, v in tensors.items() if k.startswith("summary/")}
        )
        best = {k.removeprefix("best/"): v for k, v in tensors.items() if k.startswith("best/")}
        moments = {}
        for index, (name, _) in enumerate(summary.named_parameters()):
            param = optimizer.param_groups[0]["params"][index]
            if f"outer/exp_avg/{name}" in tensors:
                moments[param] = {
                    "step": tensors[f"outer/step/{name}"].reshape(()),
                    "exp_avg": tensors[f"outer/exp_avg/{name}"].to(param.device),
                    "exp_avg_sq": tensors[f"outer/exp_avg_sq/{name}"].to(param.device),
                }
    except Exception as exc:  # OSError, bad JSON, a missing tensor, safetensors' own errors
        raise DataError(f"not a distillation checkpoint ({exc})", file=str(path)) from None
    optimizer.state.update(moments)
    if with_extra:
        extra = {k.removeprefix("extra/"): v for k, v in tensors.items() if k.startswith("extra/")}
        return state, best, extra
    return state, best


# ---- learners on a summary ---------------------------------------------------------------
def scratch_validation(
    train_set: Dataset, original: Dataset, learner: str, settings: SequentialTrainSettings
) -> float:
    """The track's ranked recipe as a validation: `learner` trained from scratch on
    `train_set` (seed `VALIDATION_SEED`, early stopping on the original's dev); its best dev
    NDCG@10."""
    trained = train_sequential(train_set, learner, VALIDATION_SEED, settings,
                               evaluate_on=original, progress=False)  # fmt: skip
    return float(trained.epochs[trained.best_epoch - 1][DEV_METRIC])


def fresh_learner(expert: TrainedSequential) -> SequentialLearner:
    """A learner of the expert's class and settings (its weights are set by the caller)."""
    learner_class = SEQUENTIAL_LEARNERS.get(expert.learner)
    return learner_class(len(expert.item_ids), expert.settings).to(
        next(expert.model.parameters()).device
    )


def warm_start_learner(expert: TrainedSequential) -> SequentialLearner:
    """TD3's evaluation learner: the expert with only its Linear and LayerNorm weights
    re-initialised (Normal(0, 0.02) / zero bias; unit / zero), so its item and position
    embeddings start from the pretrained ones."""
    learner = copy.deepcopy(expert.model)
    with torch.no_grad():
        for module in learner.modules():
            if isinstance(module, nn.Linear):
                nn.init.normal_(module.weight, std=0.02)
                if module.bias is not None:
                    nn.init.zeros_(module.bias)
            elif isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
    return learner


def fit_on_summary(
    learner: SequentialLearner,
    probs: torch.Tensor,
    steps: int,
    run: InnerRun,
    rng: np.random.Generator,
) -> SequentialLearner:
    """`steps` Adam steps of TD3's inner loss on P, written back into `learner` (eval mode)."""
    learner.train()
    weights = {name: value.detach() for name, value in learner.named_parameters()}
    probs = probs.detach().to(next(learner.parameters()).device)
    weights, _ = inner_steps(
        learner, weights, AdamState(), probs, steps, run, rng, differentiable=False
    )
    with torch.no_grad():
        for name, value in learner.named_parameters():
            value.copy_(weights[name])
    return learner.eval()


def as_trained(learner: SequentialLearner, expert: TrainedSequential) -> TrainedSequential:
    """A `TrainedSequential` around `learner`, for the track's evaluator."""
    return TrainedSequential(
        model=learner, learner=expert.learner, seed=expert.seed, settings=expert.settings,
        item_ids=expert.item_ids, epochs_run=0, best_epoch=0, epochs=[], wall_seconds=0.0,
        cpu_seconds=0.0, samples_per_second=math.nan, device=expert.device,
    )  # fmt: skip


def own_recipe(
    expert: TrainedSequential,
    probs: torch.Tensor,
    original: Dataset,
    *,
    learners: int,
    steps: int,
    run: InnerRun,
    seed: int,
    split: str = "test",
) -> dict[str, float]:
    """TD3's own evaluation: `learners` warm-started learners, each `steps` Adam steps on the
    summary; the mean of their full-ranking metrics on `split` (uni100 figures as
    ``uni100:<metric>`` on test)."""
    sums: dict[str, float] = {}
    for index in range(learners):
        torch.manual_seed(seed + index)
        learner = warm_start_learner(expert)
        fit_on_summary(learner, probs, steps, run, np.random.default_rng(seed + index))
        result = evaluate_sequential(as_trained(learner, expert), original, split)
        values = dict(result.metrics)
        for protocol, metrics in result.secondary.items():
            values.update({f"{protocol}:{k}": v for k, v in metrics.items()})
        for name, value in values.items():
            sums[name] = sums.get(name, 0.0) + value / learners
    return sums


def epoch_seed(seed: int, epoch: int) -> int:
    """The torch seed of one outer epoch of a distillation seeded `seed`."""
    return int(np.random.SeedSequence([seed, epoch]).generate_state(1)[0])


@torch.no_grad()
def summary_shape_figures(summary: Summary) -> dict[str, float]:
    """`probs_shape_figures` of the summary's P."""
    return probs_shape_figures(summary.probs())


@torch.no_grad()
def probs_shape_figures(probs: torch.Tensor) -> dict[str, float]:
    """How peaked soft sequences P [S, L, n] are: the mean entropy of a position (nats;
    uniform over n items is log n), the mean largest probability, and the mean number of
    items holding half of a position's mass."""
    probs = probs.double()
    entropy = -(probs * probs.clamp_min(1e-30).log()).sum(-1)
    ordered = probs.sort(dim=-1, descending=True).values.cumsum(-1)
    half = (ordered < 0.5).sum(-1) + 1
    return {
        "probs_entropy": float(entropy.mean()),
        "probs_max": float(probs.max(-1).values.mean()),
        "items_for_half_mass": float(half.double().mean()),
    }


# what does not change the summary: the own-recipe extra, and the profile's name (its values
# are dumped); warm_steps only matters when the warm recipe validates
_NOT_IN_SUMMARY_KEY = ("own_recipe", "own_recipe_learners", "profile")


def summary_params(params: DistillParams) -> dict[str, Any]:
    """The parameters a distilled summary depends on (its cache key's part)."""
    values = params.model_dump(mode="json")
    for name in _NOT_IN_SUMMARY_KEY:
        values.pop(name, None)
    if values.get("validation") != "warm":
        values.pop("warm_steps", None)
    return values


def weights_digest(model: nn.Module) -> str:
    """sha256 over a module's state dict (names, shapes, bytes)."""
    digest = hashlib.sha256()
    for name, value in model.state_dict().items():
        tensor = value.detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype}".encode())
        digest.update(tensor.numpy().tobytes())
    return digest.hexdigest()


# ---- the condenser ------------------------------------------------------------------------
class DistillationCondenser(Condenser):
    """A summary distilled in TD3's loop; subclasses set `make_summary` (the parameterisation)."""

    data_kinds = (SEQUENTIAL_KIND,)
    Params: ClassVar[type] = DistillParams
    label: ClassVar[str]  # the method as the board names it
    recipe_key: ClassVar[str] = "td3-recipe"
    smoke_options: ClassVar[dict[str, Any]] = {"profile": "smoke"}
    version = f"{STATE_VERSION}"  # the loop's version: a new one makes new condensed sets

    @abstractmethod
    def make_summary(
        self, sequences: int, length: int, expert_items: torch.Tensor, generator: torch.Generator
    ) -> Summary:
        """A fresh summary of `sequences` × `length` positions over the expert's items."""

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        require_sequential(dataset, self.name)
        params: DistillParams = self.params
        _, count = budget.resolve_for(dataset)
        seed = (
            params.summary_seed if params.summary_seed is not None else int(rng.integers(2**31 - 1))
        )
        expert_source = ctx.sequence_expert()
        with ctx.stage("expert"):
            expert = expert_source.trained(dataset)
            check_expert(expert, self.name)
            checkpoints = expert_source.checkpoints(dataset)
        key = content_key(
            {
                "state": STATE_VERSION,
                "method": self.name,
                "version": self.version,
                "dataset": dataset.fingerprint(),
                "params": summary_params(params),
                "sequences": count,
                "seed": seed,
                "expert": expert_source.cache_key(dataset),
                "expert_version": EXPERT_KEY_VERSION,
                "expert_weights": weights_digest(expert.model),  # V and the features' source
                "validation_settings": expert_settings(ctx.train_settings).model_dump(),
            }
        )
        path = Path(ctx.cache_dir) / DISTILL_FOLDER / f"{key}.safetensors"
        # one process distils a summary at a time: another cell of the same inputs (another
        # learner seed, a second worker) waits, then reads the finished checkpoint
        with exclusive_lock(path.with_suffix(LOCK_SUFFIX)):
            with ctx.stage("distill"):
                loop = DistillationLoop(
                    self, params, dataset, expert, checkpoints, count, seed, ctx, path
                )
                summary, state = loop.run()
            recipe = self._own_recipe(loop, summary, path, ctx) if params.own_recipe else None
        soft = summary.soft_sequences(
            {"method": self.name, "seed": seed, "best_epoch": state.best_epoch}
        )
        meta: dict[str, Any] = {
            "distillation": {
                "seed": seed,
                "best_epoch": state.best_epoch,
                "best_dev": state.best_score,
                "history": state.history,
                "checkpoint": path.name,
            }
        }
        if recipe is not None:
            meta[EXTRA_EVALUATIONS] = {self.recipe_key: recipe}
        return soft_set(dataset, soft, variant=self.name, meta=meta)

    @staticmethod
    def _own_recipe(loop, summary, path: Path, ctx: CondenseContext) -> dict[str, Any]:
        """TD3's own evaluation of the kept summary, computed once and stored beside it."""
        p = loop.params
        recipe_path = path.with_name(
            f"{path.stem}.own-recipe-{p.own_recipe_learners}x{p.warm_steps}.json"
        )
        stored = read_sealed(recipe_path, read_json, what="own-recipe evaluation")
        if stored is not None:
            return stored
        with ctx.stage("own recipe"):
            recipe = loop.own_recipe_evaluation(summary)
        atomic_write_text(recipe_path, json.dumps(recipe, sort_keys=True))
        seal(recipe_path)
        return recipe


class DistillationLoop:
    """One distillation run (see the module docstring); `run` resumes from `path` if present."""

    def __init__(self, method, params, dataset, expert, checkpoints, sequences, seed, ctx, path):
        self.method, self.params, self.dataset = method, params, dataset
        self.expert, self.sequences, self.seed = expert, sequences, seed
        self.ctx, self.path = ctx, path
        self.device = resolve_device(params.device)
        low, high = params.expert_epochs
        self.resets = [checkpoints[e] for e in sorted(checkpoints) if low <= e <= high] or [
            checkpoints[max(checkpoints)]
        ]
        self.inner = InnerRun(
            batch=params.learner_batch, cut_min=params.cut_min,
            adam=AdamSettings(lr=params.net_lr, weight_decay=params.net_weight_decay),
        )  # fmt: skip

    # ---- pieces -------------------------------------------------------------------------
    def _real(self) -> tuple[RealPairs, torch.Tensor]:
        pairs = real_pairs(self.dataset, self.expert.settings.max_len)
        with torch_threads(self.params.threads):
            features = last_states(self.expert.model, pairs.contexts, 4096).detach()
        return pairs, features

    def validate(self, summary: Summary) -> float:
        """Dev NDCG@10 of the summary under the chosen validation recipe."""
        how = self.params.validation
        if how == "none":
            return math.nan
        if how == "warm":  # (own_recipe seeds torch itself)
            with torch.no_grad():
                probs = summary.probs()
            return own_recipe(self.expert, probs, self.dataset, learners=1,
                              steps=self.params.warm_steps, run=self.inner, seed=VALIDATION_SEED,
                              split="dev")[DEV_METRIC]  # fmt: skip
        train_set = soft_set(self.dataset, summary.soft_sequences({}), variant="validation")
        return scratch_validation(
            train_set, self.dataset, "sasrec", expert_settings(self.ctx.train_settings)
        )

    def own_recipe_evaluation(self, summary: Summary) -> dict[str, Any]:
        p = self.params
        with seeded_torch(self.seed, p.threads, self.device), torch.no_grad():
            probs = summary.probs()
        with seeded_torch(self.seed, p.threads, self.device):
            metrics = own_recipe(self.expert, probs, self.dataset, learners=p.own_recipe_learners,
                                 steps=p.warm_steps, run=self.inner, seed=self.seed)  # fmt: skip
        return {
            "label": f"TD3's own recipe ({p.own_recipe_learners} warm-started SASRec, {p.warm_steps} steps)",
            "description": (
                "Not ranked. TD3's evaluation: each learner starts from the expert SASRec with only "
                "Linear and LayerNorm weights re-initialised (item and position embeddings "
                f"pretrained), {p.warm_steps} Adam steps on the summary; mean over learners; full "
                "ranking on test (uni100: the stored 100 negatives)."
            ),
            "split": "test",
            "metrics": metrics,
        }

    # ---- the loop -----------------------------------------------------------------------
    def run(self) -> tuple[Summary, RunState]:
        p = self.params
        with seeded_torch(self.seed, p.threads, self.device):
            generator = torch.Generator().manual_seed(self.seed)
            expert_items = self.expert.model.item_table().detach().to(self.device)
            summary = self.method.make_summary(
                self.sequences, p.length, expert_items, generator
            ).to(self.device)
            optimizer = torch.optim.Adam(
                summary.parameters(), lr=p.seq_lr, weight_decay=p.seq_weight_decay
            )
            state, best = (
                RunState(numpy_rng=np.random.default_rng(self.seed).bit_generator.state),
                summary.tensors(),
            )
            stored = read_sealed(
                self.path,
                lambda p: load_state(p, summary, optimizer),
                what="distillation checkpoint",
            )
            if stored is not None:
                state, best = stored
            if not state.done:
                self._epochs(summary, optimizer, state, best)
            summary.load_tensors(best)
        return summary, state

    def _epochs(self, summary, optimizer, state: RunState, best) -> None:
        p = self.params
        pairs, features = self._real()
        batches = math.ceil(len(pairs) / p.real_batch)
        steps = min(batches, p.steps_per_epoch or batches)
        total = steps * p.epochs
        learner = fresh_learner(self.expert).to(self.device)
        rng = np.random.default_rng()
        rng.bit_generator.state = state.numpy_rng
        for epoch in range(state.epoch + 1, p.epochs + 1):
            started = time.perf_counter()
            # torch (dropout) is seeded per epoch from (seed, epoch): a resumed run, on any
            # device, draws what an unbroken one does, and no generator state is stored
            torch.manual_seed(epoch_seed(self.seed, epoch))
            reset = self.resets[int(rng.integers(len(self.resets)))]
            weights = {n: reset[n].to(self.device) for n, _ in learner.named_parameters()}
            sums = {"outer_loss": 0.0, "real_ce": 0.0, "feature_mse": 0.0}
            label = f"{self.method.name} epoch {epoch}/{p.epochs}"
            for index in progress_bar(
                range(steps), desc=label, unit="outer step", enabled=self.ctx.progress
            ):
                for group in optimizer.param_groups:  # cosine over all outer steps
                    group["lr"] = (
                        p.seq_lr * 0.5 * (1 + math.cos(math.pi * state.outer_step / total))
                    )
                rows = slice(index * p.real_batch, (index + 1) * p.real_batch)
                losses, weights = self._outer_step(
                    summary, optimizer, learner, weights, pairs, features, rows, rng
                )
                state.outer_step += 1
                for name, value in losses.items():
                    sums[name] += value / steps
            score = self.validate(summary)
            close_epoch(state, epoch, sums, score, summary, best, self.ctx, started)
            state.epoch, state.done = epoch, epoch == p.epochs
            state.numpy_rng = rng.bit_generator.state
            save_state(self.path, state, summary, best, optimizer)

    def _outer_step(
        self, summary, optimizer, learner, weights: Weights, pairs, features, rows, rng
    ):
        p = self.params
        probs = summary.probs()
        plain = int(rng.integers(0, p.inner_steps - p.window + 1))
        learner.train()
        weights, adam = inner_steps(
            learner, weights, AdamState(), probs, plain, self.inner, rng, differentiable=False
        )
        weights = {n: w.detach().requires_grad_(True) for n, w in weights.items()}
        weights, _ = inner_steps(
            learner, weights, adam, probs, p.window, self.inner, rng, differentiable=True
        )
        learner.eval()
        contexts = torch.as_tensor(pairs.contexts[rows], device=self.device)
        targets = torch.as_tensor(pairs.targets[rows], device=self.device)
        states = last_position_states(learner, weights, contexts, contexts != learner.pad)
        real_ce = F.cross_entropy(item_logits(learner, weights, states), targets)
        feature_mse = F.mse_loss(states, features[rows].to(self.device))
        loss = real_ce + p.feature_weight * feature_mse
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(list(summary.parameters()), p.grad_clip)
        optimizer.step()
        carried = {n: w.detach() for n, w in weights.items()}
        losses = {"outer_loss": loss, "real_ce": real_ce, "feature_mse": feature_mse}
        return {name: float(value.detach()) for name, value in losses.items()}, carried


def close_epoch(
    state: RunState, epoch: int, sums: dict[str, float], score: float, summary: Summary,
    best: dict[str, torch.Tensor], ctx: CondenseContext, started: float,
) -> None:  # fmt: skip
    """End an epoch of a distillation: its record (the mean figures of its steps, the dev
    score, how peaked the summary is, its seconds) into the history and the tracker, and the
    summary kept in `best` when its score is the best so far (or when nothing validates)."""
    record = {
        "epoch": epoch,
        **sums,
        f"dev_{DEV_METRIC}": score,
        **summary_shape_figures(summary),
        "seconds": time.perf_counter() - started,
    }
    state.history.append(record)
    ctx.report(
        "distill", {k: v for k, v in record.items() if k != "epoch" and not math.isnan(v)}, epoch
    )
    if math.isnan(score) or score > state.best_score:
        state.best_epoch = epoch
        if not math.isnan(score):
            state.best_score = score
        best.clear()
        best.update(summary.tensors())


def check_expert(expert: TrainedSequential, method: str) -> None:
    """TD3's loop needs a SASRec-shaped expert that reads item ids (its table is V)."""
    if expert.settings.item_input != "id":
        raise ConfigError(
            f"{method}: the expert must read item ids (training.item_input 'id'), "
            f"got {expert.settings.item_input!r}"
        )
