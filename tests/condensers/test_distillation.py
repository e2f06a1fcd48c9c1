"""TD3's loop (`condensers.distillation`) with its two parameterisations (`td3`, `farzi`):
profiles, the real pairs, the stored factors, TD3's warm-start learner, reuse and resume of
a distillation, and the known-structure world (issue 13's test)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
import torch
from factories import CLUSTER_ITEMS, cluster_sequential_dataset

from condensers.base import Budget
from condensers.context import CondenseContext
from condensers.distillation import (
    DISTILL_FOLDER,
    PROFILES,
    real_pairs,
    warm_start_learner,
)
from condensers.registry import make
from harness.errors import ConfigError
from harness.sequences import sequences_frame
from recommenders.sequence_evaluator import evaluate_sequential
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import train_sequential

ROOT = Path(__file__).resolve().parents[2]
# the cluster world's learners: short contexts, a few epochs
SETTINGS = SequentialTrainSettings(max_epochs=20, patience=5, threads=1, device="cpu", max_len=20)
SMOKE = {"profile": "smoke", "length": 20}


def context(cache: Path, **overrides) -> CondenseContext:
    return CondenseContext(cache_dir=cache, progress=False, train_settings=SETTINGS, **overrides)


# ---- parameters ----------------------------------------------------------------------------
def test_the_papers_values_are_accepted_as_written():
    params = make("td3", {"grad_clip": 1.0, "seq_lr": 0.03, "net_lr": 0.005, "feature_weight": 1,
                          "expert_epochs": [5, 30], "summary_seed": 0}).params  # fmt: skip
    assert (params.grad_clip, params.expert_epochs) == (1.0, [5, 30])
    assert make("td3", {"grad_clip": 5}).params.grad_clip == 5


def test_a_profile_fills_what_is_not_given_and_a_given_value_wins():
    smoke = make("td3", {"profile": "smoke"}).params
    assert (smoke.epochs, smoke.inner_steps, smoke.window) == (3, 10, 10)
    paper = make("td3", {"profile": "paper", "epochs": 2}).params
    assert (paper.epochs, paper.inner_steps, paper.window, paper.real_batch) == (2, 200, 40, 4096)
    assert (paper.seq_lr, paper.net_lr, paper.rank, paper.length) == (0.03, 0.005, 8, 50)
    assert make("farzi", {}).params.model_dump()["epochs"] == PROFILES["cpu"]["epochs"]


@pytest.mark.parametrize(
    ("options", "words"),
    [
        ({"profile": "huge"}, "profile"),
        ({"window": 50, "inner_steps": 40}, "window (50) must not exceed inner_steps (40)"),
        ({"expert_epochs": [9, 3]}, "expert_epochs"),
        ({"validation": "test"}, "validation"),
        ({"rank": 0}, "rank"),
        ({"summary_seed": -1}, "summary_seed"),
        ({"grad_clip": 0}, "grad_clip"),
        ({"cut_min": 49}, "cut_min (49) must be at most length - 2 (48)"),
    ],
)
def test_bad_parameters_are_refused_by_name(options, words):
    with pytest.raises(ConfigError, match=words.replace("(", r"\(").replace(")", r"\)")):
        make("td3", options)


# ---- the pieces ----------------------------------------------------------------------------
def test_real_pairs_are_every_next_item_with_the_items_before_it():
    world = cluster_sequential_dataset(users=4, length=6)
    pairs = real_pairs(world, max_len=3)
    pad = world.num_items
    first = world.histories.iloc[0]["history"]  # user 0's 4 train items
    assert len(pairs) == 4 * 3  # each train sequence of 4 gives 3 pairs
    np.testing.assert_array_equal(pairs.contexts[0], [pad, pad, first[0]])
    np.testing.assert_array_equal(pairs.contexts[2], first[:3])
    np.testing.assert_array_equal(pairs.targets[:3], first[1:])


def test_stored_factors_give_the_summary_the_loop_trained(tmp_path):
    world = cluster_sequential_dataset()
    for method in ("td3", "farzi"):
        condenser = make(method, {**SMOKE, "epochs": 1, "steps_per_epoch": 1, "validation": "none"})
        out = condenser.condense(
            world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path)
        )
        probs = out.soft.probs()
        assert probs.shape == (4, 20, world.num_items)
        np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
        assert out.split("train").empty and out.soft.form == (
            "tucker" if method == "td3" else "latent"
        )
    assert make("td3", {}).describe()["method"] == "td3"


def test_td3_keeps_the_expert_item_table_frozen_in_its_factors(tmp_path):
    world = cluster_sequential_dataset()
    ctx = context(tmp_path)
    out = make("td3", {**SMOKE, "epochs": 1, "validation": "none"}).condense(
        world, Budget.parse("4"), np.random.default_rng(0), ctx
    )
    table = ctx.sequence_expert().trained(world).model.item_table().detach().numpy()
    np.testing.assert_array_equal(out.soft.tensors["items"], table)
    assert out.soft.frozen == ("items",)
    assert out.soft.stored_bytes() < out.soft.stored_bytes(with_frozen=True)


def test_the_warm_start_learner_keeps_embeddings_and_resets_linear_and_layernorm(tmp_path):
    world = cluster_sequential_dataset()
    expert = context(tmp_path).sequence_expert().trained(world)
    learner = warm_start_learner(expert)
    kept, reset = 0, 0
    for (name, new), (_, old) in zip(
        learner.state_dict().items(), expert.model.state_dict().items(), strict=True
    ):
        if "embedding" in name:
            assert torch.equal(new, old), name
            kept += 1
        else:
            assert not torch.equal(new, old), name  # every Linear and LayerNorm tensor
            reset += 1
    assert kept == 2 and reset > 0


def test_a_finished_distillation_is_reused_not_run_again(tmp_path):
    world = cluster_sequential_dataset()
    options = {**SMOKE, "epochs": 1, "summary_seed": 4, "validation": "none"}
    reports: list[int] = []
    first = make("td3", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0),
        context(tmp_path, metrics_sink=lambda group, values, step: reports.append(step)),
    )  # fmt: skip
    # another cell seed (another learner seed of the grid), the same summary seed
    second = make("td3", options).condense(
        world, Budget.parse("4"), np.random.default_rng(9),
        context(tmp_path, metrics_sink=lambda group, values, step: reports.append(step)),
    )  # fmt: skip
    assert reports == [1]  # the second call ran no epoch
    assert first.soft.digest() == second.soft.digest()
    assert len(list((tmp_path / DISTILL_FOLDER).glob("*.safetensors"))) == 1


def test_scratch_validation_is_the_ranked_recipe_on_the_summary(tmp_path):
    """`validation: scratch` scores an epoch's summary by the track's from-scratch SASRec
    (seed 0, the context's settings): the dev NDCG@10 of its best epoch."""
    world = cluster_sequential_dataset()
    options = {**SMOKE, "epochs": 1, "steps_per_epoch": 1, "validation": "scratch"}
    out = make("td3", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path)
    )
    trained = train_sequential(out, "sasrec", 0, SETTINGS, evaluate_on=world, progress=False)
    expected = trained.epochs[trained.best_epoch - 1]["NDCG@10"]
    assert out.meta["distillation"]["best_dev"] == pytest.approx(expected, abs=1e-12)


def test_the_own_recipe_extra_is_computed_once_per_summary(tmp_path, monkeypatch):
    from condensers import distillation

    world = cluster_sequential_dataset()
    options = {**SMOKE, "epochs": 1, "steps_per_epoch": 1, "validation": "none",
               "own_recipe": True, "own_recipe_learners": 2, "warm_steps": 3}  # fmt: skip
    first = make("td3", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path)
    )
    extra = first.meta["extra_evaluations"]["td3-recipe"]
    assert "2 warm-started" in extra["label"] and extra["split"] == "test"
    assert 0 < extra["metrics"]["NDCG@10"] <= 1  # (the cluster world stores no negatives)

    def again(*args, **kwargs):
        raise AssertionError("the stored own-recipe figures must be read, not computed again")

    monkeypatch.setattr(distillation.DistillationLoop, "own_recipe_evaluation", again)
    second = make("td3", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path)
    )
    assert second.meta["extra_evaluations"] == first.meta["extra_evaluations"]
    # the extra is not part of the summary: asking for it after the fact distils nothing new
    without = make("td3", {**options, "own_recipe": False}).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(tmp_path)
    )
    assert without.soft.digest() == first.soft.digest() and "extra_evaluations" not in without.meta
    assert len(list((tmp_path / DISTILL_FOLDER).glob("*.safetensors"))) == 1


# ---- resume after SIGKILL ------------------------------------------------------------------
KILLED_RUN = textwrap.dedent(
    """
    import os, signal, sys
    import numpy as np
    from factories import cluster_sequential_dataset
    from condensers.base import Budget
    from condensers.context import CondenseContext
    from condensers.registry import make
    from recommenders.sequence_settings import SequentialTrainSettings

    settings = SequentialTrainSettings(max_epochs=20, patience=5, threads=1, device="cpu", max_len=20)

    def sink(group, values, step):
        if step == 2:  # epoch 2 is done but not yet saved: the file holds epoch 1
            os.kill(os.getpid(), signal.SIGKILL)

    ctx = CondenseContext(cache_dir=sys.argv[1], progress=False, train_settings=settings, metrics_sink=sink)
    make("td3", {"profile": "smoke", "length": 20, "epochs": 3}).condense(
        cluster_sequential_dataset(), Budget.parse("4"), np.random.default_rng(0), ctx)
    """
)


@pytest.mark.slow
def test_a_killed_distillation_resumes_at_its_last_epoch_with_the_same_bits(tmp_path):
    killed_cache, whole_cache = tmp_path / "killed", tmp_path / "whole"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests")])}
    done = subprocess.run(
        [sys.executable, "-c", KILLED_RUN, str(killed_cache)], env=env, cwd=ROOT, timeout=300
    )
    assert done.returncode == -signal.SIGKILL
    assert len(list((killed_cache / DISTILL_FOLDER).glob("*.safetensors"))) == 1
    shutil.copytree(killed_cache / "models", whole_cache / "models")  # the same expert

    world = cluster_sequential_dataset()
    options = {"profile": "smoke", "length": 20, "epochs": 3}
    steps: list[int] = []
    sink = lambda group, values, step: steps.append(step)  # noqa: E731
    resumed = make("td3", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(killed_cache, metrics_sink=sink)
    )
    assert steps == [2, 3]  # epoch 1 came from the checkpoint
    whole = make("td3", options).condense(
        world, Budget.parse("4"), np.random.default_rng(0), context(whole_cache)
    )
    assert resumed.soft.digest() == whole.soft.digest()
    timeless = [  # each epoch's losses and dev score; only the wall time may differ
        [
            {k: v for k, v in epoch.items() if k != "seconds"}
            for epoch in run.meta["distillation"]["history"]
        ]
        for run in (resumed, whole)
    ]
    assert timeless[0] == timeless[1] and len(timeless[0]) == 3


# ---- the known-structure world ---------------------------------------------------------------
@pytest.mark.slow
def test_the_smoke_summary_puts_its_mass_inside_clusters_and_teaches_them(tmp_path):
    """TD3 at the smoke profile on two clusters of 8 items: each position of the summary puts
    most of its mass inside one cluster (a fresh summary: half in each), and SASRec trained
    from scratch on it ranks the test items far better than on random sequences of the same
    shape (6 × 20 items drawn uniformly)."""
    world = cluster_sequential_dataset()
    ctx = context(tmp_path)
    summary = make("td3", SMOKE).condense(world, Budget.parse("6"), np.random.default_rng(0), ctx)
    probs = summary.soft.probs()
    cluster_a = probs[..., :CLUSTER_ITEMS].sum(-1)  # [S, L]
    purity = float(np.maximum(cluster_a, 1 - cluster_a).mean())
    fresh = make("td3", {**SMOKE, "epochs": 1, "steps_per_epoch": 1, "seq_lr": 1e-9,
                         "validation": "none"})  # fmt: skip
    start = fresh.condense(
        world, Budget.parse("6"), np.random.default_rng(0), context(tmp_path / "fresh")
    )
    start_a = start.soft.probs()[..., :CLUSTER_ITEMS].sum(-1)
    assert float(np.maximum(start_a, 1 - start_a).mean()) < 0.55
    assert purity > 0.7

    random_items = np.random.default_rng(1).integers(0, world.num_items, size=(6, 20))
    random_set = world.with_train(
        sequences_frame(list(random_items), np.arange(6)), variant="random"
    )
    scores = {}
    for label, train_set in (("summary", summary), ("random", random_set)):
        trained = train_sequential(
            train_set, "sasrec", 0, SETTINGS, evaluate_on=world, progress=False
        )
        scores[label] = evaluate_sequential(trained, world, "test").metrics["NDCG@10"]
    assert scores["summary"] > scores["random"] + 0.1, scores
