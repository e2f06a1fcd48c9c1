"""`condbench data`: fetch datasets into the cache, describe them, list what is known, import
a user's sequential files into a dataset folder."""

from __future__ import annotations

import re
from pathlib import Path

import click

from harness.cli.options import SEED, mirror_option
from harness.cli.output import emit_json, say, table
from harness.errors import ConfigError, DataError

DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
CACHE_HELP = "cache root (default: $CONDBENCH_CACHE, else ~/.cache/condbench)"


@click.group()
def data() -> None:
    """Datasets: fetch, describe, list."""


@data.command()
@click.argument("name")
@mirror_option
@click.option("--cache", type=click.Path(file_okay=False), default=None, help=CACHE_HELP)
def fetch(name: str, mirror: str | None, cache: str | None) -> None:
    """Fetch NAME (sha256-checked) and convert every variant into the cache."""
    # lazy: harness.data loads pandas (~0.4 s); data --help need not
    from harness.data import dataset_folder, fetch_dataset

    ready = fetch_dataset(name, mirror=mirror, cache=cache)
    where = dataset_folder(name, ready[0], cache).parent if ready else "-"
    say(f"{name}: variants {', '.join(ready) or 'none'} ready in {where}", err=True)


@data.command()
@click.argument("name")
@click.option("--variant", default="original", show_default=True, help="which train set")
@mirror_option
@click.option("--cache", type=click.Path(file_okay=False), default=None, help=CACHE_HELP)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object on stdout")
def stats(name: str, variant: str, mirror: str | None, cache: str | None, as_json: bool) -> None:
    """Users, items, interactions per split, candidate lists, tokens and sizes of NAME."""
    # lazy: harness.data loads pandas (~0.4 s); data --help need not
    from harness.data import load_dataset
    from harness.data.stats import dataset_stats

    figures = dataset_stats(load_dataset(name, variant=variant, mirror=mirror, cache=cache))
    if as_json:
        emit_json(figures)
        return
    say(f"{figures['dataset']} [{figures['variant']}]")
    say(
        f"  items {figures['items']:,}  users {figures['users']:,}  "
        f"avg tokens/item {figures['avg_tokens_per_item']}  text fields {', '.join(figures['text_fields'])}"
    )
    if figures["source_counts"]:
        counts = "  ".join(f"{k} {v:,}" for k, v in figures["source_counts"].items())
        say(f"  source: {counts}")
    rows = [
        {
            "split": split,
            "interactions": f"{s['interactions']:,}",
            "users": f"{s['users']:,}",
            "positives": f"{s['positives']:,}",
            "groups": f"{s['groups']:,}",
            "candidates min/median/max": f"{s['candidates']['min']}/"
            f"{s['candidates']['median']:g}/{s['candidates']['max']}",
        }
        for split, s in figures["splits"].items()
    ]
    say(table(rows))
    size = figures["train_size_kb"]
    say(
        f"train size (KB): item {size['item_kb']:.1f}  user {size['user_kb']:.1f}  overall {size['overall_kb']:.1f}"
    )


@data.command(name="list")
@click.option("--cache", type=click.Path(file_okay=False), default=None, help=CACHE_HELP)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object on stdout")
def list_datasets(cache: str | None, as_json: bool) -> None:
    """The known datasets and which of their variants are in the cache."""
    # lazy: harness.data loads pandas (~0.4 s); data --help need not
    from harness.data import DATASETS, is_cached

    rows = [
        {
            "name": name,
            "description": source.description,
            "variants": list(source.variants),
            "cached": [v for v in source.variants if is_cached(name, v, cache)],
        }
        for name, source in DATASETS.items()
    ]
    if as_json:
        emit_json({"datasets": rows})
        return
    shown = [
        {"name": r["name"], "cached": ", ".join(r["cached"]) or "not cached",
         "description": r["description"]}
        for r in rows
    ]  # fmt: skip
    say(table(shown))


@data.command(name="import")
@click.argument("format_name", metavar="FORMAT")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
@click.option("--name", required=True, help="the dataset's name (letters, digits, . _ -)")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="dataset folder to write",
)
@click.option("--min-count", type=int, default=5, show_default=True, help="the one k-core pass: k")
@click.option(
    "--seed", type=SEED, default=0, show_default=True, help="seed of the sampled test negatives"
)
@mirror_option
@click.option("--json", "as_json", is_flag=True, help="print one JSON object on stdout")
def import_files(
    format_name: str,
    paths: tuple[str, ...],
    name: str,
    output: str,
    min_count: int,
    seed: int,
    mirror: str | None,
    as_json: bool,
) -> None:
    """Build a sequential dataset from your own files and write it to a folder.

    FORMAT: recbole (NAME.inter [NAME.item]), amazon-2018 or amazon-2023 (a reviews JSON-lines
    file [+ its meta_* file], gzip or plain). A PATH not found as given is looked for under the
    mirror folder. The folder goes into a config's grid.datasets.
    """
    # lazy: harness.data loads pandas (~0.4 s); data --help need not
    from harness.data import SequentialSettings, import_sequential
    from harness.data.stats import sequential_stats

    if not DATASET_NAME.fullmatch(name):
        raise ConfigError(f"--name {name!r}: use letters, digits, '.', '_' or '-'")
    folder = Path(output)
    if folder.exists() and any(folder.iterdir()) and not (folder / "manifest.json").is_file():
        raise DataError("exists and is not a dataset folder: choose a new folder", file=str(folder))
    settings = SequentialSettings(min_count=min_count, seed=seed)
    dataset = import_sequential(format_name, paths, name=name, settings=settings, mirror=mirror)
    dataset.save(folder)
    figures = {"dataset": name, "folder": str(folder.resolve()), **sequential_stats(dataset)}
    if as_json:
        emit_json(figures)
        return
    say(
        f"{name}: {figures['interactions']:,} interactions, {figures['users']:,} users, "
        f"{figures['items']:,} items (train {figures['train_interactions']:,}, dev "
        f"{figures['dev_targets']:,}, test {figures['test_targets']:,}) written to {folder}",
        err=True,
    )
