"""What every `condbench` command prints, and how.

- Figures go to stdout: a table of plain aligned columns (`table`), or with ``--json`` exactly
  one JSON object (`emit_json`: sorted keys, one line).
- Logs, warnings and progress go to stderr (`say(..., err=True)`, `harness.progress`).
- Every table cell and every log line is escaped for the terminal (`clean`): names may come
  from submissions, and a control character or an ANSI escape in one must not move the
  cursor, recolour the screen or hide text.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import click

from harness.unprintable import escape_unprintable


def clean(text: Any) -> str:
    """`text` with every control, format (bidi, zero-width) or separator character written
    as a visible escape (``\\x1b``, ``\\u202e``), so an ANSI sequence prints as plain text
    (`harness.unprintable`)."""
    return escape_unprintable(text)


def say(text: str = "", *, err: bool = False) -> None:
    """Print `text` (stdout, or stderr with `err`), each line escaped with `clean`."""
    click.echo("\n".join(clean(line) for line in str(text).split("\n")), err=err)


def cell_text(value: Any, digits: int = 4) -> str:
    """A table cell: ``-`` for None, floats to `digits` places, lists in brackets."""
    if value is None:
        return "-"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return "nan" if math.isnan(value) else f"{value:.{digits}f}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(cell_text(v, digits) for v in value) + "]"
    return clean(value)


def table(
    rows: Sequence[Mapping[str, Any]] | Sequence[Sequence[Any]],
    columns: Sequence[str] | None = None,
    *,
    title: str | None = None,
    empty: str = "(no rows)",
    digits: int = 4,
) -> str:
    """Rows (mappings, or sequences with `columns` as the header) as aligned columns.

    Columns whose values are all numbers are right-aligned, the rest left-aligned; strings
    are taken as they are (pre-formatted numbers included), after `clean`.
    """
    if not rows:
        return empty if title is None else f"{clean(title)}\n{empty}"
    if isinstance(rows[0], Mapping):
        columns = list(columns or dict.fromkeys(key for row in rows for key in row))
        values = [[row.get(c) for c in columns] for row in rows]  # type: ignore[union-attr]
    else:
        if columns is None:
            raise ValueError("table: rows given as sequences need columns")
        columns = list(columns)
        values = [list(row) for row in rows]
    numeric = [
        all(v is None or _is_number(v) or _looks_numeric(v) for v in column)
        for column in zip(*values, strict=True)
    ]
    header = [clean(c) for c in columns]
    texts = [[cell_text(v, digits) for v in row] for row in values]
    widths = [max(len(header[i]), *(len(r[i]) for r in texts)) for i in range(len(columns))]

    def line(cells: list[str]) -> str:
        parts = [
            c.rjust(w) if right else c.ljust(w)
            for c, w, right in zip(cells, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    lines = [clean(title)] if title is not None else []
    lines.append(line(header))
    lines += [line(r) for r in texts]
    return "\n".join(lines)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _looks_numeric(value: Any) -> bool:
    """Pre-formatted numbers (``"0.8123"``, ``"± 0.01"``, ``""``) align like numbers."""
    if not isinstance(value, str):
        return False
    text = value.replace("±", "").replace(",", "").strip()
    if not text or text in ("-", "nan"):
        return True
    try:
        float(text)
    except ValueError:
        return False
    return True


def _json_default(value: Any) -> Any:
    """numpy scalars and arrays, paths, sets; anything else as its text."""
    if hasattr(value, "item") and callable(value.item) and getattr(value, "ndim", 1) == 0:
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, set | frozenset):
        return sorted(value, key=str)
    if isinstance(value, Path):
        return str(value)
    return str(value)


def to_json(payload: Mapping[str, Any]) -> str:
    """The one JSON form of a command's output: sorted keys, one line."""
    return json.dumps(payload, sort_keys=True, default=_json_default)


def emit_json(payload: Mapping[str, Any]) -> None:
    """Exactly one JSON object on stdout (logs and progress belong on stderr)."""
    click.echo(to_json(payload))


def emit(payload: Mapping[str, Any], as_json: bool, text: str | None = None) -> None:
    """`emit_json(payload)` with ``--json``, else `text` (e.g. built by `table`), escaped
    line by line as `say` does."""
    if as_json:
        emit_json(payload)
    elif text is not None:
        say(text)
