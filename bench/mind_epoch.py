"""One training epoch on MIND-small shapes: wall time, CPU time, page faults and peak memory.

    python bench/mind_epoch.py [--scale 1.0] [--models naml] [--chunk-rows 512]
        [--threads 1] [--device cpu] [--mirror DIR] [--json]

Generates MIND-small-format zips with `bench/mind_shapes.py` (or reads `--mirror`, a
folder holding ``mind/MINDsmall_{train,dev}.zip``), converts them with ``condbench data
fetch mind-small`` into a temporary cache, then trains each model for one epoch with the
default `TrainSettings` (batch 2048, 4 negatives, 50 history items, 32 tokens) in a child
process of its own, which loads the converted data set as training would and reports its
own peak RSS (``ru_maxrss``: the data set in memory, the training tables, the step). The
epoch is the trainer's: the optimiser steps over every train positive, then the dev pass
(scores of every dev candidate and the metrics early stopping reads).

`--chunk-rows` is ``TrainSettings.encode_chunk_rows`` (``none``: whole length buckets, as
the committed MovieLens and Goodreads records were trained).
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import click
from mind_convert import convert_in_child
from mind_shapes import generate
from train_speed import machine

REPO = Path(__file__).resolve().parents[1]
SOURCE = "mind-small"


def train_one_epoch(model: str, mirror: str, cache: str, chunk_rows, threads, device) -> dict:
    """In this process: load the converted data set, train `model` one epoch, measure."""
    from harness.data import load_dataset
    from recommenders.trainer import TrainSettings, train_model

    started = time.perf_counter()
    data = load_dataset(SOURCE, mirror=mirror, cache=cache)
    loaded = time.perf_counter() - started
    settings = TrainSettings(
        max_epochs=1, encode_chunk_rows=chunk_rows, threads=threads, device=device
    )
    before = resource.getrusage(resource.RUSAGE_SELF)
    trained = train_model(data, model, seed=0, settings=settings, progress=False)
    after = resource.getrusage(resource.RUSAGE_SELF)
    epoch = trained.epochs[0]
    positives = int((data.split("train")["label"] == 1).sum())
    train_s = positives / trained.samples_per_second
    return {
        "model": model,
        "encode_chunk_rows": chunk_rows,
        "threads": threads,
        "device": trained.device,
        "load_s": round(loaded, 1),
        "train_positives": positives,
        "dev_rows": len(data.split("dev")),
        "epoch_s": round(epoch["seconds"], 1),  # optimiser steps and the dev pass
        "train_s": round(train_s, 1),
        "dev_s": round(epoch["seconds"] - train_s, 1),
        "setup_s": round(trained.wall_seconds - epoch["seconds"], 1),  # text tables, sampler
        "samples_per_second": round(trained.samples_per_second),
        "user_cpu_s": round(after.ru_utime - before.ru_utime, 1),
        "system_cpu_s": round(after.ru_stime - before.ru_stime, 1),
        "page_faults": after.ru_minflt - before.ru_minflt,
        "peak_rss_mib": round(after.ru_maxrss / 1024),
        "train_loss": round(epoch["train_loss"], 4),
        "dev_ndcg5": round(epoch.get("NDCG@5", float("nan")), 4),
    }


def epoch_in_child(model: str, mirror: Path, cache: Path, chunk_rows, threads, device) -> dict:
    command = [sys.executable, __file__, "--child", model, "--mirror", str(mirror),
               "--cache", str(cache), "--chunk-rows", str(chunk_rows), "--threads",
               str(threads), "--device", device]  # fmt: skip
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    if done.returncode != 0:
        raise click.ClickException(
            f"{model} epoch failed ({done.returncode}): {done.stderr[-2000:]}"
        )
    return json.loads(done.stdout.strip().splitlines()[-1])


def parse_chunk(value: str):
    return None if value == "none" else int(value)


@click.command()
@click.option(
    "--scale", type=click.FloatRange(min=0, min_open=True), default=1.0, show_default=True
)
@click.option("--models", default="naml", show_default=True, help="Comma-separated.")
@click.option("--chunk-rows", default="512", show_default=True, help="A row count, or none.")
@click.option("--threads", type=click.IntRange(min=1), default=1, show_default=True)
@click.option("--device", default="cpu", show_default=True)
@click.option("--mirror", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Use these MIND-small zips instead of generating them.")  # fmt: skip
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Converted-data cache (default: a new temporary one).")  # fmt: skip
@click.option("--child", default=None, hidden=True)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def main(scale, models, chunk_rows, threads, device, mirror, cache, child, as_json) -> None:
    chunk = parse_chunk(chunk_rows)
    if child is not None:
        report = train_one_epoch(child, str(mirror), str(cache), chunk, threads, device)
        sys.stdout.write(json.dumps(report) + "\n")
        return
    with tempfile.TemporaryDirectory(prefix="condbench-mind-epoch-") as tmp:
        generated = None
        if mirror is None:
            mirror = Path(tmp) / "mirror"
            generated = generate(mirror, "small", scale, seed=0)
        cache = cache or Path(tmp) / "cache"
        conversion = convert_in_child(SOURCE, mirror, cache)
        epochs = [
            epoch_in_child(model, mirror, cache, chunk_rows, threads, device)
            for model in models.split(",")
        ]
    report = {"machine": machine(), "scale": scale, "generated": generated,
              "conversion": conversion, "epochs": epochs}  # fmt: skip
    if as_json:
        sys.stdout.write(json.dumps(report) + "\n")
        return
    for e in epochs:
        click.echo(
            f"{e['model']} on mind-small x {scale}, encode_chunk_rows {e['encode_chunk_rows']}, "
            f"{e['threads']} thread(s): epoch {e['epoch_s']} s (train {e['train_s']} s, "
            f"{e['samples_per_second']} samples/s; dev pass {e['dev_s']} s), setup {e['setup_s']} s, "
            f"CPU user {e['user_cpu_s']} s + system {e['system_cpu_s']} s, "
            f"{e['page_faults']:,} page faults, peak RSS {e['peak_rss_mib']:,} MiB"
        )
    click.echo(f"load average {machine()['load_average_1min']:.2f}")


if __name__ == "__main__":
    main()
