"""NAML (Wu et al., 2019): CNN + additive attention per text field, view attention over fields.

The text fields arrive concatenated (as the TF-DCon paper feeds them); one CNN reads the
sequence and each field is pooled by its own attention over its tokens (a "view"); the
field attentions share the tanh projection and differ in their query vector, so each token
is projected once. A view attention pools the fields. The user encoder is additive
attention over the history.
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from harness.typed import check, int_at_least
from recommenders.base import ContentRecommender, ModelConfig
from recommenders.layers import MASKED_LOGIT, AdditiveAttention, TokenConvolution

MAX_FIELDS = 8


class NamlConfig(ModelConfig):
    kernel_size: Annotated[
        int_at_least(1, "must be a positive integer, got {value!r}"),
        check(lambda v: v % 2 == 1, "must be odd, got {value!r}"),
    ] = 3


class Naml(ContentRecommender):
    name = "naml"
    Config = NamlConfig

    def __init__(self, config: NamlConfig):
        super().__init__(config)
        self.cnn = TokenConvolution(config.word_dim, config.content_dim, config.kernel_size)
        self.field_projection = nn.Linear(config.content_dim, config.attention_hidden)
        self.field_queries = nn.Linear(config.attention_hidden, MAX_FIELDS, bias=False)
        self.view_attention = AdditiveAttention(config.content_dim, config.attention_hidden)
        self.user_attention = AdditiveAttention(config.user_dim, config.attention_hidden)

    def encode_content(self, tokens, fields, mask, words=None):
        words = self.embed_words(tokens, words) * mask[..., None]
        hidden = torch.relu(self.cnn(words))  # [n, L, C]
        field_count = min(int(fields.max()) + 1, MAX_FIELDS) if fields.numel() else 1
        projected = torch.tanh(self.field_projection(hidden))
        logits = self.field_queries(projected)[..., :field_count].transpose(1, 2)  # [n, F, L]
        field_ids = torch.arange(field_count, device=fields.device)
        in_field = mask[:, None, :] & (fields[:, None, :] == field_ids[None, :, None])  # [n, F, L]
        weights = torch.softmax(logits.masked_fill(~in_field, MASKED_LOGIT), dim=-1)
        views = weights @ hidden  # [n, F, C]
        return self.view_attention(views, in_field.any(dim=-1))

    def encode_users(self, history, mask):
        return self.user_attention(history, mask)
