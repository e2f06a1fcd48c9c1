"""What every sequential learner is: an item table, an input embedding, a sequence encoder.

The one trainer (`recommenders.sequence_trainer`) and the one evaluator
(`recommenders.sequence_evaluator`) do the rest; a learner only defines `encode`.

- **Item table** E [n_items, hidden]: item-id embeddings (``item_input: id``), or frozen
  text vectors of each item (all-MiniLM-L6-v2, `recommenders.sequence_items`) through a
  learned linear projection to hidden (``item_input: text``), or both added (``text+id``).
  It is both the input table and the output table: the score of item i after a sequence is
  the last hidden state · E[i]. ``item_table(rows)`` builds the rows of an item subset only
  (FOSTER encodes a sampled subset each step).
- A learner class may fix how it reads items (`SequentialLearner.resolve_settings`):
  ``sasrec-text`` is SASRec reading text. ``text_top_layer: true`` also trains the text
  encoder's top layer over the items' frozen token states (`recommenders.text_top_layer`).
- **Input**: hard item rows [B, L] (row ``n_items`` is padding: a zero vector), or soft
  input, a distribution over items at each position [B, L, n_items], embedded as P @ E
  (design/sequential-track.md: TD3's learner on soft input).
- **Layout**: sequences are left-padded to the learner's length, so the latest item is
  always in the last column; ``valid`` [B, L] marks the real positions (a suffix of each row).
"""

from __future__ import annotations

from typing import ClassVar

import numpy as np
import torch
from torch import nn

from harness.errors import ConfigError
from harness.typed import Settings
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.text_top_layer import BertTopLayer, TokenStates, load_top_layer

INIT_STD = 0.02  # normal init of embeddings and linear weights (biases zero)


class LearnerOptions(Settings):
    """A learner's own knobs (``model_options``); a learner with none keeps this empty model,
    so any key given is named as unknown."""

    label: ClassVar[str] = "model option"


class SequentialLearner(nn.Module):
    """Base class: subclasses set `name`, maybe `Options`, and implement `encode`."""

    name: ClassVar[str]
    Options: ClassVar[type[LearnerOptions]] = LearnerOptions

    def __init__(
        self,
        num_items: int,
        settings: SequentialTrainSettings,
        item_vectors: np.ndarray | None = None,
        item_tokens: TokenStates | None = None,
    ):
        super().__init__()
        if num_items < 1:
            raise ConfigError(f"{self.name}: the item table is empty")
        self.num_items = num_items
        self.pad = num_items  # the padding row of hard input
        self.settings = settings
        self.options = self.Options.from_mapping(settings.model_options)
        hidden = settings.hidden
        if settings.item_input != "text":  # "id" and "text+id"
            self.item_embedding = nn.Embedding(num_items + 1, hidden, padding_idx=self.pad)
        if settings.reads_text:
            if item_vectors is None or item_vectors.ndim != 2 or len(item_vectors) != num_items:
                shape = None if item_vectors is None else item_vectors.shape
                raise ConfigError(
                    f"{self.name}: item_input {settings.item_input!r} needs one text vector per "
                    f"item ({num_items}), got {shape}"
                )
            vectors = torch.as_tensor(np.asarray(item_vectors, dtype=np.float32))
            self.register_buffer("text_vectors", vectors)  # frozen: saved, never trained
            self.item_projection = nn.Linear(vectors.shape[1], hidden)
        if settings.text_top_layer:
            self._add_top_layer(num_items, settings, item_tokens)

    def _add_top_layer(self, num_items, settings, tokens: TokenStates | None) -> None:
        """The text encoder's top layer, trained (`recommenders.text_top_layer`), over the
        items' frozen token states (not saved with the model: rebuilt from the items)."""
        if not settings.reads_text:
            raise ConfigError(
                f"{self.name}: text_top_layer needs a learner that reads item text "
                f"(item_input 'text' or 'text+id'), got {settings.item_input!r}"
            )
        if tokens is None or len(tokens.states) != num_items:
            raise ConfigError(f"{self.name}: text_top_layer needs token states of the {num_items} items")
        self.register_buffer("token_states", torch.as_tensor(tokens.states), persistent=False)
        self.register_buffer("token_mask", torch.as_tensor(tokens.mask), persistent=False)
        self.text_top = load_top_layer()

    @classmethod
    def resolve_settings(cls, settings: SequentialTrainSettings) -> SequentialTrainSettings:
        """The settings this learner trains with (a learner that fixes how it reads items
        overrides it); the trainer and the expert cache call it before building one."""
        return settings

    # ---- initialisation --------------------------------------------------------------------
    def reset_parameters(self) -> None:
        """Normal(0, 0.02) embeddings and linear weights, zero biases, unit LayerNorms; the
        padding row stays zero. Subclasses call it at the end of their `__init__`."""
        top = set(self.text_top.modules()) if hasattr(self, "text_top") else set()
        for module in self.modules():
            if module in top or isinstance(module, BertTopLayer):
                continue  # MiniLM's pretrained top layer keeps its weights
            if isinstance(module, nn.Linear | nn.Embedding):
                nn.init.normal_(module.weight, std=INIT_STD)
            if isinstance(module, nn.Linear) and module.bias is not None:
                nn.init.zeros_(module.bias)
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
                nn.init.zeros_(module.bias)
        if hasattr(self, "item_embedding"):
            with torch.no_grad():
                self.item_embedding.weight[self.pad].zero_()

    # ---- the item table --------------------------------------------------------------------
    def item_table(self, rows: torch.Tensor | None = None) -> torch.Tensor:
        """E [n_items, hidden]: the input and output table; only its `rows` (item rows,
        int64 [k]) when given: a text learner then projects only those items' vectors."""
        table = None
        if hasattr(self, "text_top"):  # the top layer runs on those items' tokens only
            states = self.token_states if rows is None else self.token_states[rows]
            mask = self.token_mask if rows is None else self.token_mask[rows]
            table = self.item_projection(self.text_top.vectors(states, mask))
        elif hasattr(self, "text_vectors"):
            vectors = self.text_vectors if rows is None else self.text_vectors[rows]
            table = self.item_projection(vectors)
        if hasattr(self, "item_embedding"):
            ids = self.item_embedding.weight
            ids = ids[: self.num_items] if rows is None else ids[rows]
            table = ids if table is None else table + ids
        return table

    def embed(self, inputs: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """[B, L, hidden] input vectors of hard rows [B, L] (pad -> zero) or soft P [B, L, n]."""
        table = self.item_table() if table is None else table
        if inputs.is_floating_point():
            return inputs @ table
        padded = torch.cat([table, table.new_zeros(1, table.shape[1])])
        return padded[inputs]

    # ---- the sequence encoder --------------------------------------------------------------
    def encode(self, vectors: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """[B, L, hidden] states from input vectors [B, L, hidden] and ``valid`` [B, L]; the
        state at position t reads positions <= t only (causal)."""
        raise NotImplementedError

    def forward(self, inputs: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Hidden states [B, L, hidden] of hard or soft input."""
        return self.encode(self.embed(inputs), valid)

    def logits(self, states: torch.Tensor, table: torch.Tensor | None = None) -> torch.Tensor:
        """Scores of every item [..., n_items] from states [..., hidden]."""
        table = self.item_table() if table is None else table
        return states @ table.T
