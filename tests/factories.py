"""Tiny-data factories shared by the tests: datasets that train in seconds, and offline stand-ins
for the heavy parts of a condenser's context (LLM backend, sentence encoder, z_u).

Datasets (all in the common schema, `Dataset.validate()` passes):
- `tiny_dataset`: 24 users x 30 items, every user with train/dev/test rows; items 0-9 are
  "popular" so a model has something to learn. Condensers and the run grid use it.
- `learnable_dataset`: items whose text says whether users like them (token 1000), clicks
  follow it; a learner's loss and AUC move within a few steps.
- `small_dataset`: 12 items, 6 users; users 4 and 5 appear only in dev / test (submissions).
- `cluster_sequential_dataset`: 80 users in two clusters of 8 items, each sequence drawn
  inside its user's cluster (TD3's known-structure test).
- `tiny_sequential_dataset`: the sequential track's shape (`harness.sequences`): 40 users
  walking an item cycle (next item = current + 1 mod 30, with some noise), leave-one-out
  dev/test targets, 10 fixed test negatives per user; a learner can learn the cycle.

The data mirror (`find_mirror`): skipped when missing, a failure on CI.

Offline context (`tiny_context`): a `GeneratingClient` over `FakeTextBackend` (real client:
cache, parsing, retries; answers computed from the prompt text), `HashEncoder` for interest
embeddings and `hashed_user_embeddings` for z_u. Nothing is downloaded or trained.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from harness.dataset import Dataset, normalise_interactions

# ---- the data mirror -------------------------------------------------------------------------
DEFAULT_MIRROR = Path(__file__).resolve().parents[2] / "shared" / "data"
MIRROR_MARKER = "tfdcon-release"  # a folder every mirror holds


def in_ci(environ: Mapping[str, str] = os.environ) -> bool:
    """True on CI ($CI set to anything but empty, 0, false or no)."""
    return environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")


def find_mirror(environ: Mapping[str, str] = os.environ) -> Path:
    """The data mirror ($CONDBENCH_MIRROR, default ../shared/data). Missing, the tests that
    read it are skipped locally, but fail on CI: a skipped data test must not pass CI."""
    path = Path(environ.get("CONDBENCH_MIRROR") or DEFAULT_MIRROR).resolve()
    if not (path / MIRROR_MARKER).is_dir():
        message = f"no data mirror at {path} (set CONDBENCH_MIRROR)"
        if in_ci(environ):
            pytest.fail(f"{message}; CI needs the mirror: its data tests may not skip", pytrace=False)
        pytest.skip(message)
    return path


# ---- datasets ------------------------------------------------------------------------------
TINY_USERS = 24
TINY_ITEMS = 30
LIKED_TOKEN = 1000


def tiny_dataset(seed: int = 0) -> Dataset:
    """24 users, 30 items with 3-6 word-piece tokens each; every user has train/dev/test rows.

    Items 0-9 are "popular" (most positives), so a model has something to learn.
    """
    rng = np.random.default_rng(seed)
    items = pd.DataFrame(
        {
            "item_id": np.arange(TINY_ITEMS, dtype=np.int64),
            "title": [
                list(map(int, rng.integers(2000, 2100, size=rng.integers(3, 7))))
                for _ in range(TINY_ITEMS)
            ],
        }
    )
    rows, histories = [], []
    for user in range(TINY_USERS):
        order = rng.permutation(TINY_ITEMS)
        popular = [i for i in order if i < 10]
        rest = [i for i in order if i >= 10]
        histories.append({"user_id": user, "history": [int(i) for i in popular[:3]]})
        plan = {
            "train": (popular[3:6], rest[:4]),
            "dev": (popular[6:8], rest[4:7]),
            "test": (popular[8:10], rest[7:10]),
        }
        for split, (positives, negatives) in plan.items():
            rows += [(split, user, int(i), 1, user) for i in positives]
            rows += [(split, user, int(i), 0, user) for i in negatives]
    interactions = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
    return Dataset(
        name="tiny",
        items=items,
        text_fields=("title",),
        histories=pd.DataFrame(histories),
        interactions=interactions,
        meta={"name": "tiny", "variant": "original", "version": "1"},
    )


TINY_SEQ_USERS = 40
TINY_SEQ_NEGATIVES = 10


def tiny_sequential_dataset(seed: int = 0) -> Dataset:
    """40 users, 30 items; each user's sequence (8-20 items) mostly steps item -> item + 1 mod
    30 (one step in ten jumps at random). Train rows are in global time order (users
    interleaved by a random timestamp), histories are the users' train sequences, dev and
    test the last two items; the test split also holds 10 fixed negatives per user (label 0,
    items the user never touched): the secondary sampled protocol's candidates.
    """
    rng = np.random.default_rng(seed)
    items = pd.DataFrame(
        {
            "item_id": np.arange(TINY_ITEMS, dtype=np.int64),
            "text": [list(map(int, rng.integers(2000, 2100, size=4))) for _ in range(TINY_ITEMS)],
        }
    )
    events, histories, targets, negatives = [], [], [], []
    for user in range(TINY_SEQ_USERS):
        length = int(rng.integers(10, 23))
        walk = [int(rng.integers(TINY_ITEMS))]
        while len(walk) < length:
            jump = rng.random() < 0.1
            walk.append(int(rng.integers(TINY_ITEMS)) if jump else (walk[-1] + 1) % TINY_ITEMS)
        times = np.sort(rng.integers(0, 10_000, size=length))
        train, dev, test = walk[:-2], walk[-2], walk[-1]
        events += [(int(t), user, item) for t, item in zip(times[:-2], train, strict=True)]
        histories.append({"user_id": user, "history": train})
        targets += [("dev", user, dev, 1, user), ("test", user, test, 1, user)]
        unseen = sorted(set(range(TINY_ITEMS)) - set(walk))
        drawn = rng.choice(unseen, size=min(TINY_SEQ_NEGATIVES, len(unseen)), replace=False)
        negatives += [("test", user, int(i), 0, user) for i in drawn]
    events.sort(key=lambda e: e[0])  # global time order; stable, so each user keeps theirs
    train_rows = [("train", user, item, 1, user) for _, user, item in events]
    interactions = pd.DataFrame(
        train_rows + targets + negatives, columns=["split", "user_id", "item_id", "label", "group_id"]
    )
    return Dataset(
        name="tiny-seq",
        items=items,
        text_fields=("text",),
        histories=pd.DataFrame(histories),
        interactions=normalise_interactions(interactions),
        meta={"name": "tiny-seq", "variant": "original", "version": "1", "kind": "sequential",
              "cutoffs": [5, 10]},  # fmt: skip
    )


def learnable_dataset(
    seed: int = 0, items: int = 40, users: int = 30, name: str = "tiny-synthetic"
) -> Dataset:
    """Items whose first token says whether users like them (`LIKED_TOKEN`: clicked 85% of
    the time, else 15%), two text fields; 10 train, 5 dev, 6 test rows per user."""
    rng = np.random.default_rng(seed)
    liked = rng.random(items) < 0.4
    titles = [
        ([LIKED_TOKEN] if liked[i] else [1001])
        + rng.integers(2000, 2100, size=rng.integers(1, 5)).tolist()
        for i in range(items)
    ]
    tags = [[3000 + int(i % 3)] for i in range(items)]
    item_frame = pd.DataFrame({"item_id": np.arange(items) + 100, "title": titles, "tag": tags})
    histories = pd.DataFrame(
        {
            "user_id": np.arange(users),
            "history": [
                (rng.choice(items, size=3, replace=False) + 100).tolist() for _ in range(users)
            ],
        }
    )
    rows = []
    for split, per_user in (("train", 10), ("dev", 5), ("test", 6)):
        for user in range(users):
            shown = rng.choice(items, size=per_user, replace=False)
            for item in shown:
                clicked = rng.random() < (0.85 if liked[item] else 0.15)
                rows.append((split, user, int(item) + 100, int(clicked), user))
    interactions = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
    dataset = Dataset(
        name=name,
        items=item_frame,
        text_fields=("title", "tag"),
        histories=histories,
        interactions=interactions,
        meta={"variant": "original"},
    )
    dataset.validate()
    return dataset


def small_dataset(name: str = "tiny") -> Dataset:
    """A 12-item, 6-user original dataset in the common schema.

    Train users 0-3; user 4 appears only in dev and user 5 only in test.
    """
    items = pd.DataFrame(
        {"item_id": list(range(12)), "title": [[100 + i, 200 + i] for i in range(12)]}
    )
    histories = pd.DataFrame(
        {"user_id": list(range(6)), "history": [[u % 12, (u + 1) % 12] for u in range(6)]}
    )
    rows = []
    for user in range(4):
        rows += [
            ("train", user, user, 1),
            ("train", user, user + 1, 1),
            ("train", user, user + 2, 0),
        ]
    rows += [("dev", 0, 5, 1), ("dev", 0, 6, 0), ("dev", 4, 7, 1), ("dev", 4, 8, 0)]
    rows += [("test", 1, 9, 1), ("test", 1, 10, 0), ("test", 5, 3, 1), ("test", 5, 4, 0)]
    frame = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label"])
    frame["group_id"] = frame["user_id"]
    dataset = Dataset(
        name=name,
        items=items,
        text_fields=("title",),
        histories=histories,
        interactions=normalise_interactions(frame),
        meta={"name": name},
    )
    dataset.validate()
    return dataset


# ---- learners --------------------------------------------------------------------------------
CLUSTER_ITEMS = 8  # items per cluster of `cluster_sequential_dataset`


def cluster_sequential_dataset(seed: int = 0, users: int = 80, length: int = 12) -> Dataset:
    """A world with a known structure: items 0-7 form cluster A, 8-15 cluster B; user u
    lives in cluster u % 2 and each of its `length` items is drawn uniformly from that
    cluster (repeats allowed). Leave-one-out: the last item is test, the one before dev.
    A learner that knows the clusters ranks the target among 8 of 16 items."""
    rng = np.random.default_rng(seed)
    rows, histories = [], []
    for user in range(users):
        cluster = user % 2
        walk = [
            int(i) for i in rng.integers(0, CLUSTER_ITEMS, size=length) + cluster * CLUSTER_ITEMS
        ]
        rows += [("train", user, item, 1, user) for item in walk[:-2]]
        rows += [("dev", user, walk[-2], 1, user), ("test", user, walk[-1], 1, user)]
        histories.append({"user_id": user, "history": walk[:-2]})
    items = 2 * CLUSTER_ITEMS
    return Dataset(
        name="clusters",
        items=pd.DataFrame(
            {"item_id": np.arange(items), "text": [[2000 + i] for i in range(items)]}
        ),
        text_fields=("text",),
        histories=pd.DataFrame(histories),
        interactions=normalise_interactions(
            pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
        ),
        meta={
            "name": "clusters",
            "variant": "original",
            "version": "1",
            "kind": "sequential",
            "cutoffs": [5, 10],
        },  # fmt: skip
    )


# model options small enough that every learner trains on `learnable_dataset` in a second
SMALL_MODEL = {"word_dim": 16, "content_dim": 32, "user_dim": 16, "attention_hidden": 16}


def fast_training(**overrides):
    """`TrainSettings` for tiny data: small models, CPU, one thread, two epochs."""
    from recommenders.trainer import TrainSettings

    values = dict(
        batch_size=64, max_epochs=2, patience=1, threads=1, device="cpu", model_options=SMALL_MODEL
    )
    values.update(overrides)
    return TrainSettings(**values)


# ---- an offline condenser context ---------------------------------------------------------------
_WORDS = re.compile(r"[a-z][a-z0-9]+")


class FakeTextBackend:
    """A text backend for tests: answers computed from the prompt's last message, in the
    format the parsers read (no model, no network). Deterministic, so cached and uncached
    runs agree. Counts its calls in `prompts_seen`."""

    name = "fake"
    model = "fake-1"
    identity = "fake-1"
    concurrency = 1

    def __init__(self) -> None:
        self.prompts_seen: list[str] = []

    def complete(self, messages, *, max_tokens, stop=(), answer_prefix=""):
        last = str(messages[-1]["content"])
        self.prompts_seen.append(last)
        words = _WORDS.findall(last.lower())[-12:] or ["nothing"]
        if answer_prefix.startswith("[interests]"):
            picked = list(dict.fromkeys(words))[:3]
            return "[interests] " + ", ".join(f"-{word} films" for word in picked)
        return "[new_title]{About " + " ".join(words[:8]) + "}"

    def describe(self) -> dict:
        return {"backend": self.name, "model": self.model}

    def close(self) -> None:
        pass


def fake_llm_client(cache_dir: Path, backend: FakeTextBackend | None = None):
    """The real `GeneratingClient` (cache, parsing, retries, counters) over `FakeTextBackend`."""
    from condensers.llm.cache import ResponseCache
    from condensers.llm.client import ClientSettings, GeneratingClient

    return GeneratingClient(
        backend or FakeTextBackend(), ResponseCache(Path(cache_dir)), ClientSettings()
    )


def _unit_vector(text: str, dim: int) -> np.ndarray:
    seed = int.from_bytes(hashlib.sha256(text.encode("utf-8")).digest()[:8], "little")
    vector = np.random.default_rng(seed).normal(size=dim)
    return vector / np.linalg.norm(vector)


class HashEncoder:
    """Stands in for the sentence encoder: each string maps to a fixed unit vector (by hash)."""

    dim = 8

    def encode(self, texts) -> np.ndarray:
        return np.array([_unit_vector(str(t), self.dim) for t in texts]).reshape(-1, self.dim)

    def pooled(self, groups) -> np.ndarray:
        return np.array(
            [
                self.encode(group).mean(axis=0) if len(group) else np.zeros(self.dim)
                for group in groups
            ]
        ).reshape(-1, self.dim)


def hashed_user_embeddings(dataset: Dataset, user_ids: np.ndarray) -> np.ndarray:
    """Stands in for z_u (a recommender trained on Original): a fixed vector per user id."""
    return np.array([_unit_vector(f"user/{int(u)}", 6) for u in user_ids]).reshape(-1, 6)


def tiny_context(cache_dir: Path, **overrides):
    """A `CondenseContext` that runs offline in milliseconds: fake LLM backend (through the
    real client), hash encoder, hashed z_u. `overrides` replace any field (e.g. `mirror`)."""
    from condensers.context import CondenseContext

    cache_dir = Path(cache_dir)
    values = dict(
        cache_dir=cache_dir,
        progress=False,
        llm_client=fake_llm_client(cache_dir / "llm"),
        sentence_encoder=HashEncoder(),
        user_embedding_provider=hashed_user_embeddings,
    )
    values.update(overrides)
    return CondenseContext(**values)


# ---- submissions ------------------------------------------------------------------------------
def condensed_tables(dataset: Dataset, source: str = "condensed"):
    """A condensed `Dataset` as the submission checks read it (as from a Parquet folder)."""
    from leaderboard.submission.condensed import CondensedTables

    train = dataset.split("train")[["user_id", "item_id", "label"]]
    return CondensedTables(train, dataset.histories, dataset.items, dataset.text_fields, source)


# ---- configs that grid over the tiny dataset in seconds --------------------------------


def tiny_config(folder: Path, **overrides) -> dict:
    """A grid of 2 condensers x 1 model x 2 seeds over the tiny dataset, 1-2 epochs each."""
    config = {
        "name": "tiny",
        "grid": {
            "datasets": [str(folder)],
            "condensers": [
                {"name": "original"},
                {"name": "random", "budgets": [8], "params": {"text_tokens": 3}},
            ],
            "recommenders": ["naml"],
            "seeds": [0, 1],
        },
        "training": {"max_epochs": 2, "batch_size": 32, "patience": 1, "threads": 1},
        "tuning": {
            "condenser": "random",
            "budget": 8,
            "recommender": "naml",
            "trials": 3,
            "space": {"text_tokens": {"low": 2, "high": 6}},
        },
    }
    config.update(overrides)
    return config


def write_config(path: Path, config: dict) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path
