"""The contract of every learner in the registry (`recommenders.names()`).

A new model is tested here without new test code, on `factories.learnable_dataset` with
small model options (`factories.fast_training`), CPU, one thread:
1. shapes: item vectors [items, user_dim], user vectors [users, user_dim], and one finite
   score per candidate (row) of a split;
2. determinism: the same seed gives the same scores (and the same loss curve);
3. it learns: the train loss falls over a few epochs on the tiny set.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import fast_training, learnable_dataset

import recommenders
from recommenders.evaluator import score_rows
from recommenders.inputs import ItemTexts, UserHistories
from recommenders.trainer import train_model

EPOCHS = 3


@pytest.fixture(scope="module")
def data():
    return learnable_dataset()


def _train(data, name: str, seed: int = 0):
    settings = fast_training(batch_size=32, max_epochs=EPOCHS, patience=EPOCHS, lr=0.01)
    return train_model(data, name, seed=seed, settings=settings, progress=False)


def _scores(trained, data, split: str = "test") -> np.ndarray:
    settings = trained.settings
    items = ItemTexts.from_dataset(data, settings.max_tokens)
    histories = UserHistories.from_dataset(data, items, settings.max_history)
    return score_rows(trained.model, items, histories, data.split(split), torch.device("cpu"))


@pytest.fixture(scope="module", params=recommenders.names())
def trained(request, data):
    return request.param, _train(data, request.param)


def test_shapes(trained, data):
    name, model = trained
    user_dim = model.model.config.user_dim
    items = ItemTexts.from_dataset(data, max_tokens=32)
    with torch.no_grad():
        vectors = model.model.encode_items(*items.batch(torch.arange(items.pad_row), "cpu"))
        users = model.model.encode_users(
            vectors[:6].view(2, 3, user_dim), torch.tensor([[True, True, False], [True] * 3])
        )
    assert vectors.shape == (items.pad_row, user_dim), name
    assert users.shape == (2, user_dim), name
    for split in ("dev", "test"):
        scores = _scores(model, data, split)
        assert scores.shape == (len(data.split(split)),), name  # one score per candidate
        assert np.isfinite(scores).all(), name


def test_same_seed_same_scores(trained, data):
    name, first = trained
    second = _train(data, name)
    assert np.array_equal(_scores(first, data), _scores(second, data)), name
    losses = [[epoch["train_loss"] for epoch in run.epochs] for run in (first, second)]
    assert losses[0] == losses[1], name


def test_loss_falls_on_a_tiny_set(trained):
    name, model = trained
    losses = [epoch["train_loss"] for epoch in model.epochs]
    assert len(losses) == EPOCHS, name
    assert losses[-1] < losses[0], f"{name}: train loss {losses}"
