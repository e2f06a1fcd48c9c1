"""FOSTER (`condensers.foster`): its parameters, item-subset sampling, the co-occurrence
regulariser (issue 14's known-answer test on two text clusters), the stored sequences and a
resumed run that ends as an unbroken one."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from factories import cluster_sequential_dataset

from condensers.base import Budget
from condensers.context import CondenseContext
from condensers.foster import (
    OPEN_CHOICES,
    FosterLoop,
    SoftLogits,
    cooccurrence,
    draw_subset,
    initial_summary,
    within_cluster_share,
)
from condensers.registry import make
from harness.dataset import Dataset, normalise_interactions
from harness.errors import ConfigError
from harness.sequences import DENSE, LATENT
from harness.text import get_tokenizer
from recommenders.sequence_settings import SequentialTrainSettings

SETTINGS = SequentialTrainSettings(max_epochs=8, patience=3, threads=1, device="cpu", max_len=20)
SMOKE = {"profile": "smoke", "length": 12, "summary_seed": 0}


def context(cache: Path) -> CondenseContext:
    return CondenseContext(cache_dir=cache, progress=False, train_settings=SETTINGS)


# ---- parameters ----------------------------------------------------------------------------
def test_a_profile_fills_what_is_not_given_and_every_open_choice_is_a_parameter():
    params = make("foster", {"profile": "smoke", "epochs": 3}).params
    assert (params.epochs, params.steps_per_epoch, params.reset_every) == (3, 30, 10)
    assert (params.subset_size, params.matching, params.learner) == (256, "gradient", "sasrec-text")
    fields = set(type(params).model_fields)
    assert set(OPEN_CHOICES) - {"schedule", "learner_steps"} <= fields


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"matching": "trajectory"}, "matching"),
        ({"learner": "bert4rec"}, "learner"),
        ({"subset_size": 0}, "subset_size"),
        ({"mass_share": 1.5}, "mass_share"),
        ({"init_real_share": 1.0}, "init_real_share"),
        ({"anchor_epochs": [4, 2]}, "anchor_epochs"),
        ({"cooccurrence_weight": -1}, "cooccurrence_weight"),
    ],
)
def test_bad_parameters_are_refused_by_name(options, words):
    with pytest.raises(ConfigError, match=words):
        make("foster", options)


def test_a_learner_that_reads_ids_is_refused(tmp_path):
    world = cluster_sequential_dataset()
    condenser = make("foster", {**SMOKE, "learner": "sasrec"})
    with pytest.raises(ConfigError, match="must read item text"):
        condenser.condense(world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path))


# ---- the pieces ----------------------------------------------------------------------------
def test_the_subset_holds_the_real_items_then_the_heaviest_then_uniform_others():
    mass = np.zeros(100)
    mass[[90, 91, 92, 93]] = [5.0, 4.0, 3.0, 2.0]
    real = np.array([1, 2, 3])
    rng = np.random.default_rng(0)
    rows = draw_subset(real, mass, 10, 0.3, rng)
    assert len(rows) == 10 and np.all(np.diff(rows) > 0)
    assert {1, 2, 3, 90, 91, 92} <= set(rows.tolist()) and 93 not in rows  # 0.3 x 10 = 3 heaviest
    assert draw_subset(real, mass, None, 0.3, rng).tolist() == list(range(100))  # whole corpus
    many = np.arange(20)  # more real items than k: all of them, nothing else
    assert draw_subset(many, mass, 10, 0.3, rng).tolist() == list(range(20))


def test_cooccurrence_is_the_mean_similarity_of_distinct_positions():
    similarity = torch.tensor([[1.0, 0.8, 0.1], [0.8, 1.0, 0.2], [0.1, 0.2, 1.0]])
    one_hot = torch.eye(3)
    together = one_hot[[0, 1]][None]  # a sequence holding items 0 and 1
    apart = one_hot[[0, 2]][None]
    same_item = one_hot[[0, 0]][None]  # an item with itself is not co-occurrence
    assert float(cooccurrence(together, similarity)) == pytest.approx(0.8)
    assert float(cooccurrence(apart, similarity)) == pytest.approx(0.1)
    assert float(cooccurrence(same_item, similarity)) == pytest.approx(0.0)
    soft = torch.tensor([[[0.5, 0.5, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]])
    pairs = [(0, 1), (0, 2), (1, 2)]  # by hand: p_l C' p_l' over the 3 unordered pairs
    off = similarity - torch.diag(similarity.diagonal())
    expected = sum(float(soft[0, a] @ off @ soft[0, b]) for a, b in pairs) / 3
    assert float(cooccurrence(soft, similarity)) == pytest.approx(expected)


def test_within_cluster_share_by_hand():
    clusters = np.array([0, 0, 1, 1])
    one_hot = np.eye(4)
    assert within_cluster_share(one_hot[[0, 1, 0]][None], clusters) == pytest.approx(1.0)
    assert within_cluster_share(one_hot[[0, 2]][None], clusters) == pytest.approx(0.0)
    uniform = np.full((1, 5, 4), 0.25)
    assert within_cluster_share(uniform, clusters) == pytest.approx(0.5)


def test_the_logits_of_a_subset_and_the_stored_forms():
    generator = torch.Generator().manual_seed(0)
    full = SoftLogits(torch.randn(2, 5, 9, generator=generator))
    rows = torch.tensor([1, 4, 8])
    torch.testing.assert_close(full.subset_logits(rows), full.logits[..., rows])
    stored = full.soft_sequences({})
    assert stored.form == DENSE
    np.testing.assert_allclose(stored.probs(), full.probs().detach().numpy(), atol=1e-6)
    low = SoftLogits(latent=torch.randn(2, 5, 3, generator=generator),
                     decoder=torch.randn(3, 9, generator=generator))  # fmt: skip
    torch.testing.assert_close(low.subset_logits(rows), (low.latent @ low.decoder)[..., rows])
    stored = low.soft_sequences({})
    assert stored.form == LATENT
    np.testing.assert_allclose(stored.probs(), low.probs().detach().numpy(), atol=1e-6)


def test_the_real_start_is_full_windows_of_real_items_with_their_share():
    world = cluster_sequential_dataset(length=30)  # 28 train items a user: full windows exist
    params = make("foster", {**SMOKE, "init_real_share": 0.6}).params
    start = initial_summary(params, 5, world, torch.Generator().manual_seed(0),
                            np.random.default_rng(0))  # fmt: skip
    probs = start.probs().detach().numpy()
    assert probs.shape == (5, 12, world.num_items)
    spread = 0.4 / world.num_items
    np.testing.assert_allclose(probs.max(-1), 0.6 + spread, rtol=1e-5)  # no padded position
    items = probs.argmax(-1)
    assert all(len(set(row // 8)) == 1 for row in items)  # one user's window: one cluster


def test_the_last_items_start_is_random_kxls_set():
    world = cluster_sequential_dataset(length=30)
    params = make("foster", {**SMOKE, "init": "last"}).params
    start = initial_summary(params, 6, world, torch.Generator().manual_seed(0),
                            np.random.default_rng(0))  # fmt: skip
    items = start.probs().detach().numpy().argmax(-1)
    histories = {u: [int(i) for i in h][-12:] for u, h in zip(
        world.histories["user_id"], world.histories["history"], strict=True)}  # fmt: skip
    tails = {tuple(h) for h in histories.values()}
    assert all(tuple(row.tolist()) in tails for row in items)  # each row: a user's last 12
    assert len({tuple(row.tolist()) for row in items}) == 6  # six users, none twice


# ---- on real text ------------------------------------------------------------------------------
ANIMALS = ["dog", "cat", "horse", "cow", "sheep", "lion", "tiger", "wolf"]
VEHICLES = ["car", "truck", "bus", "train", "bicycle", "airplane", "boat", "motorcycle"]


def two_text_clusters(users: int = 60, length: int = 12, seed: int = 0) -> Dataset:
    """16 items whose text falls in two clusters (animals, vehicles), and sequences that
    ignore the clusters (each item uniform over all 16): only the regulariser knows them."""
    rng = np.random.default_rng(seed)
    tokenizer = get_tokenizer()
    words = ANIMALS + VEHICLES
    rows, histories = [], []
    for user in range(users):
        walk = [int(i) for i in rng.integers(0, len(words), size=length)]
        rows += [("train", user, item, 1, user) for item in walk[:-2]]
        rows += [("dev", user, walk[-2], 1, user), ("test", user, walk[-1], 1, user)]
        histories.append({"user_id": user, "history": walk[:-2]})
    return Dataset(
        name="text-clusters",
        items=pd.DataFrame(
            {"item_id": np.arange(len(words)), "text": [tokenizer.encode(word) for word in words]}
        ),  # fmt: skip
        text_fields=("text",),
        histories=pd.DataFrame(histories),
        interactions=normalise_interactions(
            pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
        ),
        meta={
            "name": "text-clusters",
            "variant": "original",
            "version": "1",
            "kind": "sequential",
            "cutoffs": [5, 10],
        },  # fmt: skip
    )


@pytest.mark.slow
def test_raising_lambda_raises_the_share_of_within_cluster_pairs(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDBENCH_CACHE", str(tmp_path / "vectors"))  # the MiniLM vectors
    world = two_text_clusters()
    clusters = np.array([0] * len(ANIMALS) + [1] * len(VEHICLES))
    ctx = context(tmp_path / "cache")
    shares = []
    for weight in (0.0, 10.0, 100.0):
        options = {**SMOKE, "init": "random", "cooccurrence_weight": weight,
                   "validation": "none", "steps_per_epoch": 150}  # fmt: skip
        condensed = make("foster", options).condense(
            world, Budget.parse("6"), np.random.default_rng(0), ctx
        )
        shares.append(within_cluster_share(condensed.soft.probs(), clusters))
    assert shares[0] < 0.55  # the sequences ignore the clusters: about half the pairs
    assert shares[0] < shares[1] < shares[2], shares
    assert shares[2] > 0.7, shares


@pytest.mark.slow
def test_a_run_killed_after_an_epoch_resumes_to_the_same_bits(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDBENCH_CACHE", str(tmp_path / "vectors"))
    world = cluster_sequential_dataset()
    options = {**SMOKE, "reset_every": None}  # the learner's own state crosses the epochs
    unbroken = make("foster", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path / "a")
    )
    real_validate = FosterLoop._validate
    calls = []

    def crash_in_epoch_two(self, summary):
        calls.append(1)
        if len(calls) == 3:  # epoch 0 (the start), epoch 1, then epoch 2's
            raise KeyboardInterrupt  # after epoch 1's checkpoint, before epoch 2's
        return real_validate(self, summary)

    monkeypatch.setattr(FosterLoop, "_validate", crash_in_epoch_two)
    with pytest.raises(KeyboardInterrupt):
        make("foster", options).condense(
            world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path / "b")
        )
    monkeypatch.setattr(FosterLoop, "_validate", real_validate)
    resumed = make("foster", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path / "b")
    )
    np.testing.assert_array_equal(resumed.soft.tensors["probs"], unbroken.soft.tensors["probs"])
    history = resumed.meta["distillation"]["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]


@pytest.mark.slow
def test_foster_runs_with_the_text_encoders_top_layer_trained(tmp_path, monkeypatch):
    monkeypatch.setenv("CONDBENCH_CACHE", str(tmp_path / "vectors"))
    settings = SETTINGS.model_copy(update={"max_epochs": 4, "text_top_layer": True})
    ctx = CondenseContext(cache_dir=tmp_path / "cache", progress=False, train_settings=settings)
    world = cluster_sequential_dataset()
    condensed = make("foster", SMOKE).condense(
        world, Budget.parse("4"), np.random.default_rng(0), ctx
    )
    expert = ctx.sequence_expert("sasrec-text").trained(world)
    assert expert.settings.text_top_layer and hasattr(expert.model, "text_top")
    probs = condensed.soft.probs()
    assert probs.shape == (4, 12, world.num_items) and np.isfinite(probs).all()
    assert [h["epoch"] for h in condensed.meta["distillation"]["history"]] == [0, 1, 2]
