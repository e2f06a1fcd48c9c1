"""The GPU path, proven: environment, the `gpu` tests, MIND-shaped epochs, CPU/GPU agreement.

    bash bench/gpu_check.sh [--device cuda|cpu] [--tiny] [--scale 0.2] [--out DIR]
        [--mirror DIR] [--cache DIR] [--tolerance 0.02]

(`bench/gpu_check.sh` runs this file from the repository root with the checkout's code.)
Steps, each a record of the JSON report with ``ok``:

1. ``environment``: torch, its CUDA and cuDNN versions, the GPU's name and memory, the
   driver (``nvidia-smi``).
2. ``gpu_tests``: ``pytest -m gpu tests/recommenders`` (tests/recommenders/test_gpu.py and
   the CUDA test of test_rec_training.py); ok when pytest passes and, on CUDA, none skipped.
3. ``mind``: `bench/mind_shapes.py` writes MIND-small-shaped zips at ``--scale`` (0.2 by
   default: about 31,000 train impressions, 13,000 news) into a temporary mirror, the data
   layer converts them into a temporary cache (``mind-small``), and NAML and NRMS each train
   one epoch with the default `TrainSettings` (batch 2048; bf16 autocast on CUDA, the
   trainer's ``amp`` default): epoch seconds (training and the dev pass), training seconds,
   samples/s and peak GPU memory (``torch.cuda.max_memory_allocated``); ok when the loss is
   finite.
4. ``movielens``: NAML on ``movielens-tfdcon`` Original, seed 0, default `TrainSettings` to
   early stop, once on CPU and on the device with and without bf16 autocast; the test
   metrics (`default_metrics`) and their differences; ok when every |device - CPU| is at
   most ``--tolerance`` (0.02). One seed: training on another device takes another path
   (other dropout masks, other rounding), so this bounds the drift, not bit equality.

``--tiny`` (for a dry run, e.g. ``--device cpu --tiny``): MIND at scale 0.002, small model
dimensions, one epoch everywhere. Writes ``gpu_check.json`` into ``--out`` (else $OUT, else
a new temporary folder, named on stdout). Exit status: 0 all checks passed, 1 one failed,
2 CUDA asked for (the default) and absent: one line, nothing run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import traceback
import xml.etree.ElementTree as ET
from pathlib import Path

import click
import torch
from mind_shapes import generate
from train_speed import machine

from harness.data import load_dataset
from harness.metrics import default_metrics
from recommenders.evaluator import evaluate
from recommenders.trainer import TrainSettings, train_model

REPO = Path(__file__).resolve().parents[1]
MIB = 1024 * 1024
TINY_SCALE = 0.002
TINY_MODEL = {"word_dim": 16, "content_dim": 32, "user_dim": 16, "attention_hidden": 16}


def environment(device: str) -> dict:
    cuda = torch.cuda.is_available()
    record = {
        "device": device,
        "torch": torch.__version__,
        "torch_cuda": torch.version.cuda,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cuda_available": cuda,
        "machine": machine(),
    }
    if cuda:
        props = torch.cuda.get_device_properties(0)
        record.update(
            gpu=props.name,
            gpu_memory_gib=round(props.total_memory / 1024**3, 1),
            compute_capability=f"{props.major}.{props.minor}",
            gpu_count=torch.cuda.device_count(),
        )
    if shutil.which("nvidia-smi"):
        query = ["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                 "--format=csv,noheader"]  # fmt: skip
        done = subprocess.run(query, capture_output=True, text=True)
        record["nvidia_smi"] = done.stdout.strip() or done.stderr.strip()
    record["ok"] = device == "cpu" or cuda
    return record


def gpu_tests(device: str, workdir: Path) -> dict:
    """``pytest -m gpu`` in a child; counts from its JUnit XML."""
    report = workdir / "gpu-tests.xml"
    command = [sys.executable, "-m", "pytest", "-q", "-rs", "-m", "gpu", "-p", "no:cacheprovider",
               f"--junitxml={report}", "tests/recommenders"]  # fmt: skip
    started = time.perf_counter()
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    record = {"command": " ".join(command[1:]), "returncode": done.returncode,
              "seconds": round(time.perf_counter() - started, 1)}  # fmt: skip
    if report.exists():
        suite = ET.parse(report).getroot()
        suite = suite if suite.tag == "testsuite" else suite.find("testsuite")
        for key in ("tests", "failures", "errors", "skipped"):
            record[key] = int(suite.get(key, 0))
        record["passed"] = (
            record["tests"] - record["failures"] - record["errors"] - record["skipped"]
        )
    record["summary"] = (done.stdout.strip().splitlines() or [""])[-1]
    if done.returncode != 0:
        record["output_tail"] = (done.stdout + done.stderr)[-4000:]
    record["ok"] = (
        done.returncode == 0
        and record.get("tests", 0) > 0
        and (device == "cpu" or record.get("skipped") == 0)
    )
    return record


def peak_reset(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()


def peak_mib(device: str) -> float | None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()
        return round(torch.cuda.max_memory_allocated() / MIB, 1)
    return None


def mind_epochs(device: str, scale: float, tiny: bool, workdir: Path) -> dict:
    started = time.perf_counter()
    sizes = generate(workdir / "mind-mirror", "small", scale, seed=0)
    generated = time.perf_counter()
    data = load_dataset("mind-small", mirror=workdir / "mind-mirror", cache=workdir / "mind-cache")
    converted = time.perf_counter()
    train = data.split("train")
    record = {
        "shape": "small",
        "scale": scale,
        "generated": sizes,
        "generate_seconds": round(generated - started, 1),
        "convert_seconds": round(converted - generated, 1),
        "items": len(data.items),
        "train_positives": int((train["label"] == 1).sum()),
        "dev_rows": len(data.split("dev")),
        "models": {},
    }
    options = TINY_MODEL if tiny else {}
    settings = TrainSettings(device=device, max_epochs=1, model_options=options)
    record["settings"] = settings.to_dict()
    for name in ("naml", "nrms"):
        peak_reset(device)
        trained = train_model(data, name, seed=0, settings=settings, progress=False)
        epoch = trained.epochs[0]
        positives = record["train_positives"]
        record["models"][name] = {
            "epoch_seconds": round(epoch["seconds"], 2),  # training and the dev pass
            "train_seconds": round(positives / trained.samples_per_second, 2),
            "samples_per_second": round(trained.samples_per_second),
            "wall_seconds": round(trained.wall_seconds, 2),  # with setup (text tables, sampler)
            "peak_gpu_mib": peak_mib(device),
            "train_loss": epoch["train_loss"],
            "dev": {k: v for k, v in epoch.items() if k not in ("epoch", "train_loss", "seconds")},
            "device": trained.device,
        }
        del trained
    record["ok"] = all(math.isfinite(m["train_loss"]) for m in record["models"].values())
    return record


def movielens_agreement(
    device: str, tiny: bool, tolerance: float, mirror: str | None, cache: str | None
) -> dict:
    data = load_dataset("movielens-tfdcon", mirror=mirror, cache=cache)
    metrics = default_metrics(data)
    base = {"max_epochs": 1, "model_options": TINY_MODEL} if tiny else {}
    runs = {"cpu": TrainSettings(device="cpu", amp=False, **base)}  # amp: CUDA only
    for amp in (True, False):
        runs[f"{device} amp={amp}"] = TrainSettings(device=device, amp=amp, **base)
    record = {"dataset": data.name, "model": "naml", "seed": 0, "metrics": metrics,
              "tolerance": tolerance, "runs": {}, "differences": {}}  # fmt: skip
    for label, settings in runs.items():
        peak_reset(settings.device)
        trained = train_model(data, "naml", seed=0, settings=settings, progress=False)
        record["runs"][label] = {
            "settings": {"device": settings.device, "amp": settings.amp, **base},
            "test": evaluate(trained, data, "test", metrics).metrics,
            "epochs": trained.epochs_run,
            "best_epoch": trained.best_epoch,
            "wall_seconds": round(trained.wall_seconds, 2),
            "peak_gpu_mib": peak_mib(settings.device),
        }
        del trained
    cpu = record["runs"]["cpu"]["test"]
    for label, run in record["runs"].items():
        if label != "cpu":
            record["differences"][label] = {m: run["test"][m] - cpu[m] for m in metrics}
    worst = max(abs(d) for diffs in record["differences"].values() for d in diffs.values())
    record["max_abs_difference"] = worst
    record["ok"] = worst <= tolerance
    return record


def attempt(name: str, step, *args) -> dict:
    started = time.perf_counter()
    try:
        record = step(*args)
    except Exception as exc:  # a failed step is a failed check; the others still run
        record = {"ok": False, "error": f"{type(exc).__name__}: {exc}",
                  "traceback": traceback.format_exc()[-4000:]}  # fmt: skip
    record["step_seconds"] = round(time.perf_counter() - started, 1)
    mark = "ok" if record["ok"] else "FAILED"
    click.echo(f"[{mark}] {name} ({record['step_seconds']} s)")
    return record


def summarise(report: dict) -> None:
    env = report["environment"]
    click.echo(
        f"torch {env['torch']}, CUDA {env['torch_cuda']}, cuDNN {env['cudnn']}, "
        f"GPU {env.get('gpu')} ({env.get('gpu_memory_gib')} GiB)"
    )
    tests = report["gpu_tests"]
    click.echo(f"gpu tests: {tests.get('summary', tests.get('error'))}")
    mind = report["mind"]
    for name, row in mind.get("models", {}).items():
        click.echo(
            f"MIND-small x {mind['scale']} ({mind['train_positives']:,} train positives), "
            f"{name} one epoch: {row['epoch_seconds']} s ({row['train_seconds']} s training, "
            f"{row['samples_per_second']:,} samples/s), peak GPU {row['peak_gpu_mib']} MiB, "
            f"loss {row['train_loss']:.4f}"
        )
    agreement = report["movielens"]
    for label, diffs in agreement.get("differences", {}).items():
        shown = ", ".join(f"{m} {d:+.4f}" for m, d in diffs.items())
        click.echo(f"MovieLens NAML, {label} - cpu: {shown} (tolerance {agreement['tolerance']})")
    for name in ("mind", "movielens"):
        if "error" in report[name]:
            click.echo(f"{name}: {report[name]['error']}")


@click.command()
@click.option("--device", default="cuda", show_default=True, help="cuda[:N], or cpu (dry run)")
@click.option("--tiny", is_flag=True, help="MIND at scale 0.002, small models, one epoch")
@click.option("--scale", type=click.FloatRange(min=0, min_open=True), default=None,
              help="MIND-small scale [default: 0.2, --tiny 0.002]")  # fmt: skip
@click.option("--tolerance", type=float, default=0.02, show_default=True)
@click.option("--out", type=click.Path(file_okay=False), default=None,
              help="folder for gpu_check.json [default: $OUT, else a temporary folder]")  # fmt: skip
@click.option("--mirror", type=click.Path(file_okay=False), default=None,
              help="data mirror for movielens-tfdcon [default: $CONDBENCH_MIRROR]")  # fmt: skip
@click.option("--cache", type=click.Path(file_okay=False), default=None)
def main(device, tiny, scale, tolerance, out, mirror, cache):
    if device != "cpu" and not torch.cuda.is_available():
        click.echo(
            f"gpu_check: no CUDA device (torch {torch.__version__}, CUDA build "
            f"{torch.version.cuda}); nothing run (--device cpu --tiny: a dry run)"
        )
        sys.exit(2)
    scale = scale or (TINY_SCALE if tiny else 0.2)
    out = Path(out or os.environ.get("OUT") or tempfile.mkdtemp(prefix="gpu-check-"))
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    report = {"environment": attempt("environment", environment, device)}
    with tempfile.TemporaryDirectory(prefix="gpu-check-") as tmp:
        report["gpu_tests"] = attempt("gpu tests", gpu_tests, device, Path(tmp))
        report["mind"] = attempt("MIND epochs", mind_epochs, device, scale, tiny, Path(tmp))
        report["movielens"] = attempt(
            "MovieLens CPU/GPU agreement", movielens_agreement,
            device, tiny, tolerance, mirror, cache,
        )  # fmt: skip
    report["tiny"] = tiny
    report["seconds"] = round(time.perf_counter() - started, 1)
    report["ok"] = all(report[k]["ok"] for k in ("environment", "gpu_tests", "mind", "movielens"))
    path = out / "gpu_check.json"
    path.write_text(json.dumps(report, indent=1, default=str) + "\n", encoding="utf-8")
    summarise(report)
    click.echo(f"{'all checks passed' if report['ok'] else 'a check FAILED'}; report: {path}")
    sys.exit(0 if report["ok"] else 1)


if __name__ == "__main__":
    main()
