"""Render entries into a static site that works from file:// with no network.

Layout of SITE_DIR:
    index.html                 charts and sortable tables, one section per dataset x recommender
    entries/<slug>.html        one page per entry
    records/<slug>/seed=N.json the records the entry was built from (copied byte for byte)
    leaderboard.csv, leaderboard.json
    .condbench-site            marker: only a folder carrying it is ever replaced

Every string reaches HTML through Jinja2 with autoescape on; only http(s) URLs become links.
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

from harness.errors import DataError
from harness.metrics import is_quality_metric, metric_sort_key, metric_specs
from harness.paths import atomic_dir
from harness.progress import progress
from leaderboard.aggregate import Entry, aggregate
from leaderboard.chart import Chart, build_chart
from leaderboard.downloads import entries_csv, entries_json
from leaderboard.record import ResultRecord, read_record, record_json

SITE_MARKER = ".condbench-site"
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class LoadedRecord:
    record: ResultRecord
    path: Path | None  # the file it was read from; None when built in memory


@dataclass
class Section:
    track: str
    dataset: str
    recommender: str
    anchor: str
    entries: list[Entry]
    metrics: list[str]
    chart: Chart
    has_original: bool


@dataclass(frozen=True)
class SiteSummary:
    site_dir: Path
    records: int
    entries: int
    sections: int

    def as_dict(self) -> dict:
        return {
            "site_dir": str(self.site_dir),
            "records": self.records,
            "entries": self.entries,
            "sections": self.sections,
        }


# ---- template filters ------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _pct(value, digits: int = 1) -> str:
    return "–" if _missing(value) else f"{value * 100:.{digits}f}%"


def _signed_pct(value) -> str:
    return "–" if _missing(value) else f"{value * 100:+.1f} pp"


def _num(value) -> str:
    return "–" if _missing(value) else f"{value:.3g}"


def _sort_value(value) -> str:
    return "" if _missing(value) else repr(float(value))


def safe_link(url: str | None) -> Markup:
    """An <a> for http(s) URLs; anything else (javascript:, data:, ...) is shown as text."""
    if not url:
        return Markup("–")
    parts = urlsplit(url.strip())
    if parts.scheme.lower() in ("http", "https") and parts.netloc:
        return Markup('<a href="{0}" rel="noopener noreferrer nofollow">{0}</a>').format(
            url.strip()
        )
    return Markup("{0}").format(escape(url))


def _json_pretty(value) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str)  # escaped by autoescape


def template_environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("leaderboard", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(
        pct=_pct,
        signedpct=_signed_pct,
        num=_num,
        sortvalue=_sort_value,
        link=safe_link,
        tojson_pretty=_json_pretty,
    )
    # "NDCG@K, Recall@K": the kinds that enter Quality, from the metric registry
    env.globals["quality_metric_patterns"] = ", ".join(
        spec.pattern for spec in metric_specs() if spec.quality
    )
    return env


# ---- building --------------------------------------------------------------------------


def load_results(results_dir: str | Path) -> list[LoadedRecord]:
    """Every record below `results_dir`, sorted by path; a bad record is a `DataError`."""
    root = Path(results_dir)
    if not root.is_dir():
        raise DataError("results folder not found", file=str(root))
    paths = sorted(root.rglob("seed=*.json"))
    loaded: list[LoadedRecord] = []
    first_path: dict[tuple, Path] = {}
    for path in progress(paths, desc="reading records", unit="rec"):
        record = read_record(path)
        if record.cell_key in first_path:
            raise DataError(f"the same cell as {first_path[record.cell_key]}", file=str(path))
        first_path[record.cell_key] = path
        loaded.append(LoadedRecord(record, path))
    return loaded


def _sections(entries: list[Entry], hrefs: dict[str, str]) -> list[Section]:
    grouped: dict[tuple[str, str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        grouped[(entry.track, entry.dataset, entry.recommender)].append(entry)
    sections = []
    for (track, dataset, recommender), members in sorted(grouped.items()):
        names = {m for e in members for m in e.metrics if is_quality_metric(m)}
        sections.append(
            Section(
                track=track,
                dataset=dataset,
                recommender=recommender,
                anchor=_ANCHOR_UNSAFE.sub("_", f"{track}--{dataset}--{recommender}"),
                entries=members,
                metrics=sorted(names, key=metric_sort_key),
                chart=build_chart(members, hrefs),
                has_original=any(e.is_original for e in members),
            )
        )
    return sections


def _prepare_target(site_dir: Path) -> None:
    if site_dir.exists() and not site_dir.is_dir():
        raise DataError("site output exists and is not a folder", file=str(site_dir))
    if site_dir.is_dir() and any(site_dir.iterdir()) and not (site_dir / SITE_MARKER).is_file():
        raise DataError(
            f"folder is not empty and was not built by condbench (no {SITE_MARKER}); refusing to replace it",
            file=str(site_dir),
        )


def render_site(
    loaded: list[LoadedRecord], site_dir: str | Path, *, built: str | None = None
) -> SiteSummary:
    """Write the whole site for `loaded` into `site_dir`, atomically (all or nothing)."""
    site_dir = Path(site_dir)
    _prepare_target(site_dir)
    built = built or datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    entries = aggregate(item.record for item in loaded)
    hrefs = {e.slug: f"entries/{e.slug}.html" for e in entries}
    sections = _sections(entries, hrefs)
    anchors = {(s.track, s.dataset, s.recommender): s.anchor for s in sections}
    by_entry: dict[tuple[str, str, str, str], list[LoadedRecord]] = defaultdict(list)
    for item in loaded:
        by_entry[item.record.entry_key].append(item)

    env = template_environment()
    entry_template = env.get_template("entry.html")
    with atomic_dir(site_dir) as tmp:
        tmp.chmod(0o755)  # a temporary folder is private; a site is meant to be served
        (tmp / "entries").mkdir()
        for entry in progress(entries, desc="rendering entries", unit="entry"):
            links = _copy_records(
                sorted(by_entry[entry.key], key=lambda i: i.record.seed),
                tmp / "records" / entry.slug,
            )
            html = entry_template.render(
                e=entry,
                anchor=anchors[(entry.track, entry.dataset, entry.recommender)],
                record_links=[(seed, f"../records/{entry.slug}/{name}") for seed, name in links],
            )
            (tmp / "entries" / f"{entry.slug}.html").write_text(html, encoding="utf-8")
        index = env.get_template("index.html").render(
            sections=sections,
            hrefs=hrefs,
            built=built,
            record_count=len(loaded),
            entry_count=len(entries),
        )
        (tmp / "index.html").write_text(index, encoding="utf-8")
        (tmp / "leaderboard.csv").write_text(entries_csv(entries), encoding="utf-8")
        (tmp / "leaderboard.json").write_text(entries_json(entries, built), encoding="utf-8")
        (tmp / SITE_MARKER).write_text("built by condbench leaderboard build\n", encoding="utf-8")
    return SiteSummary(
        site_dir=site_dir, records=len(loaded), entries=len(entries), sections=len(sections)
    )


def _copy_records(items: list[LoadedRecord], folder: Path) -> list[tuple[int, str]]:
    folder.mkdir(parents=True, exist_ok=True)
    links = []
    for item in items:
        name = f"seed={item.record.seed}.json"
        if item.path is not None:
            shutil.copyfile(item.path, folder / name)
        else:
            (folder / name).write_text(record_json(item.record), encoding="utf-8")
        links.append((item.record.seed, name))
    return links


def build_site(results_dir: str | Path, site_dir: str | Path) -> SiteSummary:
    """`condbench leaderboard build`: read every record below `results_dir`, render the site."""
    return render_site(load_results(results_dir), site_dir)
