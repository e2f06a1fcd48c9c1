"""FOSTER beside TD3 on the same work: time per step, time in all, peak memory, as ratios.

    python bench/foster_speed.py                         # 20 × 50, 10 steps each, cpu profile
    python bench/foster_speed.py --whole                 # also both cpu profiles end to end
    python bench/foster_speed.py --device cuda --whole --profile paper   # on a GPU

Both methods distil S × L synthetic sequences (``--sequences``, length 50) of ml-100k-seq,
each in its own process (so each peak is its own): the process loads the data and its
expert (cached: `condensers.sequence_expert`; trained first if missing, outside the
timing), builds what its loop reads (TD3: the real pairs and the expert's features; FOSTER:
the real windows), then times ``--steps`` steps of its loop at the chosen profile (the first
reported apart as warm-up; median / min / max of the rest). TD3's step is an outer step (an
inner run of 200 learner steps, 40 unrolled); FOSTER's one first-order step (subset, matching,
regulariser, one learner step). ``--whole`` also runs each profile's whole distillation
(validation included) in a fresh distill folder. Memory: the process's peak resident set
(ru_maxrss) and, on CUDA, the peak allocated GPU memory. The last lines are TD3 / FOSTER.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
import numpy as np
import torch
from td3_speed import _peaks, outer_steps, whole
from train_speed import machine

from condensers.context import CondenseContext
from condensers.foster import FosterLoop, initial_summary
from condensers.registry import make
from harness.data import load_dataset


def foster_steps(data, options: dict, steps: int, ctx: CondenseContext, sequences: int) -> dict:
    params = make("foster", options).params
    started = time.perf_counter()
    source = ctx.sequence_expert(params.learner)
    expert, checkpoints = source.trained(data), source.checkpoints(data)
    expert_s = time.perf_counter() - started
    started = time.perf_counter()
    loop = FosterLoop(params, data, expert, checkpoints, sequences, 0, ctx, None)
    real_s = time.perf_counter() - started
    rng = np.random.default_rng(0)
    summary = initial_summary(params, sequences, data, torch.Generator().manual_seed(0), rng)
    summary = summary.to(loop.device)
    optimizer = torch.optim.Adam(summary.parameters(), lr=params.seq_lr)
    learner = loop._learner()
    learner_optimizer = loop._anchor(learner, rng)
    torch.set_num_threads(params.threads)
    seconds, sizes = [], []
    for index in range(steps):
        started = time.perf_counter()
        if params.reset_every is not None and index % params.reset_every == 0:
            learner_optimizer = loop._anchor(learner, rng)
        figures = loop._step(summary, optimizer, learner, learner_optimizer, rng)
        if loop.device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
        sizes.append(figures["subset_size"])
    rest = seconds[1:] or seconds
    return {
        "expert_s": expert_s,
        "real_data_s": real_s,
        "first_step_s": seconds[0],
        "step_s": {"median": statistics.median(rest), "min": min(rest), "max": max(rest)},
        "steps_per_profile": params.epochs * params.steps_per_epoch,
        "mean_subset_size": float(np.mean(sizes)),
    }


def measure(method, dataset, profile, steps, sequences, run_whole, threads, device, mirror,
            cache) -> dict:  # fmt: skip
    """One method's figures, in this process."""
    data = load_dataset(dataset, mirror=mirror, cache=cache)
    options = {"profile": profile, "threads": threads, "device": device}
    ctx = CondenseContext(cache_dir=cache, progress=False)
    expert_learner = make(method, options).params.learner if method == "foster" else None
    ctx.sequence_expert(expert_learner).checkpoints(data)  # trained first, outside the timing
    if method == "foster":
        figures = foster_steps(data, options, steps, ctx, sequences)
    else:
        figures = outer_steps(data, method, options, steps, ctx, sequences)
        figures["steps_per_profile"] = make(method, options).params.epochs * figures.pop(
            "steps_per_epoch"
        )
    if run_whole:
        with tempfile.TemporaryDirectory() as folder:  # a fresh distill folder: nothing reused
            ctx.cache_dir = folder  # the expert keeps its own cache folder (made above)
            figures["whole"] = whole(data, method, options, ctx, sequences)
    return {**figures, **_peaks(device)}


def ratio(a: float, b: float) -> str:
    return f"{a / b:.1f}×" if b > 0 else "–"


@click.command()
@click.option("--dataset", default="ml-100k-seq", show_default=True)
@click.option("--profile", default="cpu", show_default=True)
@click.option("--steps", type=int, default=10, show_default=True, help="steps of each loop to time")
@click.option("--sequences", type=int, default=20, show_default=True, help="S (L is 50)")
@click.option("--whole", "run_whole", is_flag=True, help="also each profile end to end")
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--mirror", type=click.Path(file_okay=False))
@click.option(
    "--cache", type=click.Path(file_okay=False), help="expert cache (default: the user's)"
)
@click.option("--worker", type=click.Choice(["td3", "foster"]), hidden=True)
@click.option("--json", "as_json", is_flag=True)
def main(dataset, profile, steps, sequences, run_whole, threads, device, mirror, cache, worker,
         as_json):  # fmt: skip
    args = (dataset, profile, steps, sequences, run_whole, threads, device, mirror, cache)
    if worker:
        print(json.dumps(measure(worker, *args)))
        return
    results = {}
    for method in ("td3", "foster"):  # each in its own process: its own peak memory
        command = [sys.executable, str(Path(__file__).resolve()), "--worker", method,
                   "--dataset", dataset, "--profile", profile, "--steps", str(steps),
                   "--sequences", str(sequences), "--threads", str(threads), "--device", device]  # fmt: skip
        command += ["--whole"] if run_whole else []
        command += ["--mirror", mirror] if mirror else []
        command += ["--cache", cache] if cache else []
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode:
            raise click.ClickException(f"{method}: {done.stderr.strip().splitlines()[-1:]}")
        results[method] = json.loads(done.stdout.strip().splitlines()[-1])
    td3, foster = results["td3"], results["foster"]
    ratios = {
        "step": ratio(td3["step_s"]["median"], foster["step_s"]["median"]),
        "steps_of_a_profile": ratio(
            td3["step_s"]["median"] * td3["steps_per_profile"],
            foster["step_s"]["median"] * foster["steps_per_profile"],
        ),
        "peak_rss": ratio(td3["peak_rss_mb"], foster["peak_rss_mb"]),
    }
    if run_whole:
        ratios["whole_profile"] = ratio(td3["whole"]["wall_s"], foster["whole"]["wall_s"])
    if "peak_gpu_mb" in td3 and "peak_gpu_mb" in foster:
        ratios["peak_gpu"] = ratio(td3["peak_gpu_mb"], foster["peak_gpu_mb"])
    out = {"machine": machine(), "dataset": dataset, "profile": profile, "device": device,
           "threads": threads, "shape": f"{sequences} x 50", **results,
           "td3_over_foster": ratios}  # fmt: skip
    if as_json:
        print(json.dumps(out, indent=2))
        return
    for key, value in out.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
