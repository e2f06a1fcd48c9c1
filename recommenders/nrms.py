"""NRMS (Wu et al., 2019): multi-head self-attention + additive attention, for items and users."""

from __future__ import annotations

import torch

from recommenders.base import ContentRecommender, MultiHeadConfig, WordRows
from recommenders.layers import AdditiveAttention, MultiHeadSelfAttention


class NrmsConfig(MultiHeadConfig):
    """heads / user_heads: see MultiHeadConfig."""


class Nrms(ContentRecommender):
    name = "nrms"
    Config = NrmsConfig

    def __init__(self, config: NrmsConfig):
        super().__init__(config)
        self.word_attention = MultiHeadSelfAttention(
            config.word_dim, config.content_dim, config.heads
        )
        self.word_pooling = AdditiveAttention(config.content_dim, config.attention_hidden)
        self.item_attention = MultiHeadSelfAttention(
            config.user_dim, config.user_dim, config.user_heads
        )
        self.item_pooling = AdditiveAttention(config.user_dim, config.attention_hidden)

    def encode_content(
        self,
        tokens: torch.Tensor,
        fields: torch.Tensor,
        mask: torch.Tensor,
        words: WordRows | None = None,
    ) -> torch.Tensor:
        hidden = self.word_attention(self.embed_words(tokens, words), mask)
        return self.word_pooling(hidden, mask)

    def encode_users(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.item_attention(history, mask)
        return self.item_pooling(hidden, mask)
