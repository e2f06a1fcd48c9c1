"""Known answers of the sequential track's baselines (random-users, random-kxl, longest-users,
temporal, kcenter) on a hand-made sequential dataset, greedy k-center on hand-placed points,
and the SASRec expert trained once and read back from its safetensors cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import tiny_dataset, tiny_sequential_dataset

from condensers.base import Budget
from condensers.context import CondenseContext
from condensers.kcenter import greedy_k_center
from condensers.registry import get, make
from condensers.sequence_expert import MODELS_FOLDER, SequenceExpert, expert_settings
from harness.cache_seal import FILE_SEAL_SUFFIX
from harness.dataset import Dataset, normalise_interactions
from harness.errors import ConfigError

# the hand-made set: each user's train sequence, and the global time order of the train rows
SEQUENCES = {
    0: [1, 2, 3],
    1: [4, 5, 6, 7, 8],
    2: [9, 10],
    3: [11, 12, 13, 14],
    4: [15, 16, 17, 18, 19],
}
TIME_ORDER = [(1, 4), (0, 1), (3, 11), (1, 5), (4, 15), (2, 9), (0, 2), (1, 6), (3, 12),
              (4, 16), (4, 17), (1, 7), (3, 13), (0, 3), (2, 10), (4, 18), (1, 8), (3, 14),
              (4, 19)]  # fmt: skip


def handmade() -> Dataset:
    """5 users over 30 items; train rows in TIME_ORDER, dev item 20 + u, test item 25 + u."""
    rows = [("train", u, i, 1, u) for u, i in TIME_ORDER]
    rows += [("dev", u, 20 + u, 1, u) for u in SEQUENCES]
    rows += [("test", u, 25 + u, 1, u) for u in SEQUENCES]
    interactions = pd.DataFrame(rows, columns=["split", "user_id", "item_id", "label", "group_id"])
    dataset = Dataset(
        name="hand-seq",
        items=pd.DataFrame({"item_id": np.arange(30), "text": [[2000 + i] for i in range(30)]}),
        text_fields=("text",),
        histories=pd.DataFrame(
            {"user_id": list(SEQUENCES), "history": [list(s) for s in SEQUENCES.values()]}
        ),
        interactions=normalise_interactions(interactions),
        meta={"name": "hand-seq", "variant": "original", "kind": "sequential"},
    )
    dataset.validate()
    return dataset


def context(tmp_path: Path, **overrides) -> CondenseContext:
    return CondenseContext(cache_dir=tmp_path, progress=False, **overrides)


def condense(name: str, dataset: Dataset, budget, tmp_path: Path, seed: int = 0, **options):
    ctx = options.pop("ctx", None) or context(tmp_path)
    return make(name, options).condense(
        dataset, Budget.parse(budget), np.random.default_rng(seed), ctx
    )


def rows_by_user(dataset: Dataset) -> dict[int, list[int]]:
    """user -> train items in row order; also asserts each user's rows are contiguous."""
    train = dataset.split("train")
    users = train["user_id"].tolist()
    starts = [u for i, u in enumerate(users) if i == 0 or users[i - 1] != u]
    assert len(starts) == len(set(starts)), "a user's rows are split"
    return {int(u): train.loc[train["user_id"] == u, "item_id"].tolist() for u in starts}


# ---- random-users ------------------------------------------------------------------------------
def test_random_users_keeps_whole_sequences_of_k_distinct_users(tmp_path):
    original = handmade()
    condensed = condense("random-users", original, 3, tmp_path, seed=7)
    kept = rows_by_user(condensed)
    assert len(kept) == 3
    assert kept == {u: SEQUENCES[u] for u in kept}
    assert list(kept) == sorted(kept)  # users in id order
    assert condensed.variant == "random-users" and condensed.meta["selected_users"] == 3
    assert condensed.histories.equals(original.histories)
    again = condense("random-users", original, 3, tmp_path, seed=7)
    assert rows_by_user(again) == kept


def test_random_users_draws_every_user_about_equally(tmp_path):
    original = handmade()
    ctx = context(tmp_path)
    counts = np.zeros(5)
    draws = 150
    for seed in range(draws):
        users = list(rows_by_user(condense("random-users", original, 2, tmp_path, seed, ctx=ctx)))
        counts[users] += 1
    # each user is drawn with probability 2/5: 60 of 150, sd 6
    assert np.all(np.abs(counts - draws * 2 / 5) < 20), counts


# ---- random-kxl --------------------------------------------------------------------------------
def test_random_kxl_keeps_the_last_l_items_in_order(tmp_path):
    original = handmade()
    condensed = condense("random-kxl", original, 5, tmp_path, length=3)
    assert rows_by_user(condensed) == {
        0: [1, 2, 3],
        1: [6, 7, 8],
        2: [9, 10],  # shorter than L: kept whole
        3: [12, 13, 14],
        4: [17, 18, 19],
    }
    assert condensed.meta["length"] == 3


def test_random_kxl_draws_the_users_random_users_draws(tmp_path):
    original = handmade()
    for seed in range(5):
        shaped = rows_by_user(condense("random-kxl", original, 2, tmp_path, seed, length=2))
        whole = rows_by_user(condense("random-users", original, 2, tmp_path, seed))
        assert list(shaped) == list(whole)
        assert all(shaped[u] == SEQUENCES[u][-2:] for u in shaped)


def test_random_kxl_default_length_is_50_on_the_tiny_set(tmp_path):
    original = tiny_sequential_dataset()  # every train sequence is 8-20 items: kept whole
    condensed = condense("random-kxl", original, 6, tmp_path)
    history = original.history_of()
    assert condensed.meta["length"] == 50
    kept = rows_by_user(condensed)
    assert len(kept) == 6 and all(kept[u] == list(history[u]) for u in kept)


# ---- longest-users -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("budget", "users"),
    [(1, [1]), (2, [1, 4]), (3, [1, 3, 4]), (4, [0, 1, 3, 4])],  # 1 and 4 tie at 5: lower id
)
def test_longest_users_picks_the_longest_ties_by_id(tmp_path, budget, users):
    condensed = condense("longest-users", handmade(), budget, tmp_path, seed=budget)
    assert rows_by_user(condensed) == {u: SEQUENCES[u] for u in users}


# ---- temporal ----------------------------------------------------------------------------------
def test_temporal_keeps_the_last_k_times_l_rows_grouped_by_user(tmp_path):
    condensed = condense("temporal", handmade(), 3, tmp_path, length=2)
    # the last 6 rows of TIME_ORDER: (0,3) (2,10) (4,18) (1,8) (3,14) (4,19)
    assert rows_by_user(condensed) == {0: [3], 1: [8], 2: [10], 3: [14], 4: [18, 19]}
    assert condensed.meta["interactions"] == 6


def test_temporal_keeps_every_row_when_the_budget_asks_for_more(tmp_path):
    condensed = condense("temporal", handmade(), "all", tmp_path)  # 5 x 50 > 19 rows
    assert rows_by_user(condensed) == SEQUENCES


def test_temporal_on_the_tiny_set_is_the_latest_300_rows(tmp_path):
    original = tiny_sequential_dataset()
    condensed = condense("temporal", original, 6, tmp_path)  # 6 x 50
    latest = original.split("train").iloc[-300:]
    kept = rows_by_user(condensed)
    assert len(condensed.split("train")) == 300
    assert kept == {
        int(u): rows["item_id"].tolist() for u, rows in latest.groupby("user_id", sort=True)
    }
    history = original.history_of()
    assert all(kept[u] == list(history[u][len(history[u]) - len(kept[u]) :]) for u in kept)


# ---- every method: sequential data only, original dev/test and histories -------------------------
METHODS = ("random-users", "random-kxl", "longest-users", "temporal", "kcenter")


@pytest.mark.parametrize("name", METHODS)
def test_sequential_methods_declare_and_require_sequential_data(tmp_path, name):
    assert get(name).data_kinds == ("sequential",)
    with pytest.raises(
        ConfigError, match=f"^{name} condenses sequential data; .*'tiny' is content"
    ):
        condense(name, tiny_dataset(), 3, tmp_path)


def test_content_condensers_keep_the_content_kind():
    assert get("random").data_kinds == ("content",)
    assert get("majority").data_kinds == ("content",)


# ---- greedy k-center ---------------------------------------------------------------------------
POINTS = np.array([[0, 0], [1, 0], [10, 0], [-9, 0], [0, 5]], dtype=float)


def test_greedy_k_center_on_hand_placed_points():
    # mean (0.4, 1): nearest is (0, 0); then farthest-first: (10,0) at 10, (-9,0) at 9,
    # (0,5) at 5, (1,0) at 1
    assert greedy_k_center(POINTS, 5).tolist() == [0, 2, 3, 4, 1]
    assert greedy_k_center(POINTS, 3).tolist() == [0, 2, 3]
    assert greedy_k_center(POINTS, 1).tolist() == [0]


def test_greedy_k_center_ties_go_to_the_lower_index_and_duplicates_are_not_repeated():
    assert greedy_k_center(np.array([[0.0, 0], [1, 0], [-1, 0]]), 2).tolist() == [0, 1]
    assert greedy_k_center(np.array([[0.0, 0], [0, 0], [1, 0]]), 3).tolist() == [0, 2, 1]


@pytest.mark.parametrize("k", [0, 6])
def test_greedy_k_center_refuses_a_k_out_of_range(k):
    with pytest.raises(ValueError, match=r"k must be in \[1, 5\]"):
        greedy_k_center(POINTS, k)


# unit vectors of users 0-4; with these, farthest-first from the one nearest the mean
# (0.28, 0.48), user 3, goes to user 2 (distance 1.79), then user 0 (0.89 vs 0.63 and 0.28)
UNIT = np.array([[1, 0], [0, 1], [-1, 0], [0.6, 0.8], [0.8, 0.6]])


def test_kcenter_picks_the_expected_users_from_normalised_representations(tmp_path):
    original = handmade()
    asked = []

    def provider(dataset, user_ids):
        asked.append((dataset is original, list(user_ids)))
        scale = np.array([5.0, 1, 0.1, 1, 1])[:, None]  # lengths do not matter: L2-normalised
        return UNIT[user_ids] * scale[user_ids]

    ctx = context(tmp_path, sequence_representation_provider=provider)
    condensed = condense("kcenter", original, 3, tmp_path, ctx=ctx)
    assert asked == [(True, [0, 1, 2, 3, 4])]
    assert condensed.meta["centers"] == [3, 2, 0]
    assert rows_by_user(condensed) == {u: SEQUENCES[u] for u in (0, 2, 3)}


# ---- the expert ---------------------------------------------------------------------------------
def test_expert_settings_are_the_sequential_ones():
    from recommenders.sequence_settings import SequentialTrainSettings
    from recommenders.settings import TrainSettings

    assert expert_settings(TrainSettings()) == SequentialTrainSettings()
    assert expert_settings(None) == SequentialTrainSettings()
    mine = SequentialTrainSettings(max_epochs=3)
    assert expert_settings(mine) is mine


def test_expert_cache_key_follows_dataset_seed_and_settings(tmp_path):
    from recommenders.sequence_settings import SequentialTrainSettings

    original = tiny_sequential_dataset()
    base = SequenceExpert(tmp_path, seed=0, settings=SequentialTrainSettings())
    assert base.path(original).parent == tmp_path / MODELS_FOLDER
    assert base.path(original).suffix == ".safetensors"
    same = SequenceExpert(tmp_path, seed=0, settings=None)  # defaults: the same key
    assert same.cache_key(original) == base.cache_key(original)
    others = [
        SequenceExpert(tmp_path, seed=1).cache_key(original),
        SequenceExpert(tmp_path, settings=SequentialTrainSettings(hidden=16)).cache_key(original),
        SequenceExpert(tmp_path, learner="gru4rec").cache_key(original),
        base.cache_key(tiny_sequential_dataset(seed=1)),
    ]
    assert base.cache_key(original) not in others and len(set(others)) == 4


def test_kcenter_trains_the_expert_once_and_reads_it_back(tmp_path, monkeypatch):
    from recommenders import sequence_trainer
    from recommenders.sequence_settings import SequentialTrainSettings

    original = tiny_sequential_dataset()
    settings = SequentialTrainSettings(max_epochs=2, device="cpu", threads=1)
    first_ctx = context(tmp_path, train_settings=settings)
    first = condense("kcenter", original, 6, tmp_path, ctx=first_ctx)
    files = sorted(f.name for f in (tmp_path / MODELS_FOLDER).iterdir())
    expert = first_ctx.sequence_expert()  # the best weights, and every epoch's (TD3 reads them)
    stored = [expert.path(original).name, expert.epochs_path(original).name]
    assert files == sorted(stored + [f"{name}{FILE_SEAL_SUFFIX}" for name in stored])  # sealed
    assert sorted(expert.checkpoints(original)) == [1, 2]
    users = np.sort(original.histories["user_id"].to_numpy())
    trained_vectors = first_ctx.sequence_representations(original, users)
    assert trained_vectors.shape == (40, settings.hidden)

    def no_training(*args, **kwargs):
        raise AssertionError("the cached expert must be read, not trained again")

    monkeypatch.setattr(sequence_trainer, "train_sequential", no_training)
    second_ctx = context(tmp_path, train_settings=settings)
    second = condense("kcenter", original, 6, tmp_path, ctx=second_ctx)
    np.testing.assert_array_equal(
        second_ctx.sequence_representations(original, users), trained_vectors
    )
    assert second.meta["centers"] == first.meta["centers"]
    assert len(rows_by_user(second)) == 6
    loaded = second_ctx.sequence_expert().trained(original)
    assert (loaded.learner, loaded.epochs_run) == ("sasrec", 2)


def test_a_truncated_cached_expert_is_trained_again(tmp_path, capsys):
    from recommenders.sequence_settings import SequentialTrainSettings

    original = tiny_sequential_dataset()
    settings = SequentialTrainSettings(max_epochs=1, device="cpu", threads=1)
    expert = context(tmp_path, train_settings=settings).sequence_expert()
    first = expert.trained(original)
    path = expert.path(original)
    path.write_bytes(path.read_bytes()[:100])
    capsys.readouterr()
    again = context(tmp_path, train_settings=settings).sequence_expert().trained(original)
    [line] = capsys.readouterr().err.strip().splitlines()
    assert line.startswith(f"cache: trained expert {path}: ") and "truncated" in line
    assert line.endswith("; rebuilding it")
    for name, value in first.model.state_dict().items():  # the same bits: training is seeded
        assert (again.model.state_dict()[name] == value).all(), name
