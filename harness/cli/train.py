"""`condbench train`: train one recommender on a train set, evaluate on the test split.

Built on the grid's cell code: each seed is a `Cell` run by `GridRunner` (its `condensed` and
`train_and_evaluate`), with tracking off and no record written, so a train set gets exactly
the training, negatives and metrics that `condbench run` gives the same cell. The train set
is Original, a condenser's set (``--condenser NAME --budget B --param KEY=VALUE``), a release
variant (``--variant``: the ``release-*`` entries), or a saved dataset folder (``--train-set``).

Prints per-seed and mean metrics, epochs, wall time and samples/s, with the `chance` and
`popularity` reference scorers beside them. For a train set other than Original, Original
is trained with the same seeds too and Quality (with its interval) and chance-adjusted
Quality are printed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from harness.cli.options import existing_mirror, param_option, parse_pairs
from harness.cli.output import emit_json, say, table
from harness.errors import ConfigError
from harness.seeds import SEEDS_HELP, parse_seeds

# --variant -> the release entry that returns that variant of a release dataset
VARIANTS = {
    "original": "original",
    "random": "release-random",
    "majority": "release-majority",
    "condensed": "release-tfdcon",
}
TRAIN_SET_CONDENSER = "train-set"  # a saved train set: never condensed, only trained on

__all__ = ["parse_seeds", "train"]


def _dataset_reference(dataset: str) -> str:
    """A registered dataset name, or a saved dataset folder as an absolute path (as cells)."""
    return str(Path(dataset).resolve()) if Path(dataset).is_dir() else dataset


def learner_track(model: str) -> str:
    """The track whose learners include `model` (sasrec -> sequential, naml -> content)."""
    from recommenders.tracks import TRACKS  # lazy: train --help need not load the tracks

    owners = [name for name, track in TRACKS.items() if model in track.learners]
    if not owners:
        known = sorted({m for _, track in TRACKS.items() for m in track.learners.names()})
        raise ConfigError(f"--model: unknown recommender {model!r}; known: {', '.join(known)}")
    return owners[0]


def make_config(
    dataset: str, condenser: str, budget: str, params: dict, model: str, seeds: list[int],
    training: dict[str, Any], llm: str, track: str = "content",
):  # fmt: skip
    """An in-memory experiment config of the one grid row this command runs."""
    # lazy: the run floor loads pandas (~0.5 s); train --help need not
    from harness.run.config import parse_config

    return parse_config(
        {
            "name": "condbench-train",
            "track": track,
            "grid": {
                "datasets": [dataset],
                "condensers": [{"name": condenser, "budgets": [budget], "params": params}],
                "recommenders": [model],
                "seeds": seeds,
            },
            "training": training,
            "llm": llm,
            "tracking": {"enabled": False},
        },
        "condbench train",
    )


def _run_seeds(runner, cells, original, train_set=None) -> list[dict]:
    """Each cell through the grid's code: its train set (condensed, cached) unless given,
    then `train_and_evaluate`; one per-seed summary each."""
    runs = []
    for cell in cells:
        say(f"[{cell.method}] training {cell.recommender} seed {cell.seed} ...", err=True)
        data = train_set if train_set is not None else runner.condensed(cell, original)[0]
        result = runner.train_and_evaluate(cell, data, original)
        timings = result.timings
        runs.append(
            {
                "seed": cell.seed,
                "metrics": result.metrics,
                "dev_metrics": result.dev_metrics,
                "epochs_run": timings.epochs,
                "best_epoch": timings.best_epoch,
                "wall_seconds": timings.train_s,
                "samples_per_second": timings.samples_per_s,
                "groups_used": result.groups_used,
                "groups_dropped": result.groups_dropped,
            }
        )
        shown = ", ".join(f"{k} {v:.4f}" for k, v in result.metrics.items())
        say(
            f"[{cell.method}] seed {cell.seed}: {shown} "
            f"({timings.epochs} epochs, {timings.train_s:.1f} s)",
            err=True,
        )
    return runs


def _summary(runs: list[dict], metrics: list[str]) -> dict:
    from harness.metrics import summarise  # lazy: numpy (~0.15 s); train --help need not

    out = {name: summarise([run["metrics"][name] for run in runs]) for name in metrics}
    for key in ("epochs_run", "wall_seconds", "samples_per_second"):
        out[key] = summarise([run[key] for run in runs])
    return out


def format_report(report: dict) -> str:
    metrics = report["metrics"]
    columns = ["seed", *metrics, "epochs", "wall s", "samples/s"]
    rows: list[list[str]] = []
    for run in report["per_seed"]:
        rows.append(
            [
                str(run["seed"]),
                *(f"{run['metrics'][m]:.4f}" for m in metrics),
                str(run["epochs_run"]),
                f"{run['wall_seconds']:.1f}",
                f"{run['samples_per_second']:.0f}",
            ]
        )
    summary = report["summary"]
    rows.append(
        [
            "mean",
            *(f"{summary[m]['mean']:.4f}" for m in metrics),
            f"{summary['epochs_run']['mean']:.1f}",
            f"{summary['wall_seconds']['mean']:.1f}",
            f"{summary['samples_per_second']['mean']:.0f}",
        ]
    )
    rows.append(["± std", *(f"{summary[m]['std']:.4f}" for m in metrics), "", "", ""])
    for name, values in report["reference"].items():
        rows.append([name, *(f"{values[m]:.4f}" for m in metrics), "", "", ""])
    if "original" in report:
        original = report["original"]["summary"]
        rows.append(["original", *(f"{original[m]['mean']:.4f}" for m in metrics), "", "", ""])
    title = f"{report['model']} on {report['dataset']} [{report['train_set']}], test split"
    lines = [table(rows, columns, title=title)]
    if report.get("quality"):
        for label, key in (("Quality", "quality"), ("chance-adjusted Quality", "quality_chance_adjusted")):  # fmt: skip
            q = report[key]
            lines.append(
                f"{label} {q['mean']:.4f} ± {q['std']:.4f} "
                f"(95% CI {q['ci95'][0]:.4f}-{q['ci95'][1]:.4f})"
            )
    return "\n".join(lines)


@click.command("train")
@click.option(
    "--dataset",
    "dataset_name",
    required=True,
    help="Dataset name (e.g. movielens-tfdcon) or a saved dataset folder.",
)
@click.option(
    "--model",
    "model_name",
    required=True,
    help="Recommender: naml, nrms, fastformer (content track); sasrec, gru4rec (sequential).",
)
@click.option("--seeds", default="0-4", show_default=True, help=f"Seeds: {SEEDS_HELP}.")
@click.option(
    "--variant",
    type=click.Choice(list(VARIANTS)),
    default="original",
    show_default=True,
    help="Train set: a variant of a release dataset (random, majority, condensed: the "
    "release-random, release-majority and release-tfdcon entries).",
)
@click.option(
    "--condenser",
    help="Train set: this condenser's set (as `condbench run` makes it; cached).",
)
@click.option(
    "--budget",
    default="all",
    show_default=True,
    help="Budget of --condenser: a count (47), a share (5%) or all.",
)
@param_option("Parameter of --condenser (repeatable), e.g. --param text_tokens=3.")
@click.option("--llm", default="replay", show_default=True, help="LLM of --condenser.")
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
    type=click.Path(file_okay=False, path_type=Path),
    callback=existing_mirror,
    help="Data mirror folder tried before the network.",
)
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), help="Cache root.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object on stdout.")
def train(
    dataset_name,
    model_name,
    seeds,
    variant,
    condenser,
    budget,
    params,
    llm,
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
    # lazy: pandas, numpy and the run floor (~0.5 s); train --help needs none
    from harness.dataset import Dataset
    from harness.metrics import quality
    from harness.run.config import ALL_USERS
    from harness.run.runner import Cell, GridRunner

    track = learner_track(model_name)  # unknown names fail before any data is read
    seed_list = parse_seeds(seeds)
    chosen = [f for f, given in (("--variant", variant != "original"), ("--condenser", condenser),
                                 ("--train-set", train_set_path)) if given]  # fmt: skip
    if len(chosen) > 1:
        raise ConfigError(f"give one of {', '.join(chosen)}, not several")
    if (params or budget != ALL_USERS) and not condenser:
        raise ConfigError("--param and --budget go with --condenser")
    reference = _dataset_reference(dataset_name)
    if variant != "original" and reference != dataset_name:
        raise ConfigError(
            "--variant needs a dataset name, not a folder; use --train-set for a saved train set"
        )
    training = {"max_epochs": epochs, "batch_size": batch_size, "lr": lr, "patience": patience,
                "device": device, "threads": threads}  # fmt: skip
    name = condenser or VARIANTS[variant]
    config = make_config(
        reference,
        name,
        budget if condenser else ALL_USERS,
        parse_pairs(params, "--param"),
        model_name,
        seed_list,
        {k: v for k, v in training.items() if v is not None},
        llm,
        track,
    )
    runner = GridRunner(config, Path("."), cache=cache, mirror=mirror)  # writes no record
    original = runner.original(reference)
    metrics = runner.metric_names(original)
    quality_metrics = runner.track.quality_metrics(metrics)
    spec = config.grid.condensers[0]

    def cells(method: str, condenser_name: str, cell_budget: str, cell_params: dict) -> list:
        return [Cell(dataset=reference, method=method, condenser=condenser_name,
                     budget=cell_budget, recommender=model_name, seed=seed,
                     params=dict(cell_params), llm=spec.llm or config.llm)
                for seed in seed_list]  # fmt: skip

    if train_set_path:
        label = str(train_set_path)
        runs = _run_seeds(
            runner,
            cells(label, TRAIN_SET_CONDENSER, ALL_USERS, {}),
            original,
            train_set=Dataset.load(train_set_path),
        )
    else:
        label = name if name == "original" or condenser else variant
        runs = _run_seeds(runner, cells(label, name, spec.budgets[0], spec.params), original)
    settings = runner.settings()
    report = {
        "dataset": original.name,
        "model": model_name,
        "track": track,
        "train_set": label,
        "seeds": seed_list,
        "settings": settings.model_dump(mode="json"),
        "metrics": metrics,
        "quality_metrics": quality_metrics,
        "per_seed": runs,
        "summary": _summary(runs, metrics),
        "reference": runner.reference(original),
        "evaluation": {k: runs[0][k] for k in ("groups_used", "groups_dropped")},
    }
    if condenser:
        report["condenser"] = {"name": condenser, "budget": spec.budgets[0], "params": spec.params}
    if label != "original":
        original_runs = _run_seeds(runner, cells("original", "original", ALL_USERS, {}), original)
        report["original"] = {
            "per_seed": original_runs,
            "summary": _summary(original_runs, metrics),
        }
        scored = quality(
            [run["metrics"] for run in runs],
            [run["metrics"] for run in original_runs],
            quality_metrics,
            chance=report["reference"]["chance"],
        )
        for key in ("quality", "quality_chance_adjusted"):
            report[key] = scored[key]
        report["quality_per_metric"] = scored["per_metric"]
    if as_json:
        emit_json(report)
    else:
        say(format_report(report))
