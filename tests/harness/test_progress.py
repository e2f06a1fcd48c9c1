"""`harness.progress`: a tqdm bar on a terminal; elsewhere a few lines, never frames."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import textwrap

from harness import progress as progress_module
from harness.progress import Progress, progress


class Clock:
    """perf_counter stand-in: each call moves 0.5 s on."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 0.5
        return self.now


def test_not_a_terminal_prints_periodic_lines(monkeypatch):
    monkeypatch.setattr(progress_module, "_clock", Clock())
    stream = io.StringIO()
    assert sum(progress(range(939), desc="grid", unit="cell", file=stream, every=60)) == 440391
    lines = stream.getvalue().splitlines()
    # 939 steps of 0.5 s is ~470 s: one line a minute and a last one, not 939 frames
    assert 5 <= len(lines) <= 10, lines
    assert "\r" not in stream.getvalue()
    assert lines[0].startswith("grid: 1") and "cell (" in lines[0] and lines[0].endswith(" s")
    assert lines[-1].startswith("grid: 939/939 cell (100%)")


def test_short_inner_bars_print_nothing_unless_left():
    stream = io.StringIO()
    for _ in progress(range(50), desc="epoch 1", file=stream, every=10):
        pass
    assert stream.getvalue() == ""
    with Progress(3, desc="cells", file=stream, every=10, leave=True) as bar:
        bar.write("cell a")
        bar.update(3)
    assert stream.getvalue().splitlines()[0] == "cell a"
    assert stream.getvalue().splitlines()[1].startswith("cells: 3/3 it (100%)")


def test_disabled_prints_nothing():
    stream = io.StringIO()
    for _ in progress(range(5), desc="x", enabled=False, file=stream, every=0):
        pass
    assert stream.getvalue() == ""


def test_a_terminal_gets_a_tqdm_bar():
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    stream = Terminal()
    with Progress(10, desc="bar", file=stream) as bar:
        assert bar._tqdm is not None
        bar.update(10)
    assert "\r" in stream.getvalue()  # a live bar redraws in place


def test_a_piped_subprocess_writes_a_few_lines():
    script = textwrap.dedent(
        """
        import time
        from harness.progress import progress
        for _ in progress(range(300), desc="work"):
            time.sleep(0.004)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "CONDBENCH_PROGRESS_SECONDS": "0.2"},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stderr.splitlines()
    assert "\r" not in done.stderr and 2 <= len(lines) <= 15, lines
    assert lines[-1].startswith("work: 300/300 it (100%)")
