"""The one protocol of every sequential dataset: events in, a `Dataset` of kind "sequential" out.

Every sequential source (the registered ``ml-100k-seq``, the RecBole and Amazon loaders of
`condbench data import`) hands `build_sequential` a `SequentialEvents`: an event table
(``user``, ``item``, ``timestamp``, ``row`` = the event's position in its source file) and an
item table (``item``, ``text``). The builder follows `design/sequential-track.md`:

- **implicit**: every event is an interaction (a rating's value is not read).
- **one k-core pass** (k = ``min_count``, default 5), counted on the UNFILTERED table: an
  event stays when its item has >= k events and its user has >= k events, both counts taken
  before anything is dropped. It is not iterated (a kept user may end with fewer than k).
  A user left with fewer than 3 events cannot give train, dev and test, and is dropped
  after the pass (counted in ``meta["counts"]["users_too_short"]``).
- **dense ids** in source-id order: ids that are all integers (or all decimal strings)
  sort as numbers, other ids as strings. ``items.source_id`` keeps the source's item id,
  ``meta["user_source_ids"][user_id]`` the source's user id.
- **order**: each user's events by (timestamp, source row), a stable sort (`ORDER`). Ties
  are common (the same second), so this tie-break is part of the version (`VERSION`).
- **leave-one-out**: a user's last event is the test target, the second-to-last the dev
  target, the rest train. Train rows are in GLOBAL order (timestamp, source row), with
  ``group_id`` = the user; ``histories`` are each user's train items in order; dev and
  test hold one label-1 row per user (``group_id`` the user).
- **uni100 negatives**: per user (in user-id order) ``negatives`` (100) items the user
  never touched (not in train, dev or test), drawn once from one ``numpy`` Generator seeded
  with ``seed`` (0), stored sorted as label-0 test rows of the user's group. A user with
  fewer untouched items gets them all. ``meta["negatives"]`` holds the seed and the sha256
  of the (user, item) table (`negatives_digest`).
- **item text**: one field ``text``, the source's string as bert-base-uncased WordPiece ids;
  an item without a text record gets an empty string (counted).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from harness.data.fetch import sha256_of
from harness.dataset import Dataset, normalise_interactions
from harness.errors import DataError
from harness.sequences import SEQUENTIAL_KIND
from harness.text import get_tokenizer
from harness.typed import Settings, int_at_least

ORDER = (
    "per user by (timestamp, source row), stable; train rows globally by (timestamp, source row)"
)
VERSION = "1-ts-row"  # the protocol's version; "ts-row" names the tie-break of `ORDER`
CUTOFFS = (10, 20)
MIN_EVENTS = 3  # train, dev and test need one event each
EVENT_COLUMNS = ("user", "item", "timestamp", "row")
ITEM_COLUMNS = ("item", "text")


class SequentialSettings(Settings):
    """The protocol's parameters (defaults: the design page's)."""

    label = "sequential setting"
    min_count: int_at_least(1) = 5  # the one k-core pass; 1 keeps everything
    negatives: int_at_least(0) = 100  # sampled test negatives per user (uni100)
    seed: int_at_least(0) = 0  # seed of those negatives


@dataclass(frozen=True)
class SequentialEvents:
    """What a loader gives the builder.

    ``events``: user, item, timestamp (int64), row (the event's 0-based position in the
    source file; unique); ``items``: item, text (an item's first record counts; items
    of no event are ignored). ``source``: where the events came from; ``files``: file
    name -> sha256 of every source file read; ``sha256``: that of the main (events) file;
    ``item_text``: how the text string was formed.
    """

    events: pd.DataFrame
    items: pd.DataFrame
    source: str
    sha256: str
    item_text: str
    files: dict[str, str] = field(default_factory=dict)
    source_counts: dict[str, int] = field(default_factory=dict)


def events_from_files(
    events_file: Path,
    items_file: Path | None,
    *,
    read_events: Callable[[Path], pd.DataFrame],
    read_items: Callable[[Path], pd.DataFrame],
    source: str,
    item_text: str,
    without_items: str,
) -> SequentialEvents:
    """A loader's one events file and optional item-text file, read and hashed, as
    `SequentialEvents` (no item file: no item text, `without_items` says why)."""
    events = read_events(events_file)
    items = read_items(items_file) if items_file else pd.DataFrame({"item": [], "text": []})
    files = {p.name: sha256_of(p) for p in (events_file, *([items_file] if items_file else []))}
    return SequentialEvents(
        events=events,
        items=items,
        source=f"{source} {', '.join(files)}",
        sha256=files[events_file.name],
        item_text=item_text if items_file else without_items,
        files=files,
        source_counts={"item_records": len(items)},
    )


def protocol_summary(settings: SequentialSettings) -> str:
    return (
        f"implicit; one {settings.min_count}-core pass counted on the unfiltered events "
        f"(users with < {MIN_EVENTS} events left then dropped); order {ORDER}; leave-one-out "
        f"(last -> test, second-to-last -> dev); {settings.negatives} sampled test negatives per "
        f"user from never-touched items, seed {settings.seed}"
    )


def build_sequential(
    raw: SequentialEvents, name: str, settings: SequentialSettings | None = None
) -> Dataset:
    """The sequential `Dataset` of `raw` under this module's protocol."""
    settings = settings or SequentialSettings()
    events = _checked_events(raw.events, name)
    kept, dropped_core, too_short = core_pass(events, settings.min_count)
    if kept.empty:
        raise DataError(
            f"no user keeps {MIN_EVENTS} events after the {settings.min_count}-core pass",
            file=name,
        )
    user_ids = source_order(kept["user"])
    item_ids = source_order(kept["item"])
    kept = kept.assign(
        user_id=pd.Index(user_ids).get_indexer(kept["user"]),
        item_id=pd.Index(item_ids).get_indexer(kept["item"]),
    )
    ordered = kept.iloc[np.lexsort((kept["row"].to_numpy(), kept["timestamp"].to_numpy()))]
    ordered = ordered.reset_index(drop=True)
    position = ordered.groupby("user_id").cumcount().to_numpy()
    length = ordered.groupby("user_id")["item_id"].transform("size").to_numpy()
    from_end = length - 1 - position
    train = ordered[from_end >= 2]
    dev = ordered[from_end == 1].sort_values("user_id")
    test = ordered[from_end == 0].sort_values("user_id")

    touched = ordered.groupby("user_id")["item_id"].agg(lambda s: np.unique(s.to_numpy()))
    negatives = draw_negatives(list(touched), len(item_ids), settings.negatives, settings.seed)
    neg_users = np.repeat(np.arange(len(user_ids)), [len(n) for n in negatives])
    neg_items = np.concatenate(negatives) if negatives else np.zeros(0, np.int64)

    def rows(split: str, users: np.ndarray, items: np.ndarray, label: int) -> pd.DataFrame:
        return pd.DataFrame(
            {"split": split, "user_id": users, "item_id": items, "label": label, "group_id": users}
        )

    interactions = pd.concat(
        [
            rows("train", train["user_id"].to_numpy(), train["item_id"].to_numpy(), 1),
            rows("dev", dev["user_id"].to_numpy(), dev["item_id"].to_numpy(), 1),
            rows("test", test["user_id"].to_numpy(), test["item_id"].to_numpy(), 1),
            rows("test", neg_users, neg_items.astype(np.int64), 0),
        ],
        ignore_index=True,
    )
    histories = pd.DataFrame(
        {
            "user_id": np.arange(len(user_ids), dtype=np.int64),
            "history": [
                s.tolist()
                for s in train.groupby("user_id", sort=True)["item_id"].agg(lambda s: s.to_numpy())
            ],
        }
    )
    items, without_text = _item_table(raw.items, item_ids, name)
    short_of_negatives = sum(len(n) < settings.negatives for n in negatives)
    meta = {
        "name": name,
        "variant": "original",
        "version": VERSION,
        "kind": SEQUENTIAL_KIND,
        "cutoffs": list(CUTOFFS),
        "source": raw.source,
        "sha256": raw.sha256,
        "source_files": dict(raw.files),
        "source_counts": {
            "interactions": len(events),
            "users": int(events["user"].nunique()),
            "items": int(events["item"].nunique()),
            **raw.source_counts,
        },
        "protocol": protocol_summary(settings),
        "settings": settings.model_dump(),
        "order": ORDER,
        "item_text": raw.item_text,
        "counts": {
            "interactions": len(ordered),
            "users": len(user_ids),
            "items": len(item_ids),
            "train": len(train),
            "dev": len(dev),
            "test": len(test),
            "negatives": len(neg_items),
            "events_dropped_by_core": dropped_core,
            "users_too_short": too_short,
            "users_short_of_negatives": int(short_of_negatives),
            "items_without_text": without_text,
        },
        "negatives": {
            "per_user": settings.negatives,
            "seed": settings.seed,
            "sha256": negatives_digest(neg_users, neg_items),
        },
        "user_source_ids": [_plain(u) for u in user_ids],
    }
    return Dataset(
        name=name,
        items=items,
        text_fields=("text",),
        histories=histories,
        interactions=normalise_interactions(interactions),
        meta=meta,
    )


# ---- the steps -------------------------------------------------------------------------------
def core_pass(events: pd.DataFrame, min_count: int) -> tuple[pd.DataFrame, int, int]:
    """(kept events, events the core pass dropped, users then dropped for < 3 events).

    One pass: both counts are taken on the unfiltered `events` and applied together."""
    item_count = events["item"].map(events["item"].value_counts())
    user_count = events["user"].map(events["user"].value_counts())
    kept = events[(item_count >= min_count) & (user_count >= min_count)]
    dropped = len(events) - len(kept)
    per_user = kept["user"].map(kept["user"].value_counts())
    short = per_user < MIN_EVENTS
    too_short = int(kept.loc[short, "user"].nunique())
    return kept[~short], dropped, too_short


def source_order(ids: pd.Series) -> np.ndarray:
    """The distinct source ids in order: numerically when every id is an integer (or a
    decimal string), else as strings."""
    unique = pd.unique(ids)
    values = unique.tolist()
    if all(isinstance(v, int | np.integer) and not isinstance(v, bool) for v in values):
        keys = [int(v) for v in values]
    elif all(isinstance(v, str) and v.isdecimal() for v in values):
        keys = [int(v) for v in values]
    else:
        keys = [str(v) for v in values]
    order = sorted(range(len(values)), key=keys.__getitem__)
    return np.asarray([values[i] for i in order], dtype=object)


def draw_negatives(
    touched: list[np.ndarray], num_items: int, count: int, seed: int
) -> list[np.ndarray]:
    """Per user (in order), `count` item ids not in its `touched`, sorted; all of them when
    fewer remain. One Generator seeded with `seed` draws for every user in turn."""
    rng = np.random.default_rng(seed)
    blocked = np.zeros(num_items, dtype=bool)
    drawn = []
    for items in touched:
        blocked[items] = True
        free = np.flatnonzero(~blocked)
        take = min(count, len(free))
        chosen = rng.choice(free, size=take, replace=False) if take < len(free) else free
        drawn.append(np.sort(chosen).astype(np.int64))
        blocked[items] = False
    return drawn


def negatives_digest(users: np.ndarray, items: np.ndarray) -> str:
    """sha256 of the (user, item) negatives table: rows in order (user, then item), each two
    little-endian int64."""
    table = np.stack([np.asarray(users, "<i8"), np.asarray(items, "<i8")], axis=1)
    return hashlib.sha256(np.ascontiguousarray(table).tobytes()).hexdigest()


def integer_timestamp(value: Any, source: str, where: str) -> int:
    """A timestamp as an int: an integer, or a number or decimal text with an integral value
    ("881250949", "881250949.0", 1.7e12); anything else is a `DataError`."""
    if isinstance(value, bool):
        number: Any = None
    elif isinstance(value, int):
        return value
    elif isinstance(value, float):
        number = value
    elif isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            try:
                number = float(value)
            except ValueError:
                number = None
    else:
        number = None
    if number is None or not number.is_integer():
        raise DataError(f"timestamp {value!r} is not an integer", file=source, where=where)
    return int(number)


def _checked_events(events: pd.DataFrame, name: str) -> pd.DataFrame:
    missing = [c for c in EVENT_COLUMNS if c not in events]
    if missing:
        raise DataError(f"event table lacks column {missing[0]!r}", file=name)
    events = events[list(EVENT_COLUMNS)].reset_index(drop=True)
    if events["row"].duplicated().any():
        raise DataError("event rows must be unique (their position in the source)", file=name)
    return events.astype({"timestamp": "int64", "row": "int64"})


def _item_table(items: pd.DataFrame, item_ids: np.ndarray, name: str) -> tuple[pd.DataFrame, int]:
    missing = [c for c in ITEM_COLUMNS if c not in items]
    if missing:
        raise DataError(f"item table lacks column {missing[0]!r}", file=name)
    first = items.drop_duplicates("item", keep="first")  # an item's first record wins
    text_of = dict(zip(first["item"].tolist(), first["text"].tolist(), strict=True))
    texts = [text_of.get(item) for item in item_ids.tolist()]
    without = sum(t is None for t in texts)
    frame = pd.DataFrame({"item_id": np.arange(len(item_ids), dtype=np.int64)})
    frame["text"] = get_tokenizer().encode_many([t or "" for t in texts])
    frame["source_id"] = [_plain(i) for i in item_ids]
    return frame, int(without)


def _plain(value: Any) -> Any:
    """A numpy scalar as its Python value (JSON and Parquet take those)."""
    return value.item() if isinstance(value, np.generic) else value
