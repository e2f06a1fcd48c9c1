"""Inside the sandbox: run a submitted condenser module on the train-only dataset.

Started by `harness.run.sandbox` as ``python -I -m harness.run.sandboxed_condense`` in the
condbench image, as a non-root user with no network. It sees only:

    /entry    the entry, read-only (the module and anything it ships beside it)
    /data     the original's train view, read-only: train split, items, train users'
              histories (dev and test are not in it: submitted code never sees them)
    /output   the one writable folder (a size-limited tmpfs); the set goes to /output/condensed
    /tmp      a size-limited scratch tmpfs

It imports the module, builds the class with the manifest's params (its ``Params`` model
when it has one), calls ``condense(dataset, budget, rng, ctx)`` once with the seeded rng,
and saves the result with `Dataset.save`. Its last line on stderr says how it ended
(``sandbox: done ...`` or ``sandbox: failed: ...``): the host quotes that line, escaped,
in its one-line report. The line is the module's own story; what the host trusts (time,
memory, exit status, the output's size and validity) it measures itself.
"""

from __future__ import annotations

import argparse
import errno
import importlib.util
import json
import socket
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

# errno -> what it means inside the sandbox (the limit it most likely met)
CONTAINED_ERRNOS: dict[int, str] = {
    errno.ENETUNREACH: "network access refused (the sandbox has no network)",
    errno.ECONNREFUSED: "network access refused (the sandbox has no network)",
    errno.EHOSTUNREACH: "network access refused (the sandbox has no network)",
    errno.EROFS: "a write outside the output folder was refused (read-only file system)",
    errno.EACCES: "access refused (permission denied)",
    errno.EPERM: "operation not permitted in the sandbox",
    errno.ENOSPC: "the output folder or /tmp is full (their size limits)",
    errno.EDQUOT: "the output folder or /tmp is full (their size limits)",
    errno.EAGAIN: "a resource limit was reached (processes)",
    errno.EMFILE: "the open-files limit was reached",
}
SUBMITTED_MODULE = "submitted_condenser"
REPORT_PREFIX = "sandbox:"


def failure_line(exc: BaseException) -> str:
    """``failed: <what it means>: <Type>: <message>`` for the module's exception."""
    meaning = None
    if isinstance(exc, socket.gaierror):
        meaning = "network access refused (the sandbox has no network)"
    elif isinstance(exc, OSError) and exc.errno is not None:
        meaning = CONTAINED_ERRNOS.get(exc.errno)
    elif isinstance(exc, MemoryError):
        meaning = "out of memory"
    text = f"{type(exc).__name__}: {exc}"
    return f"failed: {meaning}: {text}" if meaning else f"failed: {text}"


def load_condenser_class(module_path: Path, class_name: str) -> type:
    sys.path.insert(0, str(module_path.parent))  # helper modules shipped beside it
    spec = importlib.util.spec_from_file_location(SUBMITTED_MODULE, module_path)
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot load {module_path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[SUBMITTED_MODULE] = module
    spec.loader.exec_module(module)
    return getattr(module, class_name)


def condense(args: argparse.Namespace) -> str:
    import numpy as np

    from condensers.base import Budget, Condenser
    from condensers.context import CondenseContext
    from harness.dataset import Dataset

    dataset = Dataset.load(args.data)
    cls = load_condenser_class(Path(args.entry) / args.module, args.class_name)
    if not (isinstance(cls, type) and issubclass(cls, Condenser)):
        raise TypeError(f"{args.class_name} does not derive from condensers.base.Condenser")
    params = json.loads(args.params)
    condenser = cls.from_options(params) if params else cls()
    context = CondenseContext(mirror=Path(args.data))
    result = condenser.condense(
        dataset, Budget.parse(args.budget), np.random.default_rng(args.seed), context
    )
    if not isinstance(result, Dataset):
        raise TypeError(f"condense returned {type(result).__name__}, not a Dataset")
    result.save(Path(args.output))
    rows = int((result.interactions["split"] == "train").sum())
    return f"done: {rows} train rows, {len(result.items)} items"


def parse(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="sandboxed_condense")
    parser.add_argument("--entry", required=True)
    parser.add_argument("--module", required=True)
    parser.add_argument("--class-name", required=True)
    parser.add_argument("--params", required=True, help="the manifest's params, as JSON")
    parser.add_argument("--budget", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--output", required=True)
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse(sys.argv[1:] if argv is None else argv)
    try:
        line, status = condense(args), 0
    except BaseException as exc:  # the module's failure, whatever it is, is reported
        traceback.print_exc(limit=-3, file=sys.stderr)
        line, status = failure_line(exc), 1
    print(f"{REPORT_PREFIX} {line}", file=sys.stderr, flush=True)
    return status


if __name__ == "__main__":
    sys.exit(main())
