"""Print the Goodreads tables of docs/results.md from the committed records (issue 15).

    python scripts/goodreads_tables.py results/goodreads-tfdcon

The public TF-DCon release has no Original train split for Goodreads, so nothing here divides
by an Original of ours. Per model and train set: the test metrics (mean over seeds, 95%
bootstrap interval), the *score* (mean of N@1, N@5, R@1, R@5), ΔRandom (score − the release's
random set's score, metric points, an interval over both sets' seeds), and a **Quality
against the paper's own Original row** (Table III), labelled as such: the paper's Original is
a published constant, so its interval comes from our seeds only. The paper's rows are printed
beside ours. The content table compares three item texts on the TF-DCon set's users.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import click

from harness.data import load_dataset
from harness.metrics import quality, score, score_difference, summarise
from harness.reference import reference_metrics
from leaderboard.record import ResultRecord, read_records

DATASET = "goodreads-tfdcon"
METRICS = ("NDCG@1", "NDCG@5", "Recall@1", "Recall@5")
MODELS = ("naml", "nrms", "fastformer")
# The paper's Table III, Goodreads columns (r = 27%): N@1, N@5, R@1, R@5 and Quality (%).
PAPER = {
    "naml": {
        "release-random": ((0.5197, 0.7943, 0.4520, 0.9983), 88.57),
        "release-majority": ((0.5057, 0.7884, 0.4326, 0.9986), 87.01),
        "release-tfdcon": ((0.5411, 0.8033, 0.4704, 0.9984), 90.49),
        "original": ((0.6462, 0.8475, 0.5635, 0.9989), 100.0),
    },
    "nrms": {
        "release-random": ((0.5399, 0.8017, 0.4704, 0.9982), 90.47),
        "release-majority": ((0.5094, 0.7901, 0.4344, 0.9990), 87.37),
        "release-tfdcon": ((0.5453, 0.8054, 0.4751, 0.9985), 91.01),
        "original": ((0.6439, 0.8476, 0.5629, 0.9993), 100.0),
    },
    "fastformer": {
        "release-random": ((0.5420, 0.8028, 0.4725, 0.9983), 89.74),
        "release-majority": ((0.5165, 0.7934, 0.4414, 0.9991), 87.16),
        "release-tfdcon": ((0.5548, 0.8092, 0.4851, 0.9986), 90.97),
        "original": ((0.6556, 0.8529, 0.5745, 0.9990), 100.0),
    },
}
TABLE_III = ("release-random", "release-majority", "release-tfdcon")
TEXTS = {
    "release-tfdcon-original-text": "original (title + description)",
    "release-tfdcon": "LLM titles (the release's, = replayed)",
    "release-tfdcon-random-tokens": "random tokens, each as long as its LLM title",
}


def _paper_original(model: str) -> dict[str, float]:
    return dict(zip(METRICS, PAPER[model]["original"][0], strict=True))


def _scaled(rows: Sequence[Mapping[str, float]], by: Mapping[str, float]) -> list[dict]:
    """Each metric over the paper's Original: score() of these is Quality vs the paper."""
    return [{m: row[m] / by[m] for m in METRICS} for row in rows]


def _interval(low: float, high: float, scale: float = 1.0, digits: int = 4) -> str:
    return f"[{low * scale:.{digits}f}, {high * scale:.{digits}f}]"


def _by_set(records: list[ResultRecord]) -> dict[tuple[str, str], list[dict]]:
    out: dict[tuple[str, str], list[ResultRecord]] = {}
    for record in sorted(records, key=lambda r: r.seed):
        out.setdefault((record.recommender, record.method.name), []).append(record)
    return {key: [r.metrics for r in group] for key, group in out.items()}


def _seeds(records: list[ResultRecord], model: str, method: str) -> str:
    seeds = sorted(r.seed for r in records if r.recommender == model and r.method.name == method)
    return ",".join(map(str, seeds))


def _quality_vs_paper(rows: list[dict], model: str) -> tuple[float, tuple[float, float]]:
    result = quality(rows, [_paper_original(model)], METRICS)["quality"]
    return result["mean"], tuple(result["ci95"])


def table_iii(records: list[ResultRecord], sets: dict) -> None:
    click.echo("\n#### Table III, Goodreads: the release's sets, ours beside the paper\n")
    click.echo(
        "| model | set | seeds | paper N@1 / N@5 / R@1 / R@5 | ours N@1 / N@5 / R@1 / R@5 "
        "| N@1 [95% CI] | score [95% CI] | ΔRandom (score) [95% CI] "
        "| Quality vs the paper's Original [95% CI] | paper Quality |"
    )
    click.echo("|---" * 10 + "|")
    for model in MODELS:
        for method in TABLE_III:
            rows = sets.get((model, method))
            if not rows:
                continue
            paper, paper_quality = PAPER[model][method]
            means = [sum(r[m] for r in rows) / len(rows) for m in METRICS]
            n1 = summarise([r["NDCG@1"] for r in rows])
            total = score(rows, METRICS)
            random = sets.get((model, "release-random"))
            delta = "–"
            if random and method != "release-random":
                d = score_difference(rows, random, METRICS)
                delta = f"{d['mean']:+.4f} {_interval(*d['ci95'])}"
            q, (low, high) = _quality_vs_paper(rows, model)
            click.echo(
                f"| {model} | {method} | {_seeds(records, model, method)} "
                f"| {' / '.join(f'{v:.4f}' for v in paper)} "
                f"| {' / '.join(f'{v:.4f}' for v in means)} "
                f"| {n1['mean']:.4f} {_interval(*n1['ci95'])} "
                f"| {total['mean']:.4f} {_interval(*total['ci95'])} | {delta} "
                f"| {100 * q:.2f}% {_interval(low, high, 100, 1)} | {paper_quality:.2f}% |"
            )


def beats_random(sets: dict) -> None:
    click.echo("\n#### Does the released TF-DCon set beat the released Random set?\n")
    click.echo(
        "| model | paper: Quality TF-DCon − Random | ours: the same, vs the paper's Original "
        "[95% CI] | ours: Majority − Random [95% CI] |"
    )
    click.echo("|---" * 4 + "|")
    for model in MODELS:
        random = sets.get((model, "release-random"))
        if not random:
            continue
        paper_random = PAPER[model]["release-random"][1]
        cells = []
        for method in ("release-tfdcon", "release-majority"):
            rows = sets.get((model, method))
            if not rows:
                cells.append("–")
                continue
            by = _paper_original(model)
            d = score_difference(_scaled(rows, by), _scaled(random, by), METRICS)
            cells.append(f"{100 * d['mean']:+.2f} pp {_interval(*d['ci95'], 100, 2)}")
        paper_delta = PAPER[model]["release-tfdcon"][1] - paper_random
        click.echo(f"| {model} | {paper_delta:+.2f} pp | {cells[0]} | {cells[1]} |")


def content(records: list[ResultRecord], sets: dict) -> None:
    click.echo("\n#### The content level on its own: the TF-DCon set's users, three item texts\n")
    click.echo(
        "| model | item text (training) | seeds | N@1 / N@5 / R@1 / R@5 | score [95% CI] "
        "| Quality vs the paper's Original [95% CI] | − LLM titles, score [95% CI] |"
    )
    click.echo("|---" * 7 + "|")
    for model in MODELS:
        titles = sets.get((model, "release-tfdcon"))
        for method, label in TEXTS.items():
            rows = sets.get((model, method))
            if not rows or not any(sets.get((model, m)) for m in TEXTS if m != "release-tfdcon"):
                continue
            means = [sum(r[m] for r in rows) / len(rows) for m in METRICS]
            total = score(rows, METRICS)
            q, (low, high) = _quality_vs_paper(rows, model)
            delta = "–"
            if titles and method != "release-tfdcon":
                d = score_difference(rows, titles, METRICS)
                delta = f"{d['mean']:+.4f} {_interval(*d['ci95'])}"
            click.echo(
                f"| {model} | {label} | {_seeds(records, model, method)} "
                f"| {' / '.join(f'{v:.4f}' for v in means)} "
                f"| {total['mean']:.4f} {_interval(*total['ci95'])} "
                f"| {100 * q:.2f}% {_interval(low, high, 100, 1)} | {delta} |"
            )


def floors(records: list[ResultRecord]) -> None:
    """chance (from the records) and, as no Original train exists to count popularity on,
    popularity counted on each released set's own positives (no learning)."""
    chance = records[0].reference.get("chance", {})
    if chance:
        values = " / ".join(f"{chance[m]:.4f}" for m in METRICS)
        click.echo(f"\nchance floor (test) N@1 / N@5 / R@1 / R@5: {values}")
    reference = load_dataset(DATASET)
    for variant, method in (("random", "release-random"), ("majority", "release-majority"),
                            ("condensed", "release-tfdcon")):  # fmt: skip
        counted = load_dataset(DATASET, variant=variant)
        values = reference_metrics(reference, METRICS, "test", original=counted)["popularity"]
        shown = " / ".join(f"{values[m]:.4f}" for m in METRICS)
        mean = sum(values[m] for m in METRICS) / len(METRICS)
        click.echo(f"popularity counted on {method}'s positives: {shown} (score {mean:.4f})")


@click.command()
@click.argument("records_dir", type=click.Path(file_okay=False, path_type=Path))
def main(records_dir: Path) -> None:
    records = [r for r in read_records(records_dir) if r.dataset.name == DATASET]
    if not records:
        raise click.ClickException(f"no {DATASET} record below {records_dir}")
    sets = _by_set(records)
    floors(records)
    table_iii(records, sets)
    beats_random(sets)
    content(records, sets)


if __name__ == "__main__":
    main()
