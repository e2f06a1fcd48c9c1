"""The inner loop of TD3's bi-level distillation, written with `torch.func`.

A learner (a `SequentialLearner` module; TD3's is SASRec with item-id embeddings) is held as
a dict of tensors and called with `torch.func.functional_call`, so its weights can be a
function of the summary P: an Adam step written out by hand (`adam_step`) keeps that graph
when asked (``create_graph``), and the outer loss differentiates through the `window` last
steps (RaT-BPTT: truncated, at a random point of the inner run). No meta-learning package.

The inner loss (design/sequential-track.md, "TD3"): the learner reads P[:, :L-1] (soft
input, P @ E_item) and its softmax at the last position is pulled to P[:, L-1] by KL; the
same KL after a random cut (input P[:, :cut], target P[:, cut], cut uniform in
[cut_min, L-2]: the augmentation) is averaged with it. "Input P[:, :cut], target P[:, cut]"
is our reading of "positions >= cut masked".
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import functional_call

from recommenders.sequence_base import SequentialLearner

Weights = dict[str, torch.Tensor]
ITEM_TABLE = "item_embedding.weight"  # the learner's item table (item-id input): row n is padding
SQRT_FLOOR = 1e-20  # inside Adam's square root, so its derivative at v = 0 stays finite


def learner_weights(model: SequentialLearner) -> Weights:
    """The learner's trainable tensors, detached copies (the state an inner run starts from)."""
    return {name: value.detach().clone() for name, value in model.named_parameters()}


def last_position_states(
    model: SequentialLearner, weights: Weights, inputs: torch.Tensor, valid: torch.Tensor
) -> torch.Tensor:
    """[B, hidden]: the learner's state at the last position of hard [B, T] or soft
    [B, T, n] input, under `weights`."""
    states = functional_call(model, weights, (inputs, valid))
    return states[:, -1]


def item_logits(model: SequentialLearner, weights: Weights, states: torch.Tensor) -> torch.Tensor:
    """Scores of every item from states [B, hidden] (the learner's own item table)."""
    return states @ weights[ITEM_TABLE][: model.num_items].T


def next_position_kl(
    model: SequentialLearner, weights: Weights, inputs: torch.Tensor, target: torch.Tensor
) -> torch.Tensor:
    """KL(target || softmax of the learner at the last position of soft `inputs` [B, T, n])."""
    inputs = inputs[:, -model.settings.max_len :]
    valid = torch.ones(inputs.shape[:2], dtype=torch.bool, device=inputs.device)
    logits = item_logits(model, weights, last_position_states(model, weights, inputs, valid))
    return F.kl_div(F.log_softmax(logits, dim=-1), target, reduction="batchmean")


def summary_loss(
    model: SequentialLearner, weights: Weights, probs: torch.Tensor, cut: int
) -> torch.Tensor:
    """TD3's inner loss on a batch of soft sequences P [B, L, n]: the mean of the KL at the
    last position and the KL at position `cut` reading only the positions before it."""
    length = probs.shape[1]
    whole = next_position_kl(model, weights, probs[:, : length - 1], probs[:, length - 1])
    cut_off = next_position_kl(model, weights, probs[:, :cut], probs[:, cut])
    return (whole + cut_off) / 2


@dataclass
class AdamState:
    """A learner optimiser's moments, one pair per weight; a fresh one starts at step 0."""

    step: int = 0
    first: Weights = field(default_factory=dict)
    second: Weights = field(default_factory=dict)


@dataclass(frozen=True)
class AdamSettings:
    lr: float
    weight_decay: float = 0.0  # L2, added to the gradient (torch.optim.Adam's weight_decay)
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8


def adam_step(
    weights: Weights, grads: Weights, state: AdamState, adam: AdamSettings
) -> tuple[Weights, AdamState]:
    """One Adam update, out of place: differentiable in `weights` and `grads` when they carry
    a graph. torch.optim.Adam's maths, except a floor of 1e-20 under the square root."""
    beta1, beta2 = adam.betas
    step = state.step + 1
    new_weights, first, second = {}, {}, {}
    for name, weight in weights.items():
        grad = grads[name]
        if adam.weight_decay:
            grad = grad + adam.weight_decay * weight
        m = (
            beta1 * state.first[name] + (1 - beta1) * grad
            if name in state.first
            else (1 - beta1) * grad
        )
        v = (
            beta2 * state.second[name] + (1 - beta2) * grad * grad
            if name in state.second
            else (1 - beta2) * grad * grad
        )
        m_hat = m / (1 - beta1**step)
        v_hat = v / (1 - beta2**step)
        new_weights[name] = weight - adam.lr * m_hat / ((v_hat + SQRT_FLOOR).sqrt() + adam.eps)
        first[name], second[name] = m, v
    return new_weights, AdamState(step=step, first=first, second=second)


@dataclass(frozen=True)
class InnerRun:
    """How a learner fits the summary: batches of `batch` sequences, cuts from `cut_min`."""

    batch: int
    cut_min: int
    adam: AdamSettings

    def draw(self, rng: np.random.Generator, sequences: int, length: int) -> tuple[np.ndarray, int]:
        """The sequences (without replacement) and the cut of one step."""
        rows = rng.choice(sequences, size=min(self.batch, sequences), replace=False)
        low = min(self.cut_min, length - 2)
        return np.sort(rows), int(rng.integers(low, length - 1))  # cut in [low, L-2]


def inner_steps(
    model: SequentialLearner,
    weights: Weights,
    state: AdamState,
    probs: torch.Tensor,
    steps: int,
    run: InnerRun,
    rng: np.random.Generator,
    *,
    differentiable: bool,
) -> tuple[Weights, AdamState]:
    """`steps` Adam steps of the learner on the summary P [S, L, n].

    Plain (``differentiable=False``): P and the weights are detached, no graph is kept.
    Differentiable: each step's gradient is taken with ``create_graph=True`` and the update
    keeps the graph, so the returned weights are a function of P (and of the weights given).
    """
    if not differentiable:
        probs = probs.detach()
        weights = {name: value.detach().requires_grad_(True) for name, value in weights.items()}
    elif not any(value.requires_grad for value in weights.values()):
        weights = {name: value.requires_grad_(True) for name, value in weights.items()}
    sequences, length, _ = probs.shape
    for _ in range(steps):
        rows, cut = run.draw(rng, sequences, length)
        batch = probs[torch.as_tensor(rows, device=probs.device)]
        loss = summary_loss(model, weights, batch, cut)
        grads = torch.autograd.grad(loss, list(weights.values()), create_graph=differentiable)
        weights, state = adam_step(weights, dict(zip(weights, grads, strict=True)), state, run.adam)
        if not differentiable:
            weights = {n: w.detach().requires_grad_(True) for n, w in weights.items()}
            state = AdamState(
                state.step,
                {n: m.detach() for n, m in state.first.items()},
                {n: v.detach() for n, v in state.second.items()},
            )
    return weights, state
