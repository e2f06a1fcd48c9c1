"""A method's display label (`MethodInfo.label`, from `Condenser.label`): kept by the record
(left out of the JSON when None), carried by the entry, shown escaped beside the method name
on the index and the entry page, and in the downloads' ``method_label`` column."""

from __future__ import annotations

import csv
import io
import json
import re

import pytest
from leaderboard_factory import make_sequential_record

from harness.errors import DataError
from leaderboard.aggregate import aggregate
from leaderboard.record import ResultRecord, read_record, record_json, write_record
from leaderboard.site import LoadedRecord, render_site

FARZI = "Farzi (in TD3's loop)"
BOLD = "TD3 <b>bold</b> & co"


def _labelled(method: str, label: str | None, seed: int = 0, value: float = 0.3) -> ResultRecord:
    record = make_sequential_record(method=method, budget="20", seed=seed, value=value)
    return record.model_copy(update={"method": record.method.model_copy(update={"label": label})})


def test_a_labelled_record_round_trips_with_the_label_after_the_name(tmp_path):
    record = _labelled("farzi", FARZI)
    path = write_record(record, tmp_path)
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["method"]["label"] == FARZI
    assert list(stored["method"])[:2] == ["name", "label"]
    assert read_record(path) == record and read_record(path).method.label == FARZI
    assert record_json(read_record(path)) == path.read_text(encoding="utf-8")


def test_an_unlabelled_record_has_no_label_key(tmp_path):
    record = make_sequential_record(method="random-kxl", budget="20")
    assert record.method.label is None
    stored = json.loads(write_record(record, tmp_path).read_text(encoding="utf-8"))
    assert "label" not in stored["method"]
    assert set(stored["method"]) == {"name", "version", "params", "source", "authors", "paper_url"}


def test_an_empty_label_is_refused(tmp_path):
    path = write_record(_labelled("farzi", FARZI), tmp_path)
    data = json.loads(path.read_text(encoding="utf-8"))
    data["method"]["label"] = ""
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(DataError, match="at least 1 character") as info:
        read_record(path)
    assert info.value.where == "method.label"


def test_the_entry_takes_the_first_seed_that_names_a_label():
    records = [_labelled("td3", None, seed=0), _labelled("td3", "TD3", seed=1)]
    records += [_labelled("td3", "TD3 (other)", seed=2), _labelled("random-kxl", None)]
    entries = {e.method: e for e in aggregate(records)}
    assert entries["td3"].method_label == "TD3"  # seed 0 has none; seed 1's, not seed 2's
    assert entries["random-kxl"].method_label is None


def _site(tmp_path, label: str):
    records = [_labelled("farzi", label, seed=s, value=0.3 + s / 100) for s in (0, 1)]
    records += [_labelled("random-kxl", None, seed=s) for s in (0, 1)]
    records += [make_sequential_record(method="original", budget="all", seed=s) for s in (0, 1)]
    out = tmp_path / "site"
    render_site([LoadedRecord(r, None) for r in records], out, built="now")
    pages = {p.name.split("--")[1]: p.read_text() for p in (out / "entries").glob("*.html")}
    return out, pages


def _method_cells(index: str) -> dict[str, str]:
    """method -> the raw HTML of its row's first cell on the index."""
    cells = re.findall(r'<td class="text" data-sort="([^"]*)">(.*?)</td>', index)
    return {sort: html for sort, html in cells if "<a href" in html}


def test_index_and_entry_page_show_the_label_beside_the_name(sequential_track, tmp_path):
    out, pages = _site(tmp_path, FARZI)
    cells = _method_cells((out / "index.html").read_text())
    escaped = "Farzi (in TD3&#39;s loop)"  # Jinja2 escapes the apostrophe
    assert cells["farzi"].endswith(f'>farzi</a> <span class="note method-label">· {escaped}</span>')
    assert "method-label" not in cells["random-kxl"] and "method-label" not in cells["original"]
    farzi = pages["farzi"]
    assert f'<h1>farzi <span class="method-label">· {escaped}</span> <span class="note">' in farzi
    assert f"<title>farzi ({escaped}) · ml-100k-seq" in farzi
    assert "method-label" not in pages["random-kxl"]


def test_a_label_with_markup_is_escaped(sequential_track, tmp_path):
    out, pages = _site(tmp_path, BOLD)
    escaped = "TD3 &lt;b&gt;bold&lt;/b&gt; &amp; co"
    index = (out / "index.html").read_text()
    assert "<b>" not in index and f"· {escaped}</span>" in index
    assert "<b>" not in pages["farzi"] and f"· {escaped}</span>" in pages["farzi"]


def test_downloads_carry_the_label(sequential_track, tmp_path):
    out, _ = _site(tmp_path, "=HYPERLINK(1)")
    rows = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text("utf-8"))))
    labels = {row["method"]: row["method_label"] for row in rows}
    assert labels == {"farzi": "'=HYPERLINK(1)", "random-kxl": "", "original": ""}
    header = next(csv.reader(io.StringIO((out / "leaderboard.csv").read_text("utf-8"))))
    assert header[header.index("method") + 1] == "method_label"
    document = json.loads((out / "leaderboard.json").read_text("utf-8"))
    by = {e["method"]: e["method_label"] for e in document["entries"]}
    assert by == {"farzi": "=HYPERLINK(1)", "random-kxl": None, "original": None}
