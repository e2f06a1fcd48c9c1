"""TD3's loop: time of one outer step, of a whole profile, and peak memory.

    python bench/td3_speed.py --steps 5                       # outer steps at the cpu profile's shapes
    python bench/td3_speed.py --whole --profile cpu           # the cpu profile end to end (~10 min)
    python bench/td3_speed.py --whole --profile paper --device cuda   # TD3's ml-100k script on a GPU

Outer steps: the expert (cached: `condensers.sequence_expert`) and the real pairs are made
first (timed apart); then `--steps` outer steps of the chosen profile on ml-100k-seq with 30
synthetic sequences × 50 (TD3's ml-100k shapes), each timed; the first is reported apart
(warm-up), the rest as median / min / max. ``--whole`` runs the whole distillation of the
profile instead (`condensers.td3` through its `condense`, its own cache folder, so nothing
is reused) and reports its wall time and each epoch's seconds. Memory: the process's peak
resident set (ru_maxrss), and on CUDA the peak allocated GPU memory.
"""

from __future__ import annotations

import json
import resource
import statistics
import tempfile
import time

import click
import numpy as np
import torch
from train_speed import machine

from condensers.base import Budget
from condensers.context import CondenseContext
from condensers.distillation import DistillationLoop, fresh_learner
from condensers.registry import make
from harness.data import load_dataset


def _peaks(device: str) -> dict[str, float]:
    peaks = {"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.startswith("cuda") and torch.cuda.is_available():
        peaks["peak_gpu_mb"] = torch.cuda.max_memory_allocated() / 2**20
    return peaks


def outer_steps(
    data, method: str, options: dict, steps: int, ctx: CondenseContext, sequences: int = 30
) -> dict:
    condenser = make(method, options)
    params = condenser.params
    started = time.perf_counter()
    source = ctx.sequence_expert()
    expert, checkpoints = source.trained(data), source.checkpoints(data)
    expert_s = time.perf_counter() - started
    loop = DistillationLoop(condenser, params, data, expert, checkpoints, sequences, 0, ctx, None)
    started = time.perf_counter()
    pairs, features = loop._real()
    real_s = time.perf_counter() - started
    summary = condenser.make_summary(
        sequences, params.length, expert.model.item_table().detach().to(loop.device),
        torch.Generator().manual_seed(0),
    ).to(loop.device)  # fmt: skip
    optimizer = torch.optim.Adam(summary.parameters(), lr=params.seq_lr)
    learner = fresh_learner(expert)
    first = checkpoints[min(checkpoints)]
    weights = {n: first[n].to(loop.device) for n, _ in learner.named_parameters()}
    rng = np.random.default_rng(0)
    seconds = []
    torch.set_num_threads(params.threads)
    for index in range(steps):
        rows = slice(index * params.real_batch, (index + 1) * params.real_batch)
        started = time.perf_counter()
        _, weights = loop._outer_step(
            summary, optimizer, learner, weights, pairs, features, rows, rng
        )
        if loop.device.type == "cuda":
            torch.cuda.synchronize()
        seconds.append(time.perf_counter() - started)
    rest = seconds[1:] or seconds
    return {
        "expert_s": expert_s,
        "real_pairs_and_features_s": real_s,
        "pairs": len(pairs),
        "first_step_s": seconds[0],
        "step_s": {"median": statistics.median(rest), "min": min(rest), "max": max(rest)},
        "steps_per_epoch": -(-len(pairs) // params.real_batch),
    }


def whole(data, method: str, options: dict, ctx: CondenseContext, sequences: int = 30) -> dict:
    started = time.perf_counter()
    out = make(method, options).condense(
        data, Budget.parse(str(sequences)), np.random.default_rng(0), ctx
    )
    history = out.meta["distillation"]["history"]
    return {
        "wall_s": time.perf_counter() - started,
        "stages_s": dict(ctx.timings),
        "epochs": [{k: round(v, 4) for k, v in epoch.items()} for epoch in history],
    }


@click.command()
@click.option("--dataset", default="ml-100k-seq", show_default=True)
@click.option("--method", type=click.Choice(["td3", "farzi"]), default="td3", show_default=True)
@click.option("--profile", default="cpu", show_default=True)
@click.option("--steps", type=int, default=5, show_default=True, help="outer steps to time")
@click.option("--whole", "run_whole", is_flag=True, help="run the whole profile instead")
@click.option("--threads", type=int, default=1, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--mirror", type=click.Path(file_okay=False))
@click.option(
    "--cache", type=click.Path(file_okay=False), help="expert cache (default: the user's)"
)
@click.option("--json", "as_json", is_flag=True)
def main(dataset, method, profile, steps, run_whole, threads, device, mirror, cache, as_json):
    data = load_dataset(dataset, mirror=mirror, cache=cache)
    options = {"profile": profile, "threads": threads, "device": device}
    if run_whole:
        with tempfile.TemporaryDirectory() as folder:  # its own distill folder: nothing reused
            ctx = CondenseContext(cache_dir=cache, progress=True)
            ctx.sequence_expert().checkpoints(data)  # the expert first, outside the timing
            ctx.cache_dir = folder  # the expert (made above) keeps its own cache folder
            figures = whole(data, method, options, ctx)
    else:
        figures = outer_steps(
            data, method, options, steps, CondenseContext(cache_dir=cache, progress=False)
        )
    result = {"machine": machine(), "method": method, "profile": profile, "device": device,
              "threads": threads, **figures, **_peaks(device)}  # fmt: skip
    if as_json:
        print(json.dumps(result, indent=2))
        return
    for key, value in result.items():
        print(f"{key}: {value}")


if __name__ == "__main__":
    main()
