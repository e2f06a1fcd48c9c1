"""MIND-format release zips at MIND's published sizes, from random words (seeded).

    python bench/mind_shapes.py OUT [--shape small|large] [--scale 1.0] [--seed 0]

Writes ``OUT/mind/MIND{small,large}_{train,dev}.zip``, a mirror the `mind-small` / `mind`
sources read (``condbench data fetch mind-small --mirror OUT``), each holding ``news.tsv``
and ``behaviors.tsv`` in the MIND format (see `harness.data.mind`). The embedding files of
the real zips (entity_embedding.vec, relation_embedding.vec) are left out: the converter
does not read them.

Sizes at ``--scale 1`` (every count below is multiplied by the scale):

- small: 50,000 users, 65,238 news (51,282 in the train zip, 42,416 in the dev zip),
  156,965 train and 73,152 dev impressions;
- large: 1,000,000 users, 161,013 news (101,527 / 72,023), 2,232,748 train and 376,471
  dev impressions.

Shapes (long-tailed like MIND's): candidates per impression log-normal, mean about 37
(2 to 300), distinct within an impression, at least one clicked (about 1.5 on average);
history lengths log-normal, mean about 33 (3% empty, at most 600), fixed per user and
the same in both zips; news popularity Zipf-like; every user has at least one impression.
Titles are 10-14 words, abstracts about 35 (5% empty), drawn Zipf-like from the
lower-case whole words of the WordPiece vocabulary (one token each), so the converter's
tokenizer reads them without [UNK]. Train zip news: the first 51,282 of the news; dev zip
news: the last 42,416; histories are drawn from the news in both (the overlap), so every
news id a zip's behaviors name is in that zip's news.tsv. Train times are spread over
11/9-11/14/2019, dev times over 11/15/2019, in file order at random.
"""

from __future__ import annotations

import json
import re
import sys
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

import click
import numpy as np

from harness.text import vocabulary_folder


@dataclass(frozen=True)
class Shape:
    users: int
    news: int
    train_news: int
    dev_news: int
    train_impressions: int
    dev_impressions: int

    def scaled(self, scale: float) -> Shape:
        def part(count: int, least: int) -> int:
            return max(least, round(count * scale))

        news = part(self.news, 8)
        train_news = min(news - 1, part(self.train_news, 5))
        dev_news = min(news - 1, part(self.dev_news, 5))
        dev_news = max(dev_news, news - train_news + 2)  # an overlap of 2+ for histories
        return Shape(
            users=part(self.users, 2),
            news=news,
            train_news=train_news,
            dev_news=dev_news,
            train_impressions=part(self.train_impressions, 2),
            dev_impressions=part(self.dev_impressions, 1),
        )


SHAPES = {
    "small": Shape(50_000, 65_238, 51_282, 42_416, 156_965, 73_152),
    "large": Shape(1_000_000, 161_013, 101_527, 72_023, 2_232_748, 376_471),
}
CANDIDATES_MU, CANDIDATES_SIGMA, CANDIDATES_MAX = 3.28, 0.85, 300  # mean about 37
HISTORY_MU, HISTORY_SIGMA, HISTORY_MAX, HISTORY_EMPTY = 3.0, 1.0, 600, 0.03  # mean about 33
EXTRA_CLICKS = 0.5  # clicks per impression: 1 + about this many
CATEGORIES = (
    "news", "sports", "finance", "foodanddrink", "lifestyle", "travel", "video", "weather",
    "health", "autos", "tv", "music", "movies", "entertainment", "kids", "middleeast",
    "northamerica",
)  # fmt: skip
TRAIN_DAYS = (9, 14)  # November 2019
DEV_DAYS = (15, 15)
CHUNK = 20_000  # impressions per block written


def vocabulary_words() -> np.ndarray:
    """Lower-case whole words (3-12 letters) of the WordPiece vocabulary, frequent first."""
    tokens = (vocabulary_folder() / "vocab.txt").read_text(encoding="utf-8").split("\n")
    return np.array([t for t in tokens if re.fullmatch("[a-z]{3,12}", t)], dtype=object)


def zipf_weights(count: int, rng: np.random.Generator, exponent: float = 0.9) -> np.ndarray:
    """Long-tailed popularity over `count` things, in a random order."""
    weights = 1.0 / (np.arange(count) + 10.0) ** exponent
    weights = weights[rng.permutation(count)]
    return weights / weights.sum()


def distinct_ids(count: int, prefix: str, rng: np.random.Generator) -> np.ndarray:
    numbers = rng.choice(np.arange(1, 2 * count + 10), size=count, replace=False)
    return np.array([f"{prefix}{n}" for n in numbers], dtype=object)


def random_text(
    words: np.ndarray, weights: np.ndarray, lengths: np.ndarray, rng: np.random.Generator
) -> list[str]:
    flat = words[rng.choice(len(words), size=int(lengths.sum()), p=weights)]
    ends = np.cumsum(lengths)
    return [
        " ".join(flat[end - n : end])
        for n, end in zip(lengths.tolist(), ends.tolist(), strict=True)
    ]


def entities(count: int, words: np.ndarray, rng: np.random.Generator) -> str:
    if count == 0:
        return "[]"
    picked = words[rng.integers(0, min(len(words), 3000), size=count)]
    return json.dumps(
        [
            {
                "Label": w.title(),
                "Type": "P",
                "WikidataId": f"Q{int(rng.integers(1, 9_000_000))}",
                "Confidence": round(float(rng.uniform(0.5, 1.0)), 3),
                "OccurrenceOffsets": [int(rng.integers(0, 60))],
                "SurfaceForms": [w.title()],
            }
            for w in picked
        ]
    )


def news_lines(shape: Shape, ids: np.ndarray, rng: np.random.Generator) -> list[str]:
    """One news.tsv line (with its newline) per news, in index order."""
    words = vocabulary_words()
    word_weights = zipf_weights(len(words), np.random.default_rng(0), exponent=1.0)
    titles = random_text(words, word_weights, rng.integers(10, 15, size=shape.news), rng)
    lengths = np.clip(np.rint(rng.normal(35, 10, size=shape.news)), 3, 120).astype(np.int64)
    lengths[rng.random(shape.news) < 0.05] = 0
    abstracts = random_text(words, word_weights, lengths, rng)
    category = rng.choice(len(CATEGORIES), size=shape.news, p=zipf_weights(len(CATEGORIES), rng))
    subcategory = rng.integers(0, 15, size=shape.news)
    title_entities = rng.poisson(1.0, size=shape.news)
    abstract_entities = rng.poisson(1.5, size=shape.news)
    lines = []
    for index in range(shape.news):
        cat = CATEGORIES[category[index]]
        fields = (
            ids[index],
            cat,
            f"{cat}{words[subcategory[index]]}",
            titles[index][:1].upper() + titles[index][1:],
            abstracts[index][:1].upper() + abstracts[index][1:],
            f"https://assets.msn.com/labs/mind/AA{index:x}.html",
            entities(int(title_entities[index]), words, rng),
            entities(int(abstract_entities[index]), words, rng),
        )
        lines.append("\t".join(fields) + "\n")
    return lines


def user_histories(shape: Shape, ids: np.ndarray, rng: np.random.Generator) -> list[str]:
    """Each user's history (space-separated news ids), drawn from the news of both zips."""
    pool = np.arange(shape.news - shape.dev_news, shape.train_news)
    lengths = np.rint(rng.lognormal(HISTORY_MU, HISTORY_SIGMA, size=shape.users)).astype(np.int64)
    lengths = np.clip(lengths, 1, min(HISTORY_MAX, len(pool)))
    lengths[rng.random(shape.users) < HISTORY_EMPTY] = 0
    flat = ids[rng.choice(pool, size=int(lengths.sum()), p=zipf_weights(len(pool), rng))]
    ends = np.cumsum(lengths)
    return [
        " ".join(flat[end - n : end])
        for n, end in zip(lengths.tolist(), ends.tolist(), strict=True)
    ]


def impression_users(shape: Shape, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """The user (index) of each train and dev impression: each user at least once, then
    long-tailed activity."""
    total = shape.train_impressions + shape.dev_impressions
    users = rng.choice(shape.users, size=total, p=zipf_weights(shape.users, rng, exponent=0.6))
    first = rng.permutation(total)[: min(shape.users, total)]
    users[first] = np.arange(len(first))
    return users[: shape.train_impressions], users[shape.train_impressions :]


def format_times(seconds: np.ndarray, day: np.ndarray) -> list[str]:
    hour, rest = np.divmod(seconds, 3600)
    minute, second = np.divmod(rest, 60)
    hour12 = np.where(hour % 12 == 0, 12, hour % 12)
    return [
        f"11/{d}/2019 {h}:{m:02d}:{s:02d} {'PM' if h24 >= 12 else 'AM'}"
        for d, h, m, s, h24 in zip(
            day.tolist(), hour12.tolist(), minute.tolist(), second.tolist(), hour.tolist(),
            strict=True,
        )
    ]  # fmt: skip


def behavior_blocks(
    count: int,
    users: np.ndarray,
    user_ids: np.ndarray,
    histories: list[str],
    candidate_ids: np.ndarray,
    days: tuple[int, int],
    rng: np.random.Generator,
):
    """behaviors.tsv text, CHUNK impressions at a time (candidates drawn from `candidate_ids`)."""
    popularity = zipf_weights(len(candidate_ids), rng)
    for start in range(0, count, CHUNK):
        n = min(CHUNK, count - start)
        sizes = np.rint(rng.lognormal(CANDIDATES_MU, CANDIDATES_SIGMA, size=n)).astype(np.int64)
        sizes = np.clip(sizes, 2, min(CANDIDATES_MAX, len(candidate_ids)))
        owner = np.repeat(np.arange(n), sizes)
        drawn = rng.choice(len(candidate_ids), size=len(owner), p=popularity)
        _, first = np.unique(owner * len(candidate_ids) + drawn, return_index=True)
        keep = np.sort(first)  # drop repeats within an impression, keep the draw order
        owner, drawn = owner[keep], drawn[keep]
        sizes = np.bincount(owner, minlength=n)
        ends = np.cumsum(sizes)
        clicked = rng.random(len(owner)) < EXTRA_CLICKS / sizes[owner]
        clicked[ends - sizes + (rng.random(n) * sizes).astype(np.int64)] = True
        tokens = [
            f"{news}-{int(label)}"
            for news, label in zip(candidate_ids[drawn].tolist(), clicked.tolist(), strict=True)
        ]
        day = rng.integers(days[0], days[1] + 1, size=n)
        times = format_times(rng.integers(0, 86_400, size=n), day)
        block_users = users[start : start + n].tolist()
        lines = [
            f"{start + i + 1}\t{user_ids[u]}\t{times[i]}\t{histories[u]}\t"
            f"{' '.join(tokens[end - size : end])}\n"
            for i, (u, size, end) in enumerate(
                zip(block_users, sizes.tolist(), ends.tolist(), strict=True)
            )
        ]
        yield "".join(lines)


def write_zip(path: Path, news: list[str], behaviors) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as archive:
        with archive.open("news.tsv", "w", force_zip64=True) as member:
            for start in range(0, len(news), CHUNK):
                member.write("".join(news[start : start + CHUNK]).encode())
        with archive.open("behaviors.tsv", "w", force_zip64=True) as member:
            for block in behaviors:
                member.write(block.encode())
    tmp.replace(path)


def generate(out: str | Path, shape: str = "small", scale: float = 1.0, seed: int = 0) -> dict:
    """Write ``out/mind/MIND{shape}_{train,dev}.zip``; return the sizes written."""
    sizes = SHAPES[shape].scaled(scale)
    rng = np.random.default_rng(seed)
    news_ids = distinct_ids(sizes.news, "N", rng)
    user_ids = distinct_ids(sizes.users, "U", rng)
    lines = news_lines(sizes, news_ids, rng)
    histories = user_histories(sizes, news_ids, rng)
    train_users, dev_users = impression_users(sizes, rng)
    folder = Path(out) / "mind"
    train_news = slice(0, sizes.train_news)
    dev_news = slice(sizes.news - sizes.dev_news, sizes.news)
    for part, news, users, days in (
        ("train", train_news, train_users, TRAIN_DAYS),
        ("dev", dev_news, dev_users, DEV_DAYS),
    ):
        blocks = behavior_blocks(len(users), users, user_ids, histories, news_ids[news], days, rng)
        write_zip(folder / f"MIND{shape}_{part}.zip", lines[news], blocks)
    return {"shape": shape, "scale": scale, "seed": seed, **sizes.__dict__}


@click.command()
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--shape", type=click.Choice(sorted(SHAPES)), default="small", show_default=True)
@click.option(
    "--scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True
)
@click.option("--seed", type=int, default=0, show_default=True)
def main(out: str, shape: str, scale: float, seed: int) -> None:
    started = time.perf_counter()
    written = generate(out, shape, scale, seed)
    written["seconds"] = round(time.perf_counter() - started, 1)
    sys.stdout.write(json.dumps(written) + "\n")


if __name__ == "__main__":
    main()
