"""`harness.cli.output`: tables escaped for the terminal, one sorted JSON object."""

from __future__ import annotations

import json

import numpy as np
from click.testing import CliRunner

from harness.cli.output import clean, emit, table

HOSTILE = "evil\x1b[2J\x1b[31mred\rover\u202eftl\u200b\ttab\nline"


def test_clean_leaves_no_control_or_format_character():
    text = clean(HOSTILE)
    assert not any(ord(c) < 0x20 or c in "\x7f\u202e\u200b" for c in text)
    assert text.startswith("evil\\x1b[2J") and "\\r" not in text  # visible, not acted on
    assert "\\x0d" in text and "\\u202e" in text and "\\x0a" in text
    assert clean(text) == text  # escaping twice changes nothing
    assert clean("Café ∑ 漢字") == "Café ∑ 漢字"


def test_table_aligns_and_escapes_every_cell():
    rows = [
        {"method": HOSTILE, "quality": 0.91234, "seeds": 5, "ci": [0.8, 1.0], "note": None},
        {"method": "random", "quality": float("nan"), "seeds": 12, "ci": None, "note": "ok"},
    ]
    text = table(rows)
    lines = text.split("\n")
    assert len(lines) == 3 and "\x1b" not in text and "\r" not in text
    assert lines[0].split() == ["method", "quality", "seeds", "ci", "note"]
    assert "0.9123" in lines[1] and "nan" in lines[2] and "[0.8000, 1.0000]" in lines[1]
    # numbers right-aligned: the seeds column ends at the same place on every row
    ends = {line.index(str(n)) + len(str(n)) for line, n in zip(lines[1:], (5, 12), strict=True)}
    assert len(ends) == 1
    assert table([], empty="(no records)") == "(no records)"


def test_json_is_one_object_with_sorted_keys():
    def command():
        emit({"b": np.float32(0.5), "a": np.int64(3), "c": np.arange(2)}, True, "ignored")

    import click

    result = CliRunner().invoke(click.command()(command))
    assert result.stdout.count("\n") == 1
    assert result.stdout.index('"a"') < result.stdout.index('"b"') < result.stdout.index('"c"')
    assert json.loads(result.stdout) == {"a": 3, "b": 0.5, "c": [0, 1]}


def test_error_lines_are_escaped(tmp_path):
    from harness.cli import main

    result = CliRunner().invoke(main, ["data", "stats", "\x1b[2Jx\ry", "--cache", str(tmp_path)])
    assert result.exit_code == 2
    assert "\x1b" not in result.stderr and "\r" not in result.stderr
    assert "[2Jx" in result.stderr  # shown as text


def test_emitted_text_progress_lines_and_c1_controls_are_escaped():
    import io

    import click

    from harness.progress import Progress

    def command():
        emit({}, False, "method\x9b31m\u2066x\u2069")

    result = CliRunner().invoke(click.command()(command))
    assert "\x9b" not in result.stdout and "\u2066" not in result.stdout
    assert "\\x9b31m" in result.stdout and "\\u2066" in result.stdout
    stream = io.StringIO()
    with Progress(total=1, desc="evil\x1b[2J", file=stream, leave=True) as bar:
        bar.write("cell \u202eevil\x1b]0;title\x07")
        bar.update()
    assert not any(c in stream.getvalue() for c in "\x1b\x07\u202e")
    assert "evil\\x1b[2J: 1/1" in stream.getvalue() and "\\u202eevil" in stream.getvalue()


def test_a_hostile_member_name_in_a_rejection_prints_escaped(tmp_path):
    import zipfile

    from harness.cli import main

    entry = tmp_path / "entry.zip"
    with zipfile.ZipFile(entry, "w") as archive:
        archive.writestr("/abs\x1b[2J\u202eevil.tsv", "x")
    result = CliRunner().invoke(main, ["submit", str(entry), "--validate-only"])
    assert result.exit_code == 1 and "absolute paths" in result.stderr
    assert "\x1b" not in result.stderr and "\u202e" not in result.stderr
    assert "\\x1b[2J\\u202eevil.tsv" in result.stderr
