"""`tfdcon`: TF-DCon, training-free dataset condensation (paper §III), and its two ablations.

1. Content level (§III-B): the LLM turns each item's fields (decoded text) into one new
   title n_s; it is re-encoded with the WordPiece tokenizer, cut to ``max_title_tokens`` (20,
   as the release: its ``content/condensed.npy`` holds exactly the first 20 tokens of each
   gpt-3.5 summary in raw_data, which makes the paper's 15.26 average), and becomes the
   item's only text field, ``title``.
2. Interests (§III-C1): the LLM lists up to 5 interests per user from the titles (first text
   field, original text) of the user's fixed history.
3. z_u: the user encoder of a recommender trained on Original (`ctx.user_embeddings`).
4. e_u: all-MiniLM-L6-v2 embeddings of the user's interests, mean pooled.
5. K-means (scikit-learn, seeded, fixed n_init; k-means++ seeds, drawn from a seeded sample
   of 10,000 users when there are more, for speed) on z_u with K_s = budget clusters; per user
   d_u = ||z_u - c_i|| + alpha * ||e_u - mean e of cluster i|| (Eq. 5-8).
6. Per cluster, the m users with the lowest d_u are merged (Eq. 9) into one synthetic user:
   the union of their train positives, under the id and fixed history of the lowest-d user.

What the release does (measured on movielens, ``interaction/condensed/train.npy`` read
through the data layer): 2,373 rows, all positives, of 47 real user ids; every row is one of
that same user's own Original train positives. So each released synthetic user is one real
user with its own positives (no rows from other users: m = 1) and keeps its id and history.
We follow that: synthetic users carry the lowest-d user's id and history, and the train set
keeps positives only (meta ``negatives_from = "original"``: the trainer draws negatives from
that id's Original train rows).

Variants: ``tfdcon-content`` (step 1 only: new titles, every user and the full train split)
and ``tfdcon-user`` (steps 2-6 only: the original item text), for paper Tables VI and VII.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
from sklearn.cluster import KMeans, kmeans_plusplus

from condensers.base import Budget, Condenser, train_positives
from condensers.context import CondenseContext
from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.text import get_tokenizer
from harness.typed import Settings, int_at_least, number_at_least

TITLE_FIELD = "title"


class TfdconParams(Settings):
    """alpha: weight of the interest distance in d_u (paper Fig. 5: best in (0, 1));
    m: users merged per synthetic user. 1, as the release (module docstring). Measured on
    movielens-tfdcon, 47 users, alpha 0.5 (z_u: NAML, TrainSettings() defaults; CLI seeds
    0-2): m=1 gives 2,086 / 1,801 / 2,283 train rows (the release: 2,373), m=2 3,939, m=3
    5,448 (seed 0). With z_u from a 1-epoch NAML, m=1 averaged 2,499 over 5 K-means seeds;
    kmeans_n_init / kmeans_max_iter: K-means restarts and iterations (fixed for repeatability);
    kmeans_init_sample: k-means++ seeding looks at most this many users (a seeded sample);
    max_title_tokens: the cut of each LLM title (20 tokens, as the release).
    K_s is the budget."""

    alpha: number_at_least(0) = 0.5
    m: int_at_least(1) = 1
    kmeans_n_init: int_at_least(1) = 1
    kmeans_max_iter: int_at_least(1) = 300
    kmeans_init_sample: int_at_least(1) = 10_000
    max_title_tokens: int_at_least(1) = 20


# ---- user level: a pure function on arrays -----------------------------------------------
@dataclass
class UserSynthesis:
    """The outcome of clustering and scoring; arrays are per input row unless named per cluster.

    ``members[k]``: ids of the users merged into synthetic user k, lowest d_u first;
    ``synthetic_ids[k] = members[k][0]``. Clusters K-means left empty are dropped.
    """

    labels: np.ndarray
    centroids: np.ndarray
    interest_centroids: np.ndarray
    d_emb: np.ndarray
    d_int: np.ndarray
    scores: np.ndarray
    members: list[np.ndarray] = field(default_factory=list)

    @property
    def synthetic_ids(self) -> np.ndarray:
        return np.array([group[0] for group in self.members], dtype=np.int64)


def select_and_merge(
    z: np.ndarray,
    e: np.ndarray,
    user_ids: np.ndarray,
    K: int,
    alpha: float,
    m: int,
    seed: int,
    *,
    n_init: int = 1,
    max_iter: int = 300,
    init_sample: int = 10_000,
) -> UserSynthesis:
    """Cluster z into K groups, score every user, pick the m lowest-scored users per cluster.

    d_u = ||z_u - c_i|| + alpha * ||e_u - c'_i|| with c_i the K-means centroid of u's cluster
    and c'_i the mean e of that cluster's users. Ties in d_u go to the lower user id.
    """
    z = np.asarray(z, dtype=np.float64)
    e = np.asarray(e, dtype=np.float64)
    user_ids = np.asarray(user_ids, dtype=np.int64)
    n = len(user_ids)
    if z.ndim != 2 or e.ndim != 2 or len(z) != n or len(e) != n:
        raise ConfigError(
            f"select_and_merge: z {z.shape}, e {e.shape} and {n} user ids do not match"
        )
    if not 1 <= K <= n:
        raise ConfigError(f"K_s: must be between 1 and the {n} users, got {K}")
    labels, centroids = kmeans(
        z, K, seed, n_init=n_init, max_iter=max_iter, init_sample=init_sample
    )
    counts = np.bincount(labels, minlength=K)
    by_cluster = np.argsort(labels, kind="stable")
    starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
    interest_sums = np.zeros((K, e.shape[1]))
    present = counts > 0
    interest_sums[present] = np.add.reduceat(e[by_cluster], starts[present], axis=0)
    interest_centroids = interest_sums / np.maximum(counts, 1)[:, None]
    d_emb = np.linalg.norm(z - centroids[labels], axis=1)
    d_int = np.linalg.norm(e - interest_centroids[labels], axis=1)
    scores = d_emb + alpha * d_int
    order = np.lexsort((user_ids, scores, labels))  # by cluster, then score, then id
    rank = np.arange(n) - starts[labels[order]]
    chosen = order[rank < m]
    chosen_labels = labels[chosen]
    cut = np.flatnonzero(np.diff(chosen_labels)) + 1
    members = [user_ids[group] for group in np.split(chosen, cut)] if len(chosen) else []
    return UserSynthesis(labels, centroids, interest_centroids, d_emb, d_int, scores, members)


def kmeans(
    z: np.ndarray, K: int, seed: int, *, n_init: int, max_iter: int, init_sample: int
) -> tuple[np.ndarray, np.ndarray]:
    """(labels, centroids) of scikit-learn's K-means: the best of `n_init` seeded runs.

    Up to `init_sample` points it is plain ``KMeans(init="k-means++")``. Above, each run's
    k-means++ seeds are drawn from a seeded random sample of `init_sample` points (seeding
    costs O(n K log K): 30 s of the 100,000-user bench), then Lloyd runs over all points.
    Lloyd runs in float32 (z_u come from float32 models; twice as fast), centroids are
    returned as float64.
    """
    points = np.ascontiguousarray(z, dtype=np.float32)
    if len(z) <= init_sample:
        model = KMeans(n_clusters=K, n_init=n_init, max_iter=max_iter, random_state=seed).fit(
            points
        )
        return model.labels_.astype(np.int64), model.cluster_centers_.astype(np.float64)
    rng = np.random.default_rng(seed)
    best = None
    for _ in range(n_init):
        run_seed = int(rng.integers(2**31 - 1))
        sample = z[np.sort(rng.choice(len(z), size=init_sample, replace=False))]
        seeds, _ = kmeans_plusplus(np.asarray(sample, dtype=np.float64), K, random_state=run_seed)
        model = KMeans(
            n_clusters=K,
            init=seeds.astype(np.float32),
            n_init=1,
            max_iter=max_iter,
            random_state=run_seed,
        ).fit(points)
        if best is None or model.inertia_ < best.inertia_:
            best = model
    return best.labels_.astype(np.int64), best.cluster_centers_.astype(np.float64)


def merge_train(positives: pd.DataFrame, synthesis: UserSynthesis) -> pd.DataFrame:
    """Train rows of the synthetic users: the union of their members' positives (Eq. 9).

    Each row is relabelled with its synthetic user's id; an item several members clicked
    appears once. Rows keep ``positives``' columns; ``group_id`` follows the user.
    """
    member_ids = np.concatenate(synthesis.members) if synthesis.members else np.zeros(0, np.int64)
    owner = np.repeat(synthesis.synthetic_ids, [len(g) for g in synthesis.members])
    owner_of = pd.Series(owner, index=member_ids)
    rows = positives[positives["user_id"].isin(owner_of.index)].copy()
    rows["user_id"] = owner_of.loc[rows["user_id"].to_numpy()].to_numpy()
    rows["group_id"] = rows["user_id"]
    rows = rows.drop_duplicates(["user_id", "item_id"], keep="first")
    return rows.sort_values(["user_id", "item_id"], kind="stable").reset_index(drop=True)


# ---- LLM steps ---------------------------------------------------------------------------
def llm_titles(dataset: Dataset, ctx: CondenseContext, max_tokens: int = 20) -> pd.DataFrame:
    """Items with one field ``title``: the LLM's new title of each item, as WordPiece ids,
    cut to the first `max_tokens` tokens."""
    tokenizer = get_tokenizer()
    client = ctx.llm(dataset.name)
    ids = dataset.items["item_id"].tolist()
    decoded = {
        f: tokenizer.decode_many([list(v) for v in dataset.items[f]]) for f in dataset.text_fields
    }
    requests = {
        f"{dataset.name}/item/{int(item_id)}": {f: decoded[f][row] for f in dataset.text_fields}
        for row, item_id in enumerate(ids)
    }
    answers = client.titles(requests, progress=ctx.progress)
    titles = [answers[key] for key in requests]
    return pd.DataFrame(
        {
            "item_id": dataset.items["item_id"].to_numpy(),
            TITLE_FIELD: [tokens[:max_tokens] for tokens in tokenizer.encode_many(titles)],
        }
    )


def llm_interests(dataset: Dataset, user_ids: np.ndarray, ctx: CondenseContext) -> list[list[str]]:
    """Each user's interests (up to 5 strings), from the titles of the user's fixed history."""
    tokenizer = get_tokenizer()
    client = ctx.llm(dataset.name)
    first_field = dataset.text_fields[0]
    title_of = dict(
        zip(
            dataset.items["item_id"].tolist(),
            tokenizer.decode_many([list(v) for v in dataset.items[first_field]]),
            strict=True,
        )
    )
    history_of = dataset.history_of()
    requests = {
        f"{dataset.name}/user/{int(user)}": [title_of[item] for item in history_of.get(user, [])]
        for user in user_ids.tolist()
    }
    answers = client.interests_many(requests, progress=ctx.progress)
    interests = [list(answers[key]) for key in requests]
    return interests


# ---- the condensers ----------------------------------------------------------------------
class TfdconCondenser(Condenser):
    name = "tfdcon"
    summary = "TF-DCon: LLM titles + clustering users on z_u, scored with LLM interests, merged"
    Params = TfdconParams
    content_level = True
    user_level = True

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        seed = int(rng.integers(2**31 - 1))
        meta: dict = {
            "params": {"alpha": self.params.alpha, "m": self.params.m},
            "kmeans_seed": seed,
        }
        items = None
        if self.content_level:
            with ctx.stage("llm titles"):
                items = llm_titles(dataset, ctx, self.params.max_title_tokens)
        if self.user_level:
            train, user_meta = self._user_level(dataset, budget, seed, ctx)
            meta.update(user_meta)
        else:
            train = dataset.split("train")
        condensed = dataset.with_train(train, variant=self.name, items=items, meta=meta)
        return replace(condensed, text_fields=(TITLE_FIELD,)) if items is not None else condensed

    def _user_level(
        self, dataset: Dataset, budget: Budget, seed: int, ctx: CondenseContext
    ) -> tuple[pd.DataFrame, dict]:
        population, clusters = budget.resolve_for(dataset)
        with ctx.stage("llm interests"):
            interests = llm_interests(dataset, population, ctx)
        with ctx.stage("interest embeddings"):
            e = ctx.pooled_text_embeddings(interests)
        with ctx.stage("user embeddings"):
            z = ctx.user_embeddings(dataset, population)
        with ctx.stage("user level"):
            synthesis = select_and_merge(
                z,
                e,
                population,
                clusters,
                self.params.alpha,
                self.params.m,
                seed,
                n_init=self.params.kmeans_n_init,
                max_iter=self.params.kmeans_max_iter,
                init_sample=self.params.kmeans_init_sample,
            )
            train = merge_train(train_positives(dataset), synthesis)
        meta = {
            "negatives_from": "original",
            "clusters": clusters,
            "synthetic_users": len(synthesis.members),
            "users_without_interests": sum(1 for i in interests if not i),
        }
        return train, meta


class TfdconContentCondenser(TfdconCondenser):
    name = "tfdcon-content"
    summary = "TF-DCon content level only: LLM titles, every user and the full train split"
    user_level = False


class TfdconUserCondenser(TfdconCondenser):
    name = "tfdcon-user"
    summary = "TF-DCon user level only: clustered and merged users, the original item text"
    content_level = False
