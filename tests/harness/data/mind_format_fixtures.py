"""Generate small MIND-format release zips (news.tsv, behaviors.tsv) for the tests."""

from __future__ import annotations

import zipfile
from pathlib import Path

NEWS = [
    ("N1", "sports", "football", "Local team wins the cup", "A late goal decided it."),
    ("N2", "news", "politics", "Council votes on budget", ""),
    ("N3", "lifestyle", "food", "Ten soups for winter", "Warm recipes."),
    ("N4", "sports", "tennis", "Final goes to five sets", "A long match."),
    ("N5", "weather", "forecast", "Snow expected", "Cold week ahead."),
]
TRAIN_BEHAVIORS = [
    ("1", "U1", "11/11/2019 9:05:58 AM", "N1 N3", "N2-0 N4-1 N5-0"),
    ("2", "U2", "11/12/2019 10:00:00 AM", "N2", "N1-1 N3-0"),
    ("3", "U1", "11/13/2019 1:00:00 PM", "N1 N3", "N5-1 N2-0"),
    ("4", "U3", "11/14/2019 11:30:00 PM", "", "N4-0 N1-1"),
]
DEV_BEHAVIORS = [
    ("1", "U2", "11/15/2019 8:00:00 AM", "N2", "N3-1 N4-0 N5-0"),
    ("2", "U4", "11/15/2019 9:00:00 AM", "N5", "N1-0 N2-1"),
]


def news_tsv(rows=NEWS) -> str:
    return "".join("\t".join((*row, f"https://x/{row[0]}", "[]", "[]")) + "\n" for row in rows)


def behaviors_tsv(rows) -> str:
    return "".join("\t".join(row) + "\n" for row in rows)


def write_release_zip(path: Path, news: bytes | str, behaviors: bytes | str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("news.tsv", news.encode() if isinstance(news, str) else news)
        archive.writestr(
            "behaviors.tsv", behaviors.encode() if isinstance(behaviors, str) else behaviors
        )
    return path


def write_mind_mirror(
    root: Path,
    *,
    train_news: bytes | str | None = None,
    train_behaviors: bytes | str | None = None,
    dev_news: bytes | str | None = None,
    dev_behaviors: bytes | str | None = None,
) -> Path:
    """A mirror folder holding mind/MINDsmall_{train,dev}.zip; returns the mirror root."""
    write_release_zip(
        root / "mind" / "MINDsmall_train.zip",
        news_tsv() if train_news is None else train_news,
        behaviors_tsv(TRAIN_BEHAVIORS) if train_behaviors is None else train_behaviors,
    )
    write_release_zip(
        root / "mind" / "MINDsmall_dev.zip",
        news_tsv(NEWS[:3] + NEWS[4:]) if dev_news is None else dev_news,
        behaviors_tsv(DEV_BEHAVIORS) if dev_behaviors is None else dev_behaviors,
    )
    return root
