"""`td3`: TD3's Tucker-factored synthetic sequence summary, distilled bi-level (RaT-BPTT).

P = softmax over items of einsum("ijk,ai,bj,ck->abc", G, U, T, V) (design/sequential-track.md,
"TD3"): G [rank, rank, hidden] the relation core (kaiming-normal), U [S, rank] synthetic users
and T [L, rank] positions (Normal(0, 0.02)) are learned; V [n_items, hidden] is the expert
SASRec's item table, frozen. The loop is `condensers.distillation` (TD3's outer loop and
inner curriculum); the set is stored in TD3's own factors (form "tucker", V marked frozen),
so the record counts its bytes with and without the frozen table.

``rank`` is d1 = d2 (ml-100k: 8; TD3's default elsewhere: 64). The budget is S, the number
of synthetic sequences; ``length`` is L.
"""

from __future__ import annotations

import torch
from torch import nn

from condensers.distillation import DistillationCondenser, DistillParams, Summary
from harness.sequences import TUCKER, SoftSequences
from recommenders.settings import PositiveInt

INIT_STD = 0.02  # U and T: Normal(0, 0.02)


class TD3Params(DistillParams):
    rank: PositiveInt = 8  # d1 = d2: the user and position factors' width


class TuckerSummary(Summary):
    def __init__(self, sequences: int, length: int, rank: int, items: torch.Tensor, generator):
        super().__init__()
        hidden = items.shape[1]
        core = torch.empty(rank, rank, hidden)
        nn.init.kaiming_normal_(core, generator=generator)
        self.core = nn.Parameter(core)
        self.users = nn.Parameter(torch.randn(sequences, rank, generator=generator) * INIT_STD)
        self.positions = nn.Parameter(torch.randn(length, rank, generator=generator) * INIT_STD)
        self.register_buffer("items", items.detach().clone())  # V: frozen

    def probs(self) -> torch.Tensor:
        logits = torch.einsum(
            "ijk,ai,bj,ck->abc", self.core, self.users, self.positions, self.items
        )
        return logits.softmax(dim=-1)

    def soft_sequences(self, meta: dict) -> SoftSequences:
        tensors = {**self.arrays(), "items": self.items.cpu().numpy()}
        return SoftSequences(form=TUCKER, tensors=tensors, frozen=("items",), meta=meta)


class TD3Condenser(DistillationCondenser):
    name = "td3"
    label = "TD3"
    summary = "TD3: Tucker-factored soft sequences (V frozen from the expert SASRec), bi-level with RaT-BPTT (sequential)"
    Params = TD3Params

    def make_summary(self, sequences, length, expert_items, generator) -> Summary:
        return TuckerSummary(sequences, length, self.params.rank, expert_items.cpu(), generator)
