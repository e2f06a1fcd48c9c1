"""Models, trainer and evaluator on a tiny synthetic dataset (CPU, seconds)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import recommenders
from harness.errors import ConfigError, DataError
from recommenders.evaluator import evaluate
from recommenders.inputs import ItemTexts
from recommenders.sampling import NegativeSampler
from recommenders.trainer import TrainSettings, train_model, user_embeddings

SMALL = {"word_dim": 16, "content_dim": 32, "user_dim": 16, "attention_hidden": 16}
FAST = TrainSettings(
    batch_size=64, max_epochs=2, patience=1, threads=1, device="cpu", model_options=SMALL
)


def test_registry_lists_the_three_models():
    assert recommenders.names() == ["fastformer", "naml", "nrms"]
    assert recommenders.get("NRMS").name == "nrms"
    with pytest.raises(
        ConfigError, match="unknown recommender 'sasrec'; known: fastformer, naml, nrms"
    ):
        recommenders.get("sasrec")


@pytest.mark.parametrize("name", ["naml", "nrms", "fastformer"])
def test_encoders_give_paper_dimensions(name, tiny_dataset):
    model = recommenders.get(name).from_options({})
    items = ItemTexts.from_dataset(tiny_dataset, max_tokens=32)
    rows = torch.arange(items.pad_row)
    vectors = model.encode_items(*items.batch(rows, torch.device("cpu")))
    assert model.config.content_dim == 256 and model.config.user_dim == 64
    assert model.word_embedding.num_embeddings == 30522
    assert vectors.shape == (items.pad_row, 64)
    users = model.encode_users(
        vectors[:6].view(2, 3, 64), torch.tensor([[True, True, False], [True, True, True]])
    )
    assert users.shape == (2, 64) and torch.isfinite(users).all()


def test_model_options_are_checked_by_name():
    with pytest.raises(ConfigError, match="unknown model option 'hidden'"):
        recommenders.get("naml").from_options({"hidden": 3})
    with pytest.raises(ConfigError, match="'word_dim' must be a positive integer"):
        recommenders.get("nrms").from_options({"word_dim": 0})
    with pytest.raises(ConfigError, match="'heads' \\(7\\) must divide content_dim"):
        recommenders.get("fastformer").from_options({"heads": 7})


def test_train_settings_fail_early_naming_the_key():
    with pytest.raises(ConfigError, match="'batch_size' must be a positive integer, got 0"):
        TrainSettings(batch_size=0)
    with pytest.raises(ConfigError, match="'lr' must be a number"):
        TrainSettings(lr=-1.0)
    with pytest.raises(ConfigError, match="unknown train setting 'epochs'"):
        TrainSettings.from_mapping({"epochs": 3})
    with pytest.raises(ConfigError, match="unknown metric"):
        TrainSettings(early_stop_metric="Hit@5")


def test_same_seed_gives_identical_metrics_and_weights(tiny_dataset):
    first = train_model(tiny_dataset, "naml", seed=3, settings=FAST, progress=False)
    second = train_model(tiny_dataset, "naml", seed=3, settings=FAST, progress=False)
    assert evaluate(first, tiny_dataset).metrics == evaluate(second, tiny_dataset).metrics

    def without_timing(epochs):
        return [{k: v for k, v in epoch.items() if k != "seconds"} for epoch in epochs]

    assert without_timing(first.epochs) == without_timing(second.epochs)
    for (name, a), (_, b) in zip(
        first.model.state_dict().items(), second.model.state_dict().items(), strict=True
    ):
        assert torch.equal(a, b), name
    other = train_model(tiny_dataset, "naml", seed=4, settings=FAST, progress=False)
    assert evaluate(other, tiny_dataset).metrics != evaluate(first, tiny_dataset).metrics


@pytest.mark.parametrize("name", ["nrms", "fastformer"])
def test_every_model_learns_the_liked_token(name, tiny_dataset):
    settings = TrainSettings(
        batch_size=32, max_epochs=4, patience=4, threads=1, device="cpu", model_options=SMALL
    )
    seen = []
    trained = train_model(
        tiny_dataset,
        name,
        seed=0,
        settings=settings,
        progress=False,
        on_epoch=lambda e, m: seen.append(e),
    )
    assert seen == [1, 2, 3, 4] and trained.epochs_run == 4
    assert 1 <= trained.best_epoch <= 4 and trained.samples_per_second > 0
    result = evaluate(trained, tiny_dataset, metrics=["AUC", "NDCG@1"])
    assert result.metrics["AUC"] > 0.7  # liked items are clicked 85% of the time, others 15%
    assert result.groups_used + result.groups_dropped == 30
    assert result.candidates["max_length"] <= 6


def test_early_stopping_keeps_the_best_epoch(tiny_dataset):
    settings = TrainSettings(
        batch_size=16,
        lr=0.05,
        max_epochs=8,
        patience=1,
        min_improvement=0.0,
        threads=1,
        device="cpu",
        model_options=SMALL,
    )
    trained = train_model(tiny_dataset, "naml", seed=1, settings=settings, progress=False)
    dev = [epoch["NDCG@5"] for epoch in trained.epochs]
    assert dev[trained.best_epoch - 1] == max(dev)
    assert trained.epochs_run == len(dev) <= trained.best_epoch + 1
    kept = evaluate(trained, tiny_dataset, split="dev", metrics=["NDCG@5"]).metrics["NDCG@5"]
    assert kept == pytest.approx(max(dev), abs=1e-6)


def test_negatives_come_from_shown_not_clicked_first():
    shown = pd.DataFrame({"user_id": [7, 7, 7, 7, 7, 8]})
    shown_rows = np.array([10, 11, 12, 13, 14, 20])
    sampler = NegativeSampler(
        positive_users=np.array([7, 7, 8, 9]),
        positive_rows=np.array([1, 2, 3, 4]),
        shown_not_clicked=shown,
        shown_rows=shown_rows,
        num_items=50,
        count=4,
    )
    drawn = sampler.sample(np.random.default_rng(0))
    assert set(drawn[0]) <= {10, 11, 12, 13, 14} and len(set(drawn[0])) == 4
    assert drawn[2, 0] == 20 and 3 not in drawn[2]  # one shown item, then random non-positives
    assert 4 not in drawn[3] and drawn.shape == (4, 4)
    assert np.array_equal(drawn, sampler.sample(np.random.default_rng(0)))


def test_catalogue_negatives_never_take_an_excluded_item():
    """The catalogue rule: uniform over the items a user does not exclude (every allowed item
    drawn about equally often), never an excluded one, and seeded."""
    sampler = NegativeSampler(
        positive_users=np.array([7, 7, 8]),
        positive_rows=np.array([0, 3, 5]),
        shown_not_clicked=pd.DataFrame({"user_id": []}),
        shown_rows=np.array([], dtype=np.int64),
        num_items=10,
        count=4,
        excluded={7: np.array([8, 0, 3, 7]), 8: np.array([5, 9, 1])},
    )
    drawn = np.stack([sampler.sample(np.random.default_rng(s)) for s in range(3000)])
    for row, allowed in ((0, {1, 2, 4, 5, 6, 9}), (1, {1, 2, 4, 5, 6, 9}), (2, {0, 2, 3, 4, 6, 7, 8})):
        values, counts = np.unique(drawn[:, row], return_counts=True)
        assert set(values.tolist()) == allowed
        assert counts.min() > 0.85 * counts.mean()  # uniform within sampling noise
    assert np.array_equal(drawn[0], sampler.sample(np.random.default_rng(0)))
    with pytest.raises(ValueError, match="user 7 excludes every item"):
        NegativeSampler(np.array([7]), np.array([0]), pd.DataFrame({"user_id": []}),
                        np.array([], dtype=np.int64), num_items=2, count=1,
                        excluded={7: np.array([0, 1])})  # fmt: skip


def test_catalogue_rule_excludes_the_users_dev_and_test_items(tiny_dataset):
    """A positive-only set under the catalogue rule never draws a user's dev or test item,
    nor the user's train positives."""
    from recommenders.inputs import UserHistories
    from recommenders.trainer import _TrainingData

    train = tiny_dataset.split("train")
    positives = train[train["label"] == 1]
    condensed = tiny_dataset.with_train(
        positives, variant="positives", meta={"negatives_from": "catalogue"}
    )
    items = ItemTexts.from_dataset(condensed, 32)
    histories = UserHistories.from_dataset(condensed, items, 50)
    data = _TrainingData(condensed, items, histories, tiny_dataset, count=4)
    assert data.rule == "catalogue"
    drawn = data.sampler.sample(np.random.default_rng(0))
    held = tiny_dataset.interactions[tiny_dataset.interactions["split"] != "train"]
    for position, user in enumerate(positives["user_id"].to_numpy()):
        forbidden = set(held.loc[held["user_id"] == user, "item_id"]) | set(
            positives.loc[positives["user_id"] == user, "item_id"]
        )
        taken = set(items.item_index[drawn[position]].tolist())
        assert not taken & forbidden, (user, taken & forbidden)


def test_condensed_positive_only_train_set_uses_original_negatives(tiny_dataset):
    train = tiny_dataset.split("train")
    condensed = tiny_dataset.with_train(
        train[(train["label"] == 1) & (train["user_id"] < 8)], variant="condensed"
    )
    trained = train_model(
        condensed, "naml", seed=0, settings=FAST, negatives_from=tiny_dataset, progress=False
    )
    assert trained.epochs_run >= 1
    empty = tiny_dataset.with_train(train[train["label"] == 2], variant="empty")
    with pytest.raises(DataError, match="no positive interactions"):
        train_model(empty, "naml", seed=0, settings=FAST, progress=False)


def test_user_embeddings_shape_and_determinism(tiny_dataset):
    trained = train_model(tiny_dataset, "nrms", seed=0, settings=FAST, progress=False)
    users = [3, 1, 4]
    vectors = user_embeddings(trained, tiny_dataset, users)
    assert vectors.shape == (3, 16)
    np.testing.assert_allclose(
        vectors[1], user_embeddings(trained.model, tiny_dataset, [1])[0], atol=1e-6
    )
    with pytest.raises(DataError, match="no history for user 999"):
        user_embeddings(trained, tiny_dataset, [999])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown without CUDA")
def test_asking_for_cuda_without_it_is_a_config_error(tiny_dataset):
    settings = TrainSettings(device="cuda", model_options=SMALL)
    with pytest.raises(ConfigError, match="no CUDA device is available"):
        train_model(tiny_dataset, "naml", seed=0, settings=settings, progress=False)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_cuda_with_mixed_precision_trains(tiny_dataset):
    settings = TrainSettings(
        batch_size=32, max_epochs=3, patience=3, device="cuda", model_options=SMALL
    )
    trained = train_model(tiny_dataset, "nrms", seed=0, settings=settings, progress=False)
    assert trained.device.startswith("cuda")
    assert evaluate(trained, tiny_dataset, metrics=["AUC"]).metrics["AUC"] > 0.6
