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

from dataclasses import dataclass, fields
from typing import Any, ClassVar

import torch
from torch import nn

from harness.errors import ConfigError, unknown_field

BERT_VOCAB_SIZE = 30522  # bert-base-uncased WordPiece


@dataclass(frozen=True)
class ModelConfig:
    """Sizes shared by every model; a model's own config subclasses this."""

    vocab_size: int = BERT_VOCAB_SIZE
    word_dim: int = 64
    content_dim: int = 256
    user_dim: int = 64
    attention_hidden: int = 64
    dropout: float = 0.2

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name == "dropout":
                if not isinstance(value, int | float) or not 0.0 <= value < 1.0:
                    raise ConfigError(f"model option 'dropout' must be in [0, 1), got {value!r}")
            elif item.type in ("int", int) and (
                not isinstance(value, int) or isinstance(value, bool) or value < 1
            ):
                raise ConfigError(
                    f"model option {item.name!r} must be a positive integer, got {value!r}"
                )

    @classmethod
    def from_options(cls, options: dict[str, Any] | None) -> ModelConfig:
        """Build from a plain mapping, naming any key this model does not know."""
        options = dict(options or {})
        unknown, known = unknown_field(options, cls)
        if unknown:
            raise ConfigError(f"unknown model option {unknown!r}; known: {', '.join(known)}")
        return cls(**options)


@dataclass(frozen=True)
class MultiHeadConfig(ModelConfig):
    """A model with multi-head attention at item level (`heads`) and user level (`user_heads`)."""

    heads: int = 16
    user_heads: int = 4

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.content_dim % self.heads:
            raise ConfigError(
                f"model option 'heads' ({self.heads}) must divide content_dim ({self.content_dim})"
            )
        if self.user_dim % self.user_heads:
            raise ConfigError(
                f"model option 'user_heads' ({self.user_heads}) must divide user_dim ({self.user_dim})"
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

    def embed_words(self, tokens: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.word_embedding(tokens))

    def encode_content(
        self, tokens: torch.Tensor, fields: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """[n, L] token ids -> [n, content_dim]."""
        raise NotImplementedError

    def encode_items(
        self, tokens: torch.Tensor, fields: torch.Tensor, mask: torch.Tensor
    ) -> torch.Tensor:
        """[n, L] token ids -> [n, user_dim] item vectors."""
        return self.to_item_vector(self.encode_content(tokens, fields, mask))

    def encode_users(self, history: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[b, H, user_dim] history item vectors, [b, H] mask -> [b, user_dim]."""
        raise NotImplementedError
