"""TF-DCon's user level on the hand-made dataset: clusters, scores d_u, merged train sets.

Every expected value is worked out by hand from the numbers in `condenser_fixtures`:
cluster A = users 10, 11, 12 with z (0,0), (1,0), (-1,0) -> centroid (0,0), d_emb 0, 1, 1;
e (0,4), (0,0), (0,-1) -> interest centroid (0,1), d_int 3, 1, 2.
cluster B = users 20, 21, 22 with z (10,10), (10,12), (10,8) -> centroid (10,10), d_emb 0, 2, 2;
e (1,0), (1,0), (4,0) -> interest centroid (2,0), d_int 1, 1, 2.
"""

from __future__ import annotations

import numpy as np
import pytest
from condenser_fixtures import (
    USERS,
    E,
    HandmadeEncoder,
    HandmadeInterests,
    Z,
    handmade_dataset,
    handmade_user_embeddings,
)

from condensers.base import Budget, train_positives
from condensers.context import CondenseContext
from condensers.tfdcon import (
    TfdconCondenser,
    TfdconParams,
    TfdconUserCondenser,
    merge_train,
    select_and_merge,
)
from harness.errors import ConfigError


def _members(synthesis) -> list[list[int]]:
    return sorted(g.tolist() for g in synthesis.members)


def test_kmeans_finds_the_two_obvious_clusters():
    synthesis = select_and_merge(Z, E, USERS, K=2, alpha=1.0, m=2, seed=0)
    labels = synthesis.labels
    assert labels[0] == labels[1] == labels[2]
    assert labels[3] == labels[4] == labels[5]
    assert labels[0] != labels[3]
    centroids = sorted(map(tuple, np.round(synthesis.centroids, 9)))
    assert centroids == [(0.0, 0.0), (10.0, 10.0)]
    assert sorted(map(tuple, np.round(synthesis.interest_centroids, 9))) == [(0.0, 1.0), (2.0, 0.0)]


def test_scores_without_alpha_are_the_embedding_distances():
    synthesis = select_and_merge(Z, E, USERS, K=2, alpha=0.0, m=2, seed=0)
    assert synthesis.d_emb == pytest.approx([0, 1, 1, 0, 2, 2])
    assert synthesis.scores == pytest.approx([0, 1, 1, 0, 2, 2])
    # ties (11 vs 12 at 1; 21 vs 22 at 2) go to the lower id
    assert _members(synthesis) == [[10, 11], [20, 21]]


def test_scores_with_alpha_add_the_interest_distance():
    synthesis = select_and_merge(Z, E, USERS, K=2, alpha=1.0, m=2, seed=0)
    assert synthesis.d_int == pytest.approx([3, 1, 2, 1, 1, 2])
    # d = d_emb + 1 * d_int
    assert synthesis.scores == pytest.approx([3, 2, 3, 1, 3, 4])
    # user 11 (d 2) now leads cluster A ahead of user 10 (d 3); 12 (d 3) loses the tie to 10
    assert _members(synthesis) == [[11, 10], [20, 21]]
    assert sorted(synthesis.synthetic_ids.tolist()) == [11, 20]

    half = select_and_merge(Z, E, USERS, K=2, alpha=0.5, m=1, seed=0)
    assert half.scores == pytest.approx([1.5, 1.5, 2.0, 0.5, 2.5, 3.0])
    assert _members(half) == [[10], [20]]


def test_merged_train_is_the_union_of_the_members_positives():
    dataset = handmade_dataset()
    synthesis = select_and_merge(Z, E, USERS, K=2, alpha=1.0, m=2, seed=0)
    merged = merge_train(train_positives(dataset), synthesis)
    rows = {u: sorted(g["item_id"].tolist()) for u, g in merged.groupby("user_id")}
    # 11's {2, 3} with 10's {1, 2}; 20's {5} with 21's {6, 5}; each item once
    assert rows == {11: [1, 2, 3], 20: [5, 6]}
    assert (merged["label"] == 1).all()
    assert (merged["group_id"] == merged["user_id"]).all()

    alone = merge_train(train_positives(dataset), select_and_merge(Z, E, USERS, 2, 1.0, 1, 0))
    assert {u: sorted(g["item_id"].tolist()) for u, g in alone.groupby("user_id")} == {
        11: [2, 3],
        20: [5],
    }


def test_m_larger_than_a_cluster_takes_the_whole_cluster():
    synthesis = select_and_merge(Z, E, USERS, K=2, alpha=1.0, m=5, seed=0)
    assert _members(synthesis) == [[11, 10, 12], [20, 21, 22]]


def test_bad_cluster_count_is_a_config_error():
    with pytest.raises(ConfigError, match="K_s"):
        select_and_merge(Z, E, USERS, K=7, alpha=1.0, m=1, seed=0)
    with pytest.raises(ConfigError, match="do not match"):
        select_and_merge(Z, E[:3], USERS, K=2, alpha=1.0, m=1, seed=0)


def _handmade_context(tmp_path) -> CondenseContext:
    return CondenseContext(
        cache_dir=tmp_path,
        llm_client=HandmadeInterests(),
        sentence_encoder=HandmadeEncoder(),
        user_embedding_provider=handmade_user_embeddings,
        progress=False,
    )


def test_tfdcon_user_condenser_builds_the_condensed_set(tmp_path):
    dataset = handmade_dataset()
    ctx = _handmade_context(tmp_path)
    condenser = TfdconUserCondenser(TfdconParams(alpha=1.0, m=2))
    condensed = condenser.condense(dataset, Budget(users=2), np.random.default_rng(0), ctx)

    train = condensed.split("train")
    assert {u: sorted(g["item_id"].tolist()) for u, g in train.groupby("user_id")} == {
        11: [1, 2, 3],
        20: [5, 6],
    }
    # the synthetic user keeps the id and fixed history of its lowest-d user
    assert condensed.history_of()[11] == dataset.history_of()[11]
    # user 30 (no train positive) was never asked about: the population is 6 users
    assert sorted(ctx.llm_client.asked) == sorted(f"handmade/user/{u}" for u in USERS)
    for split in ("dev", "test"):
        assert condensed.split(split).equals(dataset.split(split))
    assert condensed.text_fields == dataset.text_fields  # user level only: original text
    assert condensed.meta["negatives_from"] == "original"
    assert condensed.meta["synthetic_users"] == 2
    condensed.validate()
    assert set(ctx.timings) >= {
        "llm interests",
        "interest embeddings",
        "user embeddings",
        "user level",
    }


def test_tfdcon_is_repeatable_for_a_seed(tmp_path):
    dataset = handmade_dataset()
    runs = [
        TfdconUserCondenser(TfdconParams(alpha=0.5, m=2)).condense(
            dataset, Budget(users=2), np.random.default_rng(3), _handmade_context(tmp_path)
        )
        for _ in range(2)
    ]
    assert runs[0].split("train").equals(runs[1].split("train"))


def test_params_fail_early_naming_the_key():
    with pytest.raises(ConfigError, match="alpha"):
        TfdconParams(alpha=-1)
    with pytest.raises(ConfigError, match="^m:"):
        TfdconParams(m=0)
    with pytest.raises(ConfigError, match="^m: must be an integer"):
        TfdconParams(m="3")
    with pytest.raises(ConfigError, match="unknown parameter 'beta'"):
        TfdconCondenser.from_options({"beta": 1})


def test_sampled_kmeans_seeding_finds_the_same_clusters():
    # 6 users > init_sample 4: k-means++ seeds come from a sample, Lloyd runs on all users
    synthesis = select_and_merge(Z, E, USERS, K=2, alpha=1.0, m=2, seed=0, n_init=3, init_sample=4)
    assert _members(synthesis) == [[11, 10], [20, 21]]
    assert synthesis.scores == pytest.approx([3, 2, 3, 1, 3, 4])
