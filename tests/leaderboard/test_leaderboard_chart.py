"""The chart's geometry: Pareto front, log axis, entries that cannot be plotted."""

from __future__ import annotations

import math

import pytest
from leaderboard_factory import METRICS, make_record

from leaderboard.aggregate import aggregate
from leaderboard.chart import build_chart, pareto_front
from leaderboard.record import SizeInfo


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
    # records refuse NaN metrics; the chart still skips an entry without a finite Quality
    nan_metrics = {"metrics": {m: math.nan for m in METRICS}}
    records += [make_record(method="nan", ratio=0.05).model_copy(update=nan_metrics)]
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


@pytest.mark.parametrize("ratio", [5e-324, 1e-300, 1e-13, 1e13, 1e300, 1.7e308])
def test_an_extreme_ratio_is_skipped_not_a_crash(ratio):
    """Records refuse 0, negative, NaN and infinite ratios; a finite one far off the axis
    (subnormal, huge) is skipped like an entry without a ratio."""
    records = [
        make_record(method="original", budget="all", ratio=None),
        make_record(method="b", ratio=0.1),
        make_record(method="a", ratio=0.1).model_copy(
            update={"sizes": SizeInfo(ratio_overall=ratio)}
        ),
    ]
    entries = aggregate(records)
    chart = build_chart(entries, {e.slug: f"entries/{e.slug}.html" for e in entries})
    assert chart.skipped == 1 and {m.method for m in chart.markers} == {"original", "b"}
    assert [t.label for t in chart.x_ticks] == ["10%", "100%"]
