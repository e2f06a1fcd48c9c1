"""Render entries into a static site that works from file:// with no network.

Layout of SITE_DIR:
    index.html                 charts and sortable tables, one section per track x dataset x
                               recommender (the chart's x axis and the table's size columns
                               are the track's: `track_view`, `size_columns`)
    entries/<slug>.html        one page per entry
    records/<slug>/seed=N.json the records the entry was built from (copied byte for byte)
    leaderboard.csv, leaderboard.json
    .condbench-site            marker: only a folder carrying it is ever replaced

Every string reaches HTML through Jinja2 with autoescape on; only http(s) URLs become links.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import shutil
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

import jinja2
from markupsafe import Markup, escape

from harness.errors import DataError
from harness.metrics import is_quality_metric, metric_sort_key, metric_spec
from harness.paths import atomic_dir
from harness.progress import progress
from leaderboard.aggregate import Entry, TrackView, aggregate, track_view
from leaderboard.chart import Chart, build_chart
from leaderboard.dataset_check import DatasetFlag, dataset_flags
from leaderboard.downloads import entries_csv, entries_json
from leaderboard.record import ResultRecord, read_record, record_json

SITE_MARKER = ".condbench-site"
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_-]+")


@dataclass(frozen=True)
class LoadedRecord:
    record: ResultRecord
    path: Path | None  # the file it was read from; None when built in memory


@dataclass(frozen=True)
class Column:
    """One size column of a section's table: the Entry field it shows, and how."""

    field: str
    header: str
    format: Callable[[float | None], str]
    title: str = ""

    def text(self, entry: Entry) -> str:
        return self.format(getattr(entry, self.field))

    def sort(self, entry: Entry) -> str:
        return _sort_value(getattr(entry, self.field))


@dataclass(frozen=True)
class SizeLine:
    """One size line of an entry page: a label and the Entry fields it joins with " / "."""

    label: str
    fields: tuple[str, ...]
    format: Callable[[float | None], str]

    def shown(self, entry: Entry) -> bool:
        return any(getattr(entry, name) is not None for name in self.fields)

    def text(self, entry: Entry) -> str:
        return " / ".join(self.format(getattr(entry, name)) for name in self.fields)


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
    view: TrackView
    columns: list[Column]
    dataset_notes: list[str] = dataclasses.field(default_factory=list)  # `dataset_check`

    @property
    def title(self) -> str:
        if not self.has_original:
            return f"score vs train set size: {self.dataset}, {self.recommender}"
        return f"Quality vs {self.view.ratio_label}: {self.dataset}, {self.recommender}"


@dataclass(frozen=True)
class TrackNote:
    """The intro's line for one track on the site: its ratio, Quality metrics, ΔRandom."""

    view: TrackView
    quality_patterns: str  # "NDCG@K, Recall@K": the kinds its entries' Quality averages


@dataclass(frozen=True)
class SiteSummary:
    site_dir: Path
    records: int
    entries: int
    sections: int
    dataset_flags: tuple[DatasetFlag, ...] = ()

    def as_dict(self) -> dict:
        return {
            "site_dir": str(self.site_dir),
            "records": self.records,
            "entries": self.entries,
            "sections": self.sections,
            "dataset_flags": [flag.as_dict() for flag in self.dataset_flags],
        }


# ---- template filters ------------------------------------------------------------------


def _missing(value) -> bool:
    return value is None or (isinstance(value, float) and not math.isfinite(value))


def _pct(value, digits: int = 1) -> str:
    return "–" if _missing(value) else f"{value * 100:.{digits}f}%"


def _signed_pct(value) -> str:
    return "–" if _missing(value) else f"{value * 100:+.1f} pp"


def _score(value) -> str:
    return "–" if _missing(value) else f"{value:.4f}"


def _signed_score(value) -> str:
    return "–" if _missing(value) else f"{value:+.4f}"


def _num(value) -> str:
    return "–" if _missing(value) else f"{value:.3g}"


def _pct2(value) -> str:
    return _pct(value, 2)


def _kb(value) -> str:
    return "–" if _missing(value) else f"{value:,.1f}"


def _count(value) -> str:
    """A count (a mean over seeds: whole unless the seeds differ)."""
    if _missing(value):
        return "–"
    return f"{value:,.0f}" if float(value).is_integer() else f"{value:,.1f}"


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
        score=_score,
        signedscore=_signed_score,
        num=_num,
        sortvalue=_sort_value,
        link=safe_link,
        tojson_pretty=_json_pretty,
    )
    return env


# ---- what a track shows: size columns, size lines, its Quality metrics -------------------

# the size columns a table may show, in this order; a section shows those some entry of it
# fills (content: the three ratios; sequential: its ratio, sequences and KB both ways), and
# always the headline ratio (`_headline_column`)
TABLE_COLUMNS = (
    Column("ratio_item", "Ratio item", _pct2),
    Column("ratio_user", "Ratio user", _pct2),
    Column("ratio_overall", "Ratio overall", _pct2),
    Column("sequences", "Sequences", _count, "sequences (users) in the train set"),
    Column("stored_kb", "Stored KB", _kb, "KB as stored, without frozen tables"),
    Column("dense_kb", "Dense KB", _kb, "KB written out densely"),
)
_PART_RATIOS = ("ratio_item", "ratio_user")
# a section none of whose entries has a ratio (no Original to divide by) shows the size instead
SIZE_WITHOUT_RATIO = Column(
    "overall_kb", "Size KB", _kb, "canonical UTF-8 TSV KB of the train set (no Original to divide by)"
)
# the entry page's size lines after the headline; each shown when an entry fills one of its
# fields
ENTRY_SIZE_LINES = (
    SizeLine("Size KB (item / user / overall)", ("item_kb", "user_kb", "overall_kb"), _kb),
    SizeLine("Interactions / sequences", ("interactions", "sequences"), _count),
    SizeLine("Size KB (stored / frozen / dense)", ("stored_kb", "frozen_kb", "dense_kb"), _kb),
    SizeLine("Bytes ratio (stored / dense)", ("ratio_stored", "ratio_dense"), _pct2),
)


def _ratio_header(view: TrackView) -> str:
    """The track's ratio label, capitalised ("Interaction-equivalents ratio")."""
    return view.ratio_label[:1].upper() + view.ratio_label[1:]


def _headline_column(view: TrackView, with_parts: bool) -> Column:
    """`ratio_overall`: "Ratio overall" beside item and user ratios, else the track's label."""
    header = "Ratio overall" if with_parts else _ratio_header(view)
    return Column("ratio_overall", header, _pct2, view.ratio_definition or view.ratio_label)


def size_columns(entries: list[Entry], view: TrackView) -> list[Column]:
    """The size columns of one section's table: those of `TABLE_COLUMNS` its entries fill."""
    filled = {
        c.field for c in TABLE_COLUMNS if any(getattr(e, c.field) is not None for e in entries)
    }
    with_parts = bool(filled & set(_PART_RATIOS))
    if "ratio_overall" not in filled and any(e.overall_kb is not None for e in entries):
        return [SIZE_WITHOUT_RATIO, *(c for c in TABLE_COLUMNS if c.field in filled)]
    return [
        _headline_column(view, with_parts) if c.field == "ratio_overall" else c
        for c in TABLE_COLUMNS
        if c.field in filled or c.field == "ratio_overall"
    ]


def size_lines(entry: Entry, view: TrackView) -> list[tuple[str, str]]:
    """(label, text) rows of an entry page's sizes, by what the entry's track reports."""
    if any(getattr(entry, name) is not None for name in _PART_RATIOS):
        parts = SizeLine("Ratio (item / user / overall)", (*_PART_RATIOS, "ratio_overall"), _pct2)
        lines = [(parts.label, parts.text(entry))]
    elif entry.ratio_overall is None and entry.overall_kb is not None:
        lines = []  # no Original to divide by: the KB line below says the size
    else:
        lines = [(_ratio_header(view), _pct2(entry.ratio_overall))]
    return lines + [
        (line.label, line.text(entry)) for line in ENTRY_SIZE_LINES if line.shown(entry)
    ]


def quality_patterns(names: list[str]) -> str:
    """ "NDCG@K, Recall@K": the metric kinds of `names` (quality metrics), in display order."""
    patterns: list[str] = []
    for name in sorted(names, key=metric_sort_key):
        pattern = metric_spec(name).pattern
        if pattern not in patterns:
            patterns.append(pattern)
    return ", ".join(patterns)


def track_notes(sections: list[Section]) -> list[TrackNote]:
    """One note per track on the site, in section order."""
    names: dict[str, set[str]] = {}
    for section in sections:
        names.setdefault(section.track, set()).update(section.metrics)
    # the track's own view: a section may compare with another random method (its own view)
    return [TrackNote(track_view(t), quality_patterns(sorted(names[t]))) for t in names]


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


def _sections(
    entries: list[Entry], hrefs: dict[str, str], flags: list[DatasetFlag]
) -> list[Section]:
    grouped: dict[tuple[str, str, str], list[Entry]] = defaultdict(list)
    for entry in entries:
        grouped[(entry.track, entry.dataset, entry.recommender)].append(entry)
    sections = []
    for (track, dataset, recommender), members in sorted(grouped.items()):
        names = {m for e in members for m in e.metrics if is_quality_metric(m)}
        # the track's labels, with the random method the entries were compared with
        view = dataclasses.replace(track_view(track), random_method=members[0].random_method)
        sections.append(
            Section(
                track=track,
                dataset=dataset,
                recommender=recommender,
                anchor=_ANCHOR_UNSAFE.sub("_", f"{track}--{dataset}--{recommender}"),
                entries=members,
                metrics=sorted(names, key=metric_sort_key),
                chart=build_chart(members, hrefs, view.ratio_label),
                has_original=any(e.is_original for e in members),
                view=view,
                columns=size_columns(members, view),
                dataset_notes=[flag.note() for flag in flags if flag.name == dataset],
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
    flags = dataset_flags([(item.record, item.path) for item in loaded])
    sections = _sections(entries, hrefs, flags)
    by_section = {(s.track, s.dataset, s.recommender): s for s in sections}
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
            section = by_section[(entry.track, entry.dataset, entry.recommender)]
            html = entry_template.render(
                e=entry,
                anchor=section.anchor,
                view=section.view,
                sizes=size_lines(entry, section.view),
                record_links=[(seed, f"../records/{entry.slug}/{name}") for seed, name in links],
            )
            (tmp / "entries" / f"{entry.slug}.html").write_text(html, encoding="utf-8")
        index = env.get_template("index.html").render(
            sections=sections,
            tracks=track_notes(sections),
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
        site_dir=site_dir,
        records=len(loaded),
        entries=len(entries),
        sections=len(sections),
        dataset_flags=tuple(flags),
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
