"""SASRec: self-attentive sequential recommendation, as TD3 configures it.

design/sequential-track.md (Protocol): 1 layer, 1 head, hidden 32, feed-forward 64, dropout
0.2 on hidden states and 0.5 on attention weights, the last 50 items, causal attention,
learned position embeddings, item-id embeddings with a padding row, and scores = last
hidden state · item table (the input table, shared). Sizes come from
`SequentialTrainSettings` (hidden, layers, heads, inner, dropout, attention_dropout,
max_len).

Our choices where the facts are silent: post-LayerNorm blocks (attention, then the
feed-forward network, each with a residual connection, dropout and LayerNorm), GELU in the
feed-forward network, a LayerNorm and dropout on the embedded input (item + position), and
no scaling of item embeddings. Padded key positions are masked; a padded query attends to
itself only (its state is never read). Positions are counted from the right: the latest
item always gets position embedding ``max_len - 1``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from harness.errors import ConfigError
from recommenders.sequence_base import SequentialLearner
from recommenders.sequence_settings import SequentialTrainSettings


class CausalSelfAttention(nn.Module):
    """Multi-head scaled dot-product attention under a [B, L, L] boolean "may attend" mask."""

    def __init__(self, hidden: int, heads: int, attention_dropout: float):
        super().__init__()
        self.heads = heads
        self.query = nn.Linear(hidden, hidden)
        self.key = nn.Linear(hidden, hidden)
        self.value = nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, hidden)
        self.dropout = nn.Dropout(attention_dropout)

    def _split(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, hidden = x.shape
        return x.view(batch, length, self.heads, hidden // self.heads).transpose(1, 2)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        q, k, v = self._split(self.query(x)), self._split(self.key(x)), self._split(self.value(x))
        weights = (q @ k.transpose(-1, -2)) / math.sqrt(q.shape[-1])
        weights = weights.masked_fill(~allowed[:, None], float("-inf")).softmax(dim=-1)
        mixed = self.dropout(weights) @ v  # [B, heads, L, head dim]
        return self.out(mixed.transpose(1, 2).reshape(x.shape))


class TransformerBlock(nn.Module):
    """Attention and a feed-forward network, each: residual, dropout, LayerNorm (post-LN)."""

    def __init__(self, settings: SequentialTrainSettings):
        super().__init__()
        hidden = settings.hidden
        self.attention = CausalSelfAttention(hidden, settings.heads, settings.attention_dropout)
        self.attention_norm = nn.LayerNorm(hidden)
        self.feed_forward = nn.Sequential(
            nn.Linear(hidden, settings.inner),
            nn.GELU(),
            nn.Dropout(settings.dropout),
            nn.Linear(settings.inner, hidden),
        )
        self.feed_forward_norm = nn.LayerNorm(hidden)
        self.dropout = nn.Dropout(settings.dropout)

    def forward(self, x: torch.Tensor, allowed: torch.Tensor) -> torch.Tensor:
        x = self.attention_norm(x + self.dropout(self.attention(x, allowed)))
        return self.feed_forward_norm(x + self.dropout(self.feed_forward(x)))


class SASRec(SequentialLearner):
    name = "sasrec"

    def __init__(self, num_items, settings, item_vectors=None, item_tokens=None):
        super().__init__(num_items, settings, item_vectors, item_tokens)
        if settings.hidden % settings.heads:
            raise ConfigError(
                f"sasrec: heads ({settings.heads}) must divide hidden ({settings.hidden})"
            )
        self.position_embedding = nn.Embedding(settings.max_len, settings.hidden)
        self.input_norm = nn.LayerNorm(settings.hidden)
        self.input_dropout = nn.Dropout(settings.dropout)
        self.blocks = nn.ModuleList(TransformerBlock(settings) for _ in range(settings.layers))
        self.reset_parameters()

    def encode(self, vectors: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        length, max_len = vectors.shape[1], self.settings.max_len
        if length > max_len:
            raise ValueError(f"sasrec reads at most {max_len} positions, got {length}")
        positions = torch.arange(max_len - length, max_len, device=vectors.device)
        x = self.input_dropout(self.input_norm(vectors + self.position_embedding(positions)))
        causal = torch.ones(length, length, dtype=torch.bool, device=vectors.device).tril()
        itself = torch.eye(length, dtype=torch.bool, device=vectors.device)
        allowed = causal & (valid[:, None, :] | itself)  # [B, query, key]
        for block in self.blocks:
            x = block(x, allowed)
        return x


class SASRecText(SASRec):
    """``sasrec-text``: SASRec whose item vectors come from item text (FOSTER's learner): the
    items' frozen all-MiniLM-L6-v2 vectors through a trained projection (``item_input:
    text``), or with an item-id embedding added when the settings say ``text+id``."""

    name = "sasrec-text"

    @classmethod
    def resolve_settings(cls, settings: SequentialTrainSettings) -> SequentialTrainSettings:
        if settings.reads_text:
            return settings
        return settings.model_copy(update={"item_input": "text"})

    def __init__(self, num_items, settings, item_vectors=None, item_tokens=None):
        super().__init__(num_items, self.resolve_settings(settings), item_vectors, item_tokens)
