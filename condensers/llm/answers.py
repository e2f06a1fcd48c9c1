"""Read a model's raw answer into a title or an interest list, and the recorded fallbacks.

A parser returns None when the answer is unusable (empty, an echo of the input format, no
words); the client then retries and finally uses the deterministic fallback below.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping

from condensers.llm.prompts import INTERESTS_TASK, LIMITS, MAX_INTERESTS, TITLE_TASK

_NEW_TITLE = re.compile(r"\[\s*new[_ ]title\s*\]\s*:?\s*\{?([^{}\n]*)", re.IGNORECASE)
_INTERESTS = re.compile(r"\[\s*interests?\s*\]\s*:?(.*)", re.IGNORECASE | re.DOTALL)
_INPUT_TAGS = re.compile(r"\[(title|abs|category|year)\]|\(\d+\)\{", re.IGNORECASE)
_BULLET = re.compile(r"^\s*(?:[-*•]+|\d+[.)]|\(\d+\))\s*")
_WORD = re.compile(r"[a-z][a-z']+")
_LETTERS = re.compile(r"[A-Za-z]")

FALLBACK_TITLE_WORDS = 8

STOPWORDS = frozenset(
    "the a an and or of in on at to for with from by is are was were be it its this that "
    "as into about after before over under vs his her their our your my not no new".split()
)


def parse_title(answer: str) -> str | None:
    """The new title in `answer`, capped to the task's word limit, or None when unusable."""
    text = answer.strip()
    match = _NEW_TITLE.search(text)
    if match:
        candidate = match.group(1)
    else:
        if _INPUT_TAGS.search(text):
            return None  # the model echoed the input format instead of answering
        lines = [line for line in text.splitlines() if _LETTERS.search(line)]
        candidate = lines[0] if lines else ""
    candidate = re.sub(r"\[[^\]]*\]", " ", candidate)  # leftover tags like [new_title]
    candidate = candidate.strip().strip("{}\"'`* ").strip()
    words = candidate.split()
    if len(_LETTERS.findall(candidate)) < 2:
        return None
    return " ".join(words[: LIMITS[TITLE_TASK].max_words])


def parse_interests(answer: str) -> list[str] | None:
    """Up to five short interests in `answer` (lower case, no duplicates), or None."""
    text = answer.strip()
    match = _INTERESTS.search(text)
    if match:
        text = match.group(1)
    elif _INPUT_TAGS.search(text):
        return None
    interests: list[str] = []
    for line in text.splitlines():
        for piece in re.split(r"[,;]|\s-(?=\S)", line):
            interest = _BULLET.sub("", piece).strip().strip("{}[]\"'`*.:").strip().lower()
            words = interest.split()
            if not words or len(words) > LIMITS[INTERESTS_TASK].max_words:
                continue
            if not _LETTERS.search(interest) or interest in interests:
                continue
            interests.append(" ".join(words))
    return interests[:MAX_INTERESTS] or None


def fallback_title(fields: Mapping[str, str]) -> str:
    """The first words of the item's title (else of its first non-empty field)."""
    ordered = [fields.get("title", ""), *fields.values()]
    source = next((str(value) for value in ordered if str(value).strip()), "")
    words = source.split()[:FALLBACK_TITLE_WORDS]
    return " ".join(words) if words else "untitled"


def fallback_interests(titles: list[str]) -> list[str]:
    """The most frequent content words of the history titles (ties: first seen first)."""
    counts: Counter[str] = Counter()
    first_seen: dict[str, int] = {}
    for title in titles:
        for word in _WORD.findall(str(title).lower()):
            if len(word) < 3 or word in STOPWORDS:
                continue
            counts[word] += 1
            first_seen.setdefault(word, len(first_seen))
    ranked = sorted(counts, key=lambda word: (-counts[word], first_seen[word]))
    return ranked[:MAX_INTERESTS]
