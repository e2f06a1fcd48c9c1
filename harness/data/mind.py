"""MIND (Microsoft News Dataset), small and large, in the MIND tsv format.

Each release zip holds ``news.tsv`` (8 tab-separated columns: news id, category,
subcategory, title, abstract, url, title entities, abstract entities) and ``behaviors.tsv``
(5 columns: impression id, user id, time ``M/D/YYYY h:mm:ss AM``, history = news ids
separated by spaces, impressions = ``N123-1 N456-0`` with 1 = clicked).

Conversion (ours): items = every news of the train and dev zips, text fields ``title``,
``abstract``, ``category`` (the paper's three), ``source_id`` keeps the news id. Ranking
groups are impressions. MIND's own dev set becomes our ``test`` (the large test set has no
labels); our ``dev`` is the last tenth (by time) of the train impressions. A user's history
is the one of their first impression (train zip first); MIND keeps it fixed within a zip.
The official zips have no published checksum: their sha256 is recorded in the manifest.
Memory: news.tsv is read whole (tens of MB); behaviors.tsv is streamed from the zip twice,
never whole in memory: once to check it reads and decodes, then parsed in pieces of about
`PIECE` bytes into arrays (candidates' item ids and labels, user codes, histories kept from
each user's first impression), so MIND-small converts in about 1.3 GB instead of 3.6 GB
(docs/benchmarks.md) to the same tables as the line-by-line reader it replaced
(tests/harness/data/mind_reference.py).
The reading validates: wrong column count, a malformed impression, an unknown news id, an
impression with no candidates, non-UTF-8 bytes or a truncated last line give one
`DataError` naming the file and the line, worded and ordered as that reader's (a piece with
a problem is read again line by line for the first one).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from harness.data.archives import open_zip, read_member, stream_member
from harness.data.fetch import RemoteFile, fetch_file, sha256_of
from harness.data.source import PathLike
from harness.data.textfiles import decode_utf8, split_rows
from harness.dataset import SPLITS, Dataset, normalise_interactions
from harness.errors import DataError
from harness.progress import Progress
from harness.text import get_tokenizer

MIND_URL = "https://mind201910small.blob.core.windows.net/release/{zip}"
NEWS_COLUMNS = (
    "news_id", "category", "subcategory", "title", "abstract", "url", "title_entities", "abstract_entities",
)  # fmt: skip
BEHAVIOR_COLUMNS = ("impression_id", "user_id", "time", "history", "impressions")
TIME_FORMAT = "%m/%d/%Y %I:%M:%S %p"
DEV_SHARE = 0.1
PIECE = 16 << 20  # behaviors.tsv is parsed in pieces of about this many bytes


def read_news(text: str, source: str) -> pd.DataFrame:
    rows = [
        fields
        for _, fields in split_rows(
            text, source, delimiter="\t", columns=len(NEWS_COLUMNS), name_of=NEWS_COLUMNS
        )
    ]
    frame = pd.DataFrame(rows, columns=list(NEWS_COLUMNS))
    return frame.drop_duplicates("news_id", keep="first")


@dataclass
class _MemberShape:
    """What the first pass learnt of a behaviors.tsv: its last non-empty line, whether it
    ends with a newline, its first non-UTF-8 byte (an error held back until the news of
    its zip is checked, the order of checks of the whole-member reader), its size."""

    last_line: int = 0
    ends_cleanly: bool = False
    decode_error: DataError | None = None
    size: int = 0


@dataclass
class _Impressions:
    """The impressions of one behaviors.tsv, in file order, as arrays."""

    lines: np.ndarray  # int64: each impression's line number
    users: np.ndarray  # int64: user codes in order of first appearance (both files)
    times: pd.Series  # the time strings
    counts: np.ndarray  # int64: candidates per impression
    items: np.ndarray  # int64: candidates' item ids, impression after impression
    labels: np.ndarray  # int8
    source: str  # the zip and member, for errors


def _pieces(chunks: Iterator[bytes]) -> Iterator[bytes]:
    """The member's bytes in pieces of about `PIECE` bytes, each ending with a newline
    (the last one maybe not), so no line and no UTF-8 character is cut."""
    held: list[bytes] = []
    size = 0
    for chunk in chunks:
        held.append(chunk)
        size += len(chunk)
        if size < PIECE:
            continue
        data = b"".join(held)
        cut = data.rfind(b"\n") + 1
        if cut:
            yield data[:cut]
            data = data[cut:]
        held, size = [data], len(data)
    if size:
        yield b"".join(held)


def _check_member(archive: zipfile.ZipFile, path: Path) -> _MemberShape:
    """Read behaviors.tsv through (read errors are raised); note its first non-UTF-8 byte
    as `decode_utf8` would name it, its last non-empty line and its last byte."""
    name, chunks = stream_member(archive, "behaviors.tsv")
    source = f"{path}:{name}"
    shape = _MemberShape()
    newlines = lines = 0
    last = b""
    for piece in _pieces(chunks):
        if shape.decode_error is None:
            try:
                text = piece.decode("utf-8")
            except UnicodeDecodeError as exc:
                line = piece[: exc.start].count(b"\n") + newlines + 1
                offset = shape.size + exc.start
                shape.decode_error = DataError(
                    f"not valid UTF-8: byte 0x{piece[exc.start]:02x} at offset {offset}",
                    file=source,
                    where=f"line {line}",
                )
            else:
                split = text.splitlines()
                filled = [n for n in range(len(split) - 1, -1, -1) if split[n].strip()][:1]
                if filled:
                    shape.last_line = lines + filled[0] + 1
                lines += len(split)
                newlines += piece.count(b"\n")
        shape.size += len(piece)
        last = piece[-1:]
    shape.ends_cleanly = last == b"\n"
    return shape


def _read_zip_checked(path: Path) -> tuple[pd.DataFrame, _MemberShape]:
    """The news table of one release zip, and its behaviors.tsv read through once: the
    errors of both come in the order a whole-member reader gives them."""
    with open_zip(path) as archive:
        news_name, news = read_member(archive, "news.tsv")
        shape = _check_member(archive, path)
    news_source = f"{path}:{news_name}"
    table = read_news(decode_utf8(news, news_source), news_source)
    del news
    if shape.decode_error is not None:
        raise shape.decode_error
    return table, shape


def _line_problem(
    number: int, line: str, source: str, shape: _MemberShape, item_of: dict[str, int]
) -> DataError | None:
    """The first problem of one behaviors line, as the line-by-line reader words it."""
    where = f"line {number}"
    fields = line.split("\t")
    columns = len(BEHAVIOR_COLUMNS)
    if len(fields) != columns:
        truncated = number == shape.last_line and not shape.ends_cleanly and len(fields) < columns
        what = "truncated file: last line is incomplete" if truncated else "wrong number of fields"
        return DataError(
            f"{what}: {len(fields)} fields, expected {columns} ({', '.join(BEHAVIOR_COLUMNS)})",
            file=source,
            where=where,
        )
    _, user, _, history, impressions = fields
    if not user.strip():
        return DataError("empty user id", file=source, where=where)
    candidates = []
    for token in impressions.split():
        news, dash, label = token.rpartition("-")
        if not dash or label not in ("0", "1"):
            return DataError(
                f"malformed impression {token!r}, expected NEWSID-0 or NEWSID-1",
                file=source,
                where=where,
            )
        candidates.append(news)
    if not candidates:
        return DataError("impression with no candidates", file=source, where=where)
    for news in (*history.split(), *candidates):
        if news not in item_of:
            return DataError(f"unknown news id {news!r}", file=source, where=where)
    return None


class _BehaviorReader:
    """Reads behaviors.tsv files piece by piece into arrays; users are coded in order of
    first appearance over every file read, and each user's history is kept from their
    first impression."""

    def __init__(self, news_ids: list[str]):
        self.news_ids = pa.array(news_ids, type=pa.string())  # sorted: position = item id
        self.user_of: dict[str, int] = {}
        self.histories: list[np.ndarray] = []
        self._item_of: dict[str, int] | None = None

    def item_of(self) -> dict[str, int]:  # for the words of an error only
        if self._item_of is None:
            self._item_of = {n: i for i, n in enumerate(self.news_ids.to_pylist())}
        return self._item_of

    def read(self, path: Path, shape: _MemberShape) -> _Impressions:
        parts: dict[str, list] = {
            k: [] for k in ("lines", "users", "times", "counts", "items", "labels")
        }
        with open_zip(path) as archive:
            name, chunks = stream_member(archive, "behaviors.tsv")
            source = f"{path}:{name}"
            base = 0
            with Progress(shape.size, unit="B", unit_scale=True, desc="impressions") as bar:
                for piece in _pieces(chunks):
                    text = piece.decode("utf-8")
                    lines = text.splitlines()
                    for key, value in self._piece(lines, base, source, shape).items():
                        parts[key].append(value)
                    base += len(lines)
                    bar.update(len(piece))
        times = pd.Series(np.concatenate(parts["times"]) if parts["times"] else [], dtype=object)
        return _Impressions(
            lines=_joined(parts["lines"], np.int64),
            users=_joined(parts["users"], np.int64),
            times=times,
            counts=_joined(parts["counts"], np.int64),
            items=_joined(parts["items"], np.int64),
            labels=_joined(parts["labels"], np.int8),
            source=source,
        )

    def _piece(self, lines: list[str], base: int, source: str, shape: _MemberShape) -> dict:
        numbers, users, times, histories, impressions = [], [], [], [], []
        columns = len(BEHAVIOR_COLUMNS)
        for offset, line in enumerate(lines):
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != columns or not fields[1].strip():
                self._raise_first_problem(lines, base, source, shape)
            numbers.append(base + offset + 1)
            users.append(fields[1])
            times.append(fields[2])
            histories.append(fields[3].split())
            impressions.append(fields[4].split())
        counts = np.fromiter(map(len, impressions), dtype=np.int64, count=len(impressions))
        tokens = pa.array([t for tokens in impressions for t in tokens], type=pa.string())
        ends = pc.utf8_slice_codeunits(tokens, -2)
        well_formed = pc.all(pc.is_in(ends, value_set=pa.array(["-0", "-1"]))).as_py()
        items = pc.index_in(pc.utf8_slice_codeunits(tokens, 0, -2), value_set=self.news_ids)
        if (counts == 0).any() or well_formed is False or items.null_count:
            self._raise_first_problem(lines, base, source, shape)
        labels = pc.equal(ends, "-1").to_numpy(zero_copy_only=False).astype(np.int8)
        codes = np.empty(len(users), dtype=np.int64)
        first_rows = []
        for row, user in enumerate(users):
            code = self.user_of.get(user)
            if code is None:
                code = self.user_of[user] = len(self.user_of)
                first_rows.append(row)
            codes[row] = code
        history_lengths = np.fromiter(map(len, histories), dtype=np.int64, count=len(histories))
        flat = pa.array([n for ids in histories for n in ids], type=pa.string())
        history_items = pc.index_in(flat, value_set=self.news_ids)
        if history_items.null_count:
            self._raise_first_problem(lines, base, source, shape)
        history_items = history_items.to_numpy(zero_copy_only=False).astype(np.int64)
        ends_at = np.cumsum(history_lengths)
        for row in first_rows:
            self.histories.append(history_items[ends_at[row] - history_lengths[row] : ends_at[row]])
        return {
            "lines": np.asarray(numbers, dtype=np.int64),
            "users": codes,
            "times": np.asarray(times, dtype=object),
            "counts": counts,
            "items": items.to_numpy(zero_copy_only=False).astype(np.int64),
            "labels": labels,
        }

    def _raise_first_problem(
        self, lines: list[str], base: int, source: str, shape: _MemberShape
    ) -> NoReturn:
        for offset, line in enumerate(lines):
            if line.strip():
                problem = _line_problem(base + offset + 1, line, source, shape, self.item_of())
                if problem is not None:
                    raise problem
        raise DataError("malformed behaviors", file=source)  # not reached: a problem was found


def _joined(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.zeros(0, dtype=dtype)


def _parsed_times(impressions: _Impressions) -> np.ndarray:
    parsed = pd.to_datetime(impressions.times, format=TIME_FORMAT, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"bad time {impressions.times.iloc[row]!r}, expected {TIME_FORMAT}",
            file=impressions.source,
            where=f"line {impressions.lines[row]}",
        )
    return parsed.to_numpy()


def mind_dataset(train_zip: Path, test_zip: Path, name: str) -> Dataset:
    """The dataset of MIND's train and dev zips. behaviors.tsv is read twice as a stream
    (checked through, then parsed piece by piece into arrays), never whole in memory."""
    train_news, train_shape = _read_zip_checked(train_zip)
    test_news, test_shape = _read_zip_checked(test_zip)
    news = pd.concat([train_news, test_news], ignore_index=True).drop_duplicates(
        "news_id", keep="first"
    )
    del train_news, test_news
    news = news.sort_values("news_id", kind="stable").reset_index(drop=True)
    reader = _BehaviorReader(news["news_id"].tolist())
    train = reader.read(train_zip, train_shape)
    train_times = _parsed_times(train)
    test = reader.read(test_zip, test_shape)
    _parsed_times(test)

    order = np.argsort(train_times, kind="stable")
    split = np.zeros(len(train_times), dtype=np.int8)  # 0 train, 1 dev, 2 test
    split[order[len(order) - int(len(order) * DEV_SHARE) :]] = 1
    split = np.concatenate([split, np.full(len(test.counts), 2, dtype=np.int8)])
    counts = np.concatenate([train.counts, test.counts])
    histories = pd.DataFrame(
        {
            "user_id": np.arange(len(reader.histories), dtype=np.int64),
            "history": [h.tolist() for h in reader.histories],
        }
    )
    interactions = pd.DataFrame(
        {
            "split": np.array(SPLITS, dtype=object)[np.repeat(split, counts)],
            "user_id": np.repeat(np.concatenate([train.users, test.users]), counts),
            "item_id": np.concatenate([train.items, test.items]),
            "label": np.concatenate([train.labels, test.labels]),
            "group_id": np.repeat(np.arange(len(counts), dtype=np.int64), counts),
        },
        copy=False,  # the arrays are new: no second copy of 97 million rows (MIND-large)
    )
    del train, test, reader
    tokenizer = get_tokenizer()
    items = pd.DataFrame({"item_id": np.arange(len(news), dtype=np.int64)})
    for field in ("title", "abstract", "category"):
        items[field] = tokenizer.encode_many(news[field].tolist())
    items["source_id"] = news["news_id"].to_numpy()
    return Dataset(
        name=name,
        items=items,
        text_fields=("title", "abstract", "category"),
        histories=histories,
        interactions=normalise_interactions(interactions),
        meta={
            "name": name,
            "variant": "original",
            "source": "MIND (msnews.github.io)",
            "sha256": {train_zip.name: sha256_of(train_zip), test_zip.name: sha256_of(test_zip)},
            "protocol": "groups = impressions; MIND dev -> test; last 10% of train impressions by time -> dev",
        },
    )


@dataclass(frozen=True)
class MindSource:
    name: str
    size: str  # "small" or "large"
    description: str
    version: str = "1"
    variants: tuple[str, ...] = ("original",)
    cutoffs: tuple[int, ...] = (5, 10)  # the paper's K on MIND

    def remote(self, part: str) -> RemoteFile:
        zip_name = f"MIND{self.size}_{part}.zip"
        return RemoteFile(
            source=self.name,
            path=zip_name,
            url=MIND_URL.format(zip=zip_name),
            mirror_path=f"mind/{zip_name}",
            sha256=None,
        )

    def fetch(self, *, mirror: PathLike = None, cache: PathLike = None) -> list[Path]:
        return [
            fetch_file(self.remote(part), mirror=mirror, cache=cache) for part in ("train", "dev")
        ]

    def build(self, variant: str, *, mirror: PathLike = None, cache: PathLike = None) -> Dataset:
        if variant not in self.variants:
            raise DataError(f"unknown variant {variant!r}; known: original", file=self.name)
        train_zip, dev_zip = self.fetch(mirror=mirror, cache=cache)
        return mind_dataset(train_zip, dev_zip, self.name)


MIND_SMALL = MindSource(
    name="mind-small", size="small", description="MIND-small news clicks (official zips)"
)
MIND_LARGE = MindSource(name="mind", size="large", description="MIND news clicks (official zips)")
