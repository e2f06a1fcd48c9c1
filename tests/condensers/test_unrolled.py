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


def test_summary_loss_is_the_mean_of_the_last_position_and_the_cut_kl():
    """Against the module's own forward (not the functional path): input P[:, :L-1] predicts
    P[:, L-1]; input P[:, :cut] predicts P[:, cut]; the loss is the mean of the two KLs."""
    model = tiny_sasrec().eval()
    torch.manual_seed(3)
    probs = torch.randn(2, 5, 6, dtype=torch.float64).softmax(-1)

    def kl(inputs, target):
        states = model(inputs, torch.ones(inputs.shape[:2], dtype=torch.bool))[:, -1]
        log_q = (states @ model.item_embedding.weight[:6].T).log_softmax(-1)
        return (target * (target.log() - log_q)).sum(-1).mean()

    expected = (kl(probs[:, :4], probs[:, 4]) + kl(probs[:, :2], probs[:, 2])) / 2
    loss = summary_loss(model, learner_weights(model), probs, cut=2)
    torch.testing.assert_close(loss, expected)
    assert float(loss) > 0


def test_plain_steps_carry_no_gradient_to_the_summary():
    """The c plain steps see P detached: the weights they return do not depend on P."""
    model = tiny_sasrec()
    logits = torch.randn(3, 5, 6, dtype=torch.float64, requires_grad=True)
    run = InnerRun(batch=2, cut_min=2, adam=AdamSettings(lr=0.05))
    plain, _ = inner_steps(
        model, learner_weights(model), AdamState(), logits.softmax(-1), 2, run,
        np.random.default_rng(0), differentiable=False,
    )  # fmt: skip
    unrolled, _ = inner_steps(
        model, learner_weights(model), AdamState(), logits.softmax(-1), 2, run,
        np.random.default_rng(0), differentiable=True,
    )  # fmt: skip
    for name in plain:  # the same maths, with and without the graph
        torch.testing.assert_close(plain[name].detach(), unrolled[name].detach())
    table = "item_embedding.weight"
    assert torch.autograd.grad(plain[table].sum(), logits, allow_unused=True)[0] is None
    (through,) = torch.autograd.grad(unrolled[table].sum(), logits)
    assert through.abs().sum() > 0


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
    numeric = (outer(base + step * direction) - outer(base - step * direction)).detach() / (
        2 * step
    )
    analytic = (gradient * direction).sum()
    assert abs(float(analytic)) > 1e-6  # the summary does move the outer loss
    torch.testing.assert_close(analytic, numeric, rtol=1e-4, atol=1e-9)
