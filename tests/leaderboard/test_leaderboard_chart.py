"""The chart's geometry: Pareto front, log axis, entries that cannot be plotted."""

from __future__ import annotations

import math

import pytest
from leaderboard_factory import METRICS, make_record

from leaderboard.aggregate import aggregate
from leaderboard.chart import build_chart, pareto_front


def test_pareto_front_keeps_only_undominated_points():
    points = [
        (0.01, 0.7),
        (0.02, 0.65),
        (0.05, 0.9),
        (0.05, 0.8),
        (1.0, 1.0),
        (0.5, 0.95),
        (0.3, 0.99),
    ]
    assert pareto_front(points) == [0, 2, 6, 4]


def test_chart_positions_and_skips():
    records = [
        make_record(method="original", budget="all", ratio=None, metrics={m: 0.8 for m in METRICS})
    ]
    records += [make_record(method="a", ratio=0.001, metrics={m: 0.6 for m in METRICS})]
    records += [make_record(method="b", ratio=0.1, metrics={m: 0.7 for m in METRICS})]
    records += [make_record(method="no-size", ratio=None, metrics={m: 0.7 for m in METRICS})]
    records += [make_record(method="nan", ratio=0.05, metrics={m: math.nan for m in METRICS})]
    entries = aggregate(records)
    chart = build_chart(entries, {e.slug: f"entries/{e.slug}.html" for e in entries})
    assert chart.skipped == 2
    by_method = {m.method: m for m in chart.markers}
    assert set(by_method) == {"original", "a", "b"}
    # log scale: 0.1% -> 10% -> 100% are equally spaced per decade
    a, b, original = by_method["a"], by_method["b"], by_method["original"]
    assert (b.x - a.x) == pytest.approx((original.x - b.x) * 2, abs=0.05)
    assert original.y < b.y < a.y  # higher Quality is drawn higher (smaller y)
    assert [t.label for t in chart.x_ticks] == ["0.1%", "1%", "10%", "100%"]
    assert {line.label.split(" ")[0] for line in chart.reference_lines} == {"chance", "popularity"}
    assert chart.pareto_points.count(",") == 5  # a, step, b, step, original
