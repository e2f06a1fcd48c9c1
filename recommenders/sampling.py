"""Negative sampling for training: each positive gets `count` negatives.

A user's negatives come first from that user's shown-not-clicked items (label 0) of the
ORIGINAL train split (a condensed set keeps only positives, so the caller passes the
original dataset), drawn without replacement; when the user has fewer than `count`, the
rest are uniformly random items other than the positive.

With `excluded` (the ``catalogue`` rule of a dataset without an original train split, e.g.
the TF-DCon release of Goodreads), a user's random negatives are uniform over the items not
in that user's excluded rows (the caller passes the user's train positives and every item of
the user's dev and test rows), so no negative is ever a dev or test row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class NegativeSampler:
    def __init__(
        self,
        positive_users: np.ndarray,
        positive_rows: np.ndarray,
        shown_not_clicked: pd.DataFrame,
        shown_rows: np.ndarray,
        num_items: int,
        count: int,
        excluded: dict[int, np.ndarray] | None = None,
    ):
        """`positive_*`: user id and item row of each train positive; `shown_not_clicked`:
        the original train split's label-0 rows (user_id), `shown_rows` their item rows;
        `excluded`: user id -> item rows that user's random negatives never take (None: only
        the positive itself is skipped)."""
        if num_items < 2:
            raise ValueError("negative sampling needs at least 2 items")
        self.excluded = (
            None
            if excluded is None
            else {int(u): np.unique(np.asarray(r, dtype=np.int64)) for u, r in excluded.items()}
        )
        if self.excluded is not None:
            full = [u for u, rows in self.excluded.items() if len(rows) >= num_items]
            if full:
                raise ValueError(f"user {full[0]} excludes every item: no negative to draw")
        self.positive_rows = positive_rows
        self.num_items = num_items
        self.count = count
        pools = (
            pd.Series(shown_rows).groupby(shown_not_clicked["user_id"].to_numpy()).agg(np.unique)
        )
        order = np.argsort(positive_users, kind="stable")
        users, starts = np.unique(positive_users[order], return_index=True)
        bounds = np.r_[starts, len(order)]
        # (sample positions of one user, that user's negative pool)
        self._per_user = [
            (
                order[bounds[i] : bounds[i + 1]],
                np.asarray(pools.get(user, np.empty(0, dtype=np.int64))),
                None if self.excluded is None else self.excluded.get(int(user), _NONE),
            )
            for i, user in enumerate(users)
        ]

    def sample(self, rng: np.random.Generator) -> np.ndarray:
        """[positives, count] item rows of negatives, one row per positive."""
        out = np.empty((len(self.positive_rows), self.count), dtype=np.int64)
        for positions, pool, excluded in self._per_user:
            take = min(len(pool), self.count)
            if take:
                keys = rng.random((len(positions), len(pool)))
                chosen = np.argsort(keys, axis=1, kind="stable")[:, :take]
                out[positions, :take] = pool[chosen]
            if take < self.count and excluded is not None:
                out[positions, take:] = _uniform_outside(
                    rng, self.num_items, excluded, (len(positions), self.count - take)
                )
            elif take < self.count:
                random_rows = rng.integers(
                    0, self.num_items - 1, size=(len(positions), self.count - take)
                )
                # skip the positive itself: shift draws at or above it by one
                random_rows += random_rows >= self.positive_rows[positions][:, None]
                out[positions, take:] = random_rows
        return out


_NONE = np.empty(0, dtype=np.int64)


def _uniform_outside(
    rng: np.random.Generator, num_items: int, excluded: np.ndarray, shape: tuple[int, int]
) -> np.ndarray:
    """Uniform draws from [0, num_items) minus `excluded` (sorted, unique): draw among the
    num_items - len(excluded) allowed rows, then step each draw past every excluded row at
    or below it, in ascending order."""
    rows = rng.integers(0, num_items - len(excluded), size=shape)
    for row in excluded:
        rows += rows >= row
    return rows
