"""Today's MIND converter before streaming (commit a6bae33), kept verbatim as the reference
the streaming one must equal: whole members in memory, one Python record per impression."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from harness.data.archives import open_zip, read_member
from harness.data.fetch import sha256_of
from harness.data.mind import BEHAVIOR_COLUMNS, DEV_SHARE, TIME_FORMAT, read_news
from harness.data.textfiles import decode_utf8, split_rows
from harness.dataset import Dataset, normalise_interactions
from harness.errors import DataError
from harness.progress import progress
from harness.text import get_tokenizer


def read_behaviors(text: str, source: str, known_news: set[str]) -> pd.DataFrame:
    """One row per impression: line, user, time, history (list), candidates, labels."""
    records = []
    rows = split_rows(
        text, source, delimiter="\t", columns=len(BEHAVIOR_COLUMNS), name_of=BEHAVIOR_COLUMNS
    )
    for number, fields in progress(rows, desc="impressions", unit="lines"):
        where = f"line {number}"
        _, user, time, history, impressions = fields
        if not user.strip():
            raise DataError("empty user id", file=source, where=where)
        history_ids = history.split()
        candidates, labels = [], []
        for token in impressions.split():
            news, dash, label = token.rpartition("-")
            if not dash or label not in ("0", "1"):
                raise DataError(
                    f"malformed impression {token!r}, expected NEWSID-0 or NEWSID-1",
                    file=source,
                    where=where,
                )
            candidates.append(news)
            labels.append(int(label))
        if not candidates:
            raise DataError("impression with no candidates", file=source, where=where)
        for news in (*history_ids, *candidates):
            if news not in known_news:
                raise DataError(f"unknown news id {news!r}", file=source, where=where)
        records.append((number, user, time, history_ids, candidates, labels))
    frame = pd.DataFrame(
        records, columns=["line", "user", "time", "history", "candidates", "labels"]
    )
    parsed = pd.to_datetime(frame["time"], format=TIME_FORMAT, errors="coerce")
    if parsed.isna().any():
        row = int(np.flatnonzero(parsed.isna().to_numpy())[0])
        raise DataError(
            f"bad time {frame['time'].iloc[row]!r}, expected {TIME_FORMAT}",
            file=source,
            where=f"line {frame['line'].iloc[row]}",
        )
    frame["time"] = parsed
    return frame


def read_mind_zip(path: Path) -> tuple[pd.DataFrame, str, str]:
    """(news table, behaviors.tsv text, its source name) of one release zip."""
    with open_zip(path) as archive:
        news_name, news = read_member(archive, "news.tsv")
        behaviors_name, behaviors = read_member(archive, "behaviors.tsv")
    news_source, behaviors_source = f"{path}:{news_name}", f"{path}:{behaviors_name}"
    return (
        read_news(decode_utf8(news, news_source), news_source),
        decode_utf8(behaviors, behaviors_source),
        behaviors_source,
    )


def mind_dataset(train_zip: Path, test_zip: Path, name: str) -> Dataset:
    train_news, train_text, train_source = read_mind_zip(train_zip)
    test_news, test_text, test_source = read_mind_zip(test_zip)
    news = pd.concat([train_news, test_news], ignore_index=True).drop_duplicates(
        "news_id", keep="first"
    )
    news = news.sort_values("news_id", kind="stable").reset_index(drop=True)
    known = set(news["news_id"].tolist())
    train = read_behaviors(train_text, train_source, known)
    test = read_behaviors(test_text, test_source, known)

    order = np.argsort(train["time"].to_numpy(), kind="stable")
    split = np.full(len(train), "train", dtype=object)
    split[order[len(train) - int(len(train) * DEV_SHARE) :]] = "dev"
    train["split"] = split
    test["split"] = "test"
    behaviors = pd.concat([train, test], ignore_index=True)
    behaviors["group_id"] = np.arange(len(behaviors), dtype=np.int64)

    item_of = {news_id: index for index, news_id in enumerate(news["news_id"].tolist())}
    users = list(dict.fromkeys(behaviors["user"].tolist()))
    user_of = {user: index for index, user in enumerate(users)}
    first = behaviors.drop_duplicates("user", keep="first")
    histories = pd.DataFrame(
        {
            "user_id": [user_of[u] for u in first["user"]],
            "history": [[item_of[n] for n in h] for h in first["history"]],
        }
    )
    rows = behaviors[["split", "user", "group_id", "candidates", "labels"]].explode(
        ["candidates", "labels"]
    )
    interactions = pd.DataFrame(
        {
            "split": rows["split"].to_numpy(),
            "user_id": rows["user"].map(user_of).to_numpy(),
            "item_id": rows["candidates"].map(item_of).to_numpy(),
            "label": rows["labels"].to_numpy(),
            "group_id": rows["group_id"].to_numpy(),
        }
    )
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
