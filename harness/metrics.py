"""Ranking metrics, Quality and seed statistics.

Metric names (configs, records, JSON, tables) are ``AUC``, ``MRR``, ``NDCG@K`` and
``Recall@K``; `parse_metric` is the one function that reads them.

Ranking metrics are computed per ranking group (candidate list) and averaged over the
groups that hold at least one positive and one negative; the others are dropped and
counted. Ties between scores are resolved by expectation: every metric is the expected
value under a uniformly random order of the tied candidates (for NDCG this is what
scikit-learn's ``ndcg_score`` computes; for AUC ties count one half).

- ``NDCG@K``: DCG of the top K (binary gains, log2 discount) / ideal DCG of the top K.
- ``Recall@K``: positives in the top K / positives in the group.
- ``MRR``: sum of 1/rank over the positives / number of positives (the MIND definition).
- ``AUC``: probability that a random positive outscores a random negative.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from harness.errors import ConfigError

METRIC_KINDS = ("AUC", "MRR", "NDCG", "Recall")
_CUTOFF_KINDS = ("NDCG", "Recall")
_METRIC_PATTERN = re.compile(r"^\s*([A-Za-z]+)\s*(?:@\s*(\S+))?\s*$")

# dataset-name prefix -> the cutoffs K the paper reports there (others: 1 and 5)
_CUTOFFS_BY_PREFIX: dict[str, tuple[int, ...]] = {"mind": (5, 10)}
_DEFAULT_CUTOFFS = (1, 5)


@dataclass(frozen=True)
class Metric:
    """One parsed metric: its kind and, for NDCG/Recall, its cutoff K."""

    kind: str
    k: int | None = None

    @property
    def name(self) -> str:
        return self.kind if self.k is None else f"{self.kind}@{self.k}"

    def __str__(self) -> str:
        return self.name


def parse_metric(text: str | Metric) -> Metric:
    """Read one metric name such as ``"NDCG@5"``, ``"Recall@1"``, ``"AUC"``, ``"MRR"``.

    Kinds are matched case-insensitively (``ndcg@5`` is ``NDCG@5``); anything else raises
    a `ConfigError` that quotes the text and lists what is accepted.
    """
    if isinstance(text, Metric):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"metric must be a string like 'NDCG@5', got {text!r}")
    accepted = "accepted: AUC, MRR, NDCG@K, Recall@K with K a positive integer"
    match = _METRIC_PATTERN.match(text)
    if not match:
        raise ConfigError(f"unreadable metric {text!r}; {accepted}")
    raw_kind, raw_k = match.groups()
    kind = next((k for k in METRIC_KINDS if k.lower() == raw_kind.lower()), None)
    if kind is None:
        raise ConfigError(f"unknown metric {raw_kind!r} in {text!r}; {accepted}")
    if kind in _CUTOFF_KINDS:
        if raw_k is None:
            raise ConfigError(f"metric {text!r} needs a cutoff, e.g. '{kind}@5'; {accepted}")
        if not raw_k.isdigit() or int(raw_k) < 1:
            raise ConfigError(f"cutoff in {text!r} must be a positive integer, got {raw_k!r}")
        return Metric(kind, int(raw_k))
    if raw_k is not None:
        raise ConfigError(f"metric {kind} takes no cutoff, got {text!r}; {accepted}")
    return Metric(kind)


def parse_metrics(texts: str | Iterable[str | Metric]) -> list[Metric]:
    """Several metric names: a list, or one comma-separated string. Duplicates are kept once."""
    if isinstance(texts, str):
        texts = [part for part in texts.split(",") if part.strip()]
    out: list[Metric] = []
    for text in texts:
        metric = parse_metric(text)
        if metric not in out:
            out.append(metric)
    if not out:
        raise ConfigError("no metrics given; e.g. 'NDCG@1,NDCG@5,Recall@1,Recall@5'")
    return out


def default_metrics(dataset_name: str) -> list[str]:
    """The paper's reported metrics for a dataset (the ones Quality averages over).

    MIND: NDCG@5, NDCG@10, Recall@5, Recall@10; every other dataset: K = 1, 5.
    """
    name = dataset_name.lower()
    cutoffs = next(
        (ks for prefix, ks in _CUTOFFS_BY_PREFIX.items() if name.startswith(prefix)),
        _DEFAULT_CUTOFFS,
    )
    return [f"NDCG@{k}" for k in cutoffs] + [f"Recall@{k}" for k in cutoffs]


def report_metrics(dataset_name: str) -> list[str]:
    """Everything the evaluator reports by default: AUC, MRR and the dataset's defaults."""
    return ["AUC", "MRR", *default_metrics(dataset_name)]


# ---- ranking metrics over groups ---------------------------------------------------------


@dataclass(frozen=True)
class GroupMetrics:
    """Per-group values of each metric (over the groups used) and what was dropped."""

    per_group: dict[str, np.ndarray]
    group_ids: np.ndarray
    groups_dropped: int
    list_lengths: np.ndarray
    positives: np.ndarray

    def means(self) -> dict[str, float]:
        return {
            name: float(values.mean()) if len(values) else float("nan")
            for name, values in self.per_group.items()
        }


def ranking_metrics(
    group_ids: np.ndarray,
    labels: np.ndarray,
    scores: np.ndarray,
    metrics: Sequence[str | Metric],
) -> GroupMetrics:
    """Compute `metrics` for every ranking group at once (vectorised, no per-group loop).

    `group_ids`, `labels` (0/1) and `scores` are aligned 1-D arrays, one row per candidate.
    """
    parsed = parse_metrics(metrics)
    group_ids = np.asarray(group_ids)
    labels = np.asarray(labels, dtype=np.float64)
    scores = np.asarray(scores, dtype=np.float64)
    if not (len(group_ids) == len(labels) == len(scores)):
        raise ValueError("group_ids, labels and scores must have the same length")
    if np.isnan(scores).any():
        raise ValueError("scores contain NaN")

    # order rows by group, then by descending score
    order = np.lexsort((-scores, group_ids))
    groups, labels, scores = group_ids[order], labels[order], scores[order]
    group_start = np.flatnonzero(np.r_[True, groups[1:] != groups[:-1]])
    group_len = np.diff(np.r_[group_start, len(groups)])
    group_index = np.repeat(np.arange(len(group_start)), group_len)
    position = np.arange(len(groups)) - group_start[group_index]  # 0-based rank in group

    # tie blocks: equal score inside one group; a label becomes its block's mean label,
    # which makes every position-weighted metric its expectation over tie orders
    block_start = np.flatnonzero(
        np.r_[True, (groups[1:] != groups[:-1]) | (scores[1:] != scores[:-1])]
    )
    block_len = np.diff(np.r_[block_start, len(groups)])
    block_mean = np.add.reduceat(labels, block_start) / block_len
    tie_label = np.repeat(block_mean, block_len)

    positives = np.add.reduceat(labels, group_start)
    negatives = group_len - positives
    used = (positives > 0) & (negatives > 0)

    def per_group_sum(values: np.ndarray) -> np.ndarray:
        return np.add.reduceat(values, group_start)

    out: dict[str, np.ndarray] = {}
    for metric in parsed:
        if metric.kind == "NDCG":
            discount = 1.0 / np.log2(position + 2.0)
            in_top = position < metric.k
            dcg = per_group_sum(np.where(in_top, tie_label * discount, 0.0))
            ideal = per_group_sum(
                np.where(position < np.minimum(positives, metric.k)[group_index], discount, 0.0)
            )
            values = np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)
        elif metric.kind == "Recall":
            hits = per_group_sum(np.where(position < metric.k, tie_label, 0.0))
            values = np.divide(hits, positives, out=np.zeros_like(hits), where=positives > 0)
        elif metric.kind == "MRR":
            reciprocal = per_group_sum(tie_label / (position + 1.0))
            values = np.divide(
                reciprocal, positives, out=np.zeros_like(reciprocal), where=positives > 0
            )
        elif metric.kind == "AUC":
            # ascending average rank (1-based) of each tie block, then Mann-Whitney U
            first = position[block_start]
            mean_desc_rank = first + (block_len - 1) / 2.0
            ascending = group_len[group_index[block_start]] - mean_desc_rank
            pos_rank_sum = per_group_sum(np.repeat(ascending, block_len) * labels)
            u_stat = pos_rank_sum - positives * (positives + 1) / 2.0
            denominator = positives * negatives
            values = np.divide(
                u_stat, denominator, out=np.zeros_like(u_stat), where=denominator > 0
            )
        else:  # pragma: no cover - parse_metric admits only the kinds above
            raise ConfigError(f"unsupported metric {metric.name}")
        out[metric.name] = values[used]
    return GroupMetrics(
        per_group=out,
        group_ids=groups[group_start][used],
        groups_dropped=int((~used).sum()),
        list_lengths=group_len[used],
        positives=positives[used],
    )


def list_length_stats(lengths: np.ndarray, positives: np.ndarray) -> dict[str, float]:
    """Candidate-list length statistics of the groups used."""
    if len(lengths) == 0:
        return {"groups": 0}
    return {
        "groups": int(len(lengths)),
        "mean_length": float(np.mean(lengths)),
        "min_length": int(np.min(lengths)),
        "max_length": int(np.max(lengths)),
        "mean_positives": float(np.mean(positives)),
    }


# ---- seed statistics, Quality, ΔRandom ---------------------------------------------------

BOOTSTRAP_DRAWS = 2000


def summarise(values: Sequence[float], *, seed: int = 0, draws: int = BOOTSTRAP_DRAWS) -> dict:
    """Mean, sample std and a 95% percentile-bootstrap interval of the mean (seeded)."""
    array = np.asarray(list(values), dtype=np.float64)
    if len(array) == 0:
        raise ValueError("summarise needs at least one value")
    mean = float(array.mean())
    std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
    rng = np.random.default_rng(seed)
    boot = array[rng.integers(0, len(array), size=(draws, len(array)))].mean(axis=1)
    low, high = np.percentile(boot, [2.5, 97.5])
    return {"mean": mean, "std": std, "ci95": [float(low), float(high)], "values": array.tolist()}


def _seed_means(
    per_seed: Sequence[Mapping[str, float]], names: Sequence[str], label: str
) -> np.ndarray:
    if not per_seed:
        raise ValueError(f"{label}: no per-seed results")
    rows = []
    for index, result in enumerate(per_seed):
        missing = [name for name in names if name not in result]
        if missing:
            raise ValueError(f"{label}: seed #{index} lacks metric {missing[0]!r}")
        rows.append([float(result[name]) for name in names])
    return np.asarray(rows)


def quality(
    per_seed_S: Sequence[Mapping[str, float]],
    per_seed_original: Sequence[Mapping[str, float]],
    metrics: Sequence[str | Metric],
    chance: Mapping[str, float] | None = None,
    *,
    seed: int = 0,
) -> dict:
    """Quality of a train set S against Original (DESIGN.md, Protocol and metrics).

    ``quality`` = mean over `metrics` of mean_seeds(metric on S) / mean_seeds(metric on
    Original); ``quality_chance_adjusted`` = mean over metrics of (S − chance) /
    (Original − chance), given `chance`. Each is a `summarise`-style dict whose ``values``
    are the per-seed figures (seed i of S against the Original seed mean; their mean is
    exactly the point estimate) and whose ``ci95`` bootstraps seeds of both S and Original.
    ``per_metric`` gives the ratio of each metric.
    """
    names = [parse_metric(m).name for m in metrics]
    s_rows = _seed_means(per_seed_S, names, "S")
    o_rows = _seed_means(per_seed_original, names, "Original")
    chance_row = None
    if chance is not None:
        missing = [name for name in names if name not in chance]
        if missing:
            raise ValueError(f"chance reference lacks metric {missing[0]!r}")
        chance_row = np.asarray([float(chance[name]) for name in names])

    def point(s: np.ndarray, o: np.ndarray, floor: np.ndarray | None) -> np.ndarray:
        """Quality of each row of s (seeds or bootstrap draws) against the Original mean."""
        if floor is None:
            return (s / o).mean(axis=-1)
        return ((s - floor) / (o - floor)).mean(axis=-1)

    rng = np.random.default_rng(seed)
    s_draws = s_rows[rng.integers(0, len(s_rows), size=(BOOTSTRAP_DRAWS, len(s_rows)))].mean(axis=1)
    o_draws = o_rows[rng.integers(0, len(o_rows), size=(BOOTSTRAP_DRAWS, len(o_rows)))].mean(axis=1)
    o_mean = o_rows.mean(axis=0)

    def summary(floor: np.ndarray | None) -> dict:
        per_seed = point(s_rows, o_mean, floor)
        boot = point(s_draws, o_draws, floor)
        low, high = np.percentile(boot, [2.5, 97.5])
        return {
            "mean": float(point(s_rows.mean(axis=0), o_mean, floor)),
            "std": float(per_seed.std(ddof=1)) if len(per_seed) > 1 else 0.0,
            "ci95": [float(low), float(high)],
            "values": per_seed.tolist(),
        }

    ratios = s_rows.mean(axis=0) / o_mean
    return {
        "metrics": names,
        "quality": summary(None),
        "quality_chance_adjusted": summary(chance_row) if chance_row is not None else None,
        "per_metric": dict(zip(names, ratios.tolist(), strict=True)),
    }


def delta_random(quality_S: float | Mapping, quality_random: float | Mapping) -> float:
    """ΔRandom = Quality(S) − Quality(Random at the same ratio); takes floats or summaries."""

    def mean_of(value: float | Mapping) -> float:
        return float(value["mean"]) if isinstance(value, Mapping) else float(value)

    return mean_of(quality_S) - mean_of(quality_random)
