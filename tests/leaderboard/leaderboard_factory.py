"""Result records generated for tests and the site benchmark: varied, seeded, clearly synthetic.

Nothing here is a real result: the metric values come from a seeded generator so that the
site has something of every shape to render (Original, random, other methods, budgets,
reference scorers, missing sizes, LLM info).
"""

from __future__ import annotations

import numpy as np

from leaderboard.record import (
    DatasetInfo,
    Environment,
    LLMInfo,
    MethodInfo,
    ResultRecord,
    SizeInfo,
    Timings,
)

METRICS = ("AUC", "MRR", "NDCG@1", "NDCG@5", "Recall@1", "Recall@5")
ENVIRONMENT = Environment(
    git_sha="0" * 40, python="3.11.9", platform="linux-x86_64", packages={"torch": "2.13.0"}
)
CHANCE = {
    "AUC": 0.5,
    "MRR": 0.55,
    "NDCG@1": 0.60,
    "NDCG@5": 0.70,
    "Recall@1": 0.12,
    "Recall@5": 0.65,
}
POPULARITY = {
    "AUC": 0.6,
    "MRR": 0.7,
    "NDCG@1": 0.70,
    "NDCG@5": 0.76,
    "Recall@1": 0.15,
    "Recall@5": 0.69,
}


def make_record(
    *,
    method: str = "tfdcon",
    budget: str = "47",
    seed: int = 0,
    dataset: str = "movielens-tfdcon",
    recommender: str = "naml",
    metrics: dict[str, float] | None = None,
    ratio: float | None = 0.05,
    train_s: float = 10.0,
    llm: bool = False,
    authors: str | None = None,
    paper_url: str | None = None,
    params: dict | None = None,
    command: str = "",
    reference: bool = True,
) -> ResultRecord:
    sizes = None
    if ratio is not None:
        sizes = SizeInfo(
            item_kb=100 * ratio, user_kb=900 * ratio, overall_kb=1000 * ratio,
            ratio_item=ratio, ratio_user=ratio, ratio_overall=ratio,
        )  # fmt: skip
    return ResultRecord(
        created=f"2026-11-{1 + seed % 28:02d}T12:00:00Z",
        dataset=DatasetInfo(name=dataset, sha256="ab" * 32),
        method=MethodInfo(name=method, params=params or {}, authors=authors, paper_url=paper_url),
        budget=budget,
        recommender=recommender,
        seed=seed,
        metrics=metrics if metrics is not None else {m: 0.8 for m in METRICS},
        reference={"chance": CHANCE, "popularity": POPULARITY} if reference else {},
        sizes=sizes,
        timings=Timings(condense_s=1.0, train_s=train_s, epochs=5, best_epoch=3),
        llm=LLMInfo(backend="replay", model="gpt-3.5-turbo") if llm else None,
        environment=ENVIRONMENT,
        config={"lr": 0.001, "batch_size": 64},
        command=command
        or f"condbench run configs/{dataset}.yaml --condenser {method} --seed {seed}",
    )


def make_grid(
    n_records: int,
    *,
    seed: int = 0,
    datasets: tuple[str, ...] = ("movielens-tfdcon", "mind-small"),
    recommenders: tuple[str, ...] = ("naml", "nrms"),
    methods: tuple[str, ...] = ("random", "majority", "tfdcon", "tfdcon-content", "tfdcon-user"),
    budgets: tuple[str, ...] = ("10", "47", "100", "5%"),
    seeds: int = 5,
) -> list[ResultRecord]:
    """About `n_records` records: for every dataset x recommender an Original, then methods x budgets."""
    rng = np.random.default_rng(seed)
    cells = [(d, r, "original", "all") for d in datasets for r in recommenders]
    cells += [
        (d, r, m, b) for d in datasets for r in recommenders for m in methods for b in budgets
    ]
    extra = 0
    while len(cells) * seeds < n_records:
        cells += [
            (d, r, f"method-{extra:03d}", b)
            for d in datasets
            for r in recommenders
            for b in budgets
        ]
        extra += 1
    records = []
    for dataset, recommender, method, budget in cells:
        base = 0.85 if method == "original" else rng.uniform(0.62, 0.84)
        ratio = 1.0 if method == "original" else float(10 ** rng.uniform(-3, -0.5))
        for s in range(seeds):
            if len(records) >= n_records:
                return records
            noise = rng.normal(0, 0.01, len(METRICS))
            metrics = {
                m: float(np.clip(base + n - (0.5 if "Recall@1" == m else 0), 0.01, 1))
                for m, n in zip(METRICS, noise, strict=True)
            }
            records.append(
                make_record(
                    method=method,
                    budget=budget,
                    seed=s,
                    dataset=dataset,
                    recommender=recommender,
                    metrics=metrics,
                    ratio=None if method == "original" else ratio,
                    train_s=100.0 if method == "original" else float(rng.uniform(5, 40)),
                    llm=method.startswith("tfdcon"),
                )  # fmt: skip
            )
    return records


SEQUENTIAL_METRICS = ("HR@10", "HR@20", "NDCG@10", "NDCG@20", "MRR@10")
SEQUENTIAL_CHANCE = {m: 0.01 for m in SEQUENTIAL_METRICS}
SEQUENTIAL_POPULARITY = {m: 0.1 for m in SEQUENTIAL_METRICS}
ORIGINAL_INTERACTIONS, ORIGINAL_SEQUENCES, ORIGINAL_KB = 97_401, 943, 384.0


def make_sequential_record(
    *,
    method: str = "longest-users",
    budget: str = "20",
    seed: int = 0,
    dataset: str = "ml-100k-seq",
    recommender: str = "sasrec",
    value: float = 0.4,
    interactions: float | None = None,
    train_s: float = 10.0,
) -> ResultRecord:
    """A sequential-track record: every metric `value`, sizes as the sequential track fills
    them (hard sequences: `budget` sequences of 100 interactions, 4 bytes each stored and
    dense; Original: ml-100k-seq's train split)."""
    original = budget == "all"
    sequences = ORIGINAL_SEQUENCES if original else int(budget)
    count = ORIGINAL_INTERACTIONS if original else (interactions or 100.0 * sequences)
    kb = ORIGINAL_KB if original else 4 * count / 1024
    sizes = SizeInfo(
        ratio_overall=count / ORIGINAL_INTERACTIONS, interactions=float(count),
        sequences=sequences, stored_kb=kb, frozen_kb=0.0, dense_kb=kb,
        ratio_stored=kb / ORIGINAL_KB, ratio_dense=kb / ORIGINAL_KB,
    )  # fmt: skip
    return ResultRecord(
        track="sequential",
        created=f"2026-12-{1 + seed % 28:02d}T12:00:00Z",
        dataset=DatasetInfo(name=dataset, sha256="cd" * 32),
        method=MethodInfo(name=method),
        budget=budget,
        recommender=recommender,
        seed=seed,
        metrics={m: value for m in SEQUENTIAL_METRICS},
        reference={"chance": SEQUENTIAL_CHANCE, "popularity": SEQUENTIAL_POPULARITY},
        sizes=sizes,
        timings=Timings(condense_s=0.5, train_s=train_s, epochs=5, best_epoch=3),
        environment=ENVIRONMENT,
        config={"track": "sequential"},
        command=f"condbench run configs/ml100k-seq.yaml --only method={method},seed={seed}",
    )


def small_dataset(name: str = "tiny"):
    """`factories.small_dataset` (imported here lazily: bench/ imports this module alone)."""
    from factories import small_dataset as build

    return build(name)
