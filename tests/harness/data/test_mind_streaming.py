"""The streaming MIND converter gives today's tables and today's errors (mind_reference.py)."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import mind_reference
import pandas as pd
import pytest
from mind_format_fixtures import write_mind_mirror, write_release_zip

from harness.data import archives, mind
from harness.errors import DataError

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from mind_shapes import generate  # noqa: E402


@pytest.fixture(autouse=True)
def small_pieces(monkeypatch):
    """Pieces of a few KB, so a test file is parsed in many of them."""
    monkeypatch.setattr(archives, "_CHUNK", 997)
    monkeypatch.setattr(mind, "PIECE", 3000)


@pytest.fixture(scope="module")
def generated(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("generated")
    generate(root, "small", 0.01, seed=0)
    return root / "mind"


def zips(folder: Path) -> tuple[Path, Path]:
    return folder / "MINDsmall_train.zip", folder / "MINDsmall_dev.zip"


def members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as archive:
        return {name: archive.read(name) for name in archive.namelist()}


def assert_same(streamed, reference) -> None:
    assert streamed.fingerprint() == reference.fingerprint()
    assert streamed.text_fields == reference.text_fields and streamed.meta == reference.meta
    for field in ("item_id", "source_id", *reference.text_fields):
        assert streamed.items[field].tolist() == reference.items[field].tolist()
    assert list(streamed.items.columns) == list(reference.items.columns)
    assert streamed.histories["user_id"].tolist() == reference.histories["user_id"].tolist()
    assert streamed.histories["history"].tolist() == reference.histories["history"].tolist()
    pd.testing.assert_frame_equal(streamed.interactions, reference.interactions)


def both(train: Path, dev: Path):
    return (
        mind.mind_dataset(train, dev, "mind-small"),
        mind_reference.mind_dataset(train, dev, "mind-small"),
    )


def test_generated_set_converts_to_todays_tables(generated):
    streamed, reference = both(*zips(generated))
    assert len(streamed.interactions) > 50_000  # many pieces
    assert_same(streamed, reference)


def test_the_fixture_and_its_variants_convert_to_todays_tables(tmp_path):
    folder = write_mind_mirror(tmp_path / "plain") / "mind"
    assert_same(*both(*zips(folder)))
    for variant, change in {
        "crlf": lambda b: b.replace(b"\n", b"\r\n"),
        "blank-lines": lambda b: b.replace(b"\n", b"\n\n  \n", 2),
        "no-last-newline": lambda b: b.rstrip(b"\n"),
    }.items():
        out = tmp_path / variant / "mind"
        for path in zips(folder):
            parts = members(path)
            write_release_zip(out / path.name, parts["news.tsv"], change(parts["behaviors.tsv"]))
        assert_same(*both(*zips(out)))
    nested = tmp_path / "nested" / "mind"
    nested.mkdir(parents=True)
    for path in zips(folder):
        with zipfile.ZipFile(nested / path.name, "w") as out:
            for name, data in members(path).items():
                out.writestr(f"{path.stem}/{name}", data)
    assert_same(*both(*zips(nested)))


def error_of(convert, train: Path, dev: Path) -> str:
    with pytest.raises(DataError) as info:
        convert(train, dev, "mind-small")
    return str(info.value)


def behaviors_lines(path: Path) -> list[bytes]:
    return members(path)["behaviors.tsv"].split(b"\n")


LATE = 1400  # a line in one of the last pieces of the generated train behaviors


def _set_field(lines, number, index, value):
    fields = lines[number - 1].split(b"\t")
    fields[index] = value
    lines[number - 1] = b"\t".join(fields)


BROKEN = {
    "unknown-history-id": lambda ls: _set_field(ls, LATE, 3, ls[LATE - 1].split(b"\t")[3] + b" N0"),
    "unknown-candidate": lambda ls: _set_field(ls, LATE, 4, b"N0-1"),
    "malformed-label": lambda ls: _set_field(ls, LATE, 4, ls[LATE - 1].split(b"\t")[4] + b" N1-2"),
    "no-candidates": lambda ls: _set_field(ls, LATE, 4, b"  "),
    "empty-user": lambda ls: _set_field(ls, LATE, 1, b" "),
    "missing-field": lambda ls: ls.__setitem__(LATE - 1, ls[LATE - 1].rsplit(b"\t", 1)[0]),
    "bad-time": lambda ls: _set_field(ls, LATE, 2, b"yesterday"),
    "bad-time-and-late-unknown-id": lambda ls: (
        _set_field(ls, 3, 2, b"yesterday"),
        _set_field(ls, LATE, 4, b"N0-1"),
    ),
    "non-utf8-late-and-unknown-id-early": lambda ls: (
        _set_field(ls, 3, 4, b"N0-1"),
        _set_field(ls, LATE, 1, b"U\xff"),
    ),
    "truncated": lambda ls: ls.__setitem__(slice(len(ls) - 2, None), [ls[-2].rsplit(b"\t", 1)[0]]),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
@pytest.mark.parametrize("part", ["train", "dev"])
def test_errors_are_todays(generated, tmp_path, case, part):
    train, dev = zips(generated)
    target = train if part == "train" else dev
    lines = behaviors_lines(target)
    if part == "dev" and len(lines) <= LATE:
        lines = lines[:-1] * 3 + [b""]  # dev is shorter: make line LATE exist
    BROKEN[case](lines)
    broken = tmp_path / "mind" / target.name
    write_release_zip(broken, members(target)["news.tsv"], b"\n".join(lines))
    paths = (broken, dev) if part == "train" else (train, broken)
    streamed = error_of(mind.mind_dataset, *paths)
    assert streamed == error_of(mind_reference.mind_dataset, *paths)
    assert "behaviors.tsv (line" in streamed


def test_a_damaged_member_is_named_as_before(generated, tmp_path):
    train, dev = zips(generated)
    raw = bytearray(train.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 64] = bytes(64)  # inside the deflated behaviors.tsv
    broken = tmp_path / train.name
    broken.write_bytes(bytes(raw))
    assert error_of(mind.mind_dataset, broken, dev) == error_of(
        mind_reference.mind_dataset, broken, dev
    )
