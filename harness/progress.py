"""Progress output, one way for every floor: a tqdm bar on a terminal, periodic lines elsewhere.

    for batch in progress(batches, desc="naml seed 0 epoch 1"):
        ...
    with Progress(total=len(keys), desc="LLM titles", unit="req") as bar:
        bar.update()

When stderr is a terminal this is a plain tqdm bar. When it is not (CI, a log file, a pipe)
tqdm would print every frame as its own line; instead one line such as
``grid: 120/939 (13%) 4.2 s`` is written at most every `every` seconds ($CONDBENCH_PROGRESS_SECONDS,
default 10), plus a last line at the end of a bar that printed any (or that asks to be left,
``leave=True``). No carriage returns, no frames. Descriptions and
written lines are escaped (`harness.unprintable`): names in them may come from a submission.

`quiet_model_loading()` silences the bars that Hugging Face libraries print while a model
loads, so they never interleave with the grid's; every model load calls it first.
"""

from __future__ import annotations

import contextlib
import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, Any, TypeVar

from harness.unprintable import escape_unprintable

T = TypeVar("T")

EVERY_ENV = "CONDBENCH_PROGRESS_SECONDS"
DEFAULT_EVERY = 10.0
_clock = time.perf_counter  # the tests move it


def _interval(every: float | None) -> float:
    if every is not None:
        return float(every)
    try:
        return float(os.environ.get(EVERY_ENV, DEFAULT_EVERY))
    except ValueError:
        return DEFAULT_EVERY


def is_terminal(stream: IO[str] | None) -> bool:
    isatty = getattr(stream, "isatty", None)
    try:
        return bool(isatty and isatty())
    except (ValueError, OSError):  # a closed stream
        return False


class Progress:
    """A bar (`update`, `write`, `close`); a tqdm on a terminal, periodic lines elsewhere."""

    def __init__(
        self,
        total: int | None = None,
        *,
        desc: str = "",
        unit: str = "it",
        enabled: bool = True,
        leave: bool = False,
        every: float | None = None,
        file: IO[str] | None = None,
        unit_scale: bool = False,
    ):
        # names in a description may come from a submission: escaped for the terminal
        self.total, self.desc, self.unit, self.leave = total, escape_unprintable(desc), unit, leave
        self.unit_scale = unit_scale
        self.enabled = enabled
        self.file = file if file is not None else sys.stderr
        self.every = _interval(every)
        self.count = 0
        self.started = self.last_line = _clock()
        self.lines = 0
        self.closed = False
        self._tqdm = None
        if enabled and is_terminal(self.file):
            # lazy: tqdm adds ~40 ms to start-up (run --help); only a bar on a terminal needs it
            from tqdm import tqdm

            self._tqdm = tqdm(
                total=total,
                desc=self.desc,
                unit=unit,
                unit_scale=unit_scale,
                leave=leave,
                file=self.file,
            )

    # ---- the bar ------------------------------------------------------------------------
    def update(self, n: int = 1) -> None:
        self.count += n
        if self._tqdm is not None:
            self._tqdm.update(n)
        elif self.enabled:
            now = _clock()
            if now - self.last_line >= self.every:
                self._line(now)

    def write(self, text: str) -> None:
        """A log line that does not break the bar (escaped for the terminal)."""
        text = escape_unprintable(text)
        if self._tqdm is not None:
            self._tqdm.write(text, file=self.file)
        else:
            print(text, file=self.file, flush=True)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._tqdm is not None:
            self._tqdm.close()
        elif self.enabled and (self.lines or self.leave):
            self._line(_clock())

    def status(self, now: float | None = None) -> str:
        """``desc: 120/939 (13%) 4.2 s``."""
        seconds = (now if now is not None else _clock()) - self.started
        count, total, unit = self.count, self.total, self.unit
        if self.unit_scale:  # bytes and the like: millions
            count, total, unit = f"{count / 1e6:.1f}", total and f"{total / 1e6:.1f}", f"M{unit}"
        done = f"{count}/{total} {unit}" if self.total else f"{count} {unit}"
        share = f" ({self.count / self.total:.0%})" if self.total else ""
        label = f"{self.desc}: " if self.desc else ""
        return f"{label}{done}{share} {seconds:.1f} s"

    def _line(self, now: float) -> None:
        self.last_line = now
        self.lines += 1
        print(self.status(now), file=self.file, flush=True)

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def progress(iterable: Iterable[T], *, total: int | None = None, **options: Any) -> Iterator[T]:
    """Iterate `iterable` with a `Progress` (total: `len(iterable)` when it has one); `options`
    are `Progress`'s (desc, unit, enabled, leave, every, file)."""
    if total is None and hasattr(iterable, "__len__"):
        total = len(iterable)  # type: ignore[arg-type]
    with Progress(total, **options) as bar:
        for item in iterable:
            yield item
            bar.update()


def quiet_model_loading() -> None:
    """No download or loading bars from huggingface_hub, transformers or sentence-transformers
    (they would print inside the grid's progress). Call before loading a model."""
    os.environ["HF_HUB_DISABLE_PROGRESS_BARS"] = "1"
    os.environ.setdefault("TRANSFORMERS_NO_ADVISORY_WARNINGS", "1")
    for module, call in (
        ("huggingface_hub.utils", "disable_progress_bars"),
        ("transformers.utils.logging", "disable_progress_bar"),
    ):
        with contextlib.suppress(ImportError, AttributeError):
            getattr(__import__(module, fromlist=[call]), call)()
