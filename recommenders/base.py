"""What every content-based recommender provides: an item encoder and a user encoder.

Models define encoders only; the one trainer (`recommenders.trainer`) and the one
evaluator (`recommenders.evaluator`) do the rest. The score of an item for a user is the
dot product of the user vector and the item vector.

Item input: token ids of the concatenated text fields ``tokens [n, L]``, the field index
of each token ``fields [n, L]`` and ``mask [n, L]`` (True = real token). The content
encoder works at ``content_dim`` (256, paper §IV-A4) and projects to the ``user_dim`` (64)
item vector the user encoder reads. Dropout is applied to the word embeddings only (dropout
on the 256-d token states cost a fifth of a CPU training step for no measured gain).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, ClassVar

import torch
from pydantic import model_validator
from torch import nn

from harness.typed import Number, Settings, check, int_at_least

BERT_VOCAB_SIZE = 30522  # bert-base-uncased WordPiece


_Size = int_at_least(1, "must be a positive integer, got {value!r}")
_Dropout = Annotated[Number, check(lambda v: 0.0 <= v < 1.0, "must be in [0, 1), got {value!r}")]


class ModelConfig(Settings):
    """Sizes shared by every model; a model's own config subclasses this. Checked on
    construction; a bad option is named (``model option 'word_dim' must be ...``)."""

    label: ClassVar[str] = "model option"

    vocab_size: _Size = BERT_VOCAB_SIZE
    word_dim: _Size = 64
    content_dim: _Size = 256
    user_dim: _Size = 64
    attention_hidden: _Size = 64
    dropout: _Dropout = 0.2

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> ModelConfig:
        """Build from a plain mapping, naming any key this model does not know."""
        return cls.from_mapping(options)


class MultiHeadConfig(ModelConfig):
    """A model with multi-head attention at item level (`heads`) and user level (`user_heads`)."""

    heads: _Size = 16
    user_heads: _Size = 4

    @model_validator(mode="after")
    def _heads_divide(self) -> MultiHeadConfig:
        if self.content_dim % self.heads:
            raise ValueError(
                f"model option 'heads' ({self.heads}) must divide content_dim ({self.content_dim})"
            )
        if self.user_dim % self.user_heads:
            raise ValueError(
                f"model option 'user_heads' ({self.user_heads}) must divide user_dim ({self.user_dim})"
            )
        return self


@dataclass(frozen=True)
class WordRows:
    """The rows of a word table that one training step reads, gathered once.

    A step encodes its items in several calls (one per text-length bucket), and each call's
    backward pass through `nn.Embedding` writes a dense gradient of the whole table (30,522 x
    64, zero-filled) that autograd then adds up: up to a third of a small set's step (NAML).
    Reading the step's words from one gathered `table` instead gives every call a gradient
    over those rows only, and one dense gradient of the table per step (`index_select`'s
    backward). The values are the same bit for bit: the same lookups forward; backward, each
    call sums its rows' gradients in the same order from zero, autograd adds the calls' sums
    in the same order, and a row no call read gets exactly zero, as before.
    """

    table: torch.Tensor  # [k, word_dim] gathered rows, in the autograd graph
    positions: torch.Tensor  # [vocab] each id's row in `table` (-1: not gathered)
    padding_row: int | None  # the table's padding id, as a row of `table`

    @classmethod
    def gather(cls, embedding: nn.Embedding, tokens: torch.Tensor) -> WordRows:
        """The rows of `embedding` that `tokens` (any shape, ids) and the padding id name."""
        device = embedding.weight.device
        ids = tokens.flatten().to(device)
        padding = embedding.padding_idx
        if padding is not None:
            ids = torch.cat([ids, torch.tensor([padding], device=device)])
        ids = torch.unique(ids)
        positions = torch.full((embedding.num_embeddings,), -1, dtype=torch.long, device=device)
        positions[ids] = torch.arange(len(ids), device=device)
        return cls(
            table=embedding.weight.index_select(0, ids),
            positions=positions,
            padding_row=None if padding is None else int(positions[padding]),
        )

    def embed(self, tokens: torch.Tensor) -> torch.Tensor:
        """[..., word_dim] vectors of `tokens` (ids of the whole table, all gathered)."""
        return nn.functional.embedding(
            self.positions[tokens], self.table, padding_idx=self.padding_row
        )


class ContentRecommender(nn.Module):
    """Base class: subclasses set `name`, `Config` and implement the two encoders."""

    name: ClassVar[str]
    Config: ClassVar[type[ModelConfig]] = ModelConfig

    def __init__(self, config: ModelConfig):
        super().__init__()
        self.config = config
        self.word_embedding = nn.Embedding(config.vocab_size, config.word_dim, padding_idx=0)
        self.dropout = nn.Dropout(config.dropout)
        self.to_item_vector = nn.Linear(config.content_dim, config.user_dim)

    @classmethod
    def from_options(cls, options: dict[str, Any] | None = None) -> ContentRecommender:
        return cls(cls.Config.from_options(options))

    def embed_words(self, tokens: torch.Tensor, words: WordRows | None = None) -> torch.Tensor:
        """Dropout over the word vectors of `tokens`, read from `words` when given (the same
        values: rows gathered from `word_embedding` for a training step)."""
        return self.dropout(self.word_embedding(tokens) if words is None else words.embed(tokens))

    def encode_content(
        self,
        tokens: torch.Tensor,
        fields: torch.Tensor,
        mask: torch.Tensor,
        words: WordRows | None = None,
    ) -> torch.Tensor:
        """[n, L] token ids -> [n, content_dim]; word vectors through `embed_words(tokens, words)`."""
        raise NotImplementedError

    def encode_items(
        self,
        tokens: torch.Tensor,
        fields: torch.Tensor,
        mask: torch.Tensor,
        words: WordRows | None = None,
    ) -> torch.Tensor:
        """[n, L] token ids -> [n, user_dim] item vectors."""
        return self.to_item_vector(self.encode_content(tokens, fields, mask, words))

    def encode_users(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[b, H, user_dim] history item vectors, [b, H] mask -> [b, user_dim]."""
        raise NotImplementedError
