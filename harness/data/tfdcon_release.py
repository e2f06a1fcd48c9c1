"""The TF-DCon data release (GitHub Jyonn/TF-DCon): MovieLens-100K and Goodreads.

Layout: ``dataset/<ds>/content/{original,condensed,random}.npy`` (item text as WordPiece
ids), ``dataset/<ds>/interaction/<variant>/{train,dev,test}.npy`` and
``dataset/<ds>/user/history.npy``; every file a pickled dict read with `safe_npy`.

Variants: ``original`` and the release's condensed train sets ``random``, ``majority`` and
``condensed``. A variant's train split (positives only) replaces the original train; dev and
test are always the original ones and histories are shared. Item text of ``condensed`` comes
from content/condensed.npy, of ``random``/``majority`` from content/random.npy. Item text is
joined by the mid/bid column: in original.npy and random.npy the rows are not in id order.
Ranking groups are per user (group_id = user_id) in each split.

Where the public copy lacks the original train split (Goodreads), ``original`` is built as an
*evaluation reference*: the original item text, histories, dev and test, and an empty train
split (``meta["train_missing"]``). Every variant of such a dataset then draws its training
negatives by the ``catalogue`` rule (`recommenders.sampling`): uniform over the catalogue,
never the user's train positives nor any item of the user's dev or test rows; with the
original train present (MovieLens) the rule is ``original``: the user's shown-not-clicked
items of the original train split first, topped up with random items.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.fetch import RemoteFile, fetch_file
from harness.data.release_hashes import RELEASE_SHA256
from harness.data.safe_npy import load_npy
from harness.data.source import PathLike, VariantUnavailable
from harness.dataset import (
    NEGATIVES_CATALOGUE,
    NEGATIVES_ORIGINAL,
    Dataset,
    normalise_interactions,
)
from harness.errors import DataError

RELEASE_URL = "https://raw.githubusercontent.com/Jyonn/TF-DCon/main/{path}"
RELEASE_COMMIT = "c6252de"
MIRROR_FOLDER = "tfdcon-release"
RELEASE_VARIANTS = ("original", "random", "majority", "condensed")
TITLE_FIELDS = ("title", "name")  # read first when an item has several text fields
# variant -> the content file holding its item text
CONTENT_OF_VARIANT = {
    "original": "original",
    "random": "random",
    "majority": "random",
    "condensed": "condensed",
}


def release_file(path: str) -> RemoteFile:
    """The release file at `path` (relative to the repository root)."""
    return RemoteFile(
        source="tfdcon-release",
        path=path,
        url=RELEASE_URL.format(path=path),
        mirror_path=f"{MIRROR_FOLDER}/{path}",
        sha256=RELEASE_SHA256.get(path),
    )


@dataclass(frozen=True)
class TfdconRelease:
    """One dataset of the release (``folder`` under dataset/ and raw_data/)."""

    name: str
    folder: str
    item_key: str  # "mid" (MovieLens) or "bid" (Goodreads)
    description: str
    # Files of the public release that could not be copied (>= 4 MiB): no hash, not fetched.
    missing: tuple[str, ...] = ()
    variants: tuple[str, ...] = RELEASE_VARIANTS
    version: str = f"{RELEASE_COMMIT}-2"
    cutoffs: tuple[int, ...] = (1, 5)  # the paper's K on MovieLens and Goodreads

    @property
    def original_train(self) -> str:
        return f"dataset/{self.folder}/interaction/original/train.npy"

    @property
    def has_original_train(self) -> bool:
        return self.original_train not in self.missing

    @property
    def negatives(self) -> str:
        """The negative-sampling rule of every train set of this dataset (named in records)."""
        return NEGATIVES_ORIGINAL if self.has_original_train else NEGATIVES_CATALOGUE

    # ---- files ---------------------------------------------------------------------------
    def raw_paths(self) -> list[str]:
        return [p for p in RELEASE_SHA256 if p.startswith(f"raw_data/{self.folder}/")]

    def _file(self, relative: str, *, mirror: PathLike, cache: PathLike) -> Path:
        path = f"dataset/{self.folder}/{relative}"
        if path in self.missing or path not in RELEASE_SHA256:
            raise VariantUnavailable(
                f"{path} is not part of the public copy of the TF-DCon release; "
                f"variants that need it cannot be built",
                file=self.name,
            )
        return fetch_file(release_file(path), mirror=mirror, cache=cache)

    def fetch(self, *, mirror: PathLike = None, cache: PathLike = None) -> list[Path]:
        return [
            fetch_file(release_file(p), mirror=mirror, cache=cache) for p in self._needed_paths()
        ]

    def fetch_raw_data(self, *, mirror: PathLike = None, cache: PathLike = None) -> dict[str, Path]:
        """The LLM outputs in raw_data/ (content_condensation.csv, user_interest.log)."""
        return {
            Path(p).name: fetch_file(release_file(p), mirror=mirror, cache=cache)
            for p in self.raw_paths()
        }

    def _needed_paths(self) -> list[str]:
        prefix = f"dataset/{self.folder}/"
        needed = [f"{prefix}content/{c}.npy" for c in sorted(set(CONTENT_OF_VARIANT.values()))]
        needed += [f"{prefix}user/history.npy"]
        needed += [f"{prefix}interaction/original/{s}.npy" for s in ("dev", "test")]
        needed += [f"{prefix}interaction/{v}/train.npy" for v in self.variants]
        return [p for p in needed if p not in self.missing]

    # ---- conversion ----------------------------------------------------------------------
    def build(self, variant: str, *, mirror: PathLike = None, cache: PathLike = None) -> Dataset:
        if variant not in self.variants:
            raise DataError(
                f"unknown variant {variant!r}; known: {', '.join(self.variants)}", file=self.name
            )

        def read(relative: str) -> tuple[dict, str]:
            path = self._file(relative, mirror=mirror, cache=cache)
            return load_npy(path), str(path)

        items, fields = self._items(*read(f"content/{CONTENT_OF_VARIANT[variant]}.npy"))
        histories = _histories(*read("user/history.npy"))
        frames = [
            self._interactions(*read(f"interaction/original/{s}.npy"), split=s)
            for s in ("dev", "test")
        ]
        evaluation_only = variant == "original" and not self.has_original_train
        if evaluation_only:  # the reference of a release without its original train
            train = frames[0].iloc[:0].assign(split="train")
        else:
            train = self._interactions(*read(f"interaction/{variant}/train.npy"), split="train")
        meta = {
            "name": self.name,
            "variant": variant,
            "source": f"TF-DCon release (github.com/Jyonn/TF-DCon @ {RELEASE_COMMIT})",
            "version": self.version,
            "sha256": {p: RELEASE_SHA256[p] for p in self._needed_paths()},
            "item_key": self.item_key,
        }
        if evaluation_only:
            meta["train_missing"] = True
            meta["negatives_from"] = self.negatives
        if variant != "original":
            # the trainer draws a selected user's negatives from the original train split's
            # label-0 rows; where the public copy lacks that split, from the catalogue
            meta["negatives_from"] = self.negatives
            meta["parent"] = self.name
        dataset = Dataset(
            name=self.name,
            items=items,
            text_fields=fields,
            histories=histories,
            interactions=normalise_interactions(pd.concat([train, *frames], ignore_index=True)),
            meta=meta,
        )
        return dataset

    def _items(self, table: dict, source: str) -> tuple[pd.DataFrame, tuple[str, ...]]:
        if self.item_key not in table:
            raise DataError(f"missing column {self.item_key!r}", file=source)
        # a title first, as the paper reads "name and description" (Goodreads' file stores
        # desc before title); otherwise the file's order (MovieLens: name, year)
        fields = tuple(
            sorted((k for k in table if k != self.item_key), key=lambda k: k not in TITLE_FIELDS)
        )
        if not fields:
            raise DataError("no text columns", file=source)
        ids = _int_column(table, self.item_key, source)
        if len(set(ids.tolist())) != len(ids):
            dup = int(pd.Series(ids)[pd.Series(ids).duplicated()].iloc[0])
            raise DataError(f"duplicate {self.item_key} {dup}", file=source)
        frame = pd.DataFrame({"item_id": ids})
        for name in fields:
            column = table[name]
            if len(column) != len(ids):
                raise DataError(
                    f"column {name!r} has {len(column)} rows, {self.item_key} has {len(ids)}",
                    file=source,
                )
            frame[name] = [_token_list(v, source, name, row) for row, v in enumerate(column)]
        # join by the id column, never by row position: sort rows into id order
        frame = frame.sort_values("item_id", kind="stable").reset_index(drop=True)
        return frame, fields

    def _interactions(self, table: dict, source: str, *, split: str) -> pd.DataFrame:
        users = _int_column(table, "uid", source)
        items = _int_column(table, self.item_key, source)
        labels = _int_column(table, "click", source)
        if not (len(users) == len(items) == len(labels)):
            raise DataError(f"columns uid, {self.item_key}, click differ in length", file=source)
        bad = np.flatnonzero((labels != 0) & (labels != 1))
        if len(bad):
            raise DataError(
                f"click must be 0 or 1, got {labels[bad[0]]}", file=source, where=f"row {bad[0]}"
            )
        return pd.DataFrame(
            {"split": split, "user_id": users, "item_id": items, "label": labels, "group_id": users}
        )


def _int_column(table: dict, key: str, source: str) -> np.ndarray:
    if key not in table:
        raise DataError(f"missing column {key!r}", file=source)
    try:
        return np.asarray(table[key]).astype(np.int64)
    except (TypeError, ValueError):
        values = list(table[key])
        for row, value in enumerate(values):
            if not isinstance(value, (int, np.integer)):
                raise DataError(
                    f"column {key!r} holds {value!r}, expected an integer",
                    file=source,
                    where=f"row {row}",
                ) from None
        raise


def _token_list(value, source: str, column: str, row: int) -> list[int]:
    try:
        tokens = [int(t) for t in value]
    except (TypeError, ValueError):
        raise DataError(
            f"column {column!r} holds {value!r}, expected a list of token ids",
            file=source,
            where=f"row {row}",
        ) from None
    return tokens


def _histories(table: dict, source: str) -> pd.DataFrame:
    users = _int_column(table, "uid", source)
    if "history" not in table:
        raise DataError("missing column 'history'", file=source)
    histories = [_token_list(h, source, "history", row) for row, h in enumerate(table["history"])]
    return pd.DataFrame({"user_id": users, "history": histories})


MOVIELENS = TfdconRelease(
    name="movielens-tfdcon",
    folder="movielens",
    item_key="mid",
    description="MovieLens-100K as released with TF-DCon (the paper's splits, histories, test candidates)",
)
GOODREADS = TfdconRelease(
    name="goodreads-tfdcon",
    folder="goodreads",
    item_key="bid",
    description="Goodreads as released with TF-DCon (original train missing from the public copy)",
    missing=("dataset/goodreads/interaction/original/train.npy",),
    # -3: `original` builds as an evaluation reference (empty train), negatives "catalogue"
    version=f"{RELEASE_COMMIT}-3",
)
