"""Training speed: samples/s and wall time to early stop, per model, on a dataset's Original.

    python bench/train_speed.py --dataset movielens-tfdcon --repeats 3 [--models naml,nrms]
        [--threads 2] [--device cpu] [--json]

Each repeat trains one model from scratch (seed = repeat index) to early stop with the
default `TrainSettings`, and records wall seconds, process CPU seconds (less sensitive to
other load on a shared machine), epochs and training samples per second; the median over
repeats is reported, with the test metrics of each run. Data comes through the data layer
(`--mirror` / $CONDBENCH_MIRROR).
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys

import click
import torch

import recommenders
from harness.data import load_dataset
from harness.metrics import default_metrics
from recommenders.evaluator import evaluate
from recommenders.trainer import TrainSettings, train_model


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine() -> dict:
    return {
        "cpu": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch": torch.__version__,
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "load_average_1min": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
    }


@click.command()
@click.option("--dataset", default="movielens-tfdcon", show_default=True)
@click.option("--models", default=",".join(recommenders.names()), show_default=True)
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--threads", type=int, default=TrainSettings().threads, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--mirror", type=click.Path(file_okay=False))
@click.option("--cache", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def main(dataset, models, repeats, threads, device, mirror, cache, as_json):
    data = load_dataset(dataset, mirror=mirror, cache=cache)
    settings = TrainSettings(threads=threads, device=device)
    metrics = default_metrics(data)
    results = {}
    for name in [m.strip() for m in models.split(",") if m.strip()]:
        runs = []
        for repeat in range(repeats):
            trained = train_model(data, name, seed=repeat, settings=settings)
            scores = evaluate(trained, data, "test", metrics).metrics
            runs.append(
                {
                    "seed": repeat,
                    "wall_seconds": trained.wall_seconds,
                    "cpu_seconds": trained.cpu_seconds,
                    "epochs": trained.epochs_run,
                    "best_epoch": trained.best_epoch,
                    "samples_per_second": trained.samples_per_second,
                    "test": scores,
                }
            )
            click.echo(
                f"{name} run {repeat}: {trained.wall_seconds:.1f} s wall, {trained.cpu_seconds:.1f} s CPU, "
                f"{trained.epochs_run} epochs, {trained.samples_per_second:.0f} samples/s",
                err=True,
            )
        results[name] = {
            "median_wall_seconds": statistics.median(r["wall_seconds"] for r in runs),
            "median_cpu_seconds": statistics.median(r["cpu_seconds"] for r in runs),
            "median_samples_per_second": statistics.median(r["samples_per_second"] for r in runs),
            "median_epochs": statistics.median(r["epochs"] for r in runs),
            "runs": runs,
        }
    report = {
        "dataset": data.name,
        "settings": settings.to_dict(),
        "machine": machine(),
        "models": results,
    }
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    click.echo(f"{data.name}, Original, {device}, {threads} threads, {repeats} repeats (median)")
    click.echo(f"{'model':<11}{'wall s':>8}{'CPU s':>8}{'epochs':>8}{'samples/s':>11}")
    for name, row in results.items():
        click.echo(
            f"{name:<11}{row['median_wall_seconds']:>8.1f}{row['median_cpu_seconds']:>8.1f}"
            f"{row['median_epochs']:>8.0f}{row['median_samples_per_second']:>11.0f}"
        )


if __name__ == "__main__":
    main()
