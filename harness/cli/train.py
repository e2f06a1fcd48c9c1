"""`condbench train`: train one recommender on a train set, evaluate on the test split.

Prints per-seed and mean metrics, epochs, wall time and samples/s, with the `chance` and
`popularity` reference scorers beside them. For a train set other than Original, Original
is trained with the same seeds too and Quality (with its interval) and chance-adjusted
Quality are printed.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.metrics import default_metrics, quality, report_metrics, summarise
from harness.reference import reference_metrics

VARIANTS = ("original", "random", "majority", "condensed")


def parse_seeds(text: str) -> list[int]:
    """``"0-4"`` -> [0, 1, 2, 3, 4]; ``"0,3,7"``; ``"2"``."""
    seeds: list[int] = []
    for part in text.split(","):
        part = part.strip()
        low, dash, high = part.partition("-")
        try:
            span = range(int(low), int(high) + 1) if dash else [int(part)]
        except ValueError:
            raise ConfigError(f"--seeds: cannot read {part!r}; use e.g. 0-4 or 0,1,2") from None
        if dash and int(high) < int(low):
            raise ConfigError(f"--seeds: empty range {part!r}")
        seeds.extend(s for s in span if s not in seeds)
    if not seeds or any(s < 0 for s in seeds):
        raise ConfigError(f"--seeds: need non-negative seeds, got {text!r}")
    return seeds


def _load(dataset: str, variant: str, mirror: str | None, cache: str | None) -> Dataset:
    """A registered dataset name, or a saved dataset folder."""
    if Path(dataset).is_dir():
        if variant != "original":
            raise ConfigError(
                "--variant needs a dataset name, not a folder; use --train-set for a saved train set"
            )
        return Dataset.load(dataset)
    from harness.data import load_dataset

    return load_dataset(dataset, variant=variant, mirror=mirror, cache=cache)


def _run_seeds(
    train_set: Dataset,
    original: Dataset,
    model: str,
    seeds: list[int],
    settings,
    metrics,
    label: str,
) -> list[dict]:
    from recommenders.evaluator import evaluate
    from recommenders.trainer import train_model

    runs = []
    for seed in seeds:
        click.echo(f"[{label}] training {model} seed {seed} ...", err=True)
        trained = train_model(
            train_set,
            model,
            seed,
            settings,
            negatives_from=None if train_set is original else original,
            evaluate_on=original,
        )
        result = evaluate(trained, original, "test", metrics)
        runs.append(
            {
                "seed": seed,
                "metrics": result.metrics,
                "epochs_run": trained.epochs_run,
                "best_epoch": trained.best_epoch,
                "wall_seconds": trained.wall_seconds,
                "cpu_seconds": trained.cpu_seconds,
                "samples_per_second": trained.samples_per_second,
                "groups_used": result.groups_used,
                "groups_dropped": result.groups_dropped,
                "candidates": result.candidates,
            }
        )
        shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        click.echo(
            f"[{label}] seed {seed}: {shown} ({trained.epochs_run} epochs, {trained.wall_seconds:.1f} s)",
            err=True,
        )
    return runs


def _summary(runs: list[dict], metrics: list[str]) -> dict:
    out = {name: summarise([run["metrics"][name] for run in runs]) for name in metrics}
    for key in ("epochs_run", "wall_seconds", "cpu_seconds", "samples_per_second"):
        out[key] = summarise([run[key] for run in runs])
    return out


def _print_table(report: dict) -> None:
    metrics = report["metrics"]
    rows = [("seed", *metrics, "epochs", "wall s", "samples/s")]
    for run in report["per_seed"]:
        rows.append(
            (
                str(run["seed"]),
                *(f"{run['metrics'][m]:.4f}" for m in metrics),
                str(run["epochs_run"]),
                f"{run['wall_seconds']:.1f}",
                f"{run['samples_per_second']:.0f}",
            )
        )
    summary = report["summary"]
    rows.append(
        (
            "mean",
            *(f"{summary[m]['mean']:.4f}" for m in metrics),
            f"{summary['epochs_run']['mean']:.1f}",
            f"{summary['wall_seconds']['mean']:.1f}",
            f"{summary['samples_per_second']['mean']:.0f}",
        )
    )
    rows.append(("± std", *(f"{summary[m]['std']:.4f}" for m in metrics), "", "", ""))
    for name, values in report["reference"].items():
        rows.append((name, *(f"{values[m]:.4f}" for m in metrics), "", "", ""))
    if "original" in report:
        original = report["original"]["summary"]
        rows.append(("original", *(f"{original[m]['mean']:.4f}" for m in metrics), "", "", ""))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    title = f"{report['model']} on {report['dataset']} [{report['train_set']}], test split"
    click.echo(title)
    for row in rows:
        click.echo("  ".join(cell.rjust(width) for cell, width in zip(row, widths, strict=True)))
    if report.get("quality"):
        q, qa = report["quality"], report["quality_chance_adjusted"]
        click.echo(
            f"Quality {q['mean']:.4f} ± {q['std']:.4f} (95% CI {q['ci95'][0]:.4f}-{q['ci95'][1]:.4f})"
        )
        click.echo(
            f"chance-adjusted Quality {qa['mean']:.4f} ± {qa['std']:.4f} (95% CI {qa['ci95'][0]:.4f}-{qa['ci95'][1]:.4f})"
        )


@click.command("train")
@click.option(
    "--dataset",
    "dataset_name",
    required=True,
    help="Dataset name (e.g. movielens-tfdcon) or a saved dataset folder.",
)
@click.option("--model", "model_name", required=True, help="Recommender: naml, nrms or fastformer.")
@click.option(
    "--seeds", default="0-4", show_default=True, help="Seeds: a range 0-4 or a list 0,1,2."
)
@click.option(
    "--variant",
    type=click.Choice(VARIANTS),
    default="original",
    show_default=True,
    help="Train set variant of the dataset.",
)
@click.option(
    "--train-set",
    "train_set_path",
    type=click.Path(exists=True, file_okay=False),
    help="A saved train set (Dataset folder) instead of --variant.",
)
@click.option("--epochs", type=int, help="Maximum epochs (early stopping may end sooner).")
@click.option("--batch-size", type=int, help="Training batch size.")
@click.option("--lr", type=float, help="Adam learning rate.")
@click.option("--patience", type=int, help="Epochs without dev improvement before stopping.")
@click.option("--device", help="auto, cpu or cuda[:N].")
@click.option("--threads", type=int, help="CPU threads (fixed, for repeatable runs).")
@click.option(
    "--mirror",
    type=click.Path(file_okay=False),
    help="Data mirror folder tried before the network.",
)
@click.option("--cache", type=click.Path(file_okay=False), help="Cache root.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def train(
    dataset_name,
    model_name,
    seeds,
    variant,
    train_set_path,
    epochs,
    batch_size,
    lr,
    patience,
    device,
    threads,
    mirror,
    cache,
    as_json,
):
    """Train MODEL on a train set of DATASET and report test metrics over seeds."""
    import recommenders
    from recommenders.trainer import TrainSettings

    recommenders.get(model_name)  # unknown names fail before any data is read
    seed_list = parse_seeds(seeds)
    if train_set_path and variant != "original":
        raise ConfigError("give either --variant or --train-set, not both")
    overrides = {
        "max_epochs": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "patience": patience,
        "device": device,
        "threads": threads,
    }
    settings = TrainSettings.from_mapping({k: v for k, v in overrides.items() if v is not None})

    original = _load(dataset_name, "original", mirror, cache)
    if train_set_path:
        train_set, train_label = Dataset.load(train_set_path), str(train_set_path)
    elif variant != "original":
        train_set, train_label = _load(dataset_name, variant, mirror, cache), variant
    else:
        train_set, train_label = original, "original"

    quality_metrics = default_metrics(original.name)
    metrics = report_metrics(original.name)
    references = reference_metrics(original, metrics, "test", original=original)
    runs = _run_seeds(train_set, original, model_name, seed_list, settings, metrics, train_label)
    report = {
        "dataset": original.name,
        "model": recommenders.get(model_name).name,
        "train_set": train_label,
        "seeds": seed_list,
        "settings": settings.to_dict(),
        "metrics": metrics,
        "quality_metrics": quality_metrics,
        "per_seed": runs,
        "summary": _summary(runs, metrics),
        "reference": references,
        "evaluation": {k: runs[0][k] for k in ("groups_used", "groups_dropped", "candidates")},
    }
    if train_set is not original:
        original_runs = _run_seeds(
            original, original, model_name, seed_list, settings, metrics, "original"
        )
        report["original"] = {
            "per_seed": original_runs,
            "summary": _summary(original_runs, metrics),
        }
        scored = quality(
            [run["metrics"] for run in runs],
            [run["metrics"] for run in original_runs],
            quality_metrics,
            chance=references["chance"],
        )
        for key in ("quality", "quality_chance_adjusted"):
            report[key] = scored[key]
        report["quality_per_metric"] = scored["per_metric"]
    if as_json:
        sys.stdout.write(json.dumps(report, default=float) + "\n")
    else:
        _print_table(report)
