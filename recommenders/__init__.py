"""condbench recommenders: content-based models, one module each, behind one registry.

``recommenders.get("naml")`` gives the model class; ``recommenders.names()`` lists them.
Training and evaluation live in `recommenders.trainer` and `recommenders.evaluator`.
"""

from __future__ import annotations

from harness.errors import ConfigError
from recommenders.base import ContentRecommender
from recommenders.fastformer import Fastformer
from recommenders.naml import Naml
from recommenders.nrms import Nrms

# registry name -> model class; a new model is one module plus one line here
MODELS: dict[str, type[ContentRecommender]] = {
    Naml.name: Naml,
    Nrms.name: Nrms,
    Fastformer.name: Fastformer,
}


def names() -> list[str]:
    return sorted(MODELS)


def get(name: str) -> type[ContentRecommender]:
    """The model class registered under `name` (case-insensitive)."""
    model = MODELS.get(str(name).lower())
    if model is None:
        raise ConfigError(f"unknown recommender {name!r}; known: {', '.join(names())}")
    return model
