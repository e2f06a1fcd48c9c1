"""Result records -> leaderboard entries.

An entry is every record that shares `ResultRecord.entry_key` (dataset, method, budget,
recommender): one method at one budget, trained with one recommender, over its seeds.

Figures per entry (DESIGN.md, "Protocol and metrics"):

- per metric: mean and sample std over seeds, 95% bootstrap interval of the mean;
- **Quality**: mean over the *quality metrics* of mean_seeds(metric(S)) / mean_seeds(metric(Original)),
  Original being the entry of method ``original`` with the same dataset and recommender. The
  quality metrics are the ranking metrics (``NDCG@K``, ``Recall@K``) that both S and Original
  report, as in the paper; ``AUC`` and ``MRR`` are shown but never enter Quality. Its 95%
  interval resamples the seeds of S and of Original (seeded, so the site is reproducible bit
  for bit);
- **chance-adjusted Quality**: mean of (metric(S) − chance) / (metric(Original) − chance), with
  ``chance`` from the records' ``reference["chance"]``;
- **ΔRandom**: Quality(S) − Quality(``random`` at the same budget, same recommender);
- training speed-up: mean train_s of Original / mean train_s of S; ratios from ``sizes``
  (an ``original`` record without sizes has ratio 1).

The statistics themselves (bootstrap, Quality, ΔRandom) are `harness.metrics`, the same
code the end-of-run summary of `condbench run` uses; this module only groups records.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.errors import DataError
from harness.metrics import (
    delta_random,
    is_quality_metric,
    metric_sort_key,
    quality,
    summarise,
)
from leaderboard.record import Environment, ResultRecord

ORIGINAL_METHOD = "original"
RANDOM_METHOD = "random"
REFERENCE_SCORERS = ("chance", "popularity")
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def budget_sort_key(budget: str) -> tuple:
    """Numeric budgets by value, percentages by value, ``all`` last."""
    text = budget.strip()
    number = text[:-1] if text.endswith("%") else text
    try:
        return (0 if not text.endswith("%") else 1, float(number), text)
    except ValueError:
        return (2, math.inf, text)


class MetricSummary(BaseModel):
    model_config = ConfigDict(frozen=True)

    mean: float
    std: float
    ci95: tuple[float, float]
    per_seed: list[float]  # aligned with Entry.seeds


class Entry(BaseModel):
    """One leaderboard row: a method at a budget with one recommender, over its seeds."""

    model_config = ConfigDict(frozen=True)

    track: str
    dataset: str
    dataset_version: str
    method: str
    method_version: str
    method_source: str
    params: dict[str, Any]
    authors: str | None
    paper_url: str | None
    budget: str
    recommender: str
    seeds: list[int]
    metrics: dict[str, MetricSummary]
    quality_metrics: list[str]
    quality: float | None
    quality_ci95: tuple[float, float] | None
    quality_chance_adjusted: float | None
    delta_random: float | None
    ratio_item: float | None
    ratio_user: float | None
    ratio_overall: float | None
    item_kb: float | None
    user_kb: float | None
    overall_kb: float | None
    train_s: float
    condense_s: float
    train_speedup: float | None
    llm: str | None
    created: str
    command: str
    config: dict[str, Any]
    environment: Environment
    reference: dict[str, dict[str, float]]
    reference_quality: dict[str, float]

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.dataset, self.method, self.budget, self.recommender)

    @property
    def slug(self) -> str:
        """A file-name-safe, unique name for this entry's page and record folder."""
        readable = _SLUG_UNSAFE.sub("_", "--".join(self.key))[:80]
        digest = hashlib.sha256("\x00".join(self.key).encode("utf-8")).hexdigest()[:10]
        return f"{readable}-{digest}"

    @property
    def is_original(self) -> bool:
        return self.method == ORIGINAL_METHOD


# ---- statistics (the math lives in harness.metrics; this file only groups records) --------


def summarise_metrics(per_seed: dict[str, list[float]]) -> dict[str, MetricSummary]:
    """Mean, sample std and 95% bootstrap interval of the mean, per metric."""
    out = {}
    for name in sorted(per_seed, key=metric_sort_key):
        stats = summarise(per_seed[name])
        out[name] = MetricSummary(
            mean=stats["mean"],
            std=stats["std"],
            ci95=tuple(stats["ci95"]),
            per_seed=stats["values"],
        )
    return out


# ---- aggregation -----------------------------------------------------------------------


class _Group:
    """The records of one entry, sorted by seed, with their common metric table."""

    def __init__(self, key: tuple[str, str, str, str], records: list[ResultRecord]):
        self.key = key
        self.records = sorted(records, key=lambda r: r.seed)
        common = set(self.records[0].metrics)
        for record in self.records[1:]:
            common &= set(record.metrics)
        self.metric_names = sorted(common, key=metric_sort_key)
        self.per_seed = {m: [float(r.metrics[m]) for r in self.records] for m in self.metric_names}
        self.means = {m: sum(v) / len(v) for m, v in self.per_seed.items()}


def _group(records: Iterable[ResultRecord]) -> dict[tuple[str, str, str, str], _Group]:
    by_key: dict[tuple[str, str, str, str], list[ResultRecord]] = defaultdict(list)
    seen: set[tuple] = set()
    for record in records:
        if record.cell_key in seen:
            dataset, method, budget, recommender, seed = record.cell_key
            raise DataError(
                f"two records for one cell: dataset {dataset!r}, method {method!r}, "
                f"budget {budget!r}, recommender {recommender!r}, seed {seed}"
            )
        seen.add(record.cell_key)
        by_key[record.entry_key].append(record)
    return {key: _Group(key, recs) for key, recs in by_key.items()}


@dataclass(frozen=True)
class _Quality:
    metrics: list[str]
    quality: float | None = None
    ci95: tuple[float, float] | None = None
    chance_adjusted: float | None = None


def _quality(group: _Group, original: _Group | None) -> _Quality:
    """Quality and chance-adjusted Quality of `group` against `original` (harness.metrics)."""
    if original is None:
        return _Quality([])
    metrics = [m for m in group.metric_names if is_quality_metric(m) and m in original.per_seed]
    if not metrics or any(original.means[m] == 0 for m in metrics):
        return _Quality(metrics)
    chance = group.records[0].reference.get("chance")
    usable_chance = chance is not None and all(
        m in chance and abs(original.means[m] - chance[m]) > 1e-12 for m in metrics
    )
    result = quality(
        [r.metrics for r in group.records],
        [r.metrics for r in original.records],
        metrics,
        chance if usable_chance else None,
    )
    adjusted = result["quality_chance_adjusted"]
    return _Quality(
        metrics=metrics,
        quality=result["quality"]["mean"],
        ci95=tuple(result["quality"]["ci95"]),
        chance_adjusted=adjusted["mean"] if adjusted else None,
    )


def _reference_quality(
    group: _Group, metrics: list[str], original: _Group | None
) -> dict[str, float]:
    """Quality of each reference scorer (its metrics / Original's), for the chart's lines."""
    if original is None or not metrics or any(original.means[m] == 0 for m in metrics):
        return {}
    out = {}
    for scorer, values in sorted(group.records[0].reference.items()):
        if all(m in values for m in metrics):
            ratios = [float(values[m]) / original.means[m] for m in metrics]
            out[scorer] = float(np.mean(ratios))
    return out


def _mean_size(
    records: list[ResultRecord], field: str, is_original: bool, original_value: float | None
) -> float | None:
    values = [getattr(r.sizes, field) for r in records if r.sizes is not None]
    if values:
        return float(np.mean(values))
    return original_value if is_original else None


def _llm_label(records: list[ResultRecord]) -> str | None:
    labels = sorted({f"{r.llm.backend}/{r.llm.model}" for r in records if r.llm is not None})
    return ", ".join(labels) if labels else None


def _entry(
    group: _Group, original: _Group | None, scored: _Quality, random_quality: float | None
) -> Entry:
    first = group.records[0]
    is_original = first.method.name == ORIGINAL_METHOD
    train_s = float(np.mean([r.timings.train_s for r in group.records]))
    original_train_s = (
        float(np.mean([r.timings.train_s for r in original.records])) if original else 0.0
    )
    return Entry(
        track=first.track,
        dataset=first.dataset.name,
        dataset_version=first.dataset.version,
        method=first.method.name,
        method_version=first.method.version,
        method_source=first.method.source,
        params=first.method.params,
        authors=first.method.authors,
        paper_url=first.method.paper_url,
        budget=first.budget,
        recommender=first.recommender,
        seeds=[r.seed for r in group.records],
        metrics=summarise_metrics(group.per_seed),
        quality_metrics=scored.metrics,
        quality=scored.quality,
        quality_ci95=scored.ci95,
        quality_chance_adjusted=scored.chance_adjusted,
        delta_random=(
            delta_random(scored.quality, random_quality)
            if scored.quality is not None and random_quality is not None
            else None
        ),
        ratio_item=_mean_size(group.records, "ratio_item", is_original, 1.0),
        ratio_user=_mean_size(group.records, "ratio_user", is_original, 1.0),
        ratio_overall=_mean_size(group.records, "ratio_overall", is_original, 1.0),
        item_kb=_mean_size(group.records, "item_kb", is_original, None),
        user_kb=_mean_size(group.records, "user_kb", is_original, None),
        overall_kb=_mean_size(group.records, "overall_kb", is_original, None),
        train_s=train_s,
        condense_s=float(np.mean([r.timings.condense_s for r in group.records])),
        train_speedup=(original_train_s / train_s)
        if original and train_s > 0 and original_train_s > 0
        else None,
        llm=_llm_label(group.records),
        created=max(r.created for r in group.records),
        command=first.command,
        config=first.config,
        environment=first.environment,
        reference=first.reference,
        reference_quality=_reference_quality(group, scored.metrics, original),
    )


def entry_sort_key(entry: Entry) -> tuple:
    """Track, dataset, recommender, Original first, then method name, then budget."""
    return (
        entry.track,
        entry.dataset,
        entry.recommender,
        not entry.is_original,
        entry.method,
        budget_sort_key(entry.budget),
    )


def aggregate(records: Iterable[ResultRecord]) -> list[Entry]:
    """Group records into entries and compute every figure; stable order (`entry_sort_key`).

    Raises `DataError` when two records describe the same cell (same key and seed).
    """
    groups = _group(records)
    originals = {
        (key[0], key[3]): group for key, group in groups.items() if key[1] == ORIGINAL_METHOD
    }
    scores = {
        key: _quality(group, originals.get((key[0], key[3]))) for key, group in groups.items()
    }
    random_quality = {
        (key[0], key[2], key[3]): scored.quality
        for key, scored in scores.items()
        if key[1] == RANDOM_METHOD
    }
    entries = [
        _entry(
            group,
            originals.get((key[0], key[3])),
            scores[key],
            random_quality.get((key[0], key[2], key[3])),
        )
        for key, group in groups.items()
    ]
    return sorted(entries, key=entry_sort_key)
