"""`condbench data`: fetch datasets into the cache, describe them, list what is known."""

from __future__ import annotations

import click

from harness.cli.output import emit_json, say, table

MIRROR_HELP = "folder mirroring the sources, tried before the network (default: $CONDBENCH_MIRROR)"
CACHE_HELP = "cache root (default: $CONDBENCH_CACHE, else ~/.cache/condbench)"


@click.group()
def data() -> None:
    """Datasets: fetch, describe, list."""


@data.command()
@click.argument("name")
@click.option("--mirror", type=click.Path(file_okay=False), default=None, help=MIRROR_HELP)
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
@click.option("--mirror", type=click.Path(file_okay=False), default=None, help=MIRROR_HELP)
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
