"""The TF-DCon release's own condensed train sets as read-only named entries.

``release-random``, ``release-majority`` and ``release-tfdcon`` return the data layer's
``random``, ``majority`` and ``condensed`` variants of a release dataset (movielens-tfdcon,
goodreads-tfdcon), so they can be scored next to our own methods. They are fixed sets of
users (47 on MovieLens; 2,350-4,190 on Goodreads): the budget is not used, only recorded.

``item_text`` swaps the item text the set trains with while keeping its users, so the
content level is measured on its own (issue 15):

- ``released`` (default): the variant's own text (random.npy for random/majority, the LLM
  titles of condensed.npy for the condensed set);
- ``original``: the dataset's original item text (Goodreads: title + description);
- ``llm-titles``: the release's LLM titles (condensed.npy; on Goodreads and MovieLens equal,
  token for token, to replaying raw_data/content_condensation.csv cut to 20 tokens);
- ``random-tokens``: for each item, a random in-order subset of its original tokens as long
  as its LLM title (the construction of the release's own random.npy, which holds exactly
  such subsets, with the authors' draw), drawn with the cell's seed.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Annotated, ClassVar

import numpy as np
import pandas as pd

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.random import RANDOM_TEXT_FIELD, in_order_subset, item_tokens
from harness.data import get_source
from harness.dataset import Dataset
from harness.errors import ConfigError
from harness.typed import Settings, StrictStr, check

ITEM_TEXTS = ("released", "original", "llm-titles", "random-tokens")


class ReleaseParams(Settings):
    """``item_text``: which item text the released users train with (module doc)."""

    item_text: Annotated[
        StrictStr,
        check(lambda v: v in ITEM_TEXTS, f"must be one of {ITEM_TEXTS}, got {{value!r}}"),
    ] = "released"


def random_tokens_like(
    items: pd.DataFrame,
    fields: tuple[str, ...],
    lengths: pd.Series,
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Items with one field ``text``: for each item, a random in-order subset of its tokens
    (its `fields` concatenated) of `lengths[item_id]` tokens (all of them when it has fewer)."""
    ids = items["item_id"].tolist()
    cut = [
        in_order_subset(tokens, int(lengths.get(item_id, 0)), rng)
        for item_id, tokens in zip(ids, item_tokens(items, fields), strict=True)
    ]
    return pd.DataFrame({"item_id": items["item_id"].to_numpy(), RANDOM_TEXT_FIELD: cut})


class ReleaseEntry(Condenser):
    """A released train set: the data-layer variant `release_variant` of the same dataset."""

    Params = ReleaseParams
    release_variant: ClassVar[str]

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        name = dataset.meta.get("name", dataset.name)
        source = get_source(name)
        if self.release_variant not in source.variants:
            raise ConfigError(
                f"{self.name}: dataset {name!r} has no {self.release_variant!r} variant "
                f"(only the TF-DCon release datasets do)"
            )
        with ctx.stage("load release"):
            released = ctx.load_variant(name, self.release_variant)
        users = released.split("train")["user_id"].nunique()
        meta = {**released.meta, "variant": self.name, "release_variant": self.release_variant}
        meta.update({"budget_requested": str(budget), "selected_users": int(users)})
        meta["item_text"] = self.params.item_text
        if self.params.item_text == "released":
            return replace(released, meta=meta)
        with ctx.stage("item text"):
            items, fields = self._item_text(name, rng, ctx)
        return replace(released, items=items, text_fields=fields, meta=meta)

    def _item_text(
        self, name: str, rng: np.random.Generator, ctx: CondenseContext
    ) -> tuple[pd.DataFrame, tuple[str, ...]]:
        """(items, text_fields) of the chosen item text, for every item of the dataset."""
        if self.params.item_text == "original":
            original = ctx.load_variant(name, "original")
            return original.items, original.text_fields
        titles = ctx.load_variant(name, "condensed")
        if self.params.item_text == "llm-titles":
            return titles.items, titles.text_fields
        original = ctx.load_variant(name, "original")
        lengths = titles.items.set_index("item_id")[titles.text_fields[0]].map(len)
        items = random_tokens_like(original.items, original.text_fields, lengths, rng)
        return items, (RANDOM_TEXT_FIELD,)


class ReleaseRandom(ReleaseEntry):
    name = "release-random"
    summary = "the TF-DCon release's random set (read only)"
    release_variant = "random"


class ReleaseMajority(ReleaseEntry):
    name = "release-majority"
    summary = "the TF-DCon release's majority set (read only)"
    release_variant = "majority"


class ReleaseTfdcon(ReleaseEntry):
    name = "release-tfdcon"
    summary = "the TF-DCon release's condensed set, gpt-3.5 titles (read only)"
    release_variant = "condensed"
