"""The static site: files, escaping, downloads, CLI; and in headless Chromium: chart, sort, XSS,
and both tracks' sections, each with its own ratio on its axis."""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from leaderboard_factory import make_grid, make_record, make_sequential_record

from harness.cli import main
from harness.errors import DataError
from leaderboard.aggregate import aggregate
from leaderboard.downloads import entries_csv, guard_cell
from leaderboard.record import SizeInfo, write_record
from leaderboard.site import SITE_MARKER, LoadedRecord, load_results, render_site

XSS = "<script>alert(1)</script>"
CONTENT_ANCHOR = "content--movielens-tfdcon--naml"
SEQUENTIAL_ANCHOR = "sequential--ml-100k-seq--sasrec"
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def _records():
    records = make_grid(60, seed=1, datasets=("movielens-tfdcon",), recommenders=("naml",), seeds=3)
    records += [
        make_record(
            method=XSS,
            seed=s,
            authors='"><img src=x onerror=alert(2)>',
            paper_url="javascript:alert(3)",
            params={"<b>k</b>": '=HYPERLINK("http://x")'},
            metrics={m: 0.8 for m in ("AUC", "MRR", "NDCG@1", "NDCG@5", "Recall@1", "Recall@5")},
            ratio=0.02,
            command="condbench run x.yaml && echo '<i>'",
        )
        for s in range(3)
    ]
    records.append(
        make_record(
            method="=cmd|' /C calc'!A0",
            seed=0,
            ratio=0.3,
            paper_url="https://example.org/p?a=1&b=2",
        )
    )
    # the sequential track: Original, random-kxl and longest-users at two budgets
    sequential = [("original", "all", 0.5), ("random-kxl", "20", 0.3),
                  ("random-kxl", "60", 0.4), ("longest-users", "20", 0.42),
                  ("longest-users", "60", 0.45)]  # fmt: skip
    records += [
        make_sequential_record(method=method, budget=budget, seed=s, value=value + s / 100)
        for method, budget, value in sequential
        for s in range(3)
    ]
    return records


@pytest.fixture(scope="module")
def site(sequential_track, tmp_path_factory) -> Path:
    results = tmp_path_factory.mktemp("results")
    for record in _records():
        write_record(record, results)
    out = tmp_path_factory.mktemp("site") / "site"
    result = CliRunner().invoke(
        main, ["leaderboard", "build", str(results), "-o", str(out), "--json"]
    )
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["records"] == len(_records()) and summary["sections"] == 2
    return out


def test_site_files_and_record_copies(site: Path):
    assert (site / "index.html").is_file() and (site / SITE_MARKER).is_file()
    pages = sorted((site / "entries").glob("*.html"))
    document = json.loads((site / "leaderboard.json").read_text())
    assert len(pages) == len(document["entries"]) == len(aggregate(_records()))
    copies = list((site / "records").rglob("seed=*.json"))
    assert len(copies) == len(_records())
    page = next(p for p in pages if p.name.startswith("movielens-tfdcon--random--47"))
    html = page.read_text()
    assert (
        "../records/" in html
        and "condbench run configs/movielens-tfdcon.yaml --condenser random" in html
    )
    for link in [
        line.split('href="')[1].split('"')[0]
        for line in html.splitlines()
        if "seed=" in line and "href" in line
    ]:
        assert (page.parent / link).resolve().is_file()


def test_submitted_strings_are_escaped(site: Path):
    index = (site / "index.html").read_text()
    assert XSS not in index and "&lt;script&gt;alert(1)&lt;/script&gt;" in index
    page = next(
        p
        for p in (site / "entries").glob("*.html")
        if "alert" in p.read_text() and "img" in p.read_text()
    )
    html = page.read_text()
    assert XSS not in html and "<img" not in html
    assert 'href="javascript:' not in html and "javascript:alert(3)" in html  # shown, not linked
    assert "&lt;b&gt;k&lt;/b&gt;" in html and "&lt;i&gt;" in html
    linked = next(
        p for p in (site / "entries").glob("*.html") if "example.org" in p.read_text()
    ).read_text()
    assert 'href="https://example.org/p?a=1&amp;b=2"' in linked


def test_csv_guards_formulas_and_json_is_valid(site: Path):
    rows = list(csv.DictReader(io.StringIO((site / "leaderboard.csv").read_text())))
    methods = {row["method"] for row in rows}
    assert "'=cmd|' /C calc'!A0" in methods and XSS in methods
    assert all(not row["method"].startswith(("=", "+", "-", "@")) for row in rows)
    negative = [row for row in rows if row["delta_random"].startswith("-")]
    assert negative and all(
        float(row["delta_random"]) < 0 for row in negative
    )  # numbers stay numbers
    assert (
        guard_cell("@SUM(A1)") == "'@SUM(A1)"
        and guard_cell("+1") == "'+1"
        and guard_cell(-0.5) == -0.5
    )
    document = json.loads((site / "leaderboard.json").read_text())
    original = next(e for e in document["entries"] if e["method"] == "original")
    assert original["quality"] == pytest.approx(1.0)


def test_refuses_to_replace_a_foreign_folder(tmp_path: Path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(DataError, match="not built by condbench"):
        render_site([LoadedRecord(make_record(), None)], foreign)
    assert (foreign / "notes.txt").read_text() == "keep me"
    built = tmp_path / "site"
    render_site([LoadedRecord(make_record(), None)], built)
    render_site(
        [LoadedRecord(make_record(method="other"), None)], built
    )  # an earlier build is replaced
    assert "other" in (built / "index.html").read_text()


def test_cli_reports_a_bad_record_in_one_line(tmp_path: Path):
    results = tmp_path / "results"
    write_record(make_record(), results)
    bad = results / "x" / "seed=1.json"
    bad.parent.mkdir()
    bad.write_text('{"schema_version": 99}')
    result = CliRunner().invoke(
        main, ["leaderboard", "build", str(results), "-o", str(tmp_path / "site")]
    )
    assert result.exit_code == 2
    assert "invalid result record" in result.stderr and "Traceback" not in result.output


@pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian chromium not installed (.ci/run installs it)"
)
def test_site_in_headless_chromium(site: Path, tmp_path: Path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            dialogs, errors, requests = [], [], []
            page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.on("request", lambda r: requests.append(r.url))
            page.goto((site / "index.html").as_uri())
            shot = tmp_path / "index.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000

            content = page.locator(f"section#{CONTENT_ANCHOR}")
            chart = content.locator("svg.chart")
            assert chart.is_visible()
            assert chart.locator(".marker").count() >= 10
            assert chart.locator("polyline.pareto").count() == 1
            assert chart.locator(".reference-line").count() == 2  # chance, popularity
            rows = page.locator("table.sortable-table tbody tr").count()
            assert rows == len(aggregate(_records()))

            # both tracks render, each chart and table with its own ratio
            assert page.locator("section.board").count() == 2
            sequential = page.locator(f"section#{SEQUENTIAL_ANCHOR}")
            sequential.scroll_into_view_if_needed()
            seq_chart = sequential.locator("svg.chart")
            assert seq_chart.is_visible() and seq_chart.locator(".marker").count() == 5
            assert seq_chart.locator("polyline.pareto").count() == 1
            x_labels = {
                name: section.locator("svg.chart text.x-label")
                for name, section in (("content", content), ("sequential", sequential))
            }
            assert all(label.is_visible() for label in x_labels.values())
            assert x_labels["content"].text_content() == "condensation ratio (log scale)"
            assert (
                x_labels["sequential"].text_content() == "interaction-equivalents ratio (log scale)"
            )
            assert seq_chart.get_attribute("aria-label").startswith(
                "Quality vs interaction-equivalents ratio: ml-100k-seq"
            )
            seq_headers = sequential.locator("thead th").all_inner_texts()
            assert "Interaction-equivalents ratio" in seq_headers and "Sequences" in seq_headers
            assert "Ratio item" not in seq_headers
            assert "Sequences" not in content.locator("thead th").all_inner_texts()
            assert sequential.locator("tbody tr").count() == 5

            # the XSS method name is visible as text and nothing ran
            cell = page.locator("table.sortable-table a").filter(has_text=XSS)
            assert cell.count() == 1 and cell.is_visible() and cell.inner_text() == XSS
            assert dialogs == [] and errors == []
            assert all(url.startswith("file://") for url in requests)

            table = content.locator("table.sortable-table")
            header = table.locator("th", has_text="Ratio overall")
            column = header.evaluate("th => Array.from(th.parentNode.children).indexOf(th)")

            def column_values() -> list[float]:
                cells = table.locator(f"tbody tr td:nth-child({column + 1})")
                return [float(v) for v in cells.evaluate_all("cs => cs.map(c => c.dataset.sort)")]

            before = column_values()
            assert before != sorted(before)
            header.click()
            assert column_values() == sorted(before)
            assert header.get_attribute("aria-sort") == "ascending"
            header.click()
            assert column_values() == sorted(before, reverse=True)

            page.locator("table.sortable-table a", has_text="random").first.click()
            page.wait_for_load_state()
            assert "random" in page.locator("h1").inner_text()
            page.screenshot(path=str(tmp_path / "entry.png"))
            assert dialogs == [] and errors == []
        finally:
            browser.close()
    shutil.copy(shot, tmp_path / "kept.png")


def test_board_without_original_plots_score_against_size_and_compares_with_release_random(
    tmp_path: Path,
):
    """A dataset with no Original (Goodreads from the TF-DCon release): no Quality anywhere;
    the chart is score against KB, the table shows score and ΔRandom (score) against the
    release's random set, and the page says why."""

    def metrics(level: float) -> dict[str, float]:
        return {m: level for m in ("NDCG@1", "NDCG@5", "Recall@1", "Recall@5")}

    records = [
        make_record(dataset="goodreads-tfdcon", method=m, budget="27%", seed=s,
                    metrics=metrics(level + s / 100), ratio=ratio, reference=False)
        for m, level, ratio in (("release-random", 0.50, 1.0), ("release-tfdcon", 0.60, 2.0))
        for s in range(3)
    ]  # fmt: skip
    records = [  # sizes but no ratio, as the runner writes them without an Original
        r.model_copy(update={"sizes": SizeInfo(overall_kb=r.sizes.overall_kb)}) for r in records
    ]
    render_site([LoadedRecord(r, None) for r in records], tmp_path / "site")
    index = (tmp_path / "site" / "index.html").read_text()
    assert "Quality ±" not in index and "no Quality or ratio is computed" in index
    assert 'class="x-label">train set size, KB (log scale)' in index
    assert 'class="y-label">score (mean of the quality metrics)' in index
    assert index.count('class="marker"') == 2
    assert 'data-field="overall_kb"' in index and 'data-field="ratio_overall"' not in index
    assert "vs release-random" in index
    cells = re.findall(r'<td class="delta-score" data-sort="([^"]*)">', index)
    assert sorted(float(c) for c in cells) == pytest.approx([0.0, 0.10])
    scores = re.findall(r'<td class="score" data-sort="([^"]*)">', index)
    assert sorted(float(c) for c in scores) == pytest.approx([0.51, 0.61])


def test_two_files_for_one_cell_name_both(tmp_path: Path):
    results = tmp_path / "results"
    first = write_record(make_record(), results)
    copy = results / "copy" / "seed=0.json"
    copy.parent.mkdir()
    copy.write_bytes(first.read_bytes())
    with pytest.raises(DataError, match="the same cell as") as caught:
        render_site(load_results(results), tmp_path / "site")
    assert str(copy) in str(caught.value) and str(first) in str(caught.value)


LEADS = [" ", "   ", "\u00a0", "\u2003", "\u3000", "\u200b", "\u202e", " \n"]


@pytest.mark.parametrize("lead", LEADS)
@pytest.mark.parametrize("formula", ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)"])
def test_csv_guards_formulas_after_leading_spaces_and_invisible_characters(lead, formula):
    assert guard_cell(lead + formula) == "'" + lead + formula
    (entry,) = aggregate([make_record(authors=lead + formula)])
    (row,) = csv.DictReader(io.StringIO(entries_csv([entry])))
    assert row["authors"] == "'" + lead + formula


@pytest.mark.parametrize("text", ["A. Author", " plain text", "\u00a0x = 1", "a-b", "", "  "])
def test_csv_leaves_cells_that_start_with_no_formula(text):
    assert guard_cell(text) == text
