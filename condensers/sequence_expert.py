"""The sequential track's expert: a learner (SASRec) trained on the original, cached on disk.

`kcenter` reads its user representations; TD3 and Farzi read its item table, its features
and its training checkpoints. It is trained once per (dataset fingerprint, learner, seed,
settings) with the track's one trainer (`recommenders.sequence_trainer.train_sequential`,
early stopping on the original's dev split) and stored as ``<cache root>/models/<key>.safetensors``:
the module's state dict (float tensors, never pickle) with a JSON header (learner, seed,
settings, how training went). Beside it, ``<key>.epochs.safetensors`` holds the state dict as
every epoch left it (tensor names ``epoch-007/<parameter>``): TD3 resets its learner to a
random one of them each outer epoch. The key is `harness.hashing.content_key` of those four
inputs, so a change of any of them never serves a stale model. Both files are sealed
(`harness.cache_seal`): one that fails its seal or does not load is trained again. A later call (another
condenser, another process) rebuilds the module from the settings and loads the weights
instead of training; a cache written before the per-epoch file or the seals existed is trained
again (the same bits: training is seeded) to write them.

Settings: the context's train settings when they are `SequentialTrainSettings`; anything
else (the content track's `TrainSettings`, None) means the sequential defaults.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from harness.cache_seal import read_sealed, seal
from harness.dataset import Dataset
from harness.errors import DataError
from harness.hashing import content_key
from harness.paths import atomic_write_bytes

if TYPE_CHECKING:
    from recommenders.sequence_settings import SequentialTrainSettings
    from recommenders.sequence_trainer import TrainedSequential

EXPERT_LEARNER = "sasrec"
MODELS_FOLDER = "models"
EPOCHS_SUFFIX = ".epochs.safetensors"
KEY_VERSION = 1
_TRAINING_FIELDS = ("epochs_run", "best_epoch", "epochs", "wall_seconds", "cpu_seconds",
                    "samples_per_second", "device")  # fmt: skip


def expert_settings(settings: Any) -> SequentialTrainSettings:
    """`settings` when they are sequential train settings, else the sequential defaults."""
    from recommenders.sequence_settings import SequentialTrainSettings  # no torch

    return settings if isinstance(settings, SequentialTrainSettings) else SequentialTrainSettings()


@dataclass
class SequenceExpert:
    """`learner` trained on an original dataset with `seed` and `settings`, trained once and
    cached (on disk, and in memory for this object's lifetime)."""

    cache_dir: Path
    learner: str = EXPERT_LEARNER
    seed: int = 0
    settings: Any = None
    progress: bool = True
    _loaded: dict[str, TrainedSequential] = field(default_factory=dict, repr=False)
    _epochs: dict[str, dict[int, dict[str, Any]]] = field(default_factory=dict, repr=False)

    @property
    def train_settings(self) -> SequentialTrainSettings:
        return expert_settings(self.settings)

    def cache_key(self, dataset: Dataset) -> str:
        return content_key(
            {
                "version": KEY_VERSION,
                "dataset": dataset.fingerprint(),
                "learner": self.learner.lower(),
                "seed": self.seed,
                "settings": self.train_settings.model_dump(),
            }
        )

    def path(self, dataset: Dataset) -> Path:
        return Path(self.cache_dir) / MODELS_FOLDER / f"{self.cache_key(dataset)}.safetensors"

    def epochs_path(self, dataset: Dataset) -> Path:
        return self.path(dataset).with_suffix(EPOCHS_SUFFIX)

    def trained(self, dataset: Dataset) -> TrainedSequential:
        """The expert of `dataset` (the original): from memory, from disk, or trained now."""
        key = self.cache_key(dataset)
        if key not in self._loaded:
            loaded = read_sealed(
                self.path(dataset),
                lambda path: _load(path, dataset, self.learner, self.train_settings),
                what="trained expert",
            )
            if loaded is None:
                self._train_and_save(dataset)
            else:
                self._loaded[key] = loaded
        return self._loaded[key]

    def checkpoints(self, dataset: Dataset) -> dict[int, dict[str, Any]]:
        """{epoch (1-based): the state dict (torch tensors) as that epoch of the expert's
        training left it}; trains the expert first when its per-epoch file is missing."""
        key = self.cache_key(dataset)
        if key not in self._epochs:
            states = read_sealed(self.epochs_path(dataset), _load_epochs, what="expert checkpoints")
            if states is None:
                self._train_and_save(dataset)
            else:
                self._epochs[key] = states
        return self._epochs[key]

    def _train_and_save(self, dataset: Dataset) -> None:
        key = self.cache_key(dataset)
        states: dict[int, dict[str, Any]] = {}

        def keep(epoch: int, model: Any) -> None:
            states[epoch] = {
                name: value.detach().cpu().clone() for name, value in model.state_dict().items()
            }

        trained = self._train(dataset, keep)
        _save_epochs(states, self.epochs_path(dataset))
        seal(self.epochs_path(dataset))
        _save(trained, self.path(dataset))
        seal(self.path(dataset))
        self._loaded[key], self._epochs[key] = trained, states

    def user_representations(self, dataset: Dataset, user_ids: np.ndarray) -> np.ndarray:
        """[len(user_ids), hidden]: the expert's last hidden state after each user's original
        train sequence (`recommenders.sequence_trainer.user_representations`)."""
        from recommenders.sequence_trainer import user_representations  # lazy: torch

        return user_representations(self.trained(dataset), dataset, np.asarray(user_ids))

    def _train(self, dataset: Dataset, checkpoint: Any = None) -> TrainedSequential:
        from recommenders.sequence_trainer import train_sequential  # lazy: torch

        return train_sequential(
            dataset,
            self.learner,
            self.seed,
            self.train_settings,
            evaluate_on=dataset,
            progress=self.progress,
            checkpoint=checkpoint,
        )


def _save(trained: TrainedSequential, path: Path) -> None:
    from safetensors.torch import save  # lazy: torch

    # clones: tied or shared weights must not share storage in a safetensors file
    tensors = {
        name: value.detach().cpu().clone().contiguous()
        for name, value in trained.model.state_dict().items()
    }
    header = {
        "learner": trained.learner,
        "seed": str(trained.seed),
        "settings": json.dumps(trained.settings.model_dump(), sort_keys=True),
        "training": json.dumps(
            {name: getattr(trained, name) for name in _TRAINING_FIELDS}, default=float
        ),
    }
    atomic_write_bytes(path, save(tensors, metadata=header))


def _epoch_prefix(epoch: int) -> str:
    return f"epoch-{epoch:03d}/"


def _save_epochs(states: dict[int, dict[str, Any]], path: Path) -> None:
    from safetensors.torch import save  # lazy: torch

    tensors = {
        _epoch_prefix(epoch) + name: value.contiguous()
        for epoch, state in states.items()
        for name, value in state.items()
    }
    atomic_write_bytes(path, save(tensors, metadata={"epochs": json.dumps(sorted(states))}))


def _load_epochs(path: Path) -> dict[int, dict[str, Any]]:
    from safetensors import safe_open  # lazy: torch

    try:
        with safe_open(str(path), framework="pt") as handle:
            epochs = json.loads((handle.metadata() or {})["epochs"])
            states = {
                int(epoch): {
                    name.removeprefix(_epoch_prefix(epoch)): handle.get_tensor(name)
                    for name in handle.keys()  # noqa: SIM118
                    if name.startswith(_epoch_prefix(epoch))
                }
                for epoch in epochs
            }
    except Exception as exc:  # OSError, a bad header, safetensors' own error type
        raise DataError(f"not expert checkpoints ({exc})", file=str(path)) from None
    return states


def _load(
    path: Path, dataset: Dataset, learner: str, settings: SequentialTrainSettings
) -> TrainedSequential:
    """Rebuild the learner from `settings` and load the stored weights into it."""
    from safetensors import safe_open

    from recommenders.evaluator import resolve_device
    from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
    from recommenders.sequence_trainer import TrainedSequential

    try:
        with safe_open(str(path), framework="pt") as handle:
            header = handle.metadata() or {}
            state = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        training = json.loads(header["training"])
    except Exception as exc:  # OSError, a bad header, safetensors' own error type
        raise DataError(f"not a trained expert ({exc})", file=str(path)) from None
    learner_class = SEQUENTIAL_LEARNERS.get(learner)
    settings = learner_class.resolve_settings(settings)
    vectors = state["text_vectors"].numpy() if "text_vectors" in state else None
    tokens = None
    if settings.text_top_layer:
        from recommenders.sequence_items import text_token_states

        tokens = text_token_states(dataset)
    model = learner_class(dataset.num_items, settings, vectors, tokens)
    try:
        model.load_state_dict(state)
    except RuntimeError as exc:
        raise DataError(f"does not fit {learner} ({exc})", file=str(path)) from None
    model.to(resolve_device(settings.device)).eval()
    return TrainedSequential(
        model=model,
        learner=learner_class.name,
        seed=int(header.get("seed", 0)),
        settings=settings,
        item_ids=dataset.items["item_id"].to_numpy(np.int64),
        **{name: training[name] for name in _TRAINING_FIELDS},
    )
