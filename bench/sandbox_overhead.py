"""What the submission sandbox costs: one condenser module run end to end, repeated.

    python bench/sandbox_overhead.py --image condbench:check --repeats 5

Needs a Docker daemon and the image (scripts/container-check --prepare makes both). Each
repeat runs a small real module (the budget's most active users) on movielens-tfdcon at
budget 47 through `harness.run.sandbox.run_condenser_module`, the path `condbench submit`
takes, and times its parts: staging (the entry copy and the train view written as Parquet),
the container (started to exited: Python's start-up and imports, the condensation), and the
rest (the output volume and its holder container, the tar stream, the safe unpack); then
the host's validation of the set (`train_set_kind(...).check`, as for a submitted set).
Printed as median / min / max over the repeats, with the host process's peak resident
memory (the container's own memory is capped by `--sandbox-memory-mb`, not measured here).
"""

from __future__ import annotations

import json
import resource
import statistics
import tempfile
import time
from pathlib import Path

import click
from train_speed import machine

from harness.data import load_dataset
from harness.run import sandbox
from leaderboard.submission.pipeline import train_set_kind

MODULE = """
import numpy as np

from condensers.base import Condenser, selected_users_train, train_positives


class MostActiveUsers(Condenser):
    name = "most-active"
    summary = "the budget's most active train users"

    def condense(self, dataset, budget, rng, ctx):
        counts = train_positives(dataset)["user_id"].value_counts()
        ranked = sorted(counts.items(), key=lambda pair: (-pair[1], pair[0]))
        users = np.array([user for user, _ in ranked[: budget.limit(len(counts))]])
        return dataset.with_train(selected_users_train(dataset, users), variant="most-active",
                                  meta={"negatives_from": "original"})
"""


def one_run(image: str, original, workdir: Path) -> dict[str, float]:
    entry = workdir / "submitted"  # the sandbox stages its copy at workdir/entry
    entry.mkdir()
    (entry / "method.py").write_text(MODULE)
    started = time.perf_counter()
    sandbox.train_view(original).save(workdir / "staging-alone")  # what staging costs
    stage = time.perf_counter() - started
    started = time.perf_counter()
    ran = sandbox.run_condenser_module(
        entry_root=entry, files=[Path("method.py")], module="method.py",
        class_name="MostActiveUsers", params={}, budget="47", seed=0, original=original,
        image=image, limits=sandbox.SandboxLimits(), workdir=workdir,
    )  # fmt: skip
    total = time.perf_counter() - started
    started = time.perf_counter()
    train_set_kind(original).check(
        ran.output / sandbox.OUTPUT_SET, "bench", original, budget="47", method="bench"
    )
    return {
        "sandbox_total_s": total,
        "stage_s": stage,
        "container_s": ran.wall_s,  # start to exit: Python's start-up, imports, condensing
        "volume_fetch_and_rest_s": total - stage - ran.wall_s,  # volume, holder, tar, unpack
        "validate_s": time.perf_counter() - started,
    }


@click.command()
@click.option("--image", default="condbench:check", show_default=True)
@click.option("--repeats", default=5, show_default=True, type=click.IntRange(1))
def main(image: str, repeats: int) -> None:
    original = load_dataset("movielens-tfdcon")
    runs = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory(prefix="sandbox-bench-") as tmp:
            runs.append(one_run(image, original, Path(tmp)))
    report = {"machine": machine(), "image": image, "repeats": repeats}
    for key in runs[0]:
        values = [run[key] for run in runs]
        report[key] = {"median": round(statistics.median(values), 2),
                       "min": round(min(values), 2), "max": round(max(values), 2)}  # fmt: skip
    report["host_peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    print(json.dumps(report, indent=1))


if __name__ == "__main__":
    main()
