"""Fastformer (Wu et al., 2021) for recommendation: additive-attention Transformer layers.

Without LayerNorm and position embeddings, as its authors recommend for news
recommendation; one Fastformer layer (its query/key/value projections read the word
embeddings directly and lift them to the 256-d content space) and attention pooling, for
items and for users.
"""

from __future__ import annotations

import torch

from recommenders.base import ContentRecommender, MultiHeadConfig, WordRows
from recommenders.layers import AdditiveAttention, FastformerAttention


class FastformerConfig(MultiHeadConfig):
    """heads / user_heads: see MultiHeadConfig."""


class Fastformer(ContentRecommender):
    name = "fastformer"
    Config = FastformerConfig

    def __init__(self, config: FastformerConfig):
        super().__init__(config)
        self.word_layer = FastformerAttention(config.word_dim, config.content_dim, config.heads)
        self.word_pooling = AdditiveAttention(config.content_dim, config.attention_hidden)
        self.item_layer = FastformerAttention(config.user_dim, config.user_dim, config.user_heads)
        self.item_pooling = AdditiveAttention(config.user_dim, config.attention_hidden)

    def encode_content(
        self,
        tokens: torch.Tensor,
        fields: torch.Tensor,
        mask: torch.Tensor,
        words: WordRows | None = None,
    ) -> torch.Tensor:
        hidden = self.word_layer(self.embed_words(tokens, words), mask)
        return self.word_pooling(hidden, mask)

    def encode_users(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        hidden = self.item_layer(history, mask)
        return self.item_pooling(hidden, mask)
