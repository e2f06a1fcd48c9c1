"""Read a model's raw answer into a title or an interest list, and the recorded fallbacks.

Every answer is checked before it is used (and so before it is cached). It is rejected
(`answer_problem` names why) when it is:

- longer than MAX_ANSWER_CHARS (2,000) characters, or a title over MAX_TITLE_WORDS (30)
  words or MAX_TITLE_CHARS (300) characters;
- a refusal ("I'm sorry", "As an AI", "I cannot", ...);
- in the other task's format (``[interests]`` or a list where a title is asked,
  ``[new_title]`` where interests are asked), or an echo of the input format;
- not a title or an interest list: control characters, markup (tags, code fences, links),
  instructions aimed at a model ("ignore previous instructions", "system prompt"), or
  mostly non-letters.

A parser returns None for a rejected or empty answer; the client then asks again
(`ClientSettings.parse_retries`, default 1) and finally uses the deterministic fallback
below, which is counted and never cached.
"""

from __future__ import annotations

import re
import unicodedata
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
MAX_ANSWER_CHARS = 2000  # a raw answer (either task) longer than this is rejected
MAX_TITLE_WORDS = LIMITS[TITLE_TASK].max_words  # 30: a longer title is rejected, not cut
MAX_TITLE_CHARS = 300
MIN_LETTER_SHARE = 0.5  # of a title's non-space characters

_REFUSAL = re.compile(
    r"^\W*(?:i'?m sorry|i am sorry|sorry,|i apologi[sz]e|i cannot|i can'?t|i can not"
    r"|i'?m (?:unable|not able)|i am (?:unable|not able)|i won'?t|i will not)\b"
    r"|\bas an ai\b|\bas a(?:n ai)? language model\b",
    re.IGNORECASE,
)
_LEADING_TAG = re.compile(r"^\W*\[\s*(?:new[_ ]title|interests?)\s*\]\s*:?\s*\{?", re.IGNORECASE)
_MARKUP = re.compile(r"<\s*/?\s*[A-Za-z!?][^>]*>|```|\]\(|https?://|www\.", re.IGNORECASE)
_INJECTION = re.compile(
    r"\b(?:ignore|disregard|forget)\b.{0,30}\b(?:instructions?|prompts?|rules)\b"
    r"|\bsystem prompt\b|\byou are now\b|\bnew instructions\b",
    re.IGNORECASE,
)
_OTHER_TASK_TAG = {
    TITLE_TASK: re.compile(r"\[\s*interests?\s*\]", re.IGNORECASE),
    INTERESTS_TASK: re.compile(r"\[\s*new[_ ]title\s*\]", re.IGNORECASE),
}
_LIST_ITEM = re.compile(r"(?:^|[,;\n])\s*(?:-|\*|•|\d+[.)])\s*\w")
_ODD_TITLE_CHARACTERS = re.compile(r"[<>{}\[\]\\|^~`]")
_ALLOWED_CONTROLS = frozenset("\n\r\t")

STOPWORDS = frozenset(
    "the a an and or of in on at to for with from by is are was were be it its this that "
    "as into about after before over under vs his her their our your my not no new".split()
)


def answer_problem(task: str, answer: str) -> str | None:
    """Why `answer` cannot be used for `task` (checks of the whole answer text), or None."""
    if len(answer) > MAX_ANSWER_CHARS:
        return f"longer than {MAX_ANSWER_CHARS} characters"
    if any(_is_control(character) for character in answer):
        return "control characters"
    if _REFUSAL.search(_LEADING_TAG.sub("", answer.strip())):
        return "a refusal"
    if _OTHER_TASK_TAG[task].search(answer):
        return "the other task's format"
    if _MARKUP.search(answer):
        return "markup or a link"
    if _INJECTION.search(answer):
        return "instructions, not an answer"
    return None


def title_problem(title: str) -> str | None:
    """Why an extracted title is not one (too long, a list, odd characters), or None."""
    if len(title.split()) > MAX_TITLE_WORDS:
        return f"over {MAX_TITLE_WORDS} words"
    if len(title) > MAX_TITLE_CHARS:
        return f"over {MAX_TITLE_CHARS} characters"
    if len(_LIST_ITEM.findall(title)) >= 2:
        return "a list, not a title"
    if _ODD_TITLE_CHARACTERS.search(title):
        return "markup characters"
    visible = [character for character in title if not character.isspace()]
    if sum(character.isalpha() for character in visible) < MIN_LETTER_SHARE * len(visible):
        return "mostly not letters"
    return None


def _is_control(character: str) -> bool:
    return character not in _ALLOWED_CONTROLS and unicodedata.category(character) in ("Cc", "Cf")


def parse_title(answer: str) -> str | None:
    """The new title in `answer`, or None when it is unusable (`answer_problem`,
    `title_problem`)."""
    if answer_problem(TITLE_TASK, answer) is not None:
        return None
    text = answer.strip()
    if len(_LIST_ITEM.findall(text)) >= 2:
        return None  # a list of interests (or anything) where one title is asked
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
    if len(_LETTERS.findall(candidate)) < 2 or title_problem(candidate) is not None:
        return None
    return " ".join(candidate.split())


def parse_interests(answer: str) -> list[str] | None:
    """Up to five short interests in `answer` (lower case, no duplicates), or None when it
    is unusable (`answer_problem`)."""
    if answer_problem(INTERESTS_TASK, answer) is not None:
        return None
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
