"""Measurements behind docs/results.md's FOSTER section: what FOSTER's steps add to where it starts.

    python scripts/foster_findings.py --budget 20 [--config configs/ml100k-seq-foster.yaml] [--json]

For the config's `foster` entry (its params; the finished distillation is read from the cache,
or run) at ``--budget`` S, three summaries of S × 50 positions are trained from scratch with
the track's recipe (SASRec on ids, SASRec on text; learner seeds 0–4; full ranking, test):
- ``foster``: the kept summary (what the records hold);
- ``start``: the summary FOSTER starts from (`condensers.foster.initial_summary`, the same
  seed: S random real windows, ``init_real_share`` of each position on the real item and the
  rest spread uniformly over all items), before any step;
- ``start, one-hot``: the same windows as hard one-hot positions (no spread mass);
- with ``--summary-seeds``, FOSTER's summary distilled with other seeds (its own spread);
- ``--param KEY=VALUE`` changes a FOSTER parameter (e.g. ``init=last``: start from
  random-kxl's set), for every summary above;
and for each: how peaked it is (mean entropy of a position, nats; items holding half a
position's mass) and how far its item marginal follows popularity (Spearman with the train
counts). Quality is against the committed Original records (results/ml-100k-seq/original).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import click
import numpy as np
import torch
import yaml
from td3_findings import popularity_rank_correlation

from condensers.base import Budget
from condensers.context import CondenseContext
from condensers.distillation import probs_shape_figures
from condensers.foster import initial_summary
from condensers.registry import get
from condensers.sequence_sets import soft_set
from harness.data import load_dataset
from harness.metrics import quality_metric_names
from harness.run.config import load_config
from harness.sequences import DENSE, SoftSequences
from recommenders.sequence_evaluator import evaluate_sequential
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import train_sequential

LEARNERS = ("sasrec", "sasrec-text")
SEEDS = range(5)


def original_means(results: Path, learner: str) -> dict[str, float]:
    records = sorted((results / "ml-100k-seq/original/budget=all" / learner).glob("seed=*.json"))
    values = [json.loads(p.read_text(encoding="utf-8"))["metrics"] for p in records]
    return {name: float(np.mean([v[name] for v in values])) for name in values[0]}


def quality(probs: np.ndarray, dataset, learner: str, settings, original: dict) -> dict:
    train_set = soft_set(dataset, SoftSequences(form=DENSE, tensors={"probs": probs}), variant="x")
    per_seed = []
    for seed in SEEDS:
        trained = train_sequential(train_set, learner, seed, settings, evaluate_on=dataset,
                                   progress=False)  # fmt: skip
        per_seed.append(dict(evaluate_sequential(trained, dataset, "test").metrics))
    names = quality_metric_names(list(original))
    means = {n: float(np.mean([m[n] for m in per_seed])) for n in per_seed[0]}
    seed_q = [float(np.mean([m[n] / original[n] for n in names])) for m in per_seed]
    return {
        "quality": float(np.mean([means[n] / original[n] for n in names])),
        "seed_range": [min(seed_q), max(seed_q)],
        "NDCG@10": means["NDCG@10"],
        "HR@10": means["HR@10"],
    }


@click.command()
@click.option(
    "--config", "config_path", default="configs/ml100k-seq-foster.yaml", show_default=True
)
@click.option("--budget", type=int, default=20, show_default=True)
@click.option("--results", default="results", show_default=True, type=click.Path(path_type=Path))
@click.option(
    "--summary-seeds", default="", help="also FOSTER distilled with these seeds, e.g. 1,2"
)
@click.option("--no-start", is_flag=True, help="leave out the two starting summaries")
@click.option(
    "--param", "overrides", multiple=True, help="override a FOSTER parameter, e.g. init=last"
)
@click.option("--json", "as_json", is_flag=True)
def main(config_path, budget, results: Path, summary_seeds, no_start, overrides, as_json):
    torch.set_num_threads(1)  # one thread, as the records' learners
    config = load_config(config_path)
    dataset = load_dataset(config.grid.datasets[0])
    settings = SequentialTrainSettings(**config.training)
    ctx = CondenseContext(progress=False, train_settings=settings)
    spec = next(s for s in config.grid.condensers if s.method == "foster")
    options = dict(spec.params)
    for override in overrides:
        key, _, value = override.partition("=")
        options[key] = yaml.safe_load(value)
    condenser = get(spec.name).from_options(options)
    params = condenser.params
    out = condenser.condense(dataset, Budget.parse(str(budget)), np.random.default_rng(0), ctx)
    seed = out.meta["distillation"]["seed"]
    rng = np.random.default_rng(seed)
    start = initial_summary(params, budget, dataset, torch.Generator().manual_seed(seed), rng)
    start_probs = start.probs().detach().double().numpy()
    one_hot = (start_probs == start_probs.max(-1, keepdims=True)) & (
        start_probs.max(-1, keepdims=True) > 0.1
    )
    one_hot = np.where(one_hot.any(-1, keepdims=True), one_hot, 1.0 / dataset.num_items)
    summaries = {
        "foster": out.soft.probs(),
        "start": (start_probs / start_probs.sum(-1, keepdims=True)).astype(np.float32),
        "start, one-hot": (one_hot / one_hot.sum(-1, keepdims=True)).astype(np.float32),
    }
    if no_start:
        summaries = {"foster": summaries["foster"]}
    for other in [int(v) for v in summary_seeds.split(",") if v]:
        again = get(spec.name).from_options({**options, "summary_seed": other})
        made = again.condense(dataset, Budget.parse(str(budget)), np.random.default_rng(0), ctx)
        summaries[f"foster, summary_seed {other}"] = made.soft.probs()
    originals = {learner: original_means(results, learner) for learner in LEARNERS}
    rows, started = {}, time.perf_counter()
    for name, probs in summaries.items():
        click.echo(f"foster findings: {name} ({time.perf_counter() - started:.0f} s)", err=True)
        shape = probs_shape_figures(torch.as_tensor(probs))
        rows[name] = {
            "entropy": shape["probs_entropy"],
            "items_for_half_mass": shape["items_for_half_mass"],
            "popularity_spearman": popularity_rank_correlation(probs, dataset),
            **{
                learner: quality(probs, dataset, learner, settings, originals[learner])
                for learner in LEARNERS
            },  # fmt: skip
        }
    if as_json:
        print(json.dumps({"budget": budget, "rows": rows}, indent=2))
        return
    print(f"| summary ({budget} × 50) | entropy | items for half the mass | popularity Spearman "
          "| SASRec Quality (seeds) | SASRec-text Quality (seeds) |")  # fmt: skip
    print("|---|---|---|---|---|---|")
    for name, row in rows.items():
        cells = [
            f"{100 * row[x]['quality']:.1f} ({100 * row[x]['seed_range'][0]:.1f} – "
            f"{100 * row[x]['seed_range'][1]:.1f})"
            for x in LEARNERS
        ]
        print(f"| {name} | {row['entropy']:.2f} | {row['items_for_half_mass']:.0f} | "
              f"{row['popularity_spearman']:.2f} | {cells[0]} | {cells[1]} |")  # fmt: skip


if __name__ == "__main__":
    main()
