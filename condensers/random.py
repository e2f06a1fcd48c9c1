"""`random`: randomly chosen users, item text cut to random tokens (paper §IV-A2, baseline i).

Users: `budget` users drawn uniformly (seeded) from the train users with a positive. As in
the TF-DCon release, the selected train set keeps the users' train POSITIVES only; the
trainer draws their negatives from the Original train split (meta ``negatives_from =
"original"``). Histories stay the users' own.

Text: each item's tokens (its text fields concatenated in order) are cut to a random subset
kept in order, whose length is matched to the average token length of the TF-DCon
summaries (15.26 on MovieLens, paper Table IV): taken from the release's condensed content
when the dataset is a release dataset, else from our LLM titles (`--llm`), or given as
``text_tokens``. An item shorter than that keeps all its tokens. On MovieLens the cut rarely
bites: the release's original content holds only names and years (5 tokens on average),
while its own random content (``content/random.npy``, 15.24 tokens) was cut from longer
movie descriptions that the public release does not include. The result is one text field,
``text``. ``text = "original"`` keeps the original text instead (user-level ablation).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated

import numpy as np
import pandas as pd

from condensers.base import Budget, Condenser, selected_users_train
from condensers.context import CondenseContext
from harness.data import get_source
from harness.dataset import Dataset
from harness.errors import DataError
from harness.typed import Settings, StrictStr, check, number_at_least

RANDOM_TEXT_FIELD = "text"
TEXT_CHOICES = ("random", "original")


class RandomTextParams(Settings):
    """``text_tokens``: target average tokens per item (None: the TF-DCon summaries' average);
    ``text``: "random" (cut tokens) or "original" (keep the text)."""

    text_tokens: number_at_least(0, strict=True) | None = None
    text: Annotated[
        StrictStr, check(lambda v: v in TEXT_CHOICES, f"must be one of {TEXT_CHOICES}, got {{value!r}}")
    ] = "random"


def item_tokens(items: pd.DataFrame, fields: tuple[str, ...]) -> list[list[int]]:
    """Each item's tokens, its text fields concatenated in order."""
    columns = [items[f].tolist() for f in fields]
    return [[int(t) for part in parts for t in part] for parts in zip(*columns, strict=True)]


def random_token_text(
    items: pd.DataFrame, fields: tuple[str, ...], mean_tokens: float, rng: np.random.Generator
) -> pd.DataFrame:
    """Items with one field ``text``: a random in-order subset of each item's tokens.

    The subset length is ``floor(mean_tokens)`` or one more (with probability the fractional
    part), so that it averages `mean_tokens` where items are long enough; capped at the
    item's own length.
    """
    whole = int(np.floor(mean_tokens))
    fraction = mean_tokens - whole
    cut = [
        in_order_subset(tokens, whole + int(rng.random() < fraction), rng)
        for tokens in item_tokens(items, fields)
    ]
    return pd.DataFrame({"item_id": items["item_id"].to_numpy(), RANDOM_TEXT_FIELD: cut})


def in_order_subset(tokens: list[int], length: int, rng: np.random.Generator) -> list[int]:
    """`length` of `tokens` drawn without replacement, kept in their order (all of them, and
    no draw, when there are not more than `length`)."""
    if length >= len(tokens):
        return tokens
    keep = np.sort(rng.choice(len(tokens), size=length, replace=False))
    return [tokens[i] for i in keep]


def summary_token_length(dataset: Dataset, ctx: CondenseContext) -> float:
    """Average tokens of the TF-DCon summaries of `dataset`'s items.

    The release's condensed content (its first text field, ``sum``) when the data layer has
    a ``condensed`` variant of this dataset; else our LLM titles (`ctx.llm`).
    """
    name = (
        dataset.meta.get("parent", dataset.name) if dataset.variant != "original" else dataset.name
    )
    try:
        source = get_source(name)
    except DataError:  # not a registered dataset: fall back to our own titles
        source = None
    if source is not None and "condensed" in source.variants:
        condensed = ctx.load_variant(name, "condensed")
        summaries = condensed.items[condensed.text_fields[0]]
        return float(summaries.map(len).mean())
    # lazy: condensers.tfdcon loads scikit-learn (~1 s); only LLM-title lengths need it
    from condensers.tfdcon import TfdconParams, llm_titles

    titles = llm_titles(dataset, ctx, TfdconParams().max_title_tokens)
    return float(titles["title"].map(len).mean())


def condensed_item_text(
    dataset: Dataset, params: RandomTextParams, rng: np.random.Generator, ctx: CondenseContext
) -> tuple[pd.DataFrame | None, tuple[str, ...] | None, dict]:
    """(items, text_fields, meta) of the random text; (None, None, meta) keeps the original."""
    if params.text == "original":
        return None, None, {"text": "original"}
    with ctx.stage("text"):
        mean_tokens = params.text_tokens or summary_token_length(dataset, ctx)
        items = random_token_text(dataset.items, dataset.text_fields, float(mean_tokens), rng)
    return items, (RANDOM_TEXT_FIELD,), {"text": "random", "text_tokens_target": float(mean_tokens)}


def build_selected_set(
    dataset: Dataset,
    users: np.ndarray,
    *,
    variant: str,
    params: RandomTextParams,
    rng: np.random.Generator,
    ctx: CondenseContext,
) -> Dataset:
    """The selected users' train positives plus the (random) item text, as a condensed set."""
    with ctx.stage("users"):
        train = selected_users_train(dataset, users)
    items, fields, text_meta = condensed_item_text(dataset, params, rng, ctx)
    condensed = dataset.with_train(
        train,
        variant=variant,
        items=items,
        meta={"negatives_from": "original", "selected_users": len(users), **text_meta},
    )
    return condensed if fields is None else replace(condensed, text_fields=fields)


class RandomCondenser(Condenser):
    name = "random"
    summary = "random users (positives only) + random in-order tokens of each item's text"
    Params = RandomTextParams

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        population, count = budget.resolve_for(dataset)
        chosen = np.sort(rng.choice(population, size=count, replace=False))
        return build_selected_set(
            dataset, chosen, variant=self.name, params=self.params, rng=rng, ctx=ctx
        )
