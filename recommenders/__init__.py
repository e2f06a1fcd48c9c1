"""condbench recommenders: content-based models, one module each, behind one registry.

``recommenders.get("naml")`` gives the model class; ``recommenders.names()`` lists them.
Training and evaluation live in `recommenders.trainer` and `recommenders.evaluator`.
The sequential track's learners (SASRec, GRU4Rec) have their own registry,
`recommenders.sequence_learners.SEQUENTIAL_LEARNERS`, trainer and evaluator
(`recommenders.sequence_trainer`, `recommenders.sequence_evaluator`); `recommenders.tracks`
names each track's learners.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.registry import Registry

if TYPE_CHECKING:
    from recommenders.base import ContentRecommender

# registry name -> "module:Class"; a new model is one module plus one line here. Entries are
# imported when first asked for, so importing `recommenders.settings` (config validation,
# `condbench --help`) does not load torch.
MODELS: Registry[type[ContentRecommender]] = Registry("recommender", case_sensitive=False)
MODELS.register("naml", "recommenders.naml:Naml")
MODELS.register("nrms", "recommenders.nrms:Nrms")
MODELS.register("fastformer", "recommenders.fastformer:Fastformer")


def names() -> list[str]:
    return MODELS.names()


def get(name: str) -> type[ContentRecommender]:
    """The model class registered under `name` (case-insensitive)."""
    return MODELS.get(str(name))
