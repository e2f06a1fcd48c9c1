"""Result records -> leaderboard entries.

An entry is every record that shares `ResultRecord.entry_key` (dataset, method, budget,
recommender): one method at one budget, trained with one recommender, over its seeds. The
budget is compared by its canonical label (``"047"`` and ``"47"``, ``"5.0%"`` and ``"5%"`` are
one entry; `harness.budget.canonical_label`), and an entry shows that label.

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
- **ΔRandom**: Quality(S) − Quality(the track's ``random_method`` at the same budget, same
  recommender): ``random`` in the content track, ``random-users`` in the sequential one; on a
  dataset where the track's random method was not run, the release's ``release-random``
  (Goodreads, whose public copy has no train split to draw our own random set from);
- **score** (for a dataset without an Original: the TF-DCon release's Goodreads): mean over
  the quality metrics of the absolute metric, with its 95% interval over seeds, and
  **ΔRandom (score)** = score(S) − score(the random method), in metric points, with an
  interval that bootstraps the seeds of both; the board plots score against the train set's
  size in KB there, as no ratio to an Original exists;
- training speed-up: mean train_s of Original / mean train_s of S; sizes and ratios from
  ``sizes``, by the track's definition (``ratio_overall`` is its headline ratio; the content
  track fills item/user/overall KB, the sequential track interactions, sequences and KB both
  ways; the other track's fields stay None). An ``original`` record without sizes has ratio 1
  (overall, and each other ratio its dataset's other entries report);
- a method's own evaluations (``ResultRecord.extra_evaluations``, e.g. TD3's warm-started
  recipe): per key, its label, description and split, and each metric's mean over the
  entry's records that report it. Shown on the entry page, labelled; never ranked;
- the method's display label (``MethodInfo.label``, e.g. "Farzi (in TD3's loop)"): the first
  record's (by seed) that has one, shown beside the method name; None when no record has one.

What a track names (its ratio's label, its random method) comes from the registered track
(`recommenders.tracks.TRACKS`); a track that is not registered here (a plugin's records read
without the plugin) gets `harness.tracks.Track`'s defaults, so its records still render.

The statistics themselves (bootstrap, Quality, ΔRandom) are `harness.metrics`, the same
code the end-of-run summary of `condbench run` uses; this module only groups records.
"""

from __future__ import annotations

import dataclasses
import hashlib
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict

from harness.errors import DataError
from harness.metrics import (
    delta_random,
    is_quality_metric,
    metric_sort_key,
    quality,
    score,
    score_difference,
    summarise,
)
from harness.tracks import Track
from leaderboard.record import Environment, ExtraEvaluation, ResultRecord
from recommenders.tracks import TRACKS

ORIGINAL_METHOD = "original"
# ΔRandom's baseline on a dataset where the track's random method was not run (it needs the
# original train split, which the TF-DCon release's Goodreads lacks): the release's own
RELEASE_RANDOM = "release-random"
REFERENCE_SCORERS = ("chance", "popularity")
_SLUG_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


_TRACK_DEFAULTS = {f.name: f.default for f in fields(Track)}
# the record's size figures an Entry carries (means over seeds), content's then sequential's
SIZE_FIELDS = (
    "ratio_item", "ratio_user", "ratio_overall", "item_kb", "user_kb", "overall_kb",
    "interactions", "sequences", "stored_kb", "frozen_kb", "dense_kb", "ratio_stored",
    "ratio_dense",
)  # fmt: skip


@dataclass(frozen=True)
class TrackView:
    """What the leaderboard shows of a track: its name, its ratio's label and definition,
    and the method ΔRandom compares with."""

    name: str
    ratio_label: str
    ratio_definition: str
    random_method: str


def track_view(name: str) -> TrackView:
    """The registered track's labels; `Track`'s defaults for a track not registered here."""
    track = TRACKS.get(name) if name in TRACKS else None
    return TrackView(
        name=name,
        ratio_label=track.ratio_label if track else _TRACK_DEFAULTS["ratio_label"],
        ratio_definition=track.ratio_definition if track else "",
        random_method=track.random_method if track else _TRACK_DEFAULTS["random_method"],
    )


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


class ExtraSummary(BaseModel):
    """One of a method's own evaluations over an entry's seeds (shown, never ranked)."""

    model_config = ConfigDict(frozen=True)

    label: str
    description: str
    split: str
    seeds: list[int]  # the seeds whose records report it
    metrics: dict[str, float]  # each metric's mean over those seeds


class Entry(BaseModel):
    """One leaderboard row: a method at a budget with one recommender, over its seeds."""

    model_config = ConfigDict(frozen=True)

    track: str
    dataset: str
    dataset_version: str
    method: str
    method_label: str | None  # how the board shows the method beside its name (MethodInfo.label)
    method_version: str
    method_source: str
    implemented_from: str | None = None  # a method built from a partial description
    open_choices: dict[str, str] = {}  # noqa: RUF012 (pydantic copies it)
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
    random_method: str  # what delta_random compares with (the track's, else the release's)
    # without an Original (Quality None): the absolute score and ΔRandom in metric points
    score: float | None = None
    score_ci95: tuple[float, float] | None = None
    delta_random_score: float | None = None
    delta_random_score_ci95: tuple[float, float] | None = None
    ratio_label: str  # what ratio_overall is (the track's headline ratio)
    ratio_item: float | None
    ratio_user: float | None
    ratio_overall: float | None
    item_kb: float | None
    user_kb: float | None
    overall_kb: float | None
    interactions: float | None  # sequential: interaction-equivalents (S x L for a soft set)
    sequences: float | None
    stored_kb: float | None  # as stored, without frozen tables
    frozen_kb: float | None
    dense_kb: float | None  # written out densely
    ratio_stored: float | None
    ratio_dense: float | None
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
    extra_evaluations: dict[str, ExtraSummary] = {}

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

    @property
    def extra_metric_names(self) -> list[str]:
        """Every metric some extra evaluation of the entry reports (the table's columns)."""
        names = {name for extra in self.extra_evaluations.values() for name in extra.metrics}
        return sorted(names, key=metric_sort_key)


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
        self.per_seed_rows = [r.metrics for r in self.records]


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


@dataclass(frozen=True)
class _Score:
    value: float | None = None
    ci95: tuple[float, float] | None = None
    delta_random: float | None = None
    delta_random_ci95: tuple[float, float] | None = None


def _score(group: _Group, random: _Group | None) -> _Score:
    """score and ΔRandom (score) of `group` (harness.metrics), over its quality metrics."""
    metrics = [m for m in group.metric_names if is_quality_metric(m)]
    if not metrics:
        return _Score()
    summary = score(group.per_seed_rows, metrics)
    out = _Score(value=summary["mean"], ci95=tuple(summary["ci95"]))
    shared = [m for m in metrics if random is not None and m in random.per_seed]
    if random is None or shared != metrics:
        return out
    if random is group:  # the baseline itself: 0 by definition, no interval
        return dataclasses.replace(out, delta_random=0.0)
    difference = score_difference(group.per_seed_rows, random.per_seed_rows, metrics)
    return dataclasses.replace(
        out, delta_random=difference["mean"], delta_random_ci95=tuple(difference["ci95"])
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


def _mean_sizes(records: list[ResultRecord], is_original: bool, ratios: set[str]) -> dict:
    """Each size field's mean over the seeds that report it; an Original without sizes has
    ratio 1 in `ratios` (its dataset's other entries' ratio fields) and in ratio_overall."""
    out: dict[str, float | None] = {}
    for name in SIZE_FIELDS:
        values = [getattr(r.sizes, name) for r in records if r.sizes is not None]
        values = [v for v in values if v is not None]
        if values:
            out[name] = float(np.mean(values))
        elif is_original and (name == "ratio_overall" or name in ratios):
            out[name] = 1.0
        else:
            out[name] = None
    return out


def _ratio_fields(groups: Iterable[_Group]) -> dict[tuple[str, str], set[str]]:
    """(track, dataset) -> the ratio fields some record of it reports."""
    out: dict[tuple[str, str], set[str]] = defaultdict(set)
    for group in groups:
        first = group.records[0]
        for record in group.records:
            if record.sizes is not None:
                reported = record.sizes.model_dump()
                out[(first.track, first.dataset.name)] |= {
                    name for name in reported if name.startswith("ratio_")
                }
    return out


def _extra_summaries(records: list[ResultRecord]) -> dict[str, ExtraSummary]:
    """Per key of the records' extra evaluations: the first record's label, description and
    split (records sorted by seed), each metric's mean over the records that report it."""
    reported: dict[str, list[tuple[int, ExtraEvaluation]]] = defaultdict(list)
    for record in records:
        for key, extra in record.extra_evaluations.items():
            reported[key].append((record.seed, extra))
    out = {}
    for key in sorted(reported):
        first = reported[key][0][1]
        values: dict[str, list[float]] = defaultdict(list)
        for _, extra in reported[key]:
            for name, value in extra.metrics.items():
                values[name].append(float(value))
        out[key] = ExtraSummary(
            label=first.label,
            description=first.description,
            split=first.split,
            seeds=[seed for seed, _ in reported[key]],
            metrics={
                name: float(np.mean(values[name])) for name in sorted(values, key=metric_sort_key)
            },
        )
    return out


def _method_label(records: list[ResultRecord]) -> str | None:
    """The label of the first record (by seed) that names one; None when none does."""
    return next((r.method.label for r in records if r.method.label is not None), None)


def _llm_label(records: list[ResultRecord]) -> str | None:
    labels = sorted({f"{r.llm.backend}/{r.llm.model}" for r in records if r.llm is not None})
    return ", ".join(labels) if labels else None


def _entry(
    group: _Group,
    original: _Group | None,
    scored: _Quality,
    random_quality: float | None,
    view: TrackView,
    ratios: set[str],
    absolute: _Score,
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
        method_label=_method_label(group.records),
        method_version=first.method.version,
        method_source=first.method.source,
        implemented_from=first.method.implemented_from,
        open_choices=dict(first.method.open_choices),
        params=first.method.params,
        authors=first.method.authors,
        paper_url=first.method.paper_url,
        budget=group.key[2],  # the canonical label (`ResultRecord.entry_key`)
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
        random_method=view.random_method,
        score=absolute.value,
        score_ci95=absolute.ci95,
        delta_random_score=absolute.delta_random,
        delta_random_score_ci95=absolute.delta_random_ci95,
        ratio_label=view.ratio_label,
        **_mean_sizes(group.records, is_original, ratios),
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
        extra_evaluations=_extra_summaries(group.records),
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


def _dataset_views(groups: dict[tuple[str, str, str, str], _Group]) -> dict[str, TrackView]:
    """dataset -> its track's view, whose random method is the release's random set where
    the dataset has no entry of the track's own (`RELEASE_RANDOM`)."""
    methods: dict[str, set[str]] = defaultdict(set)
    tracks: dict[str, str] = {}
    for (dataset, method, _, _), group in groups.items():
        methods[dataset].add(method)
        tracks.setdefault(dataset, group.records[0].track)
    views = {}
    for dataset, track in tracks.items():
        view = track_view(track)
        if view.random_method not in methods[dataset] and RELEASE_RANDOM in methods[dataset]:
            view = dataclasses.replace(view, random_method=RELEASE_RANDOM)
        views[dataset] = view
    return views


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
    views = _dataset_views(groups)
    randoms = {
        (key[0], key[2], key[3]): group
        for key, group in groups.items()
        if key[1] == views[key[0]].random_method
    }
    random_quality = {at: scores[group.key].quality for at, group in randoms.items()}
    ratios = _ratio_fields(groups.values())
    entries = [
        _entry(
            group,
            originals.get((key[0], key[3])),
            scores[key],
            random_quality.get((key[0], key[2], key[3])),
            views[key[0]],
            ratios[(group.records[0].track, key[0])],
            _score(group, randoms.get((key[0], key[2], key[3]))),
        )
        for key, group in groups.items()
    ]
    return sorted(entries, key=entry_sort_key)
