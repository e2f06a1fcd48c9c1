"""Ranking metrics, Quality and seed statistics.

Metric names (configs, records, JSON, tables) are a registered kind, with ``@K`` for the
kinds that take a cutoff: ``AUC``, ``MRR``, ``NDCG@K`` and ``Recall@K`` are built in.
`parse_metric` is the one function that reads them. ``HR@K`` (hit rate: a positive in the
top K) is registered for the sequential track, and ``MRR@K`` (MRR cut at K) there too:
``MRR`` takes an optional cutoff. Each kind is a `MetricSpec` in the
`METRICS` registry (below): whether it takes a cutoff, whether it enters Quality, its
display order and how it is computed; adding a metric is one spec and one
``METRICS.register`` call. Which cutoffs a dataset reports is the data source's
``cutoffs``, carried in ``Dataset.meta["cutoffs"]`` (`dataset_cutoffs`).

Ranking metrics are computed per ranking group (candidate list) and averaged over the
groups that hold at least one positive and one negative; the others are dropped and
counted. Ties between scores are resolved by expectation: every metric is the expected
value under a uniformly random order of the tied candidates (for NDCG this is what
scikit-learn's ``ndcg_score`` computes; for AUC ties count one half).

- ``NDCG@K``: DCG of the top K (binary gains, log2 discount) / ideal DCG of the top K.
- ``Recall@K``: positives in the top K / positives in the group.
- ``MRR``: sum of 1/rank over the positives / number of positives (the MIND definition);
  ``MRR@K`` counts only ranks up to K.
- ``HR@K``: 1 when a positive is in the top K (with ties: the probability that one is).
- ``AUC``: probability that a random positive outscores a random negative.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.errors import ConfigError
from harness.registry import Registry

if TYPE_CHECKING:
    from harness.dataset import Dataset

_METRIC_PATTERN = re.compile(r"^\s*([A-Za-z]+)\s*(?:@\s*(\S+))?\s*$")
_KIND_PATTERN = re.compile(r"^[A-Za-z]+$")

# The cutoffs of a dataset whose meta carries none (a dataset folder saved before data
# sources named their cutoffs): K = 1, 5, except MIND's (5, 10), recognised by name only
# for such old folders. Every source now sets ``cutoffs`` (harness.data), and
# `harness.data.load_dataset` writes them into ``meta["cutoffs"]``.
DEFAULT_CUTOFFS: tuple[int, ...] = (1, 5)
_LEGACY_CUTOFFS_BY_PREFIX: dict[str, tuple[int, ...]] = {"mind": (5, 10)}


# ---- the metric registry -----------------------------------------------------------------


@dataclass(frozen=True)
class RankedGroups:
    """The arrays every metric is computed from (built once by `ranking_metrics`).

    Rows are sorted by group, then by descending score; every array of length "rows" is in
    that order, every array of length "groups" is one value per group (all groups, also the
    ones later dropped). ``tie_label`` is each row's label replaced by the mean label of its
    tie block (equal scores in one group): a position-weighted sum over it is the expected
    value over the orders of the tied candidates.
    """

    labels: np.ndarray  # rows: 0/1 label (float64)
    position: np.ndarray  # rows: 0-based rank inside the group
    group_index: np.ndarray  # rows: index of the row's group
    tie_label: np.ndarray  # rows: mean label of the row's tie block
    group_start: np.ndarray  # groups: first row
    group_len: np.ndarray  # groups: candidates
    positives: np.ndarray  # groups: positives (float64)
    negatives: np.ndarray  # groups: negatives (float64)
    block_start: np.ndarray  # tie blocks: first row
    block_len: np.ndarray  # tie blocks: rows

    def __post_init__(self) -> None:
        for value in vars(self).values():  # one metric must not change another's inputs
            value.flags.writeable = False

    def per_group_sum(self, values: np.ndarray) -> np.ndarray:
        """Sum of a per-row array over each group."""
        return np.add.reduceat(values, self.group_start)


MetricCompute = Callable[[RankedGroups, "int | None"], np.ndarray]


@dataclass(frozen=True)
class MetricSpec:
    """One metric kind: its name pattern, its role, and how it is computed.

    ``compute(ranked, k)`` returns one value per group (``k`` is the cutoff for a kind with
    ``cutoff=True``, else None). ``quality``: the metric enters Quality (and the dev Quality
    of tuning). ``order``: display order among kinds (then by K). ``default``: reported when
    a run names no metrics. ``value_range``: the closed interval every value lies in (a
    result record outside it is refused on load); every built-in kind is a share or a
    probability, in [0, 1].
    """

    kind: str
    compute: MetricCompute
    cutoff: bool = False
    optional_cutoff: bool = False  # the kind reads with or without ``@K`` (MRR, MRR@10)
    quality: bool = False
    higher_is_better: bool = True
    order: int = 100
    default: bool = True
    description: str = ""
    value_range: tuple[float, float] = (0.0, 1.0)

    @property
    def pattern(self) -> str:
        """The name pattern: ``NDCG@K`` or ``AUC``."""
        if self.optional_cutoff:
            return f"{self.kind}[@K]"
        return f"{self.kind}@K" if self.cutoff else self.kind


def _check_spec(name: str, spec: Any) -> None:
    if not isinstance(spec, MetricSpec):
        raise ConfigError(f"metric {name!r} is registered as {spec!r}, not a MetricSpec")
    if spec.kind.lower() != name.lower() or not _KIND_PATTERN.match(spec.kind):
        raise ConfigError(
            f"metric {name!r}: spec kind {spec.kind!r} must be its name, letters only"
        )


METRICS: Registry[MetricSpec] = Registry("metric", check=_check_spec, case_sensitive=False)


def register_metric(spec: MetricSpec, *, replace: bool = False) -> MetricSpec:
    """Register `spec` under its kind, checked now (``METRICS.register`` checks on first use)."""
    _check_spec(spec.kind, spec)
    METRICS.register(spec.kind, spec, replace=replace)
    return spec


def metric_specs() -> list[MetricSpec]:
    """Every registered spec, in display order."""
    return sorted((spec for _, spec in METRICS.items()), key=lambda s: (s.order, s.kind))


def _ndcg(ranked: RankedGroups, k: int | None) -> np.ndarray:
    position = ranked.position
    discount = 1.0 / np.log2(position + 2.0)
    in_top = position < k
    dcg = ranked.per_group_sum(np.where(in_top, ranked.tie_label * discount, 0.0))
    ideal = ranked.per_group_sum(
        np.where(position < np.minimum(ranked.positives, k)[ranked.group_index], discount, 0.0)
    )
    return np.divide(dcg, ideal, out=np.zeros_like(dcg), where=ideal > 0)


def _recall(ranked: RankedGroups, k: int | None) -> np.ndarray:
    hits = ranked.per_group_sum(np.where(ranked.position < k, ranked.tie_label, 0.0))
    positives = ranked.positives
    return np.divide(hits, positives, out=np.zeros_like(hits), where=positives > 0)


def _mrr(ranked: RankedGroups, k: int | None) -> np.ndarray:
    reciprocal_rank = ranked.tie_label / (ranked.position + 1.0)
    if k is not None:
        reciprocal_rank = np.where(ranked.position < k, reciprocal_rank, 0.0)
    reciprocal = ranked.per_group_sum(reciprocal_rank)
    positives = ranked.positives
    return np.divide(reciprocal, positives, out=np.zeros_like(reciprocal), where=positives > 0)


def _hit(ranked: RankedGroups, k: int | None) -> np.ndarray:
    """P(a positive is in the top k) under a uniformly random order of tied candidates.

    Only the tie block that straddles position k is random: it fills ``taken`` of the top k
    slots with a uniform subset of its rows, which misses all its positives with the
    hypergeometric probability C(len - pos, taken) / C(len, taken); blocks above k hit when
    they hold a positive, blocks below never do.
    """
    block_start, block_len = ranked.block_start, ranked.block_len
    block_pos = np.add.reduceat(ranked.labels, block_start)
    taken = np.clip(k - ranked.position[block_start], 0, block_len)
    p_none = np.where((taken == block_len) & (block_pos > 0), 0.0, 1.0)  # whole or no block
    straddles = np.flatnonzero((taken > 0) & (taken < block_len) & (block_pos > 0))
    for b in straddles:  # at most one block per group
        n, pos, m = int(block_len[b]), int(block_pos[b]), int(taken[b])
        p_none[b] = 0.0 if n - pos < m else math.comb(n - pos, m) / math.comb(n, m)
    groups = len(ranked.group_start)
    block_group = ranked.group_index[block_start]
    log_none = np.bincount(
        block_group, weights=np.log(np.maximum(p_none, 1e-300)), minlength=groups
    )
    missed = np.bincount(block_group, weights=(p_none == 0.0), minlength=groups) == 0
    return np.where(missed, 1.0 - np.exp(log_none), 1.0)


def _auc(ranked: RankedGroups, k: int | None) -> np.ndarray:
    # ascending average rank (1-based) of each tie block, then Mann-Whitney U
    block_start, block_len = ranked.block_start, ranked.block_len
    first = ranked.position[block_start]
    mean_desc_rank = first + (block_len - 1) / 2.0
    ascending = ranked.group_len[ranked.group_index[block_start]] - mean_desc_rank
    pos_rank_sum = ranked.per_group_sum(np.repeat(ascending, block_len) * ranked.labels)
    positives = ranked.positives
    u_stat = pos_rank_sum - positives * (positives + 1) / 2.0
    denominator = positives * ranked.negatives
    return np.divide(u_stat, denominator, out=np.zeros_like(u_stat), where=denominator > 0)


for _spec in (
    MetricSpec("AUC", _auc, order=0, description="P(a positive outscores a negative)"),
    MetricSpec("MRR", _mrr, optional_cutoff=True, order=1,
               description="mean 1/rank over the positives (MRR@K: ranks up to K)"),
    MetricSpec("NDCG", _ndcg, cutoff=True, quality=True, order=2, description="NDCG of the top K"),
    MetricSpec("Recall", _recall, cutoff=True, quality=True, order=3,
               description="share of the positives in the top K"),
    MetricSpec("HR", _hit, cutoff=True, quality=True, order=4, default=False,
               description="a positive in the top K (hit rate; sequential track)"),
):  # fmt: skip
    METRICS.register(_spec.kind, _spec)
del _spec


# ---- metric names ------------------------------------------------------------------------


@dataclass(frozen=True)
class Metric:
    """One parsed metric: its kind and, for a kind with a cutoff, its cutoff K."""

    kind: str
    k: int | None = None

    @property
    def name(self) -> str:
        return self.kind if self.k is None else f"{self.kind}@{self.k}"

    @property
    def spec(self) -> MetricSpec:
        return METRICS.get(self.kind)

    def __str__(self) -> str:
        return self.name


def _accepted() -> str:
    specs = metric_specs()
    text = "accepted: " + ", ".join(spec.pattern for spec in specs)
    if any(spec.cutoff or spec.optional_cutoff for spec in specs):
        text += " with K a positive integer"
    return text


def parse_metric(text: str | Metric) -> Metric:
    """Read one metric name such as ``"NDCG@5"``, ``"Recall@1"``, ``"AUC"``, ``"MRR"``.

    Kinds are the registered ones (`METRICS`), matched case-insensitively (``ndcg@5`` is
    ``NDCG@5``); anything else raises a `ConfigError` that quotes the text and lists what
    is accepted.
    """
    if isinstance(text, Metric):
        return text
    if not isinstance(text, str):
        raise ConfigError(f"metric must be a string like 'NDCG@5', got {text!r}")
    match = _METRIC_PATTERN.match(text)
    if not match:
        raise ConfigError(f"unreadable metric {text!r}; {_accepted()}")
    raw_kind, raw_k = match.groups()
    if raw_kind not in METRICS:
        raise ConfigError(f"unknown metric {raw_kind!r} in {text!r}; {_accepted()}")
    spec = METRICS.get(raw_kind)
    kind = spec.kind
    if spec.cutoff or (spec.optional_cutoff and raw_k is not None):
        if raw_k is None:
            raise ConfigError(f"metric {text!r} needs a cutoff, e.g. '{kind}@5'; {_accepted()}")
        if not raw_k.isdigit() or int(raw_k) < 1:
            raise ConfigError(f"cutoff in {text!r} must be a positive integer, got {raw_k!r}")
        return Metric(kind, int(raw_k))
    if raw_k is not None:
        raise ConfigError(f"metric {kind} takes no cutoff, got {text!r}; {_accepted()}")
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


def metric_spec(name: str | Metric) -> MetricSpec:
    """The spec of a metric name (``"NDCG@5"`` -> the NDCG spec); bad names raise `ConfigError`."""
    return parse_metric(name).spec


def is_metric_name(name: object) -> bool:
    """True when `name` is a metric name exactly as records spell it (``NDCG@5``, ``AUC``)."""
    if not isinstance(name, str):
        return False
    try:
        return parse_metric(name).name == name
    except ConfigError:
        return False


def is_quality_metric(name: str | Metric) -> bool:
    """True for the metrics that enter Quality (built in: ``NDCG@K``, ``Recall@K``)."""
    try:
        return parse_metric(name).spec.quality
    except ConfigError:
        return False


def metric_value_problem(name: str, value: float) -> str | None:
    """Why `value` cannot be a value of metric `name` ("is nan, not a finite number", "is
    1.5, outside its range [0, 1]"); None when it can be. A name that is no registered
    metric (a plugin's, read without the plugin) has no range, only finiteness."""
    if not math.isfinite(value):
        return f"is {value}, not a finite number"
    try:
        low, high = parse_metric(name).spec.value_range
    except ConfigError:
        return None
    if not low <= value <= high:
        return f"is {value:g}, outside its range [{low:g}, {high:g}]"
    return None


def quality_metric_names(names: Iterable[str | Metric]) -> list[str]:
    """The names among `names` that enter Quality, in the given order."""
    return [parse_metric(name).name for name in names if is_quality_metric(name)]


def metric_sort_key(name: str) -> tuple:
    """Display order: kinds by their spec's ``order`` (AUC, MRR, NDCG, Recall), then by K,
    then any name that is not a metric."""
    try:
        metric = parse_metric(name)
    except ConfigError:
        return (math.inf, 0, name)
    return (metric.spec.order, metric.k or 0, name)


# ---- the metrics of a dataset ------------------------------------------------------------


def dataset_cutoffs(dataset: Dataset | str) -> tuple[int, ...]:
    """The cutoffs K a dataset reports: its source's ``cutoffs`` (``meta["cutoffs"]``).

    A dataset (or a bare name) without them, e.g. a folder saved before sources named their
    cutoffs, gets MIND's (5, 10) when its name starts with ``mind``, else (1, 5).
    """
    meta = {} if isinstance(dataset, str) else getattr(dataset, "meta", {}) or {}
    cutoffs = meta.get("cutoffs")
    if cutoffs:
        return tuple(int(k) for k in cutoffs)
    name = (dataset if isinstance(dataset, str) else dataset.name).lower()
    return next(
        (ks for prefix, ks in _LEGACY_CUTOFFS_BY_PREFIX.items() if name.startswith(prefix)),
        DEFAULT_CUTOFFS,
    )


def _cutoffs_of(source: Dataset | str | Sequence[int]) -> tuple[int, ...]:
    if isinstance(source, str) or hasattr(source, "meta"):
        return dataset_cutoffs(source)  # type: ignore[arg-type]
    return tuple(int(k) for k in source)


def report_metrics(dataset: Dataset | Sequence[int]) -> list[str]:
    """Everything reported when a run names no metrics: each registered default kind in
    display order, a cutoff kind once per cutoff of the dataset (`dataset_cutoffs`; or
    give the cutoffs). Built in: AUC, MRR, NDCG@K..., Recall@K...."""
    cutoffs = _cutoffs_of(dataset)
    names: list[str] = []
    for spec in metric_specs():
        if spec.default:
            names += [f"{spec.kind}@{k}" for k in cutoffs] if spec.cutoff else [spec.kind]
    return names


def default_metrics(dataset: Dataset | Sequence[int]) -> list[str]:
    """The metrics Quality averages over by default: those of `report_metrics` that enter
    Quality. MIND: NDCG@5, NDCG@10, Recall@5, Recall@10; the others: K = 1, 5."""
    return quality_metric_names(report_metrics(dataset))


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
    ranked = RankedGroups(
        labels=labels,
        position=position,
        group_index=group_index,
        tie_label=tie_label,
        group_start=group_start,
        group_len=group_len,
        positives=positives,
        negatives=negatives,
        block_start=block_start,
        block_len=block_len,
    )

    out: dict[str, np.ndarray] = {}
    for metric in parsed:
        values = np.asarray(metric.spec.compute(ranked, metric.k), dtype=np.float64)
        if values.shape != group_len.shape:
            raise ValueError(
                f"metric {metric.name}: compute returned shape {values.shape}, "
                f"expected one value per group {group_len.shape}"
            )
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


# ---- without an Original: absolute score and its difference to Random ----------------------


def score(per_seed: Sequence[Mapping[str, float]], metrics: Sequence[str | Metric]) -> dict:
    """The *score* of a train set where no Original exists to divide by (a dataset published
    without its train split): per seed, the mean over `metrics` of the absolute metric;
    `summarise`d over seeds (mean, std, 95% bootstrap interval of the mean)."""
    names = [parse_metric(m).name for m in metrics]
    return summarise(_seed_means(per_seed, names, "S").mean(axis=1))


def score_difference(
    per_seed_S: Sequence[Mapping[str, float]],
    per_seed_random: Sequence[Mapping[str, float]],
    metrics: Sequence[str | Metric],
    *,
    seed: int = 0,
) -> dict:
    """score(S) − score(Random), in metric points, with a 95% interval that bootstraps the
    seeds of S and of Random independently (their trainings share seeds, not draws)."""
    names = [parse_metric(m).name for m in metrics]
    s = _seed_means(per_seed_S, names, "S").mean(axis=1)
    r = _seed_means(per_seed_random, names, "Random").mean(axis=1)
    rng = np.random.default_rng(seed)
    s_draws = s[rng.integers(0, len(s), size=(BOOTSTRAP_DRAWS, len(s)))].mean(axis=1)
    r_draws = r[rng.integers(0, len(r), size=(BOOTSTRAP_DRAWS, len(r)))].mean(axis=1)
    low, high = np.percentile(s_draws - r_draws, [2.5, 97.5])
    return {"mean": float(s.mean() - r.mean()), "ci95": [float(low), float(high)]}
