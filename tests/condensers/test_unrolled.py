"""The inner loop of TD3's distillation (`condensers.unrolled`): the hand-written Adam is
torch's Adam, and the gradient through the unrolled steps is the true derivative of the
outer loss (central finite differences, float64)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from condensers.unrolled import (
    AdamSettings,
    AdamState,
    InnerRun,
    adam_step,
    inner_steps,
    item_logits,
    last_position_states,
    learner_weights,
    summary_loss,
)
from recommenders.sasrec import SASRec
from recommenders.sequence_settings import SequentialTrainSettings


def tiny_sasrec(items: int = 6, *, dtype=torch.float64) -> SASRec:
    settings = SequentialTrainSettings(
        hidden=4, inner=8, max_len=6, dropout=0.0, attention_dropout=0.0, device="cpu"
    )
    torch.manual_seed(0)
    return SASRec(items, settings).to(dtype)


def test_adam_step_is_torch_adam():
    torch.manual_seed(1)
    start = {"a": torch.randn(3, 2), "b": torch.randn(4)}
    grads = [{n: torch.randn_like(v) for n, v in start.items()} for _ in range(4)]
    settings = AdamSettings(lr=0.01, weight_decay=0.05)
    reference = {n: torch.nn.Parameter(v.clone()) for n, v in start.items()}
    optimizer = torch.optim.Adam(reference.values(), lr=0.01, weight_decay=0.05)
    weights, state = dict(start), AdamState()
    for grad in grads:
        weights, state = adam_step(weights, grad, state, settings)
        for name, param in reference.items():
            param.grad = grad[name].clone()
        optimizer.step()
    for name, param in reference.items():
        torch.testing.assert_close(weights[name], param.detach(), rtol=1e-5, atol=1e-6)
    assert state.step == 4


def test_summary_loss_is_zero_when_the_learner_predicts_the_summary_exactly():
    model = tiny_sasrec()
    weights = learner_weights(model)
    probs = torch.full((2, 5, 6), 1 / 6, dtype=torch.float64)
    states = last_position_states(model, weights, probs[:, :4], torch.ones(2, 4, dtype=torch.bool))
    logits = item_logits(model, weights, states)
    expected = F.kl_div(logits.log_softmax(-1), probs[:, 4], reduction="batchmean")
    # the loss averages the whole-sequence KL and the cut KL: with a uniform summary both are
    # the KL of the learner's prediction to uniform, at different positions
    loss = summary_loss(model, weights, probs, cut=4)
    torch.testing.assert_close(loss, expected)  # cut = L - 1: the same position twice


@pytest.mark.parametrize("plain", [0, 2])
def test_unrolled_gradient_matches_finite_differences(plain):
    """d(outer loss)/d(summary logits) through `window` differentiable Adam steps, against
    central differences along a random direction (the plain steps see the summary detached,
    so with plain > 0 the reference is computed with those steps' result held fixed)."""
    model = tiny_sasrec()
    torch.manual_seed(2)
    logits = torch.randn(3, 5, 6, dtype=torch.float64, requires_grad=True)
    contexts = torch.tensor([[6, 6, 1, 2], [0, 3, 4, 5], [6, 2, 2, 1]])
    targets = torch.tensor([3, 1, 0])
    run = InnerRun(batch=2, cut_min=2, adam=AdamSettings(lr=0.05, weight_decay=0.01))
    start = learner_weights(model)
    fixed_probs = logits.detach().softmax(-1)
    warm, warm_state = inner_steps(
        model, start, AdamState(), fixed_probs, plain, run, np.random.default_rng(5),
        differentiable=False,
    )  # fmt: skip

    def outer(z: torch.Tensor) -> torch.Tensor:
        weights, _ = inner_steps(
            model, dict(warm), warm_state, z.softmax(-1), 3, run, np.random.default_rng(7),
            differentiable=True,
        )  # fmt: skip
        states = last_position_states(model, weights, contexts, contexts != model.pad)
        return F.cross_entropy(item_logits(model, weights, states), targets)

    (gradient,) = torch.autograd.grad(outer(logits), logits)
    direction = torch.randn_like(logits)
    step = 1e-5
    base = logits.detach()
    numeric = (outer(base + step * direction) - outer(base - step * direction)).detach() / (2 * step)
    analytic = (gradient * direction).sum()
    assert abs(float(analytic)) > 1e-6  # the summary does move the outer loss
    torch.testing.assert_close(analytic, numeric, rtol=1e-4, atol=1e-9)
