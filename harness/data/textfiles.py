"""Read text inputs line by line with errors that name the file and the line.

Every reader decodes strictly (non-UTF-8 bytes are an error naming the line, never a
silent replacement) and checks shape (column count, required columns, JSON syntax) so a
malformed file fails with one `DataError`, never a traceback from deep inside pandas.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path

from harness.errors import DataError


def decode_utf8(raw: bytes, source: str, encoding: str = "utf-8", first_line: int = 1) -> str:
    """Decode `raw` (whose first line is line `first_line`); on bad bytes name their line."""
    try:
        return raw.decode(encoding)
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + first_line
        raise DataError(
            f"not valid {encoding.upper()}: byte 0x{raw[exc.start]:02x} at offset {exc.start}",
            file=source,
            where=f"line {line}",
        ) from None


def read_text(path: str | Path, encoding: str = "utf-8") -> str:
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise DataError(f"cannot read: {exc.strerror}", file=str(path)) from None
    return decode_utf8(raw, str(path), encoding)


def text_lines(text: str) -> Iterator[tuple[int, str]]:
    """(1-based line number, line without its newline) for each non-empty line."""
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            yield number, line


def split_rows(
    text: str,
    source: str,
    *,
    delimiter: str,
    columns: int,
    name_of: tuple[str, ...] | None = None,
    skip_header: bool = False,
) -> Iterator[tuple[int, list[str]]]:
    """Plain delimited rows (no quoting): exactly `columns` fields per line, else an error.

    A last line cut short (a truncated file) is reported as such.
    """
    lines = list(text_lines(text))
    if skip_header and lines:
        lines = lines[1:]
    ends_cleanly = text.endswith("\n")
    for index, (number, line) in enumerate(lines):
        fields = line.split(delimiter)
        if len(fields) != columns:
            truncated = index == len(lines) - 1 and not ends_cleanly and len(fields) < columns
            what = (
                "truncated file: last line is incomplete" if truncated else "wrong number of fields"
            )
            expected = f" ({', '.join(name_of)})" if name_of else ""
            raise DataError(
                f"{what}: {len(fields)} fields, expected {columns}{expected}",
                file=source,
                where=f"line {number}",
            )
        yield number, fields


def read_csv_records(
    path: str | Path, required: tuple[str, ...]
) -> list[tuple[int, dict[str, str]]]:
    """A quoted CSV with a header: (line number, record) per row, required columns checked."""
    path = Path(path)
    text = read_text(path)
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise DataError("empty file", file=str(path)) from None
    missing = [c for c in required if c not in header]
    if missing:
        raise DataError(
            f"missing column {missing[0]!r} (header: {', '.join(header)})",
            file=str(path),
            where="line 1",
        )
    records = []
    try:
        for row in reader:
            if not row:
                continue
            if len(row) != len(header):
                raise DataError(
                    f"{len(row)} fields, header has {len(header)}",
                    file=str(path),
                    where=f"line {reader.line_num}",
                )
            records.append((reader.line_num, dict(zip(header, row, strict=True))))
    except csv.Error as exc:
        raise DataError(
            f"bad CSV: {exc}", file=str(path), where=f"line {reader.line_num}"
        ) from None
    return records


def read_json_lines(path: str | Path, required: tuple[str, ...]) -> list[tuple[int, dict]]:
    """JSON lines: (line number, object) per line, each an object holding `required` keys."""
    path = Path(path)
    records = []
    for number, line in text_lines(read_text(path)):
        try:
            record = json.loads(line)
        except json.JSONDecodeError as exc:
            raise DataError(
                f"bad JSON: {exc.msg}", file=str(path), where=f"line {number}"
            ) from None
        if not isinstance(record, dict):
            raise DataError("expected a JSON object", file=str(path), where=f"line {number}")
        missing = [k for k in required if k not in record]
        if missing:
            raise DataError(f"missing key {missing[0]!r}", file=str(path), where=f"line {number}")
        records.append((number, record))
    return records


def parse_int(value: str, source: str, where: str, what: str) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        raise DataError(f"{what} {value!r} is not an integer", file=source, where=where) from None


def iter_json_lines_gz(path: str | Path, required: tuple[str, ...]) -> Iterator[tuple[int, dict]]:
    """Stream a gzip-compressed JSON-lines file: (line number, object), validated per line.

    A cut-off download (truncated gzip stream) is reported as a truncated file.
    """
    path = Path(path)
    source = str(path)
    number = 0
    try:
        with gzip.open(path, "rb") as handle:
            for number, raw in enumerate(handle, start=1):  # noqa: B007
                if not raw.strip():
                    continue
                line = decode_utf8(raw, source, first_line=number)
                try:
                    record = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise DataError(
                        f"bad JSON: {exc.msg}", file=source, where=f"line {number}"
                    ) from None
                if not isinstance(record, dict):
                    raise DataError("expected a JSON object", file=source, where=f"line {number}")
                missing = [k for k in required if k not in record]
                if missing:
                    raise DataError(
                        f"missing key {missing[0]!r}", file=source, where=f"line {number}"
                    )
                yield number, record
    except EOFError:
        raise DataError(
            "truncated file: gzip stream ends early", file=source, where=f"after line {number}"
        ) from None
    except (gzip.BadGzipFile, zlib.error, OSError) as exc:
        raise DataError(
            f"not a readable gzip file: {exc}", file=source, where=f"after line {number}"
        ) from None
