"""Train sequences of the sequential track: hard (item ids in order) and soft (S × L
distributions over items).

A sequential dataset (``meta["kind"] == "sequential"``) keeps the common `Dataset` tables:

- **hard sequences** live in the train split: the rows of one sequence share ``group_id``
  (a user's own sequence: the user id), in row order, which is time order (the original's
  train rows are in global time order, so "the last x% of interactions" are its last rows);
  every train row has label 1. `hard_sequences` reads them.
- ``histories`` hold each user's ORIGINAL train sequence, in order: the context dev and test
  predictions read (test also reads the dev item), and the items full ranking masks.
- dev and test hold one target row per user (label 1, ``group_id`` the user).
- a **soft set** is a `SoftSequences` in ``Dataset.soft`` and an empty train split:
  S sequences of L positions, each a distribution over all items, stored as float32
  tensors in ``soft.safetensors`` (never pickle), densely or by a method's factors: TD3's
  Tucker factors ("tucker") or Farzi Data's latent sequences and decoder ("latent").

`train_kind` says which one a train set is; `interaction_equivalents` is what the track's
ratio counts (S × L for a soft set, the train rows for a hard one).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from harness.errors import DataError

if TYPE_CHECKING:
    from harness.dataset import Dataset

SEQUENTIAL_KIND = "sequential"
HARD, SOFT = "hard", "soft"
SOFT_FILE = "soft.safetensors"
DENSE, TUCKER, LATENT = "dense", "tucker", "latent"
# the tensors each form stores; P is computed from them by `SoftSequences.probs`
FORM_TENSORS: dict[str, tuple[str, ...]] = {
    DENSE: ("probs",),  # P [S, L, n_items], rows sum to 1
    TUCKER: ("core", "users", "positions", "items"),  # G [d1,d2,h], U [S,d1], T [L,d2], V [n,h]
    LATENT: ("latent", "decoder"),  # Farzi: E [S, L, d], D [d, n_items]
}


@dataclass(frozen=True)
class SoftSequences:
    """S soft sequences of length L over n items: ``probs()[s, l]`` is a distribution.

    ``form`` "dense" stores P itself; "tucker" stores TD3's factors and P =
    softmax(einsum("ijk,ai,bj,ck->abc", G, U, T, V)) over items; "latent" stores Farzi
    Data's parameterisation, a latent sequence summary E [S, L, d] and a decoder D
    [d, n_items], and P = softmax(E @ D) over items. ``frozen`` names tensors the method did
    not learn (TD3's V is the frozen item table of a pretrained SASRec): the record counts
    bytes with and without them.
    """

    form: str
    tensors: dict[str, np.ndarray]
    frozen: tuple[str, ...] = ()
    meta: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.form not in FORM_TENSORS:
            raise DataError(
                f"soft sequences: unknown form {self.form!r}; known: {sorted(FORM_TENSORS)}"
            )
        wanted = FORM_TENSORS[self.form]
        missing = [name for name in wanted if name not in self.tensors]
        extra = [name for name in self.tensors if name not in wanted]
        if missing or extra:
            raise DataError(
                f"soft sequences ({self.form}): tensors {sorted(self.tensors)}, expected {list(wanted)}"
            )
        unknown_frozen = [name for name in self.frozen if name not in wanted]
        if unknown_frozen:
            raise DataError(f"soft sequences: frozen names unknown tensor {unknown_frozen[0]!r}")
        converted = {}
        for name in wanted:
            array = np.ascontiguousarray(self.tensors[name], dtype=np.float32)
            if not np.isfinite(array).all():
                raise DataError(f"soft sequences: tensor {name!r} holds NaN or infinity")
            converted[name] = array
        object.__setattr__(self, "tensors", converted)
        self._check_shapes()

    def _check_shapes(self) -> None:
        t = self.tensors
        if self.form == DENSE:
            if t["probs"].ndim != 3:
                raise DataError(
                    f"soft sequences: probs must be [S, L, items], got {t['probs'].shape}"
                )
            if (t["probs"] < 0).any():
                raise DataError("soft sequences: probs must not be negative")
            sums = t["probs"].sum(axis=-1, dtype=np.float64)
            if not np.allclose(sums, 1.0, atol=1e-3):
                raise DataError("soft sequences: every position of probs must sum to 1 over items")
            return
        if self.form == LATENT:
            latent, decoder = t["latent"], t["decoder"]
            if latent.ndim != 3 or decoder.ndim != 2 or latent.shape[2] != decoder.shape[0]:
                raise DataError(
                    f"soft sequences (latent): latent is [S, L, d] and decoder [d, items]; "
                    f"got latent {latent.shape}, decoder {decoder.shape}"
                )
            return
        core, users, positions, items = t["core"], t["users"], t["positions"], t["items"]
        if core.ndim != 3 or users.ndim != 2 or positions.ndim != 2 or items.ndim != 2:
            raise DataError(
                "soft sequences (tucker): core is [d1,d2,h], users [S,d1], positions [L,d2], items [n,h]"
            )
        d1, d2, hidden = core.shape
        if users.shape[1] != d1 or positions.shape[1] != d2 or items.shape[1] != hidden:
            raise DataError(
                f"soft sequences (tucker): shapes do not chain: core {core.shape}, users {users.shape}, "
                f"positions {positions.shape}, items {items.shape}"
            )

    # ---- views -------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        """(S sequences, L positions, n items)."""
        t = self.tensors
        if self.form == DENSE:
            return tuple(int(v) for v in t["probs"].shape)  # type: ignore[return-value]
        if self.form == LATENT:
            sequences, length, _ = t["latent"].shape
            return (int(sequences), int(length), int(t["decoder"].shape[1]))
        return (len(t["users"]), len(t["positions"]), len(t["items"]))

    @property
    def interaction_equivalents(self) -> int:
        sequences, length, _ = self.shape
        return sequences * length

    def probs(self) -> np.ndarray:
        """P [S, L, n_items], float32, each position a distribution over items."""
        t = self.tensors
        if self.form == DENSE:
            return t["probs"]
        if self.form == LATENT:  # float64 maths, as the tucker branch's softmax
            logits = t["latent"].astype(np.float64) @ t["decoder"].astype(np.float64)
        else:
            logits = np.einsum(
                "ijk,ai,bj,ck->abc", t["core"], t["users"], t["positions"], t["items"],
                optimize=True,
            ).astype(np.float64)  # fmt: skip
        logits -= logits.max(axis=-1, keepdims=True)
        weights = np.exp(logits)
        return (weights / weights.sum(axis=-1, keepdims=True)).astype(np.float32)

    def stored_bytes(self, *, with_frozen: bool = False) -> int:
        """Bytes of the tensors as stored (float32), without the frozen ones unless asked."""
        return sum(
            int(a.nbytes)
            for name, a in self.tensors.items()
            if with_frozen or name not in self.frozen
        )

    def dense_bytes(self) -> int:
        """Bytes of P written out densely as float32."""
        sequences, length, items = self.shape
        return sequences * length * items * 4

    def digest(self) -> str:
        """sha256 over form, frozen names, and every tensor's name, shape and bytes."""
        h = hashlib.sha256(json.dumps([self.form, list(self.frozen)]).encode())
        for name in FORM_TENSORS[self.form]:
            array = self.tensors[name]
            h.update(f"{name}:{array.shape}".encode())
            h.update(array.tobytes())
        return h.hexdigest()

    # ---- storage -----------------------------------------------------------------------
    def save(self, folder: Path) -> Path:
        from safetensors.numpy import save_file  # lazy: only soft sets need it

        path = Path(folder) / SOFT_FILE
        header = {"form": self.form, "frozen": json.dumps(list(self.frozen)),
                  "meta": json.dumps(self.meta, sort_keys=True, default=str)}  # fmt: skip
        save_file(dict(self.tensors), str(path), metadata=header)
        return path

    @classmethod
    def load(cls, folder: Path) -> SoftSequences:
        from safetensors import safe_open  # lazy: only soft sets need it

        path = Path(folder) / SOFT_FILE
        try:
            with safe_open(str(path), framework="numpy") as handle:
                header = handle.metadata() or {}
                tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
        except Exception as exc:  # OSError, or safetensors' own error type for a bad header
            raise DataError(f"unreadable soft sequences: {exc}", file=str(path)) from None
        # the header's `frozen` is a JSON list of tensor names and `meta` a JSON object, as
        # `save` writes them; anything else (unreadable JSON included) is refused by name
        frozen, meta = _header_json(header, "frozen", "[]"), _header_json(header, "meta", "{}")
        if not isinstance(frozen, list) or not all(isinstance(n, str) for n in frozen):
            raise DataError(
                f"soft-sequence header 'frozen' must be a JSON list of tensor names, "
                f"got {header.get('frozen')!r}",
                file=str(path),
            )
        if not isinstance(meta, dict):
            raise DataError(
                f"soft-sequence header 'meta' must be a JSON object, got {header.get('meta')!r}",
                file=str(path),
            )
        try:
            return cls(
                form=header.get("form", ""), tensors=tensors, frozen=tuple(frozen), meta=meta
            )
        except DataError as exc:
            raise DataError(str(exc), file=str(path)) from None


def _header_json(header: dict, key: str, default: str) -> object:
    """The JSON value of a safetensors header entry; None when it is no JSON."""
    try:
        return json.loads(header.get(key, default))
    except (json.JSONDecodeError, TypeError):
        return None


# ---- hard sequences ------------------------------------------------------------------------


def is_sequential(dataset: Dataset) -> bool:
    return dataset.meta.get("kind") == SEQUENTIAL_KIND


def train_kind(dataset: Dataset) -> str:
    """ "soft" when the train set is a `SoftSequences`, else "hard"."""
    return SOFT if dataset.soft is not None else HARD


def hard_sequences(dataset: Dataset) -> tuple[np.ndarray, list[np.ndarray]]:
    """(sequence ids, item ids of each sequence in order) of the train split.

    Sequences are in order of first appearance; items in row order.
    """
    train = dataset.split("train")
    if train.empty:
        return np.zeros(0, dtype=np.int64), []
    codes, ids = pd.factorize(train["group_id"], sort=False)
    order = np.argsort(codes, kind="stable")
    items = train["item_id"].to_numpy(np.int64)[order]
    bounds = np.cumsum(np.bincount(codes, minlength=len(ids)))[:-1]
    return np.asarray(ids, dtype=np.int64), np.split(items, bounds)


def sequences_frame(
    sequences: list[np.ndarray] | list[list[int]], owners: np.ndarray
) -> pd.DataFrame:
    """Train rows (user_id, item_id, label 1, group_id) of hard sequences, one per owner,
    in sequence order: what `Dataset.with_train` takes for a hard set."""
    owners = np.asarray(owners, dtype=np.int64)
    if len(owners) != len(sequences):
        raise ValueError("one owner per sequence")
    lengths = np.fromiter((len(s) for s in sequences), dtype=np.int64, count=len(sequences))
    items = (
        np.concatenate([np.asarray(s, dtype=np.int64) for s in sequences])
        if len(sequences)
        else np.zeros(0, dtype=np.int64)
    )
    users = np.repeat(owners, lengths)
    return pd.DataFrame({"user_id": users, "item_id": items, "label": 1, "group_id": users})


def interaction_equivalents(dataset: Dataset) -> int:
    """What the sequential ratio counts: S × L for a soft set, the train rows for a hard one."""
    if dataset.soft is not None:
        return dataset.soft.interaction_equivalents
    return int((dataset.interactions["split"] == "train").sum())


def sequence_count(dataset: Dataset) -> int:
    """Sequences of the train set: S for a soft set, distinct group ids for a hard one."""
    if dataset.soft is not None:
        return dataset.soft.shape[0]
    train = dataset.interactions[dataset.interactions["split"] == "train"]
    return int(train["group_id"].nunique())
