"""The `leaderboard.csv` and `leaderboard.json` downloads.

Both carry every track's size fields (``ratio_overall`` is the track's headline ratio, named
by ``ratio_label``; a field of another track is empty / null) and the method ΔRandom compares
with (``random_method``). ``method_label`` is how the board shows the method beside its name
(empty / null when its records name none).

The CSV is opened in spreadsheets, so a text cell that starts with ``=``, ``+``, ``-``, ``@``
(or a tab / carriage return), also after leading whitespace of any kind (spaces, no-break and
other Unicode spaces) or invisible characters (zero-width, bidi controls), is prefixed with
``'`` and can never run as a formula. Numbers
are written as numbers (a negative ΔRandom stays a number).
"""

from __future__ import annotations

import csv
import io
import json
import math
from typing import Any

from harness.metrics import metric_sort_key
from harness.unprintable import is_unprintable
from leaderboard.aggregate import Entry

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
JSON_FORMAT_VERSION = 1

_FIXED_COLUMNS = (
    "track",
    "dataset",
    "recommender",
    "method",
    "method_label",
    "method_version",
    "method_source",
    "budget",
    "ratio_item",
    "ratio_user",
    "ratio_overall",
    "item_kb",
    "user_kb",
    "overall_kb",
    "interactions",
    "sequences",
    "stored_kb",
    "frozen_kb",
    "dense_kb",
    "ratio_stored",
    "ratio_dense",
    "ratio_label",
    "quality",
    "quality_ci95_low",
    "quality_ci95_high",
    "quality_chance_adjusted",
    "delta_random",
    "random_method",
    "score",  # without an Original: mean of the quality metrics, absolute
    "score_ci95_low",
    "score_ci95_high",
    "delta_random_score",
    "delta_random_score_ci95_low",
    "delta_random_score_ci95_high",
)
_TRAILING_COLUMNS = (
    "train_speedup",
    "train_s",
    "condense_s",
    "llm",
    "seeds",
    "created",
    "authors",
    "paper_url",
)


def _visible_start(text: str) -> str:
    """`text` from its first character that is neither whitespace (any Unicode space: a
    no-break space, an ideographic space) nor invisible (zero-width, bidi controls)."""
    index = 0
    while index < len(text) and (text[index].isspace() or is_unprintable(text[index])):
        index += 1
    return text[index:]


def guard_cell(value: Any) -> Any:
    """A CSV cell that a spreadsheet shows as text, never evaluates: a formula start at the
    beginning or after leading spaces or invisible characters gets a ``'`` in front."""
    if isinstance(value, str) and (
        value.startswith(FORMULA_STARTS) or _visible_start(value).startswith(FORMULA_STARTS)
    ):
        return "'" + value
    return value


def csv_rows(entries: list[Entry]) -> tuple[list[str], list[dict[str, Any]]]:
    metric_names = sorted({m for e in entries for m in e.metrics}, key=metric_sort_key)
    header = [*_FIXED_COLUMNS, *metric_names, *_TRAILING_COLUMNS]
    rows = []
    for e in entries:
        low, high = e.quality_ci95 or (None, None)
        row: dict[str, Any] = {name: getattr(e, name, None) for name in _FIXED_COLUMNS}
        row.update(quality_ci95_low=low, quality_ci95_high=high)
        for name in ("score", "delta_random_score"):
            low, high = getattr(e, f"{name}_ci95") or (None, None)
            row.update({f"{name}_ci95_low": low, f"{name}_ci95_high": high})
        for name in metric_names:
            row[name] = e.metrics[name].mean if name in e.metrics else None
        row.update(
            train_speedup=e.train_speedup,
            train_s=e.train_s,
            condense_s=e.condense_s,
            llm=e.llm,
            seeds=" ".join(str(s) for s in e.seeds),
            created=e.created,
            authors=e.authors,
            paper_url=e.paper_url,
        )
        rows.append(row)
    return header, rows


def entries_csv(entries: list[Entry]) -> str:
    header, rows = csv_rows(entries)
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if v is None else guard_cell(v)) for k, v in row.items()})
    return buffer.getvalue()


def entries_json(entries: list[Entry], built: str) -> str:
    document = {
        "format_version": JSON_FORMAT_VERSION,
        "built": built,
        "entries": [_finite(e.model_dump(mode="json")) for e in entries],
    }
    return json.dumps(document, allow_nan=False) + "\n"


def _finite(value: Any) -> Any:
    """NaN and infinities become null, so the file is valid JSON."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
