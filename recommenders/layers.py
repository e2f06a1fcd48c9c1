"""Layers shared by the content-based recommenders (attention pooling, self-attention)."""

from __future__ import annotations

import math

import torch
from torch import nn

# added to the attention logits of masked positions (finite, so an all-masked row stays finite)
MASKED_LOGIT = -1e4


class AdditiveAttention(nn.Module):
    """Pool a sequence into one vector: softmax(q · tanh(W x_i + b)) weighted sum of x_i."""

    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.project = nn.Linear(dim, hidden)
        self.query = nn.Linear(hidden, 1, bias=False)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [..., T, D], mask: [..., T] (True = real) -> [..., D]."""
        logits = self.query(torch.tanh(self.project(x))).squeeze(-1)
        return attention_pool(logits, x, mask)


def attention_pool(logits: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """softmax(logits) over the unmasked positions, weighted sum of x: [..., T], [..., T, D] -> [..., D]."""
    weights = torch.softmax(logits.masked_fill(~mask, MASKED_LOGIT), dim=-1)
    return (weights.unsqueeze(-1) * x).sum(dim=-2)


class TokenConvolution(nn.Module):
    """1-D convolution over tokens written as one matrix product (window of shifted copies
    -> linear): much faster on CPU than a small-batch Conv1d, same function."""

    def __init__(self, in_dim: int, out_dim: int, kernel_size: int):
        super().__init__()
        self.kernel_size = kernel_size
        self.linear = nn.Linear(kernel_size * in_dim, out_dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x: [B, T, in_dim] (padding positions zero) -> [B, T, out_dim]."""
        half = self.kernel_size // 2
        padded = nn.functional.pad(x, (0, 0, half, half))
        length = x.shape[1]
        window = torch.cat([padded[:, i : i + length] for i in range(self.kernel_size)], dim=-1)
        return self.linear(window)


class MultiHeadSelfAttention(nn.Module):
    """Scaled dot-product self-attention with several heads; masked keys are ignored."""

    def __init__(self, in_dim: int, out_dim: int, heads: int):
        super().__init__()
        if out_dim % heads:
            raise ValueError(f"attention dim {out_dim} is not divisible by {heads} heads")
        self.heads = heads
        self.head_dim = out_dim // heads
        self.qkv = nn.Linear(in_dim, 3 * out_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, T, in_dim], mask: [B, T] -> [B, T, out_dim]."""
        batch, length, _ = x.shape
        qkv = self.qkv(x).view(batch, length, 3, self.heads, self.head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)
        logits = q @ k.transpose(-1, -2) / math.sqrt(self.head_dim)
        logits = logits.masked_fill(~mask[:, None, None, :], MASKED_LOGIT)
        out = torch.softmax(logits, dim=-1) @ v
        return out.transpose(1, 2).reshape(batch, length, self.heads * self.head_dim)


class FastformerAttention(nn.Module):
    """Fastformer's additive attention (Wu et al., 2021): linear in sequence length.

    A global query pools the queries, multiplies the keys element-wise, a global key pools
    those, multiplies the values; an output projection and a residual with the queries
    follow. No LayerNorm and no position embedding, as recommended for news recommendation.
    """

    def __init__(self, in_dim: int, dim: int, heads: int):
        super().__init__()
        if dim % heads:
            raise ValueError(f"Fastformer dim {dim} is not divisible by {heads} heads")
        self.heads = heads
        self.head_dim = dim // heads
        self.query = nn.Linear(in_dim, dim)
        self.key = nn.Linear(in_dim, dim)
        self.value = nn.Linear(in_dim, dim)
        self.query_score = nn.Linear(dim, heads)
        self.key_score = nn.Linear(dim, heads)
        self.output = nn.Linear(dim, dim)

    def _pool(self, scores: torch.Tensor, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """scores [B, T, H], x [B, T, D] -> [B, 1, D]: per-head softmax-weighted sum over T."""
        batch, length, _ = x.shape
        logits = (scores / math.sqrt(self.head_dim)).masked_fill(~mask[..., None], MASKED_LOGIT)
        weights = torch.softmax(logits, dim=1)  # [B, T, H]
        heads = x.view(batch, length, self.heads, self.head_dim)
        pooled = torch.einsum("bth,bthd->bhd", weights, heads)
        return pooled.reshape(batch, 1, self.heads * self.head_dim)

    def forward(self, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """x: [B, T, in_dim], mask: [B, T] -> [B, T, dim]."""
        queries, keys, values = self.query(x), self.key(x), self.value(x)
        global_query = self._pool(self.query_score(queries), queries, mask)
        mixed = keys * global_query
        global_key = self._pool(self.key_score(mixed), mixed, mask)
        return self.output(values * global_key) + queries
