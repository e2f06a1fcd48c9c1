"""Geometry of the Quality-vs-ratio chart: pixel positions only; the SVG is a template.

x: the track's headline ratio (``ratio_overall``: the content track's condensation ratio, the
sequential track's interaction-equivalents ratio), log scale, labelled with the track's
``ratio_label``; y: Quality, linear. Every entry of one dataset
and recommender is a marker with its 95% interval as a vertical bar; the Pareto front (the
entries no other entry beats on both a smaller ratio and a higher Quality) is a step line;
the reference scorers are horizontal lines.

Where the dataset has no Original (the TF-DCon release's Goodreads), nothing is divided by
one: `SCORE_AXES` plots the absolute score (mean of the quality metrics) against the train
set's size in KB, and the reference lines are the scorers' own scores.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

from harness.metrics import is_quality_metric
from leaderboard.aggregate import Entry

WIDTH, HEIGHT = 640, 380
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 130, 20, 48
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
)  # fmt: skip


# the x values the log axis plots (a ratio, or a size in KB): beyond them an entry is
# skipped (counted), as one without a ratio is; 0, negative, subnormal or huge values would
# leave no axis to draw (and records refuse 0, negative, NaN and infinite ratios anyway)
PLOTTED_X = (1e-12, 1e12)


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    y_low: float
    y_high: float
    color: str
    method: str
    budget: str
    x_text: str  # the plotted values as the tooltip shows them ("12.3%", "2,048.5 KB")
    y_text: str
    href: str
    is_original: bool


@dataclass(frozen=True)
class Axes:
    """What a chart plots of an entry: x (log scale, > 0) and y with its interval."""

    y_label: str
    x_of: Callable[[Entry], float | None]
    y_of: Callable[[Entry], float | None]
    interval_of: Callable[[Entry], tuple[float, float] | None]
    x_tick: Callable[[float], str]
    y_tick: Callable[[float], str]
    y_step: float  # between y grid lines
    uses_ratio: bool  # x is a ratio to Original (else a size in KB)


@dataclass(frozen=True)
class Tick:
    position: float
    label: str


@dataclass(frozen=True)
class Line:
    y: float
    label: str


@dataclass
class Chart:
    width: int = WIDTH
    height: int = HEIGHT
    left: int = MARGIN_LEFT
    right: int = WIDTH - MARGIN_RIGHT
    top: int = MARGIN_TOP
    bottom: int = HEIGHT - MARGIN_BOTTOM
    markers: list[Marker] = field(default_factory=list)
    x_ticks: list[Tick] = field(default_factory=list)
    y_ticks: list[Tick] = field(default_factory=list)
    reference_lines: list[Line] = field(default_factory=list)
    pareto_points: str = ""  # SVG polyline "x,y x,y ..."
    legend: list[tuple[str, str]] = field(default_factory=list)  # (method, color)
    skipped: int = 0  # entries without a ratio (or one outside PLOTTED_X) or a Quality
    x_label: str = "condensation ratio"  # the track's ratio_label
    y_label: str = "Quality"


def _percent(value: float) -> str:
    percent = value * 100
    if percent >= 1 or percent == 0:
        return f"{percent:.0f}%"
    return f"{percent:.2g}%"


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats (ratio <= and Quality >=, one strictly).

    Returned in ascending ratio order.
    """
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], -math.inf
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def _kb(value: float) -> str:
    return f"{value:,.0f} KB" if value >= 1 else f"{value:.2g} KB"


QUALITY_AXES = Axes(
    y_label="Quality",
    x_of=lambda e: e.ratio_overall,
    y_of=lambda e: e.quality,
    interval_of=lambda e: e.quality_ci95,
    x_tick=_percent,
    y_tick=_percent,
    y_step=0.1,
    uses_ratio=True,
)
SCORE_AXES = Axes(
    y_label="score (mean of the quality metrics)",
    x_of=lambda e: e.overall_kb,
    y_of=lambda e: e.score,
    interval_of=lambda e: e.score_ci95,
    x_tick=_kb,
    y_tick=lambda v: f"{v:.2f}",
    y_step=0.05,
    uses_ratio=False,
)


def chart_axes(entries: list[Entry]) -> Axes:
    """Quality against the ratio where the entries have an Original; else score against KB."""
    return QUALITY_AXES if any(e.is_original for e in entries) else SCORE_AXES


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _plottable(entry: Entry, axes: Axes) -> bool:
    x, y = axes.x_of(entry), axes.y_of(entry)
    return _finite(x) and _finite(y) and PLOTTED_X[0] <= x <= PLOTTED_X[1]


def _reference_lines(entries: list[Entry], axes: Axes) -> dict[str, float]:
    """Scorer -> its y: Quality from the Original entry, else the scorer's own score."""
    if axes.uses_ratio:
        original = next((e for e in entries if e.is_original), None)
        values = original.reference_quality if original else {}
    else:
        names = [m for m in entries[0].metrics if is_quality_metric(m)]
        values = {
            scorer: sum(metrics[m] for m in names) / len(names)
            for scorer, metrics in entries[0].reference.items()
            if names and all(m in metrics for m in names)
        }
    return {k: v for k, v in values.items() if math.isfinite(v)}


def build_chart(
    entries: list[Entry],
    href_of: dict[str, str],
    ratio_label: str = "condensation ratio",
    axes: Axes | None = None,
) -> Chart:
    """The chart of one dataset and recommender; `href_of` maps entry slug -> page link;
    `ratio_label` names the x axis (the track's ratio); `axes` default: `chart_axes`."""
    axes = axes or chart_axes(entries)
    chart = Chart(
        x_label=ratio_label if axes.uses_ratio else "train set size, KB", y_label=axes.y_label
    )
    plotted = [e for e in entries if _plottable(e, axes)]
    chart.skipped = len(entries) - len(plotted)
    lines = _reference_lines(entries, axes) if entries else {}
    if not plotted:
        return chart

    ratios = [axes.x_of(e) for e in plotted]
    first_decade = math.floor(math.log10(min(ratios)) + 1e-9)
    last_decade = max(math.ceil(math.log10(max(ratios)) - 1e-9), first_decade + 1)
    x_low, x_high = 10 ** (first_decade - 0.1), 10 ** (last_decade + 0.1)  # a margin past the ticks
    step = axes.y_step
    ys = [axes.y_of(e) for e in plotted] + list(lines.values())
    ys += [v for e in plotted if axes.interval_of(e) for v in axes.interval_of(e) if _finite(v)]
    y_low = math.floor(min(ys) / step) * step
    y_high = math.ceil(max(ys) / step) * step
    if y_high - y_low < 2 * step:
        y_low, y_high = y_low - step, y_high + step

    def x_of(ratio: float) -> float:
        share = (math.log10(ratio) - math.log10(x_low)) / (math.log10(x_high) - math.log10(x_low))
        return round(chart.left + share * (chart.right - chart.left), 2)

    def y_of(quality: float) -> float:
        share = (quality - y_low) / (y_high - y_low)
        return round(chart.bottom - share * (chart.bottom - chart.top), 2)

    for exponent in range(first_decade, last_decade + 1):
        chart.x_ticks.append(Tick(x_of(10.0**exponent), axes.x_tick(10.0**exponent)))
    steps = round((y_high - y_low) / step)
    stride = max(1, math.ceil(steps / 8))
    for index in range(0, steps + 1, stride):
        value = y_low + index * step
        chart.y_ticks.append(Tick(y_of(value), axes.y_tick(value)))

    methods = sorted({e.method for e in plotted})
    colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}
    chart.legend = [(m, colors[m]) for m in methods]
    for e in plotted:
        value = axes.y_of(e)
        low, high = axes.interval_of(e) or (value, value)
        if not (math.isfinite(low) and math.isfinite(high)):
            low = high = value
        chart.markers.append(
            Marker(
                x=x_of(axes.x_of(e)),
                y=y_of(value),
                y_low=y_of(low),
                y_high=y_of(high),
                color=colors[e.method],
                method=e.method,
                budget=e.budget,
                x_text=f"{axes.x_of(e) * 100:.3g}%" if axes.uses_ratio else _kb(axes.x_of(e)),
                y_text=f"{value * 100:.1f}%" if axes.uses_ratio else f"{value:.4f}",
                href=href_of[e.slug],
                is_original=e.is_original,
            )
        )
    front = pareto_front([(axes.x_of(e), axes.y_of(e)) for e in plotted])
    steps_path: list[str] = []
    previous_y = None
    for i in front:
        x, y = x_of(axes.x_of(plotted[i])), y_of(axes.y_of(plotted[i]))
        if previous_y is not None:
            steps_path.append(f"{x},{previous_y}")
        steps_path.append(f"{x},{y}")
        previous_y = y
    chart.pareto_points = " ".join(steps_path)
    chart.reference_lines = [
        Line(y_of(q), f"{name} ({axes.y_tick(q) if not axes.uses_ratio else _percent(q)})")
        for name, q in sorted(lines.items())
    ]
    return chart
