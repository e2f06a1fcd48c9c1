"""The contract of every learner of every registered track (`recommenders.tracks.TRACKS`).

A new learner, or a new track, is tested here without new test code: each (track, learner)
pair trains a few epochs through the track's own trainer (`track.train`) on a tiny dataset
of the track's data kind, CPU, one thread, and is scored by the track's own evaluator:
1. determinism: the same seed gives the same test metrics and the same loss curve;
2. it learns: the train loss falls over a few epochs on the tiny set;
3. its evaluation gives every metric of the track, finite and in [0, 1].
A track adds one entry to `TINY` (a dataset factory and small settings for its data kind).
Content learners also keep their shape contract (item and user vectors, one finite score
per candidate).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from factories import fast_training, learnable_dataset, tiny_sequential_dataset

import recommenders
from recommenders.evaluator import score_rows
from recommenders.inputs import ItemTexts, UserHistories
from recommenders.tracks import TRACKS
from recommenders.trainer import train_model

EPOCHS = 3

# data kind -> (tiny dataset factory, settings of that kind's track that train in seconds)
TINY = {
    "content": (
        learnable_dataset,
        lambda: fast_training(batch_size=32, max_epochs=EPOCHS, patience=EPOCHS, lr=0.01),
    ),
    "sequential": (
        tiny_sequential_dataset,
        lambda: TRACKS.get("sequential").settings(
            device="cpu", batch_size=16, lr=0.01, max_epochs=EPOCHS, patience=EPOCHS
        ),
    ),
}

PAIRS = [(track, learner) for track in TRACKS.names() for learner in TRACKS.get(track).learners]


def test_every_tracks_data_kind_has_a_tiny_dataset():
    missing = {TRACKS.get(t).data_kind for t in TRACKS.names()} - set(TINY)
    assert not missing, f"add a tiny dataset and settings to TINY for data kind(s) {missing}"


@pytest.fixture(scope="module")
def datasets():
    return {kind: factory() for kind, (factory, _) in TINY.items()}


def _train(track_name: str, learner: str, data, seed: int = 0):
    track = TRACKS.get(track_name)
    _, settings = TINY[track.data_kind]
    return track.train(data, learner, seed, settings(), progress=False)


@pytest.fixture(scope="module", params=PAIRS, ids=lambda pair: f"{pair[0]}-{pair[1]}")
def trained(request, datasets, tmp_path_factory):
    track_name, learner = request.param
    data = datasets[TRACKS.get(track_name).data_kind]
    with pytest.MonkeyPatch.context() as patch:  # a learner reading text caches its vectors
        patch.setenv("CONDBENCH_CACHE", str(tmp_path_factory.mktemp("cache")))
        return track_name, learner, data, _train(track_name, learner, data)


def _test_metrics(track_name: str, trained_model, data) -> dict[str, float]:
    track = TRACKS.get(track_name)
    return dict(track.evaluate(trained_model, data, "test", track.metrics(data)).metrics)


def _losses(trained_model) -> list[float]:
    return [epoch["train_loss"] for epoch in trained_model.epochs]


def test_same_seed_same_metrics_and_losses(trained):
    track_name, learner, data, first = trained
    second = _train(track_name, learner, data)
    assert _test_metrics(track_name, first, data) == _test_metrics(track_name, second, data)
    assert _losses(first) == _losses(second), learner


def test_loss_falls_on_a_tiny_set(trained):
    _, learner, _, model = trained
    losses = _losses(model)
    assert len(losses) == EPOCHS, learner
    assert losses[-1] < losses[0], f"{learner}: train loss {losses}"


def test_evaluation_gives_every_metric_finite_in_the_unit_interval(trained):
    track_name, learner, data, model = trained
    metrics = _test_metrics(track_name, model, data)
    assert list(metrics) == TRACKS.get(track_name).metrics(data), learner
    for name, value in metrics.items():
        assert math.isfinite(value) and 0.0 <= value <= 1.0, (learner, name, value)


# ---- content learners: the shape contract ---------------------------------------------------


def _scores(trained, data, split: str = "test") -> np.ndarray:
    settings = trained.settings
    items = ItemTexts.from_dataset(data, settings.max_tokens)
    histories = UserHistories.from_dataset(data, items, settings.max_history)
    return score_rows(trained.model, items, histories, data.split(split), torch.device("cpu"))


@pytest.mark.parametrize("name", recommenders.names())
def test_content_shapes(name, datasets):
    data = datasets["content"]
    settings = fast_training(batch_size=32, max_epochs=1, patience=1, lr=0.01)
    model = train_model(data, name, seed=0, settings=settings, progress=False)
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
