"""Prompt templates of the two LLM tasks (TF-DCon §III-B and §III-C1), with few-shot examples.

The templates follow the paper's shapes: content condensation reads
``[title]{..}, [abs]{..}, ...`` and answers ``[new_title]{..}``; interest extraction reads
``(1){title}, (2){title}, ...`` and answers ``[interests] -interest1, -interest2, ...``.
Small models need the examples. Any change to the wording, the examples or the token caps
must bump PROMPT_VERSION: it is part of every cache key and of every result record.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

PROMPT_VERSION = "tfdcon-prompts-v1"

Message = dict[str, str]

TITLE_TASK = "title"
INTERESTS_TASK = "interests"
MAX_INTERESTS = 5


@dataclass(frozen=True)
class TaskLimits:
    """How one task is asked and capped.

    ``max_new_tokens``: what the model may write; ``max_words``: what a parsed title (or each
    interest) keeps; ``stop``: where the answer ends; ``answer_prefix``: the start of the
    answer, written for the model by backends that can continue a reply (the local model),
    so a weak model cannot miss the format.
    """

    max_new_tokens: int
    max_words: int
    stop: tuple[str, ...]
    answer_prefix: str


LIMITS: dict[str, TaskLimits] = {
    TITLE_TASK: TaskLimits(
        max_new_tokens=36, max_words=30, stop=("}", "\n"), answer_prefix="[new_title]{"
    ),
    INTERESTS_TASK: TaskLimits(
        max_new_tokens=32, max_words=4, stop=("\n",), answer_prefix="[interests] -"
    ),
}

TITLE_SYSTEM = (
    "You condense the information of an item into one short, informative new title. "
    "Input format: [title]{title}, [abs]{abstract}, ... "
    "Output format: [new_title]{new title}. Write one sentence of at most 25 words. "
    "Write only the [new_title]."
)

TITLE_EXAMPLES: list[tuple[dict[str, str], str]] = [
    (
        {"title": "the matrix", "year": "1999"},
        "The Matrix is about a hacker who learns that reality is a simulation and joins a rebellion against the machines.",
    ),
    (
        {
            "title": "City council approves new bike lanes",
            "abs": "After months of debate the council voted to add protected bike lanes downtown.",
            "category": "news",
        },
        "City council votes to build protected downtown bike lanes after long debate.",
    ),
]

INTERESTS_SYSTEM = (
    "You read the titles a user clicked and name the user's main interests. "
    "Input format: (1){title}, (2){title}, ... "
    f"Output format: [interests] -interest1, -interest2, ... Give at most {MAX_INTERESTS} "
    "interests of one to three words each. Write only the [interests] line."
)

INTERESTS_EXAMPLES: list[tuple[list[str], list[str]]] = [
    (
        ["alien", "star wars", "the terminator", "blade runner"],
        ["science fiction", "space adventure", "robots", "action"],
    ),
    (
        ["when harry met sally", "sleepless in seattle", "the princess bride"],
        ["romance", "romantic comedy", "fairy tale"],
    ),
]


def format_item_fields(fields: Mapping[str, str]) -> str:
    """``{"title": "x", "abs": "y"}`` -> ``[title]{x}, [abs]{y}`` (braces in values dropped)."""
    return ", ".join(f"[{name}]{{{_clean(value)}}}" for name, value in fields.items())


def format_titles(titles: list[str]) -> str:
    """``["a", "b"]`` -> ``(1){a}, (2){b}``."""
    return ", ".join(f"({number}){{{_clean(title)}}}" for number, title in enumerate(titles, 1))


def format_new_title(new_title: str) -> str:
    return f"[new_title]{{{new_title}}}"


def format_interests(interests: list[str]) -> str:
    return "[interests] " + ", ".join(f"-{interest}" for interest in interests)


def title_messages(fields: Mapping[str, str]) -> list[Message]:
    """The chat messages asking for a new title of one item."""
    messages: list[Message] = [{"role": "system", "content": TITLE_SYSTEM}]
    for example_fields, answer in TITLE_EXAMPLES:
        messages.append({"role": "user", "content": format_item_fields(example_fields)})
        messages.append({"role": "assistant", "content": format_new_title(answer)})
    messages.append({"role": "user", "content": format_item_fields(fields)})
    return messages


def interests_messages(titles: list[str]) -> list[Message]:
    """The chat messages asking for the interests behind a click history."""
    messages: list[Message] = [{"role": "system", "content": INTERESTS_SYSTEM}]
    for example_titles, answer in INTERESTS_EXAMPLES:
        messages.append({"role": "user", "content": format_titles(example_titles)})
        messages.append({"role": "assistant", "content": format_interests(answer)})
    messages.append({"role": "user", "content": format_titles(titles)})
    return messages


RETRY_REMINDER: dict[str, str] = {
    TITLE_TASK: "That answer did not follow the format. Answer with one line: [new_title]{new title}",
    INTERESTS_TASK: "That answer did not follow the format. Answer with one line: [interests] -interest1, -interest2",
}


def retry_messages(task: str, messages: list[Message], bad_answer: str) -> list[Message]:
    """The same request again, showing the model its unusable answer and the format."""
    return [
        *messages,
        {"role": "assistant", "content": bad_answer[:500]},
        {"role": "user", "content": RETRY_REMINDER[task]},
    ]


def _clean(value: str) -> str:
    return " ".join(str(value).replace("{", "(").replace("}", ")").split())
