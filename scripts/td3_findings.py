"""Measurements behind docs/results.md's TD3 section: where a summary's figure comes from.

    python scripts/td3_findings.py [--config configs/ml100k-seq-td3.yaml] [--json]

For each distillation method of the config (its params, budget, the cell seed 0; the
finished distillation is read from the cache, or run), and for two summaries of the same
S × L shape that no method learned:
- ``uniform``: every position the uniform distribution over the items;
- ``real-kxl``: S random users (seed 0) among those with at least L train items, their last L
  items as one-hot positions (a random k × L hard set written as P);
it reports how peaked the summary is (mean entropy of a position, nats; the uniform
distribution over n items has log n), how far its item marginal follows popularity
(Spearman correlation with the items' train counts; a uniform summary has none), and the test NDCG@10 / HR@10 of TD3's own recipe
(`condensers.distillation.own_recipe`: 3 warm-started SASRec, 200 steps) on it, plus the same
recipe with 0 steps (the expert's embeddings with Linear and LayerNorm re-initialised, never
trained on any summary). Full ranking, the track's metrics.
"""

from __future__ import annotations

import json
import math
import time

import click
import numpy as np
import torch

from condensers.base import Budget
from condensers.context import CondenseContext
from condensers.distillation import InnerRun, own_recipe, probs_shape_figures
from condensers.registry import get
from condensers.sequence_sets import user_sequences
from condensers.unrolled import AdamSettings
from harness.data import load_dataset
from harness.full_ranking import item_rows
from harness.run.config import load_config
from recommenders.sequence_settings import SequentialTrainSettings


def popularity_rank_correlation(probs: np.ndarray, dataset) -> float:
    """Spearman correlation between each item's mean mass in the summary and its count in the
    original's train split (1: the summary's marginal is the popularity order)."""
    train = dataset.split("train")
    rows = item_rows(dataset, train["item_id"].to_numpy(np.int64), dataset.name)
    counts = np.bincount(rows, minlength=dataset.num_items).astype(np.float64)
    mass = probs.astype(np.float64).mean(axis=(0, 1))
    if np.ptp(mass) == 0:
        return math.nan  # a uniform summary has no order
    ranks = [np.argsort(np.argsort(v, kind="stable"), kind="stable") for v in (mass, counts)]
    return float(np.corrcoef(*ranks)[0, 1])


def real_kxl(dataset, sequences: int, length: int) -> np.ndarray:
    by_user = user_sequences(dataset)
    long_enough = sorted(u for u, items in by_user.items() if len(items) >= length)
    users = np.random.default_rng(0).choice(long_enough, size=sequences, replace=False)
    probs = np.zeros((sequences, length, dataset.num_items), dtype=np.float32)
    for row, user in enumerate(users):
        items = item_rows(dataset, by_user[int(user)][-length:], dataset.name)
        probs[row, np.arange(length), items] = 1.0
    return probs


@click.command()
@click.option("--config", "config_path", default="configs/ml100k-seq-td3.yaml", show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(config_path: str, as_json: bool) -> None:
    torch.set_num_threads(1)  # one thread, as the records' learners
    config = load_config(config_path)
    dataset = load_dataset(config.grid.datasets[0])
    ctx = CondenseContext(progress=False, train_settings=SequentialTrainSettings(**config.training))
    expert = ctx.sequence_expert().trained(dataset)
    summaries: dict[str, np.ndarray] = {}
    params = None
    for spec in config.grid.condensers:
        condenser = get(spec.name).from_options(spec.params)
        params = condenser.params
        out = condenser.condense(
            dataset, Budget.parse(spec.budgets[0]), np.random.default_rng(0), ctx
        )
        summaries[spec.method] = out.soft.probs()
    shape = next(iter(summaries.values())).shape
    summaries["uniform"] = np.full(shape, 1 / shape[2], dtype=np.float32)
    summaries["real-kxl"] = real_kxl(dataset, shape[0], shape[1])
    run = InnerRun(
        batch=params.learner_batch,
        cut_min=params.cut_min,
        adam=AdamSettings(lr=params.net_lr, weight_decay=params.net_weight_decay),
    )
    rows = {}
    started = time.perf_counter()
    for name, probs in summaries.items():
        click.echo(f"td3 findings: {name} ({time.perf_counter() - started:.0f} s)", err=True)
        tensor = torch.as_tensor(probs)
        with torch.random.fork_rng(devices=[]):
            metrics = own_recipe(
                expert, tensor, dataset, learners=3, steps=params.warm_steps, run=run, seed=0
            )
        rows[name] = {"entropy": probs_shape_figures(torch.as_tensor(probs))["probs_entropy"], "max_entropy": math.log(shape[2]),
                      "popularity_spearman": popularity_rank_correlation(probs, dataset),
                      "own_recipe": {k: metrics[k] for k in ("HR@10", "NDCG@10")}}  # fmt: skip
    with torch.random.fork_rng(devices=[]):
        untrained = own_recipe(
            expert,
            torch.as_tensor(summaries["uniform"]),
            dataset,
            learners=3,
            steps=0,
            run=run,
            seed=0,
        )
    rows["expert embeddings, no training (0 steps)"] = {
        "own_recipe": {k: untrained[k] for k in ("HR@10", "NDCG@10")}
    }
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    print(
        "| summary | entropy (nats) | popularity Spearman | own recipe HR@10 | own recipe NDCG@10 |"
    )
    print("|---|---|---|---|---|")
    for name, row in rows.items():
        ent = f"{row['entropy']:.3f} of {row['max_entropy']:.3f}" if "entropy" in row else "–"
        rho = f"{row['popularity_spearman']:.3f}" if "popularity_spearman" in row else "–"
        recipe = row["own_recipe"]
        print(f"| {name} | {ent} | {rho} | {recipe['HR@10']:.4f} | {recipe['NDCG@10']:.4f} |")


if __name__ == "__main__":
    main()
