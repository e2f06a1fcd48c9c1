"""JSON and YAML text read safely: capped in size and nesting before anything is built.

A deeply nested document ("[[[[...") makes Python's JSON and YAML builders recurse until
they fail with a traceback, and a YAML alias repeats a node without repeating its bytes. So
every JSON or YAML file condbench reads from a user (configs, records, manifests, request
bodies) is checked here on its text: its size (`check_size`), and its nesting, on JSON's
brackets outside strings or on YAML's parser events (nothing built from them), refusing YAML
aliases where the caller asks. Each refusal is a `TextRefused` (a ValueError) whose message
the caller puts after the file's name.
"""

from __future__ import annotations

import json
from typing import Any

import yaml

_JSON_OPENERS, _JSON_CLOSERS = "[{", "]}"


class TextRefused(ValueError):
    """The text is too large, nests too deep, or holds a YAML alias where none is allowed."""


def check_size(size: int, max_bytes: int, what: str = "file") -> None:
    if size > max_bytes:
        raise TextRefused(f"{what} is {size} bytes, over the limit of {max_bytes}")


def _too_deep(max_depth: int) -> TextRefused:
    return TextRefused(f"nests deeper than {max_depth} levels of mappings and lists")


def check_json_depth(text: str, max_depth: int) -> None:
    """Refuse JSON text nesting deeper than `max_depth` (brackets outside strings)."""
    depth, in_string, escaped = 0, False, False
    for char in text:
        if in_string:
            if escaped:
                escaped = False
            elif char == "\\":
                escaped = True
            elif char == '"':
                in_string = False
        elif char == '"':
            in_string = True
        elif char in _JSON_OPENERS:
            depth += 1
            if depth > max_depth:
                raise _too_deep(max_depth)
        elif char in _JSON_CLOSERS:
            depth -= 1


def check_yaml_events(text: str, max_depth: int, *, refuse_aliases: bool) -> None:
    """Refuse nesting deeper than `max_depth` and (with `refuse_aliases`) any anchor or alias,
    from the parser's events (nothing is built from them)."""
    depth = 0
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if refuse_aliases and (
            isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None
        ):
            raise TextRefused(
                "YAML anchors and aliases (&name, *name, << merges) are not accepted; "
                "write every value out"
            )
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > max_depth:
                raise _too_deep(max_depth)
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1


def load_json_text(text: str, max_depth: int, **loads: Any) -> Any:
    """`json.loads` after the nesting check (`loads`: json.loads' keyword arguments)."""
    check_json_depth(text, max_depth)
    return json.loads(text, **loads)


def load_yaml_text(text: str, max_depth: int, *, refuse_aliases: bool = False) -> Any:
    """`yaml.safe_load` after the event checks."""
    check_yaml_events(text, max_depth, refuse_aliases=refuse_aliases)
    return yaml.safe_load(text)
