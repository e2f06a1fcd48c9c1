"""The registered tracks (protocols) and their learners.

`TRACKS` is the one registry of tracks; a track is one `harness.tracks.Track` value plus one
`TRACKS.register` line.

- `content` (TF-DCon's setting): items with text, users with a fixed history, clicks grouped
  into candidate lists; NAML, NRMS, Fastformer; NDCG/Recall@K per group; canonical-bytes ratio.
- `sequential` (TD3, FOSTER; design/sequential-track.md): user sequences, leave-one-out, full
  ranking over all items (`harness.full_ranking`); SASRec, GRU4Rec trained on hard or soft
  sequences; HR/NDCG@10,20 and MRR@10; interaction-equivalents ratio.

Trainers and evaluators are imported when a cell trains: config validation imports this
module and must not load torch.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from typing import Any

from harness.dataset import Dataset
from harness.full_ranking import full_ranking_metric_names, full_ranking_reference
from harness.metrics import quality_metric_names, report_metrics
from harness.reference import reference_metrics
from harness.registry import Registry
from harness.sizes import (
    SizeReport,
    canonical_sizes,
    sequence_size_figures,
    sequence_sizes,
    size_ratio,
)
from harness.tracks import Track
from recommenders import MODELS
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.settings import TrainSettings

# the content track's learners: the recommender registry (NAML, NRMS, Fastformer)
CONTENT_LEARNERS: Registry = MODELS


def imported_when_called(target: str) -> Callable[..., Any]:
    """A callable that imports ``module:function`` on its first call and passes everything on.

    A track's trainer and evaluator import torch (seconds), and config validation imports
    this module: the tracks name them, and the import waits until a cell trains or is scored.
    """
    module_name, _, attribute = target.partition(":")

    def call(*args: Any, **kwargs: Any) -> Any:
        return getattr(importlib.import_module(module_name), attribute)(*args, **kwargs)

    call.__name__ = attribute
    call.__qualname__ = attribute
    call.__doc__ = f"`{module_name}.{attribute}`, imported when first called."
    return call


# recommenders.trainer.train_model(dataset, learner, seed, settings, *, negatives_from,
# evaluate_on, progress, on_epoch) and recommenders.evaluator.evaluate(trained, dataset, split,
# metrics): the content track's trainer and evaluator
train_content = imported_when_called("recommenders.trainer:train_model")
evaluate_content = imported_when_called("recommenders.evaluator:evaluate")


def content_metrics(dataset: Dataset) -> list[str]:
    """AUC, MRR and the dataset's NDCG@K / Recall@K."""
    return report_metrics(dataset)


def quality_metrics(names: Sequence[str]) -> list[str]:
    """The names whose metric enters Quality (by the metric registry)."""
    return quality_metric_names(names)


def content_size_figures(condensed: SizeReport, original: SizeReport) -> dict[str, float]:
    """Sizes in KB of the condensed set and its ratios to the original, per part."""
    return {
        "item_kb": condensed.item_kb,
        "user_kb": condensed.user_kb,
        "overall_kb": condensed.overall_kb,
        **size_ratio(condensed, original),
    }


CONTENT = Track(
    name="content",
    summary="items with text, users with a fixed history, candidate lists (TF-DCon's setting)",
    data_kind="content",
    learners=CONTENT_LEARNERS,
    settings=TrainSettings,
    train=train_content,
    evaluate=evaluate_content,
    metrics=content_metrics,
    quality_metrics=quality_metrics,
    reference=reference_metrics,
    sizes=canonical_sizes,
    ratio=content_size_figures,
    ratio_definition="canonical UTF-8 TSV bytes of the train set over the original's",
)


# ---- the sequential track -----------------------------------------------------------------


# the sequential track's: recommenders.sequence_trainer.train_sequential (same signature)
# and recommenders.sequence_evaluator.evaluate_sequential
train_sequential = imported_when_called("recommenders.sequence_trainer:train_sequential")
evaluate_sequential = imported_when_called("recommenders.sequence_evaluator:evaluate_sequential")


def sequential_metrics(dataset: Dataset) -> list[str]:
    """HR@K and NDCG@K for each of the dataset's cutoffs (default 10, 20), then MRR@<first>."""
    return full_ranking_metric_names(dataset)


SEQUENTIAL = Track(
    name="sequential",
    summary="user sequences, leave-one-out, full ranking over all items (TD3, FOSTER)",
    data_kind="sequential",
    learners=SEQUENTIAL_LEARNERS,
    settings=SequentialTrainSettings,
    train=train_sequential,
    evaluate=evaluate_sequential,
    metrics=sequential_metrics,
    quality_metrics=quality_metrics,
    reference=full_ranking_reference,
    sizes=sequence_sizes,
    ratio=sequence_size_figures,
    ratio_definition=(
        "interaction-equivalents (S × L for a soft set) over the original's train interactions"
    ),
    ratio_label="interaction-equivalents ratio",
    random_method="random-kxl",  # TD3's k x L shape: the same interaction-equivalents
)

TRACKS: Registry[Track] = Registry("track")
TRACKS.register(CONTENT.name, CONTENT)
TRACKS.register(SEQUENTIAL.name, SEQUENTIAL)
