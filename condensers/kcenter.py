"""`kcenter`: a coreset of users by greedy k-center on an expert's user representations.

The expert is a SASRec trained on the original (`condensers.sequence_expert`, via
``ctx.sequence_representations``: trained once per dataset, seed and settings, cached on
disk). Each user with a train sequence is its representation, L2-normalised; distances are
Euclidean between the normalised vectors (so they order pairs as cosine similarity does).
Greedy k-center (farthest-first traversal, `greedy_k_center`): the first center is the user
nearest the mean of the normalised vectors; each next center is the user farthest from the
centers chosen so far; ties go to the lower user id. The set holds the `count` chosen users'
whole train sequences, in order, users in id order. Deterministic given the expert: the
cell's seed plays no part (the expert's seed is the context's).
"""

from __future__ import annotations

import numpy as np

from condensers.base import Budget, Condenser
from condensers.context import CondenseContext
from condensers.sequence_expert import KEY_VERSION as EXPERT_KEY_VERSION
from condensers.sequence_sets import require_sequential, whole_sequences_set
from harness.dataset import Dataset
from harness.sequences import SEQUENTIAL_KIND


def l2_normalised(vectors: np.ndarray) -> np.ndarray:
    """Rows scaled to unit length (a zero row stays zero)."""
    vectors = np.asarray(vectors, dtype=np.float64)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.where(norms > 0, norms, 1.0)


def greedy_k_center(vectors: np.ndarray, k: int) -> np.ndarray:
    """Indices of `k` rows of `vectors` chosen by farthest-first traversal, in choice order.

    First: the row nearest the mean of all rows. Then, k - 1 times: the row whose Euclidean
    distance to its nearest chosen row is largest. Ties (and duplicates) go to the lowest
    index; a row is never chosen twice.
    """
    points = np.asarray(vectors, dtype=np.float64)
    if points.ndim != 2:
        raise ValueError(f"greedy_k_center: vectors must be [n, d], got shape {points.shape}")
    if not 1 <= k <= len(points):
        raise ValueError(f"greedy_k_center: k must be in [1, {len(points)}], got {k}")
    first = int(np.argmin(np.linalg.norm(points - points.mean(axis=0), axis=1)))
    chosen = [first]
    nearest = np.linalg.norm(points - points[first], axis=1)
    nearest[first] = -np.inf
    while len(chosen) < k:
        center = int(np.argmax(nearest))  # the first maximum: the lowest index on a tie
        chosen.append(center)
        nearest = np.minimum(nearest, np.linalg.norm(points - points[center], axis=1))
        nearest[chosen] = -np.inf
    return np.asarray(chosen, dtype=np.int64)


class KCenterCondenser(Condenser):
    name = "kcenter"
    summary = (
        "greedy k-center on a SASRec expert's user representations, whole sequences (sequential)"
    )
    data_kinds = (SEQUENTIAL_KIND,)
    # the expert's cache version is part of the set's: a new expert makes new sets
    version = f"1+expert{EXPERT_KEY_VERSION}"

    def condense(
        self, dataset: Dataset, budget: Budget, rng: np.random.Generator, ctx: CondenseContext
    ) -> Dataset:
        require_sequential(dataset, self.name)
        population, count = budget.resolve_for(dataset)
        with ctx.stage("expert"):
            vectors = ctx.sequence_representations(dataset, population)
        with ctx.stage("users"):
            picked = population[greedy_k_center(l2_normalised(vectors), count)]
            return whole_sequences_set(
                dataset,
                np.sort(picked),
                variant=self.name,
                meta={"centers": [int(u) for u in picked], "distance": "euclidean-l2-normalised"},
            )
