"""Sequential track speed: time to early stop on Original, and full-ranking evaluation.

    python bench/sequential_speed.py --dataset ml-100k-seq --repeats 3 [--learners sasrec,gru4rec]
        [--eval-repeats 20] [--threads 1] [--device cpu] [--json]

Training: each repeat trains a learner from scratch on Original (seed = repeat index) with
the default `SequentialTrainSettings` to early stop on dev NDCG@10; wall and process CPU
seconds, epochs and target positions per second; the median over repeats is reported with
each run's test HR@10 / NDCG@10. Evaluation: full ranking of every test user over all items
(scoring, masking and the metrics), timed `--eval-repeats` times with the first trained model
(median, min, max). Memory: the process's peak resident set (ru_maxrss) after all of it.
Data comes through the data layer (`--mirror` / $CONDBENCH_MIRROR).
"""

from __future__ import annotations

import json
import resource
import statistics
import sys
import time

import click
from train_speed import machine

from harness.data import load_dataset
from recommenders.sequence_evaluator import evaluate_sequential
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import train_sequential


def _summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


@click.command()
@click.option("--dataset", default="ml-100k-seq", show_default=True)
@click.option("--learners", default=",".join(SEQUENTIAL_LEARNERS.names()), show_default=True)
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--eval-repeats", type=int, default=20, show_default=True)
@click.option("--threads", type=int, default=SequentialTrainSettings().threads, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--mirror", type=click.Path(file_okay=False))
@click.option("--cache", type=click.Path(file_okay=False))
@click.option("--json", "as_json", is_flag=True)
def main(dataset, learners, repeats, eval_repeats, threads, device, mirror, cache, as_json):
    data = load_dataset(dataset, mirror=mirror, cache=cache)
    settings = SequentialTrainSettings(threads=threads, device=device)
    results, first_model = {}, None
    for name in [n.strip() for n in learners.split(",") if n.strip()]:
        runs = []
        for repeat in range(repeats):
            trained = train_sequential(
                data, name, repeat, settings, evaluate_on=data, progress=False
            )
            test = evaluate_sequential(trained, data, "test").metrics
            first_model = first_model or trained
            runs.append(
                {
                    "seed": repeat,
                    "wall_seconds": trained.wall_seconds,
                    "cpu_seconds": trained.cpu_seconds,
                    "epochs": trained.epochs_run,
                    "best_epoch": trained.best_epoch,
                    "positions_per_second": trained.samples_per_second,
                    "test": test,
                }
            )
            click.echo(
                f"{name} run {repeat}: {trained.wall_seconds:.1f} s wall, "
                f"{trained.cpu_seconds:.1f} s CPU, {trained.epochs_run} epochs, "
                f"test HR@10 {test['HR@10']:.4f} NDCG@10 {test['NDCG@10']:.4f}",
                err=True,
            )
        results[name] = {
            "wall_seconds": _summary([r["wall_seconds"] for r in runs]),
            "cpu_seconds": _summary([r["cpu_seconds"] for r in runs]),
            "epochs": _summary([r["epochs"] for r in runs]),
            "positions_per_second": _summary([r["positions_per_second"] for r in runs]),
            "runs": runs,
        }
    evaluation = []
    for _ in range(eval_repeats):
        started = time.perf_counter()
        evaluate_sequential(first_model, data, "test")
        evaluation.append(time.perf_counter() - started)
    report = {
        "dataset": data.name,
        "users": int(data.split("test")["user_id"].nunique()),
        "items": data.num_items,
        "settings": settings.model_dump(mode="json"),
        "machine": machine(),
        "learners": results,
        "full_ranking_test_seconds": _summary(evaluation),
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    click.echo(f"{data.name}, Original, {device}, {threads} thread(s), {repeats} repeats (median)")
    click.echo(f"{'learner':<9}{'wall s':>8}{'CPU s':>8}{'epochs':>8}{'pos/s':>9}")
    for name, row in results.items():
        click.echo(
            f"{name:<9}{row['wall_seconds']['median']:>8.1f}{row['cpu_seconds']['median']:>8.1f}"
            f"{row['epochs']['median']:>8.0f}{row['positions_per_second']['median']:>9.0f}"
        )
    timing = report["full_ranking_test_seconds"]
    click.echo(
        f"full ranking, {report['users']} users x {report['items']} items: median "
        f"{timing['median'] * 1000:.0f} ms (min {timing['min'] * 1000:.0f}, max "
        f"{timing['max'] * 1000:.0f}) over {eval_repeats}; peak RSS {report['peak_rss_mib']:.0f} MiB"
    )


if __name__ == "__main__":
    main()
