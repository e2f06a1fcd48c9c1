"""Both tracks on one site: each section's chart is labelled with its track's ratio, its
table shows its track's size columns, and ΔRandom compares with its track's random method."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from pathlib import Path

import pytest
from leaderboard_factory import METRICS, make_record, make_sequential_record

from leaderboard.aggregate import aggregate, track_view
from leaderboard.site import LoadedRecord, render_site

CONTENT_ANCHOR = "content--movielens-tfdcon--naml"
SEQUENTIAL_ANCHOR = "sequential--ml-100k-seq--sasrec"
SEEDS = (0, 1, 2)


def _spread(value: float, seed: int) -> float:
    """value - 0.01, value, value + 0.01 over the three seeds: the seed mean is `value`."""
    return value + (seed - 1) * 0.01


def _content_records():
    # Quality = seed mean / Original's (0.8) on every metric: random .75, tfdcon .9,
    # random-kxl (a decoy here: not the content track's random method) .95
    cells = [("original", "all", 0.8), ("random", "10", 0.6), ("random", "47", 0.6),
             ("tfdcon", "10", 0.72), ("tfdcon", "47", 0.68), ("random-kxl", "47", 0.76)]  # fmt: skip
    return [
        make_record(
            method=method,
            budget=budget,
            seed=seed,
            metrics={m: _spread(value, seed) for m in METRICS},
            ratio=None if method == "original" else {"10": 0.01, "47": 0.05}[budget],
        )
        for method, budget, value in cells
        for seed in SEEDS
    ]


def _sequential_records():
    # Original 0.5 on every metric; Quality: random-kxl .6 (20) / .8 (60), longest-users
    # .8 (20) / .9 (60), random (a decoy here) .9 (20)
    cells = [("original", "all", 0.5), ("random-kxl", "20", 0.3), ("random-kxl", "60", 0.4),
             ("longest-users", "20", 0.4), ("longest-users", "60", 0.45), ("random", "20", 0.45)]  # fmt: skip
    return [
        make_sequential_record(
            method=method,
            budget=budget,
            seed=seed,
            value=_spread(value, seed),
            interactions=3000.0 if method == "longest-users" else None,
        )
        for method, budget, value in cells
        for seed in SEEDS
    ]


@pytest.fixture(scope="module")
def site(sequential_track, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("tracks") / "site"
    records = _content_records() + _sequential_records()
    render_site([LoadedRecord(r, None) for r in records], out, built="test")
    return out


def _text(fragment: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def _sections(index: str) -> dict[str, dict]:
    """anchor -> the section's x-axis label, chart title, table header and rows (cell texts)."""
    out = {}
    for chunk in index.split('<section class="board" id="')[1:]:
        anchor = chunk.split('"', 1)[0]
        chunk = chunk.split("</section>", 1)[0]
        head, body = chunk.split("</thead>", 1)
        out[anchor] = {
            "x_label": _text(re.search(r'class="x-label">(.*?)</text>', chunk).group(1)),
            "title": html.unescape(re.search(r'role="img" aria-label="([^"]*)"', chunk).group(1)),
            "fields": re.findall(r'data-field="(\w+)"', head),
            "header": [_text(th) for th in re.findall(r"<th[^>]*>(.*?)</th>", head, re.S)],
            "rows": [
                [_text(td) for td in re.findall(r"<td[^>]*>(.*?)</td>", tr, re.S)]
                for tr in re.findall(r"<tr[^>]*>(.*?)</tr>", body, re.S)
            ],
        }
    return out


def _cell(section: dict, method: str, budget: str, column: str) -> str:
    row = next(r for r in section["rows"] if r[0] == method and r[1] == budget)
    return row[section["header"].index(column)]


def test_each_track_names_its_ratio_and_random_method(sequential_track):
    assert track_view("content").ratio_label == "condensation ratio"
    assert track_view("content").random_method == "random"
    assert track_view("sequential").ratio_label == "interaction-equivalents ratio"
    assert track_view("sequential").random_method == "random-kxl"
    # a track not registered here (a plugin's records) gets Track's defaults
    assert track_view("plugin-x").ratio_label == "condensation ratio"
    assert track_view("plugin-x").random_method == "random"


def test_delta_random_compares_with_the_tracks_random_method(sequential_track):
    entries = {
        (e.track, e.method, e.budget): e
        for e in aggregate(_content_records() + _sequential_records())
    }
    assert entries[("content", "tfdcon", "10")].delta_random == pytest.approx(0.9 - 0.75)
    assert entries[("content", "tfdcon", "47")].delta_random == pytest.approx(0.85 - 0.75)
    assert entries[("content", "random-kxl", "47")].delta_random == pytest.approx(0.95 - 0.75)
    assert entries[("sequential", "longest-users", "20")].delta_random == pytest.approx(0.8 - 0.6)
    assert entries[("sequential", "longest-users", "60")].delta_random == pytest.approx(0.9 - 0.8)
    assert entries[("sequential", "random", "20")].delta_random == pytest.approx(0.9 - 0.6)
    assert entries[("sequential", "random-kxl", "20")].delta_random == pytest.approx(0.0)
    assert {e.random_method for e in entries.values() if e.track == "sequential"} == {
        "random-kxl"
    }
    # the sequential size fields, means over seeds; the content ones stay empty there
    longest = entries[("sequential", "longest-users", "20")]
    assert longest.ratio_overall == pytest.approx(3000 / 97_401)
    assert (longest.interactions, longest.sequences) == (3000.0, 20.0)
    assert longest.stored_kb == pytest.approx(4 * 3000 / 1024) == longest.dense_kb
    assert longest.ratio_item is None and longest.item_kb is None
    tfdcon = entries[("content", "tfdcon", "47")]
    assert (tfdcon.ratio_item, tfdcon.overall_kb) == (pytest.approx(0.05), pytest.approx(50.0))
    assert tfdcon.sequences is None and tfdcon.stored_kb is None
    # a content Original without sizes: ratio 1 on the ratios its dataset reports, only those
    original = entries[("content", "original", "all")]
    assert (original.ratio_item, original.ratio_user, original.ratio_overall) == (1.0, 1.0, 1.0)
    assert original.ratio_dense is None and original.sequences is None


def test_each_section_has_its_axis_label_and_size_columns(site: Path):
    sections = _sections((site / "index.html").read_text(encoding="utf-8"))
    assert list(sections) == [CONTENT_ANCHOR, SEQUENTIAL_ANCHOR]
    content, sequential = sections[CONTENT_ANCHOR], sections[SEQUENTIAL_ANCHOR]

    assert content["x_label"] == "condensation ratio (log scale)"
    assert content["title"] == "Quality vs condensation ratio: movielens-tfdcon, naml"
    assert content["fields"] == ["ratio_item", "ratio_user", "ratio_overall"]
    assert content["header"][2:5] == ["Ratio item", "Ratio user", "Ratio overall"]
    assert _cell(content, "tfdcon", "47", "Ratio overall") == "5.00%"

    assert sequential["x_label"] == "interaction-equivalents ratio (log scale)"
    assert sequential["title"] == "Quality vs interaction-equivalents ratio: ml-100k-seq, sasrec"
    assert sequential["fields"] == ["ratio_overall", "sequences", "stored_kb", "dense_kb"]
    assert sequential["header"][2:6] == [
        "Interaction-equivalents ratio", "Sequences", "Stored KB", "Dense KB"
    ]  # fmt: skip
    assert _cell(sequential, "longest-users", "20", "Interaction-equivalents ratio") == "3.08%"
    assert _cell(sequential, "longest-users", "20", "Sequences") == "20"
    assert _cell(sequential, "longest-users", "20", "Stored KB") == "11.7"  # 4 x 3000 / 1024
    assert _cell(sequential, "original", "all", "Sequences") == "943"
    assert _cell(sequential, "random-kxl", "60", "Dense KB") == "23.4"  # 4 x 6000 / 1024

    # ΔRandom: against random in the content section, random-kxl in the sequential one
    assert "ΔRandom vs random" in content["header"]
    assert "ΔRandom vs random-kxl" in sequential["header"]
    assert _cell(content, "tfdcon", "10", "ΔRandom vs random") == "+15.0 pp"
    assert _cell(content, "random-kxl", "47", "ΔRandom vs random") == "+20.0 pp"
    assert _cell(sequential, "longest-users", "20", "ΔRandom vs random-kxl") == "+20.0 pp"
    assert _cell(sequential, "random", "20", "ΔRandom vs random-kxl") == "+30.0 pp"
    assert _cell(sequential, "random-kxl", "60", "ΔRandom vs random-kxl") == "+0.0 pp"


def test_intro_names_each_tracks_quality_metrics_and_random_method(site: Path):
    index = (site / "index.html").read_text(encoding="utf-8")
    notes = {
        track: _text(note)
        for track, note in re.findall(
            r'<li class="track-note" data-track="(\w+)">(.*?)</li>', index
        )
    }
    assert list(notes) == ["content", "sequential"]
    assert "ratio: condensation ratio" in notes["content"]
    assert "Quality over NDCG@K, Recall@K; ΔRandom against random." in notes["content"]
    assert "ratio: interaction-equivalents ratio" in notes["sequential"]
    assert "Quality over NDCG@K, HR@K; ΔRandom against random-kxl." in notes["sequential"]


def _entry_page(site: Path, slug_start: str) -> str:
    (page,) = [p for p in (site / "entries").glob("*.html") if p.name.startswith(slug_start)]
    return page.read_text(encoding="utf-8")


def _size_rows(page: str) -> dict[str, str]:
    rows = re.findall(
        r'<tr class="size"><th class="text">(.*?)</th><td class="text">(.*?)</td>', page
    )
    return {_text(label): _text(value) for label, value in rows}


def test_entry_pages_show_their_tracks_sizes(site: Path):
    sequential = _entry_page(site, "ml-100k-seq--longest-users--20--sasrec")
    assert _size_rows(sequential) == {
        "Interaction-equivalents ratio": "3.08%",
        "Interactions / sequences": "3,000 / 20",
        "Size KB (stored / frozen / dense)": "11.7 / 0.0 / 11.7",
        "Bytes ratio (stored / dense)": "3.05% / 3.05%",  # 11.72 / 384
    }
    assert "ΔRandom (vs <code>random-kxl</code>)" in sequential and "+20.0 pp" in sequential
    content = _entry_page(site, "movielens-tfdcon--tfdcon--47--naml")
    assert _size_rows(content) == {
        "Ratio (item / user / overall)": "5.00% / 5.00% / 5.00%",
        "Size KB (item / user / overall)": "5.0 / 45.0 / 50.0",
    }
    assert "ΔRandom (vs <code>random</code>)" in content and "+10.0 pp" in content


def test_downloads_carry_both_tracks_size_fields(site: Path):
    rows = list(csv.DictReader(io.StringIO((site / "leaderboard.csv").read_text(encoding="utf-8"))))
    by = {(r["track"], r["method"], r["budget"]): r for r in rows}
    longest = by[("sequential", "longest-users", "20")]
    assert (longest["sequences"], longest["interactions"]) == ("20.0", "3000.0")
    assert float(longest["stored_kb"]) == pytest.approx(4 * 3000 / 1024)
    assert longest["ratio_item"] == "" and longest["item_kb"] == ""
    assert longest["ratio_label"] == "interaction-equivalents ratio"
    assert longest["random_method"] == "random-kxl"
    assert float(longest["delta_random"]) == pytest.approx(0.2)
    tfdcon = by[("content", "tfdcon", "47")]
    assert tfdcon["sequences"] == "" and float(tfdcon["item_kb"]) == pytest.approx(5.0)
    assert (tfdcon["ratio_label"], tfdcon["random_method"]) == ("condensation ratio", "random")
    document = json.loads((site / "leaderboard.json").read_text(encoding="utf-8"))
    entry = next(
        e for e in document["entries"] if e["method"] == "longest-users" and e["budget"] == "60"
    )
    assert entry["dense_kb"] == pytest.approx(4 * 3000 / 1024) and entry["ratio_user"] is None
    assert entry["delta_random"] == pytest.approx(0.1) and entry["random_method"] == "random-kxl"


def test_a_track_not_registered_renders_with_the_defaults(tmp_path: Path):
    records = [
        make_record(method=method, budget=budget, seed=0, dataset="toy-data",
                    metrics={m: value for m in METRICS}, ratio=ratio).model_copy(update={"track": "plugin-x"})
        for method, budget, value, ratio in (("original", "all", 0.8, None),
                                              ("random", "8", 0.4, 0.1), ("other", "8", 0.6, 0.1))
    ]  # fmt: skip
    (other,) = [e for e in aggregate(records) if e.method == "other"]
    assert other.delta_random == pytest.approx(0.75 - 0.5)
    render_site([LoadedRecord(r, None) for r in records], tmp_path / "site", built="test")
    index = (tmp_path / "site" / "index.html").read_text(encoding="utf-8")
    section = _sections(index)["plugin-x--toy-data--naml"]
    assert section["x_label"] == "condensation ratio (log scale)"
    assert _cell(section, "other", "8", "ΔRandom vs random") == "+25.0 pp"
    assert "plugin-x track" in index
