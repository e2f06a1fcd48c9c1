"""What a condenser may use besides the dataset: LLM, sentence encoder, user embeddings, and
(sequential track) an expert SASRec trained on the original and its user representations.

Everything heavy is created on first use, so `original` or `random` never load a model.
Each part can be handed in ready-made (tests, another harness), else it is built from the
context's settings. The context also times the stages of a run (`stage`) and passes a
method's per-step figures (a distillation's outer loss and dev metrics per epoch) to the
cell's tracking run (`report`).

A method that evaluates its own train set by its own recipe (TD3's warm-started learners)
puts the figures on the returned dataset's ``meta[EXTRA_EVALUATIONS]``: ``{key: {"label":
str, "description": str, "split": "test", "metrics": {name: float}}}``. The record keeps
them (`leaderboard.record.ExtraEvaluation`) and the method's entry page shows them,
labelled, never ranked.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from condensers.llm import ClientSettings, ReplayTable, make_client
from condensers.sequence_expert import EXPERT_LEARNER, SequenceExpert
from condensers.text_embeddings import CachedPooledEmbeddings
from condensers.user_embeddings import RecommenderUserEmbeddings
from harness.data import load_dataset, release_llm_outputs
from harness.dataset import Dataset
from harness.paths import cache_root
from recommenders.encoders import SentenceEncoder

UserEmbeddingProvider = Callable[[Dataset, np.ndarray], np.ndarray]
# (original dataset, user ids) -> one representation row per user, in that order
SequenceRepresentationProvider = Callable[[Dataset, np.ndarray], np.ndarray]
# (group, {name: value}, step) -> None: where `CondenseContext.report` sends a method's figures
MetricsSink = Callable[[str, Mapping[str, float], int], None]
# the key of a condensed set's meta holding the method's own evaluations (module doc)
EXTRA_EVALUATIONS = "extra_evaluations"


@dataclass
class CondenseContext:
    """Lazy access to the LLM client, the sentence encoder and the user embeddings z_u.

    - ``llm_spec``: "replay" (recorded outputs, e.g. the release's gpt-3.5 text), "local",
      or "openai:MODEL@URL"; see `condensers.llm.make_client`.
    - ``llm_settings``: how the client talks to its backend (`condensers.llm.ClientSettings`:
      deadline, retries, concurrency); None: the defaults.
    - ``mirror``: the data mirror for release files (default: $CONDBENCH_MIRROR).
    - ``recommender``/``seed``/``train_settings``: the model trained on Original whose user
      encoder gives z_u (cached under ``<cache>/embeddings``).
    - ``sequence_learner``/``seed``/``train_settings``: the sequential expert trained on
      Original (`condensers.sequence_expert`, cached under ``<cache>/models``); content
      `TrainSettings` in ``train_settings`` mean the sequential defaults.
    - ``metrics_sink``: where `report` sends per-step figures (the grid runner logs them to
      the cell's MLflow run); None: `report` does nothing.
    """

    cache_dir: Path | None = None
    mirror: Path | None = None
    llm_spec: str = "replay"
    llm_settings: ClientSettings | None = None
    recommender: str = "naml"
    seed: int = 0
    train_settings: Any = None
    progress: bool = True
    llm_client: Any = None
    sentence_encoder: SentenceEncoder | None = None
    user_embedding_provider: UserEmbeddingProvider | None = None
    sequence_learner: str = EXPERT_LEARNER
    expert: SequenceExpert | None = None
    sequence_representation_provider: SequenceRepresentationProvider | None = None
    timings: dict[str, float] = field(default_factory=dict)
    metrics_sink: MetricsSink | None = None
    _own_encoder: bool = field(default=False, init=False, repr=False)  # made by `encoder`

    def __post_init__(self) -> None:
        self.cache_dir = cache_root(self.cache_dir)

    def load_variant(self, name: str, variant: str):
        """A variant of a registered dataset from the data layer (mirror and cache of ctx)."""
        return load_dataset(name, variant=variant, mirror=self.mirror, cache=self.cache_dir)

    # ---- parts -------------------------------------------------------------------------
    def llm(self, dataset_name: str) -> Any:
        """The LLM client (created on first use). Replay answers from the release's outputs."""
        if self.llm_client is None:
            replay = None
            if self.llm_spec == "replay":
                replay = ReplayTable.from_release(
                    dataset_name,
                    release_llm_outputs(dataset_name, mirror=self.mirror, cache=self.cache_dir),
                )
            self.llm_client = make_client(
                self.llm_spec,
                cache_dir=Path(self.cache_dir) / "llm",
                replay=replay,
                settings=self.llm_settings,
            )
        return self.llm_client

    def encoder(self) -> SentenceEncoder:
        if self.sentence_encoder is None:
            self.sentence_encoder = SentenceEncoder()
            self._own_encoder = True
        return self.sentence_encoder

    def pooled_text_embeddings(self, groups: list[list[str]]) -> np.ndarray:
        """The sentence encoder's `pooled(groups)` (TF-DCon's e_u). The context's own encoder's
        are cached on disk by content (`condensers.text_embeddings`: each seed's condensation
        encodes the same interests); a handed-in encoder (tests) answers as it is."""
        encoder = self.encoder()
        if not self._own_encoder:
            return encoder.pooled(groups)
        return CachedPooledEmbeddings(Path(self.cache_dir), encoder).pooled(groups)

    def user_embeddings(self, dataset: Dataset, user_ids: np.ndarray) -> np.ndarray:
        """z_u for `user_ids`, rows in that order."""
        if self.user_embedding_provider is None:
            self.user_embedding_provider = RecommenderUserEmbeddings(
                cache_dir=Path(self.cache_dir),
                model_name=self.recommender,
                seed=self.seed,
                settings=self.train_settings,
                progress=self.progress,
            )
        return np.asarray(
            self.user_embedding_provider(dataset, np.asarray(user_ids)), dtype=np.float64
        )

    def sequence_expert(self, learner: str | None = None) -> SequenceExpert:
        """The sequential expert (created on first use; trains on first `trained` call);
        with `learner`, the expert of that learner (FOSTER's reads item text) with the same
        cache, seed and settings."""
        if learner is not None and learner.lower() != self.sequence_learner.lower():
            base = self.sequence_expert()
            return SequenceExpert(cache_dir=base.cache_dir, learner=learner, seed=base.seed,
                                  settings=base.settings, progress=base.progress)  # fmt: skip
        if self.expert is None:
            self.expert = SequenceExpert(
                cache_dir=Path(self.cache_dir),
                learner=self.sequence_learner,
                seed=self.seed,
                settings=self.train_settings,
                progress=self.progress,
            )
        return self.expert

    def sequence_representations(self, dataset: Dataset, user_ids: np.ndarray) -> np.ndarray:
        """The expert's representation of each of `user_ids` (rows in that order), read from
        the original `dataset`; a ready-made provider (tests) answers instead when given."""
        if self.sequence_representation_provider is None:
            self.sequence_representation_provider = self.sequence_expert().user_representations
        return np.asarray(
            self.sequence_representation_provider(dataset, np.asarray(user_ids)), dtype=np.float64
        )

    def llm_stats(self) -> dict[str, Any]:
        """The LLM client's call counts, or {} when no LLM was used."""
        return dict(self.llm_client.stats()) if self.llm_client is not None else {}

    # ---- figures and timing ------------------------------------------------------------
    def report(self, group: str, metrics: Mapping[str, float], step: int) -> None:
        """Send one step's figures (e.g. group "distill", {"outer_loss": ..., "dev_NDCG@10":
        ...}, the epoch) to the sink; a no-op without one."""
        if self.metrics_sink is not None:
            self.metrics_sink(group, {name: float(v) for name, v in metrics.items()}, int(step))

    @contextlib.contextmanager
    def stage(self, name: str) -> Iterator[None]:
        """Add the wall time of the block to ``timings[name]`` (seconds)."""
        start = time.perf_counter()
        try:
            yield
        finally:
            self.timings[name] = self.timings.get(name, 0.0) + time.perf_counter() - start
