"""A second track, registered from this test module only, runs through `condbench run` and
gets its own section on the leaderboard: the runner, records, verify and the site know
nothing inside a track."""

from __future__ import annotations

import json
import time
from dataclasses import dataclass

import numpy as np
import pytest
from cli_runner import invoke_condbench
from factories import tiny_dataset, write_config
from pydantic import BaseModel, ConfigDict

from harness.errors import ConfigError
from harness.metrics import ranking_metrics
from harness.reference import reference_metrics
from harness.registry import Registry
from harness.run.config import parse_config
from harness.tracks import Track
from leaderboard.record import read_records
from leaderboard.site import build_site
from recommenders.tracks import CONTENT, TRACKS, quality_metrics

TOY_METRICS = ["MRR", "NDCG@1", "NDCG@3", "Recall@3"]


class ToySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    noise: float = 0.01


@dataclass
class ToyTrained:
    """A popularity learner with seeded noise: counts of train positives per item."""

    counts: np.ndarray
    wall_seconds: float
    epochs_run: int = 1
    best_epoch: int = 1
    samples_per_second: float = 0.0


class PopularityLearner:
    """The toy track's one learner (a class, as the registry holds learner classes)."""


@dataclass(frozen=True)
class ToyEvaluation:
    metrics: dict[str, float]
    groups_used: int
    groups_dropped: int


def toy_train(train_set, learner, seed, settings, *, on_epoch=None, **_unused) -> ToyTrained:
    started = time.perf_counter()
    train = train_set.split("train")
    positives = train.loc[train["label"] == 1, "item_id"].to_numpy()
    counts = np.bincount(positives, minlength=int(train_set.items["item_id"].max()) + 1).astype(
        float
    )
    counts += np.random.default_rng(seed).random(len(counts)) * settings.noise
    if on_epoch is not None:
        on_epoch(1, {"epoch": 1, "NDCG@1": 0.0, "loss": 0.0})
    return ToyTrained(counts=counts, wall_seconds=time.perf_counter() - started)


def toy_evaluate(trained: ToyTrained, dataset, split, names) -> ToyEvaluation:
    frame = dataset.split(split)
    scores = trained.counts[frame["item_id"].to_numpy()]
    result = ranking_metrics(frame["group_id"].to_numpy(), frame["label"].to_numpy(), scores, names)
    return ToyEvaluation(result.means(), len(result.group_ids), result.groups_dropped)


class Interactions:
    def __init__(self, dataset):
        self.count = int((dataset.split("train")["label"] == 1).sum())


def toy_ratio(condensed: Interactions, original: Interactions) -> dict[str, float]:
    share = condensed.count / original.count
    return {"item_kb": 0.0, "user_kb": 0.0, "overall_kb": 0.0,
            "ratio_item": 1.0, "ratio_user": share, "ratio_overall": share}  # fmt: skip


@pytest.fixture
def toy_track(monkeypatch):
    # a condenser declares the kinds of data it condenses (`Condenser.data_kinds`): the toy
    # data is content-shaped, so `random` may take it; `original` takes every kind
    from condensers.random import RandomCondenser

    monkeypatch.setattr(RandomCondenser, "data_kinds", ("content", "toy"))
    learners: Registry = Registry("toy learner")
    learners.register("popularity-noise", PopularityLearner)
    track = Track(
        name="toy",
        summary="a test-only protocol",
        data_kind="toy",
        learners=learners,
        settings=ToySettings,
        train=toy_train,
        evaluate=toy_evaluate,
        metrics=lambda dataset: list(TOY_METRICS),
        quality_metrics=quality_metrics,
        reference=reference_metrics,
        sizes=Interactions,
        ratio=toy_ratio,
        ratio_definition="train positives over the original's",
    )
    TRACKS.register(track.name, track)
    yield track
    TRACKS.unregister(track.name)


@pytest.fixture
def toy_folder(tmp_path):
    dataset = tiny_dataset()
    dataset.meta["kind"] = "toy"
    folder = tmp_path / "toy-dataset"
    dataset.save(folder)
    return folder


def toy_config(folder) -> dict:
    return {
        "name": "toy",
        "track": "toy",
        "grid": {
            "datasets": [str(folder)],
            "condensers": [
                {"name": "original"},
                {"name": "random", "budgets": [8], "params": {"text_tokens": 3}},
            ],
            "recommenders": ["popularity-noise"],
            "seeds": [0, 1],
        },
        "training": {"noise": 0.05},
        "tracking": {"enabled": False},
    }


def test_toy_track_runs_through_condbench_run_and_gets_its_section(toy_track, toy_folder, tmp_path):
    config = write_config(tmp_path / "toy.yaml", toy_config(toy_folder))
    results = tmp_path / "results"
    done = invoke_condbench("run", config, "--results", results, "--json",
                            "--cache", tmp_path / "cache")  # fmt: skip
    assert done.exit_code == 0, done.output
    summary = json.loads(done.stdout)
    assert (summary["cells"], summary["ran"]) == (4, 4)

    records = read_records(results)
    assert {r.track for r in records} == {"toy"}
    assert {r.recommender for r in records} == {"popularity-noise"}
    for record in records:
        assert list(record.metrics) == TOY_METRICS  # the track's metrics, not content's
        assert record.config["track"] == "toy"
    random_record = next(r for r in records if r.method.name == "random")
    assert 0 < random_record.sizes.ratio_overall < 1  # the toy ratio definition

    site = tmp_path / "site"
    build_site(results, site)
    index = (site / "index.html").read_text(encoding="utf-8")
    assert "toy track" in index
    assert 'id="toy--tiny--popularity-noise"' in index
    assert "content track" not in index


def test_toy_records_verify_through_their_track(toy_track, toy_folder, tmp_path):
    config = write_config(tmp_path / "toy.yaml", toy_config(toy_folder))
    results = tmp_path / "results"
    ran = invoke_condbench("run", config, "--results", results, "--only", "seed=0,method=random",
                           "--cache", tmp_path / "cache")  # fmt: skip
    assert ran.exit_code == 0, ran.output
    verified = invoke_condbench("verify", results, "--cache", tmp_path / "cache")
    assert verified.exit_code == 0, verified.output


def test_config_refuses_another_tracks_learner_and_an_unknown_track(
    toy_track, toy_folder, tmp_path
):
    from harness.run.config import parse_config

    data = toy_config(toy_folder)
    data["grid"]["recommenders"] = ["naml"]  # a content learner on the toy track
    with pytest.raises(ConfigError, match=r"grid.recommenders\[0\].*'naml'"):
        parse_config(data, "toy.yaml")
    data = toy_config(toy_folder)
    data["track"] = "nope"
    with pytest.raises(ConfigError, match="track.*'nope'.*content"):
        parse_config(data, "toy.yaml")


def test_content_track_refuses_toy_data(toy_track, toy_folder):
    from harness.dataset import Dataset

    with pytest.raises(ConfigError, match="takes content data.*is toy"):
        CONTENT.check_dataset(Dataset.load(toy_folder))


def test_a_condenser_that_does_not_take_the_tracks_data_is_refused(toy_track, toy_folder):
    config = toy_config(toy_folder)
    config["grid"]["condensers"].append({"name": "majority", "budgets": [8]})
    with pytest.raises(
        ConfigError,
        match=r"grid.condensers\[2\].name: condenser 'majority' takes content data; track 'toy' takes toy data",
    ):
        parse_config(config, "toy.yaml")
