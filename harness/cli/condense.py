"""`condbench condense`: condense one dataset with one method and write the set.

    condbench condense --dataset movielens-tfdcon --method tfdcon --budget 47 --llm replay -o out/
    condbench condense --dataset movielens-tfdcon --method tfdcon --param alpha=0.7 --param m=2 -o out/

Any parameter of the method is given with ``--param KEY=VALUE`` (repeatable; VALUE read as a
YAML scalar, so ``0.5`` is a number and ``none`` is null); an unknown key is refused with the
method's accepted ones.

Prints (stderr, or one JSON object on stdout with --json): users and interactions of the
train set, the size parts in KB and their ratio to Original, LLM calls made / cached /
fallen back, and the wall time of each stage.
"""

from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import click
import numpy as np

from condensers import registry
from condensers.base import train_users
from condensers.context import CondenseContext
from condensers.llm.spec import parse_spec
from condensers.registry import available
from harness.budget import Budget
from harness.cli.options import (
    SEED,
    existing_mirror,
    llm_client_options,
    llm_settings,
    param_option,
    parse_pairs,
)
from harness.cli.output import emit_json, say
from harness.dataset import Dataset, normalise_interactions
from harness.errors import ConfigError
from harness.run.config import condenser_params, is_dataset_folder
from harness.sizes import canonical_sizes, size_ratio
from recommenders.settings import TrainSettings


@click.command("condense")
@click.option(
    "--dataset",
    "dataset_name",
    required=True,
    help="dataset name (e.g. movielens-tfdcon) or a saved dataset folder",
)
@click.option("--method", required=True, help=f"condenser: {', '.join(available())}")
@click.option(
    "--budget",
    default="5%",
    show_default=True,
    help="synthetic users: a count (47) or a share (5%, 0.05)",
)
@param_option("parameter of the method (repeatable), e.g. --param alpha=0.5 --param m=2")
@click.option(
    "--seed",
    type=SEED,
    default=0,
    show_default=True,
    help="seed of the method and of the user encoder",
)
@click.option(
    "--llm",
    "llm_spec",
    default="replay",
    show_default=True,
    help="replay | local | openai:MODEL@URL",
)
@llm_client_options
@click.option(
    "--recommender", default="naml", show_default=True, help="model whose user encoder gives z_u"
)
@click.option(
    "--train-setting",
    "train_settings",
    multiple=True,
    metavar="KEY=VALUE",
    help="setting of the recommender trained for z_u (repeatable), e.g. max_epochs=3",
)
@click.option(
    "--subset-users",
    type=int,
    default=None,
    help="condense only the N lowest-id train users and the items they touch (quick runs)",
)
@click.option(
    "--mirror",
    type=click.Path(file_okay=False),
    default=None,
    callback=existing_mirror,
    help="data mirror folder",
)
@click.option("--cache", type=click.Path(file_okay=False), default=None, help="cache root")
@click.option(
    "-o",
    "--output",
    required=True,
    type=click.Path(file_okay=False),
    help="folder to write the set to",
)
@click.option("--json", "as_json", is_flag=True, help="print one JSON object on stdout")
@click.option("--quiet", is_flag=True, help="no progress bars")
def condense(
    dataset_name: str,
    method: str,
    budget: str,
    params: tuple[str, ...],
    seed: int,
    llm_spec: str,
    llm_timeout: float | None,
    llm_retries: int | None,
    recommender: str,
    train_settings: tuple[str, ...],
    subset_users: int | None,
    mirror: str | None,
    cache: str | None,
    output: str,
    as_json: bool,
    quiet: bool,
) -> None:
    """Condense DATASET with METHOD under BUDGET and write the condensed set to OUTPUT."""
    check_output_folder(Path(output))
    parsed_budget = Budget.parse(budget)
    parse_spec(llm_spec)  # a bad --llm fails here, even for a method that never asks the LLM
    condenser = make_condenser(method, params)
    ctx = CondenseContext(
        cache_dir=cache,
        mirror=mirror,
        llm_spec=llm_spec,
        llm_settings=llm_settings(llm_timeout, llm_retries),
        recommender=recommender,
        train_settings=parse_train_settings(train_settings),
        seed=seed,
        progress=not quiet,
    )
    with ctx.stage("load"):
        original = load_original(dataset_name, ctx)
        if subset_users is not None:
            original = user_subset(original, subset_users)
    start = time.perf_counter()
    condensed = condenser.condense(original, parsed_budget, np.random.default_rng(seed), ctx)
    ctx.timings["condense (total)"] = time.perf_counter() - start
    condensed.meta["condenser"] = condenser.describe()
    condensed.meta["budget"] = str(parsed_budget)
    if ctx.llm_client is not None:
        condensed.meta["llm"] = ctx.llm_client.describe()
    with ctx.stage("write"):
        condensed.validate(source=f"{dataset_name}[{method}]")
        condensed.save(Path(output))
    with ctx.stage("sizes"):
        report = condense_report(original, condensed, method, ctx)
    report["output"] = str(output)
    if as_json:
        emit_json(report)
    else:
        say(format_report(report), err=True)


def load_original(reference: str, ctx: CondenseContext) -> Dataset:
    """A registered dataset's Original, or a saved dataset folder."""
    if is_dataset_folder(reference):
        return Dataset.load(reference)
    return ctx.load_variant(reference, "original")


def accepted_params(condenser_cls: type) -> list[str]:
    """The parameter names of a condenser (the fields of its `Params` model)."""
    return list(condenser_cls.Params.model_fields)


def make_condenser(method: str, pairs: tuple[str, ...]):
    """Condenser `method` with the ``--param KEY=VALUE`` pairs as its parameters."""
    condenser_cls = registry.get(method)
    values = parse_pairs(pairs, "--param")
    accepted = accepted_params(condenser_cls)
    for key in values:
        if key not in accepted:
            raise ConfigError(
                f"--param {key}: {method} has no parameter {key!r}; "
                f"accepted: {', '.join(accepted) or 'none'}"
            )
    params = condenser_params(condenser_cls, values, f"--param ({method})")
    return condenser_cls(params)


# what Dataset.save writes: a folder holding these and nothing else may be replaced
DATASET_FILES = frozenset(
    {"manifest.json", "items.parquet", "histories.parquet", "interactions.parquet"}
)


def check_output_folder(output: Path) -> None:
    """Refuse an -o that saving would wrongly replace: the working folder or one above it,
    and a non-empty folder that is not a condbench dataset folder (a manifest.json written by
    `Dataset.save` and only the files it writes). Raises ConfigError (exit 2)."""
    here = Path.cwd().resolve()
    target = output.resolve()
    if target == here or target in here.parents:
        raise ConfigError(
            f"-o {output}: is the working folder or holds it; name a new or dataset folder"
        )
    if not target.is_dir() or not any(target.iterdir()):
        return
    others = sorted(p.name for p in target.iterdir() if p.name not in DATASET_FILES)
    if others or not _is_dataset_manifest(target / "manifest.json"):
        found = f"it holds {others[0]!r}" if others else "no condbench manifest.json"
        raise ConfigError(
            f"-o {output}: folder is not empty and is not a condbench dataset folder "
            f"({found}); refusing to replace it"
        )


def _is_dataset_manifest(path: Path) -> bool:
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return False
    return isinstance(manifest, dict) and "schema_version" in manifest


def user_subset(dataset: Dataset, count: int) -> Dataset:
    """The `count` lowest-id users with a train positive: all their rows, histories, and
    only the items those rows and histories name."""
    if count < 1:
        raise ConfigError(f"--subset-users: must be at least 1, got {count}")
    users = set(train_users(dataset)[:count].tolist())
    interactions = dataset.interactions[dataset.interactions["user_id"].isin(users)]
    histories = dataset.histories[dataset.histories["user_id"].isin(users)]
    items = set(interactions["item_id"].tolist())
    items.update(i for history in histories["history"] for i in history)
    meta = {**dataset.meta, "subset_users": count}
    return replace(
        dataset,
        items=dataset.items[dataset.items["item_id"].isin(items)].reset_index(drop=True),
        histories=histories.reset_index(drop=True),
        interactions=normalise_interactions(interactions),
        meta=meta,
    )


def parse_train_settings(pairs: tuple[str, ...]):
    """``("max_epochs=3", ...)`` -> `TrainSettings` (None when no pair is given)."""
    if not pairs:
        return None
    return TrainSettings.from_mapping(parse_pairs(pairs, "--train-setting"))


def condense_report(
    original: Dataset, condensed: Dataset, method: str, ctx: CondenseContext
) -> dict:
    """Figures of one condensed set: counts, sizes in KB, ratios to Original, LLM use, timings."""
    train = condensed.split("train")
    full = canonical_sizes(original)
    small = canonical_sizes(condensed)
    llm = ctx.llm_stats()
    return {
        "dataset": original.name,
        "method": method,
        "users": int(train["user_id"].nunique()),
        "interactions": len(train),
        "positives": int((train["label"] == 1).sum()),
        "size_kb": small.as_dict(),
        "original_size_kb": full.as_dict(),
        **{key: round(value, 4) for key, value in size_ratio(small, full).items()},
        "llm": {
            "calls_made": llm.get("calls", 0),
            "cached": llm.get("cached", 0),
            "replayed": llm.get("replayed", 0),
            "fallbacks": llm.get("fallbacks", 0),
            "retries": llm.get("retries", 0),
            "http_attempts": llm.get("http_attempts", 0),
            "describe": ctx.llm_client.describe() if ctx.llm_client is not None else None,
        },
        "seconds": {stage: round(value, 3) for stage, value in ctx.timings.items()},
    }


def format_report(report: dict) -> str:
    size = report["size_kb"]
    llm = report["llm"]
    lines = [
        f"{report['method']} on {report['dataset']}: {report['users']} users, "
        f"{report['interactions']} train interactions ({report['positives']} positive)",
        f"size KB: item {size['item_kb']:.1f}, user {size['user_kb']:.1f}, overall {size['overall_kb']:.1f}",
        f"ratio to Original: item {report['ratio_item']:.1%}, user {report['ratio_user']:.1%}, "
        f"overall {report['ratio_overall']:.1%}",
        f"LLM calls: made {llm['calls_made']}, cached {llm['cached']}, replayed {llm['replayed']}, "
        f"fallen back {llm['fallbacks']}, retried {llm['retries']}, "
        f"HTTP attempts {llm['http_attempts']}",
        "wall time: "
        + ", ".join(f"{stage} {sec:.2f}s" for stage, sec in report["seconds"].items()),
        f"written to {report['output']}",
    ]
    return "\n".join(lines)
