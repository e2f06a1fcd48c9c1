"""A track is a protocol: the kind of data it takes, its learners, its trainer and evaluator,
its metrics (and which enter Quality), its reference floors and its ratio definition.

The runner, records, tracking, tuning, verify and the leaderboard are shared by every track
and know nothing inside one: they ask the cell's `Track` (by the name in the config and in
every record). The tracks themselves are registered where their learners live
(`recommenders.tracks.TRACKS`); this module holds only the type, so the core floor imports
nothing above it.

    Track(name="content", data_kind="content", learners=CONTENT_LEARNERS, settings=TrainSettings,
          train=train_content, evaluate=evaluate_content, metrics=content_metrics, ...)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.registry import Registry

DEFAULT_TRACK = "content"  # records written before tracks existed (schema 1) are content records


class Trained(Protocol):
    """What a track's trainer returns: a fitted learner plus how training went."""

    wall_seconds: float
    epochs_run: int
    best_epoch: int
    samples_per_second: float


class Evaluation(Protocol):
    """What a track's evaluator returns for one split."""

    metrics: Mapping[str, float]
    groups_used: int
    groups_dropped: int


# train(train_set, learner, seed, settings, *, negatives_from, evaluate_on, progress, on_epoch)
Trainer = Callable[..., Trained]
# evaluate(trained, dataset, split, metric_names) -> Evaluation
Evaluator = Callable[[Any, Dataset, str, Sequence[str]], Evaluation]


@dataclass(frozen=True)
class Track:
    """One protocol. Every callable takes plain datasets and names, never a config."""

    name: str
    summary: str
    data_kind: str  # the `Dataset.kind` it takes (`meta["kind"]`, default "content")
    learners: Registry  # learner name -> class
    settings: type  # the typed train settings (a pydantic model) its trainer reads
    train: Trainer
    evaluate: Evaluator
    metrics: Callable[[Dataset], list[str]]  # what is reported on a dataset by default
    quality_metrics: Callable[[Sequence[str]], list[str]]  # which of those enter Quality
    reference: Callable[[Dataset, Sequence[str], str], dict[str, dict[str, float]]]  # floors
    # the ratio definition: a size report of a train set, and (condensed, original) -> the
    # record's size figures (item_kb, user_kb, overall_kb, ratio_item, ratio_user, ratio_overall)
    sizes: Callable[[Dataset], Any]
    ratio: Callable[[Any, Any], dict[str, float]]
    ratio_definition: str = ""  # one line for docs and the leaderboard
    ratio_label: str = "condensation ratio"  # the leaderboard chart's x axis
    random_method: str = "random"  # the method ΔRandom compares with (at the same budget)

    def check_dataset(self, dataset: Dataset) -> None:
        """Refuse a dataset of another kind, naming both."""
        kind = dataset_kind(dataset)
        if kind != self.data_kind:
            raise ConfigError(
                f"track {self.name!r} takes {self.data_kind} data; dataset {dataset.name!r} is {kind}"
            )


def dataset_kind(dataset: Dataset) -> str:
    return str(dataset.meta.get("kind", DEFAULT_TRACK))
