"""GRU4Rec: a recurrent sequential learner, the track's second architecture.

The issue asks for it to show cross-architecture transfer (TD3 claims it). Item input as
SASRec's (item-id embeddings or projected text vectors, hard ids or soft P @ E) ->
dropout -> GRU -> a linear layer back to the item width -> scores against the item table.
The same loss and trainer as SASRec.

Our choices (no facts given): the GRU's width defaults to ``hidden`` (32, the same width
as SASRec, so both read the same item table size), ``layers`` GRU layers (1) with
``dropout`` between layers when there are several, and dropout 0.2 (``dropout``) on the
embedded input. ``model_options: {gru_hidden: N}`` sets another GRU width. Left-padded rows
are shifted so the GRU reads the real items first (from a zero state), and the states are
shifted back: padding never changes a real position's state.
"""

from __future__ import annotations

import torch
from torch import nn

from harness.typed import int_at_least
from recommenders.sequence_base import LearnerOptions, SequentialLearner


class GRU4RecOptions(LearnerOptions):
    gru_hidden: int_at_least(1, "must be a positive integer, got {value!r}") | None = None


def _roll_rows(x: torch.Tensor, shift: torch.Tensor) -> torch.Tensor:
    """Row b of [B, L, d] rolled left by shift[b]: out[b, t] = x[b, (t + shift[b]) % L]."""
    length = x.shape[1]
    index = (torch.arange(length, device=x.device)[None, :] + shift[:, None]) % length
    return x.gather(1, index[..., None].expand(-1, -1, x.shape[2]))


class GRU4Rec(SequentialLearner):
    name = "gru4rec"
    Options = GRU4RecOptions

    def __init__(self, num_items, settings, item_vectors=None, item_tokens=None):
        super().__init__(num_items, settings, item_vectors, item_tokens)
        width = self.options.gru_hidden or settings.hidden
        self.input_dropout = nn.Dropout(settings.dropout)
        self.gru = nn.GRU(
            settings.hidden,
            width,
            num_layers=settings.layers,
            batch_first=True,
            dropout=settings.dropout if settings.layers > 1 else 0.0,
        )
        self.output = nn.Linear(width, settings.hidden)
        self.reset_parameters()  # embeddings and linear layers; the GRU keeps torch's init

    def encode(self, vectors: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        shift = vectors.shape[1] - valid.sum(dim=1)  # padding in front of each row
        states, _ = self.gru(_roll_rows(self.input_dropout(vectors), shift))
        return self.output(_roll_rows(states, -shift))
