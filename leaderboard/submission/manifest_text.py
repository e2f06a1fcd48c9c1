"""The manifest file as text, before any field is read: capped, parsed safely, printable.

In this order, each refusal one `SubmissionRejected` naming the file:

1. size: at most `MAX_MANIFEST_BYTES`, checked on the file's size before it is read;
2. nesting: at most `MAX_MANIFEST_DEPTH` levels of mappings and lists (the top mapping is
   level 1), checked on the text (JSON: brackets outside strings; YAML: the parser's event
   stream) before anything is built from it;
3. YAML anchors and aliases (``&name``, ``*name``, and so ``<<`` merges) are refused on the
   event stream, before anything is built: an alias repeats a node without its bytes, so a
   small file could grow a huge record ("billion laughs");
4. JSON's ``NaN`` and ``Infinity`` and YAML's ``.nan`` and ``.inf`` are refused: no field
   takes a number that is not finite;
5. no key or text anywhere (``params`` included) holds an unprintable character
   (`harness.unprintable`: controls such as ESC or a newline, C1 controls, bidi overrides
   and isolates, zero-width characters): every field may be shown on the board or printed.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml

from harness.structured_text import TextRefused, load_json_text, load_yaml_text
from harness.unprintable import describe_char, first_unprintable
from leaderboard.submission.rejection import SubmissionRejected

MAX_MANIFEST_BYTES = 64 * 1024
MAX_MANIFEST_DEPTH = 20


def _refuse_constant(name: str) -> float:
    raise ValueError(f"{name} is not accepted (numbers must be finite)")


def parse_json(text: str, label: str) -> Any:
    return load_json_text(text, MAX_MANIFEST_DEPTH, parse_constant=_refuse_constant)


def parse_yaml(text: str, label: str) -> Any:
    return load_yaml_text(text, MAX_MANIFEST_DEPTH, refuse_aliases=True)


# manifest file suffix -> its parser (text, label) -> data
MANIFEST_PARSERS: dict[str, Callable[[str, str], Any]] = {
    ".json": parse_json,
    ".yaml": parse_yaml,
    ".yml": parse_yaml,
}


def _field_name(path: tuple[str, ...]) -> str:
    return ".".join(path) or "(manifest)"


def check_values(value: Any, label: str, path: tuple[str, ...] = ()) -> None:
    """Refuse an unprintable character in any key or text and any number that is not
    finite, naming the field (``params.alpha``)."""
    if isinstance(value, str):
        char = first_unprintable(value)
        if char is not None:
            raise SubmissionRejected(
                f"field {_field_name(path)!r} holds {describe_char(char)}: no control, "
                "bidi or zero-width characters",
                file=label,
            )
    elif isinstance(value, float) and not math.isfinite(value):
        raise SubmissionRejected(
            f"field {_field_name(path)!r} is {value}: numbers must be finite", file=label
        )
    elif isinstance(value, dict):
        for key, item in value.items():
            check_values(str(key), label, (*path, str(key)))
            check_values(item, label, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            check_values(item, label, (*path, str(index)))


def read_manifest_data(path: Path) -> Any:
    """The parsed manifest at `path`: capped, parsed, checked (module doc)."""
    size = path.stat().st_size
    if size > MAX_MANIFEST_BYTES:
        raise SubmissionRejected(
            f"manifest is {size} bytes, over the limit of {MAX_MANIFEST_BYTES}", file=path.name
        )
    parser = MANIFEST_PARSERS[path.suffix]
    try:
        data = parser(path.read_bytes()[: MAX_MANIFEST_BYTES + 1].decode("utf-8"), path.name)
    except TextRefused as exc:  # "nests deeper than ...", or the YAML alias refusal
        reason = str(exc) if str(exc).startswith("YAML") else f"manifest {exc}"
        raise SubmissionRejected(reason, file=path.name) from None
    except (UnicodeDecodeError, ValueError, yaml.YAMLError) as exc:
        reason = str(exc).replace("\n", " ")
        raise SubmissionRejected(f"unreadable manifest: {reason}", file=path.name) from None
    check_values(data, path.name)
    return data
