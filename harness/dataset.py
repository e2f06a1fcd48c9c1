"""The one representation of a dataset and of a condensed train set.

Every dataset and every condensed set is a `Dataset`:

- ``items``: ``item_id`` (int64) and one column per text field, each a list of
  bert-base-uncased WordPiece token ids (what the recommenders read). ``text_fields``
  names those columns in the order the models concatenate them.
- ``histories``: ``user_id`` (int64) and ``history`` (list of item ids): the fixed click
  history the user encoder reads.
- ``interactions``: ``split`` (train/dev/test), ``user_id``, ``item_id``, ``label``
  (1 clicked, 0 shown and not clicked) and ``group_id`` (the ranking group: an impression
  where the data has impressions, else the user).

A condensed set has the same schema: its ``train`` split (and possibly ``items`` and
``histories``) differ; ``dev`` and ``test`` are always the original ones. Datasets are
stored as Parquet plus a ``manifest.json``.

A sequential dataset (``meta["kind"] == "sequential"``) uses the same tables with the
conventions of `harness.sequences` (train rows of one sequence share ``group_id``, in row
order; ``histories`` are the original train sequences); a soft train set is ``soft`` (a
`harness.sequences.SoftSequences`, saved as ``soft.safetensors``) with an empty train split.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from harness.cache_seal import seal
from harness.errors import DataError
from harness.paths import atomic_dir
from harness.sequences import SOFT_FILE, SoftSequences

SPLITS = ("train", "dev", "test")
# How a train set's negatives are drawn (``meta["negatives_from"]``, named in its records):
# "original": the user's shown-not-clicked rows of the original train split, then random items;
# "catalogue": uniform over the catalogue, never the user's train positives, dev or test items
# (a dataset published without its original train split, e.g. the TF-DCon release's Goodreads).
NEGATIVES_ORIGINAL = "original"
NEGATIVES_CATALOGUE = "catalogue"
INTERACTION_COLUMNS = ("split", "user_id", "item_id", "label", "group_id")
SCHEMA_VERSION = 1


@dataclass
class Dataset:
    name: str
    items: pd.DataFrame
    text_fields: tuple[str, ...]
    histories: pd.DataFrame
    interactions: pd.DataFrame
    meta: dict = field(default_factory=dict)
    soft: SoftSequences | None = None  # a soft synthetic train set (sequential track)

    # ---- views -------------------------------------------------------------------------
    def fingerprint(self) -> str:
        """sha256 over the dataset's content (items, text, histories, interactions), not its
        name or meta: the key of every cache built from this dataset."""
        digest = hashlib.sha256()
        digest.update(json.dumps(list(self.text_fields)).encode())
        digest.update(_int_column_bytes(self.items["item_id"]))
        for text_field in self.text_fields:
            digest.update(_ragged_bytes(self.items[text_field]))
        digest.update(_int_column_bytes(self.histories["user_id"]))
        digest.update(_ragged_bytes(self.histories["history"]))
        digest.update(pd.util.hash_pandas_object(self.interactions, index=False).to_numpy().tobytes())
        if self.soft is not None:  # absent for hard sets: their fingerprints are unchanged
            digest.update(self.soft.digest().encode())
        return digest.hexdigest()

    def split(self, name: str) -> pd.DataFrame:
        if name not in SPLITS:
            raise ValueError(f"unknown split {name!r}; expected one of {SPLITS}")
        frame = self.interactions[self.interactions["split"] == name]
        return frame.reset_index(drop=True)

    @property
    def variant(self) -> str:
        return str(self.meta.get("variant", "original"))

    @property
    def num_items(self) -> int:
        return len(self.items)

    def history_of(self) -> dict[int, list[int]]:
        """user id -> fixed click history (item ids)."""
        return dict(
            zip(self.histories["user_id"].tolist(), self.histories["history"].tolist(), strict=True)
        )

    def with_train(
        self,
        train: pd.DataFrame,
        *,
        variant: str,
        items: pd.DataFrame | None = None,
        histories: pd.DataFrame | None = None,
        meta: dict | None = None,
        soft: SoftSequences | None = None,
    ) -> Dataset:
        """A condensed set: this dataset with its train split (and maybe items/histories) replaced.

        Dev and test stay the original ones. ``soft`` is the set's soft sequences (a soft set
        passes an empty `train`); a set without it holds none. ``histories`` replaces the rows of the users it
        names and keeps every other user's (dev/test users still need theirs).
        """
        train = train.copy()
        train["split"] = "train"
        if "group_id" not in train:
            train["group_id"] = train["user_id"]
        keep = self.interactions[self.interactions["split"] != "train"]
        interactions = pd.concat([train[list(INTERACTION_COLUMNS)], keep], ignore_index=True)
        new_histories = self.histories
        if histories is not None:
            rest = self.histories[~self.histories["user_id"].isin(histories["user_id"])]
            new_histories = pd.concat([histories, rest], ignore_index=True)
        new_meta = {**self.meta, "variant": variant, "parent": self.meta.get("name", self.name)}
        new_meta.update(meta or {})
        return replace(
            self,
            items=self.items if items is None else items,
            histories=new_histories,
            interactions=normalise_interactions(interactions),
            meta=new_meta,
            soft=soft,
        )

    # ---- checks ------------------------------------------------------------------------
    def validate(self, source: str | None = None) -> None:
        """Raise one `DataError` naming the table and the row/key of the first problem."""
        src = source or self.name
        for col in ("item_id", *self.text_fields):
            if col not in self.items:
                raise DataError(f"missing column {col!r}", file=f"{src}:items")
        if self.items["item_id"].duplicated().any():
            dup = int(self.items.loc[self.items["item_id"].duplicated(), "item_id"].iloc[0])
            raise DataError(f"duplicate item id {dup}", file=f"{src}:items")
        for col in ("user_id", "history"):
            if col not in self.histories:
                raise DataError(f"missing column {col!r}", file=f"{src}:histories")
        for col in INTERACTION_COLUMNS:
            if col not in self.interactions:
                raise DataError(f"missing column {col!r}", file=f"{src}:interactions")
        known = set(self.items["item_id"].tolist())
        unknown = ~self.interactions["item_id"].isin(known)
        if unknown.any():
            row = int(np.flatnonzero(unknown.to_numpy())[0])
            bad = int(self.interactions["item_id"].iloc[row])
            raise DataError(
                f"unknown item id {bad}", file=f"{src}:interactions", where=f"row {row}"
            )
        bad_split = ~self.interactions["split"].isin(SPLITS)
        if bad_split.any():
            row = int(np.flatnonzero(bad_split.to_numpy())[0])
            raise DataError(
                f"unknown split {self.interactions['split'].iloc[row]!r}",
                file=f"{src}:interactions",
                where=f"row {row}",
            )
        bad_label = ~self.interactions["label"].isin((0, 1))
        if bad_label.any():
            row = int(np.flatnonzero(bad_label.to_numpy())[0])
            raise DataError("label must be 0 or 1", file=f"{src}:interactions", where=f"row {row}")
        for row, hist in enumerate(self.histories["history"].tolist()):
            missing = [i for i in hist if i not in known]
            if missing:
                raise DataError(
                    f"history names unknown item id {missing[0]}",
                    file=f"{src}:histories",
                    where=f"row {row}, user {int(self.histories['user_id'].iloc[row])}",
                )
        if self.soft is not None and self.soft.shape[2] != self.num_items:
            raise DataError(
                f"soft sequences range over {self.soft.shape[2]} items, the item table has {self.num_items}",
                file=f"{src}:soft",
            )
        with_history = set(self.histories["user_id"].tolist())
        lacking = ~self.interactions["user_id"].isin(with_history)
        if lacking.any():
            row = int(np.flatnonzero(lacking.to_numpy())[0])
            user = int(self.interactions["user_id"].iloc[row])
            raise DataError(
                f"user {user} has no history", file=f"{src}:interactions", where=f"row {row}"
            )

    # ---- storage -----------------------------------------------------------------------
    def save(self, folder: str | Path, *, sealed: bool = False, inputs: dict | None = None) -> Path:
        """Write Parquet tables and a manifest; atomic: a crash leaves no half-written folder.

        `sealed`: a cache entry, sealed last with `inputs` (`harness.cache_seal`)."""
        folder = Path(folder)
        with atomic_dir(folder) as tmp:
            pq.write_table(_items_table(self.items, self.text_fields), tmp / "items.parquet")
            pq.write_table(_histories_table(self.histories), tmp / "histories.parquet")
            pq.write_table(
                pa.Table.from_pandas(
                    self.interactions[list(INTERACTION_COLUMNS)], preserve_index=False
                ),
                tmp / "interactions.parquet",
            )
            manifest = {
                "schema_version": SCHEMA_VERSION,
                "name": self.name,
                "text_fields": list(self.text_fields),
                "meta": self.meta,
            }
            if self.soft is not None:
                self.soft.save(tmp)
                manifest["soft"] = {"file": SOFT_FILE, "form": self.soft.form,
                                    "shape": list(self.soft.shape)}  # fmt: skip
            (tmp / "manifest.json").write_text(
                json.dumps(manifest, indent=2, sort_keys=True, default=str)
            )
            if sealed:
                seal(tmp, inputs)
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> Dataset:
        folder = Path(folder)
        manifest_path = folder / "manifest.json"
        if not manifest_path.is_file():
            raise DataError("not a condbench dataset folder (no manifest.json)", file=str(folder))
        try:
            manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise DataError(f"unreadable manifest: {exc}", file=str(manifest_path)) from None
        if manifest.get("schema_version") != SCHEMA_VERSION:
            raise DataError(
                f"schema version {manifest.get('schema_version')!r}, expected {SCHEMA_VERSION}",
                file=str(manifest_path),
            )
        tables = {}
        for part in ("items", "histories", "interactions"):
            path = folder / f"{part}.parquet"
            try:
                tables[part] = pq.read_table(path).to_pandas()
            except (OSError, pa.ArrowException) as exc:
                raise DataError(f"unreadable table: {exc}", file=str(path)) from None
        items = tables["items"]
        fields = tuple(manifest["text_fields"])
        for col in fields:
            items[col] = items[col].map(list)
        histories = tables["histories"]
        histories["history"] = histories["history"].map(list)
        return cls(
            name=manifest["name"],
            items=items,
            text_fields=fields,
            histories=histories,
            interactions=normalise_interactions(tables["interactions"]),
            meta=manifest.get("meta", {}),
            soft=SoftSequences.load(folder) if manifest.get("soft") else None,
        )


def normalise_interactions(frame: pd.DataFrame) -> pd.DataFrame:
    """Column order and dtypes every consumer can rely on. No copy of its own: pandas
    copies on write, so `frame` and the result never change each other (MIND-large's
    97 million rows: a second copy was 3 GB of the conversion's peak)."""
    out = frame[list(INTERACTION_COLUMNS)]
    out["split"] = out["split"].astype(str)
    for col in ("user_id", "item_id", "group_id"):
        out[col] = out[col].astype("int64")
    out["label"] = out["label"].astype("int8")
    return out.reset_index(drop=True)


def _items_table(items: pd.DataFrame, fields: tuple[str, ...]) -> pa.Table:
    columns = {"item_id": pa.array(items["item_id"].astype("int64").to_numpy())}
    for col in fields:
        columns[col] = pa.array([list(map(int, v)) for v in items[col]], type=pa.list_(pa.int32()))
    extra = [c for c in items.columns if c not in columns]
    for col in extra:
        columns[col] = pa.array(items[col].tolist())
    return pa.table(columns)


def _histories_table(histories: pd.DataFrame) -> pa.Table:
    return pa.table(
        {
            "user_id": pa.array(histories["user_id"].astype("int64").to_numpy()),
            "history": pa.array(
                [list(map(int, h)) for h in histories["history"]], type=pa.list_(pa.int64())
            ),
        }
    )


def _int_column_bytes(column: pd.Series) -> bytes:
    return np.asarray(column, dtype=np.int64).tobytes()


def _ragged_bytes(column: pd.Series) -> bytes:
    lists = column.tolist()
    lengths = np.fromiter((len(v) for v in lists), dtype=np.int64, count=len(lists))
    flat = np.fromiter((int(t) for v in lists for t in v), dtype=np.int64, count=int(lengths.sum()))
    return lengths.tobytes() + flat.tobytes()
