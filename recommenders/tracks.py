"""The registered tracks (protocols) and their learners.

`TRACKS` is the one registry of tracks; a track is one `harness.tracks.Track` value plus one
`TRACKS.register` line. `content` (TF-DCon's setting): items with text, users with a fixed
history, clicks grouped into candidate lists; NAML, NRMS, Fastformer; NDCG/Recall@K per group;
canonical-bytes ratio.
"""

from __future__ import annotations

from collections.abc import Sequence

from harness import metrics as metric_registry
from harness.dataset import Dataset
from harness.reference import reference_metrics
from harness.registry import Registry
from harness.sizes import SizeReport, canonical_sizes, size_ratio
from harness.tracks import Track
from recommenders import MODELS
from recommenders.evaluator import evaluate
from recommenders.trainer import TrainSettings, train_model

# the content track's learners: the recommender registry (NAML, NRMS, Fastformer)
CONTENT_LEARNERS: Registry = MODELS


def content_metrics(dataset: Dataset) -> list[str]:
    """AUC, MRR and the dataset's NDCG@K / Recall@K."""
    return metric_registry.report_metrics(dataset)


def quality_metrics(names: Sequence[str]) -> list[str]:
    """The names whose metric enters Quality (by the metric registry)."""
    return metric_registry.quality_metric_names(names)


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
    train=train_model,
    evaluate=evaluate,
    metrics=content_metrics,
    quality_metrics=quality_metrics,
    reference=reference_metrics,
    sizes=canonical_sizes,
    ratio=content_size_figures,
    ratio_definition="canonical UTF-8 TSV bytes of the train set over the original's",
)

TRACKS: Registry[Track] = Registry("track")
TRACKS.register(CONTENT.name, CONTENT)
