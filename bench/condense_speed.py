"""Speed of TF-DCon's user level: clustering, scoring and merging, on synthetic users.

    python bench/condense_speed.py [--users 100000] [--dim 64] [--clusters 1000] [--json]

Users are drawn from a seeded Gaussian mixture (z: --dim, e: --interest-dim, 384 like
all-MiniLM-L6-v2), each with --positives train positives over --items items. Timed: K-means,
scoring and picking (`select_and_merge`) and building the merged train rows (`merge_train`).
Not timed: the LLM and the sentence encoder (their outputs are the inputs here). Prints
the wall times (stderr, or one JSON object on stdout with --json).
"""

from __future__ import annotations

import json
import sys
import time

import click
import numpy as np
import pandas as pd

from condensers.tfdcon import merge_train, select_and_merge


def synthetic_users(
    users: int, dim: int, interest_dim: int, groups: int, positives: int, items: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    group = rng.integers(0, groups, size=users)
    z = rng.normal(scale=3.0, size=(groups, dim))[group] + rng.normal(size=(users, dim))
    e = rng.normal(size=(groups, interest_dim))[group] + rng.normal(
        scale=0.5, size=(users, interest_dim)
    )
    user_ids = np.arange(users, dtype=np.int64) * 7 + 3  # ids that are not row numbers
    rows = pd.DataFrame(
        {
            "split": "train",
            "user_id": np.repeat(user_ids, positives),
            "item_id": rng.integers(0, items, size=users * positives),
            "label": 1,
        }
    )
    rows["group_id"] = rows["user_id"]
    return z.astype(np.float32), e.astype(np.float32), user_ids, rows


@click.command()
@click.option("--users", default=100_000, show_default=True)
@click.option("--dim", default=64, show_default=True, help="z_u dimension (user encoder)")
@click.option("--interest-dim", default=384, show_default=True, help="e_u dimension")
@click.option("--clusters", default=1_000, show_default=True, help="K_s (synthetic users)")
@click.option("--groups", default=2_000, show_default=True, help="true mixture components")
@click.option("--m", "merge", default=2, show_default=True)
@click.option("--alpha", default=0.5, show_default=True)
@click.option("--n-init", default=1, show_default=True)
@click.option("--max-iter", default=300, show_default=True)
@click.option("--init-sample", default=10_000, show_default=True, help="k-means++ seeding sample")
@click.option("--positives", default=20, show_default=True, help="train positives per user")
@click.option("--items", default=50_000, show_default=True)
@click.option("--seed", default=0, show_default=True)
@click.option("--json", "as_json", is_flag=True)
def main(
    users,
    dim,
    interest_dim,
    clusters,
    groups,
    merge,
    alpha,
    n_init,
    max_iter,
    init_sample,
    positives,
    items,
    seed,
    as_json,
):
    """Time the user-level condensation of USERS synthetic users."""
    z, e, user_ids, rows = synthetic_users(users, dim, interest_dim, groups, positives, items, seed)
    start, cpu_start = time.perf_counter(), time.process_time()
    synthesis = select_and_merge(
        z,
        e,
        user_ids,
        clusters,
        alpha,
        merge,
        seed,
        n_init=n_init,
        max_iter=max_iter,
        init_sample=init_sample,
    )
    selected = time.perf_counter()
    merged = merge_train(rows, synthesis)
    done, cpu_done = time.perf_counter(), time.process_time()
    report = {
        "users": users,
        "dim": dim,
        "interest_dim": interest_dim,
        "clusters": clusters,
        "m": merge,
        "n_init": n_init,
        "max_iter": max_iter,
        "synthetic_users": len(synthesis.members),
        "merged_rows": len(merged),
        "seconds_cluster_and_score": round(selected - start, 3),
        "seconds_merge": round(done - selected, 3),
        "seconds_total": round(done - start, 3),
        "cpu_seconds_total": round(cpu_done - cpu_start, 3),
        "init_sample": init_sample,
    }
    if as_json:
        click.echo(json.dumps(report, sort_keys=True))
    else:
        print(
            f"{users} users, {dim}-d z, {interest_dim}-d e, K_s={clusters}, m={merge}: "
            f"cluster+score {report['seconds_cluster_and_score']:.2f}s, merge {report['seconds_merge']:.2f}s, "
            f"total {report['seconds_total']:.2f}s wall ({report['cpu_seconds_total']:.2f}s CPU)",
            file=sys.stderr,
        )


if __name__ == "__main__":
    main()
