"""Geometry of the Quality-vs-ratio chart: pixel positions only; the SVG is a template.

x: the track's headline ratio (``ratio_overall``: the content track's condensation ratio, the
sequential track's interaction-equivalents ratio), log scale, labelled with the track's
``ratio_label``; y: Quality, linear. Every entry of one dataset
and recommender is a marker with its 95% interval as a vertical bar; the Pareto front (the
entries no other entry beats on both a smaller ratio and a higher Quality) is a step line;
the reference scorers are horizontal lines.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from leaderboard.aggregate import Entry

WIDTH, HEIGHT = 640, 380
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 64, 130, 20, 48
PALETTE = (
    "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e",
    "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
)  # fmt: skip


@dataclass(frozen=True)
class Marker:
    x: float
    y: float
    y_low: float
    y_high: float
    color: str
    method: str
    budget: str
    ratio: float
    quality: float
    href: str
    is_original: bool


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
    skipped: int = 0  # entries without a ratio or a Quality
    x_label: str = "condensation ratio"  # the track's ratio_label


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


def _plottable(entry: Entry) -> bool:
    values = [entry.quality, entry.ratio_overall]
    return all(v is not None and math.isfinite(v) for v in values) and entry.ratio_overall > 0


def build_chart(
    entries: list[Entry], href_of: dict[str, str], ratio_label: str = "condensation ratio"
) -> Chart:
    """The chart of one dataset and recommender; `href_of` maps entry slug -> page link;
    `ratio_label` names the x axis (the track's ratio)."""
    chart = Chart(x_label=ratio_label)
    plotted = [e for e in entries if _plottable(e)]
    chart.skipped = len(entries) - len(plotted)
    original = next((e for e in entries if e.is_original), None)
    lines = {
        k: v
        for k, v in (original.reference_quality if original else {}).items()
        if math.isfinite(v)
    }
    if not plotted:
        return chart

    ratios = [e.ratio_overall for e in plotted]
    first_decade = math.floor(math.log10(min(ratios)) + 1e-9)
    last_decade = max(math.ceil(math.log10(max(ratios)) - 1e-9), first_decade + 1)
    x_low, x_high = 10 ** (first_decade - 0.1), 10 ** (last_decade + 0.1)  # a margin past the ticks
    ys = [e.quality for e in plotted] + list(lines.values())
    ys += [v for e in plotted if e.quality_ci95 for v in e.quality_ci95 if math.isfinite(v)]
    y_low = math.floor(min(ys) * 10) / 10
    y_high = math.ceil(max(ys) * 10) / 10
    if y_high - y_low < 0.2:
        y_low, y_high = y_low - 0.1, y_high + 0.1

    def x_of(ratio: float) -> float:
        share = (math.log10(ratio) - math.log10(x_low)) / (math.log10(x_high) - math.log10(x_low))
        return round(chart.left + share * (chart.right - chart.left), 2)

    def y_of(quality: float) -> float:
        share = (quality - y_low) / (y_high - y_low)
        return round(chart.bottom - share * (chart.bottom - chart.top), 2)

    for exponent in range(first_decade, last_decade + 1):
        chart.x_ticks.append(Tick(x_of(10.0**exponent), _percent(10.0**exponent)))
    steps = round((y_high - y_low) / 0.1)
    stride = max(1, math.ceil(steps / 8))
    for step in range(0, steps + 1, stride):
        value = y_low + step * 0.1
        chart.y_ticks.append(Tick(y_of(value), _percent(value)))

    methods = sorted({e.method for e in plotted})
    colors = {m: PALETTE[i % len(PALETTE)] for i, m in enumerate(methods)}
    chart.legend = [(m, colors[m]) for m in methods]
    for e in plotted:
        low, high = e.quality_ci95 or (e.quality, e.quality)
        if not (math.isfinite(low) and math.isfinite(high)):
            low = high = e.quality
        chart.markers.append(
            Marker(
                x=x_of(e.ratio_overall),
                y=y_of(e.quality),
                y_low=y_of(low),
                y_high=y_of(high),
                color=colors[e.method],
                method=e.method,
                budget=e.budget,
                ratio=e.ratio_overall,
                quality=e.quality,
                href=href_of[e.slug],
                is_original=e.is_original,
            )
        )
    front = pareto_front([(e.ratio_overall, e.quality) for e in plotted])
    steps_path: list[str] = []
    previous_y = None
    for i in front:
        x, y = x_of(plotted[i].ratio_overall), y_of(plotted[i].quality)
        if previous_y is not None:
            steps_path.append(f"{x},{previous_y}")
        steps_path.append(f"{x},{y}")
        previous_y = y
    chart.pareto_points = " ".join(steps_path)
    chart.reference_lines = [
        Line(y_of(q), f"{name} ({_percent(q)})") for name, q in sorted(lines.items())
    ]
    return chart
