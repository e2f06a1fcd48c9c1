"""`farzi`: Farzi Data's latent parameterisation, distilled in TD3's loop.

P = softmax over items of latent @ decoder: latent [S, L, d] and decoder [d, n_items], both
learned (design/sequential-track.md: TD3's code keeps this parameterisation, commented out,
and it runs in the same loop). Labelled "Farzi (in TD3's loop)": Farzi Data's own training
recipe is not re-implemented here, only its parameterisation. Stored as form "latent".

``latent_dim`` d (TD3's code: 32); ``init_std``: both tensors start Normal(0, init_std)
(ours: the facts do not say; TD3's own factors start at 0.02).
"""

from __future__ import annotations

import torch
from torch import nn

from condensers.distillation import DistillationCondenser, DistillParams, Summary
from harness.sequences import LATENT, SoftSequences
from recommenders.settings import PositiveInt, Rate


class FarziParams(DistillParams):
    latent_dim: PositiveInt = 32
    init_std: Rate = 0.02


class LatentSummary(Summary):
    def __init__(self, sequences: int, length: int, items: int, dim: int, std: float, generator):
        super().__init__()
        self.latent = nn.Parameter(torch.randn(sequences, length, dim, generator=generator) * std)
        self.decoder = nn.Parameter(torch.randn(dim, items, generator=generator) * std)

    def probs(self) -> torch.Tensor:
        return (self.latent @ self.decoder).softmax(dim=-1)

    def soft_sequences(self, meta: dict) -> SoftSequences:
        return SoftSequences(form=LATENT, tensors=self.arrays(), meta=meta)


class FarziCondenser(DistillationCondenser):
    name = "farzi"
    label = "Farzi (in TD3's loop)"
    summary = "Farzi Data's latent × decoder soft sequences, distilled in TD3's loop (sequential)"
    Params = FarziParams

    def make_summary(self, sequences, length, expert_items, generator) -> Summary:
        p = self.params
        return LatentSummary(
            sequences, length, len(expert_items), p.latent_dim, p.init_std, generator
        )
