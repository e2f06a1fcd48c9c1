"""Benchmark: build the leaderboard site from 2,000 generated result records (target < 5 s).

    python bench/leaderboard_build.py [--records 2000] [--repeats 3] [--json]

The records are synthetic (seeded, from tests/leaderboard/leaderboard_factory.py) and are
written to a temporary results folder first, so the timing covers what
`condbench leaderboard build` does: read and validate every record, aggregate, render every
page, copy the record files, write the downloads. Prints the best and median wall time and the best CPU time of this process (the
fairer figure on a shared, loaded machine), with the load average.
"""

from __future__ import annotations

import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import click

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests" / "leaderboard"))

from leaderboard_factory import make_grid  # noqa: E402

from leaderboard.record import write_record  # noqa: E402
from leaderboard.site import build_site  # noqa: E402

TARGET_S = 5.0


@click.command()
@click.option("--records", "count", default=2000, show_default=True, type=click.IntRange(1))
@click.option("--repeats", default=3, show_default=True, type=click.IntRange(1))
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def main(count: int, repeats: int, as_json: bool) -> None:
    with tempfile.TemporaryDirectory(prefix="condbench-bench-") as tmp:
        results = Path(tmp) / "results"
        for record in make_grid(count):
            write_record(record, results)
        seconds, cpu_seconds = [], []
        for run in range(repeats):
            site = Path(tmp) / f"site-{run}"
            started, cpu_started = time.perf_counter(), time.process_time()
            summary = build_site(results, site)
            seconds.append(time.perf_counter() - started)
            cpu_seconds.append(time.process_time() - cpu_started)
    figures = {
        "records": summary.records,
        "entries": summary.entries,
        "best_s": round(min(seconds), 3),
        "median_s": round(statistics.median(seconds), 3),
        "best_cpu_s": round(min(cpu_seconds), 3),
        "load_average_1min": round(os.getloadavg()[0], 2),
        "cpus": os.cpu_count(),
        "target_s": TARGET_S,
        "within_target": min(seconds) < TARGET_S,
    }
    if as_json:
        click.echo(json.dumps(figures))
    else:
        click.echo(
            f"leaderboard build: {figures['records']} records -> {figures['entries']} entries: "
            f"best {figures['best_s']:.2f} s, median {figures['median_s']:.2f} s wall, "
            f"best {figures['best_cpu_s']:.2f} s CPU (target < {TARGET_S:.0f} s; "
            f"load average {figures['load_average_1min']} on {figures['cpus']} CPUs)"
        )


if __name__ == "__main__":
    main()
