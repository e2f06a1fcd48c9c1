"""`SequentialTrainSettings`: how the sequential track trains SASRec and GRU4Rec.

A typed config that never imports torch (validating a config must not load it). The
architecture defaults are SASRec as TD3 configures it (design/sequential-track.md): one
layer, one head, hidden 32, feed-forward 64, dropout 0.2 on hidden states and 0.5 on
attention weights, the last 50 items read. GRU4Rec reads the same fields (hidden, layers,
dropout). Learner-specific knobs go in ``model_options`` (each learner's `Options`).

Optimiser defaults (Adam, batch 128 windows, lr 1e-2, no weight decay, patience 10 on dev
NDCG@10, at most 60 epochs) were measured on ml-100k-seq Original, seed 0, one thread of a
2-core CPU: SASRec stops after 30 epochs in 69 s (test HR@10 0.200, NDCG@10 0.112), GRU4Rec
after 37 in 78 s (0.220, 0.117); popularity floor 0.085, 0.044. Batch 64, lr 2e-3 or 5e-3,
or patience 5 moved SASRec's test NDCG@10 by under 0.005 (2e-3 took twice the epochs; GRU4Rec at
5e-3 ran all 60).
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import ConfigDict

from harness.typed import Number, Settings, StrictBool, StrictStr, check
from recommenders.settings import (
    Device,
    MetricName,
    NonNegative,
    NonNegativeInt,
    PositiveInt,
    Rate,
)

DEFAULT_MAX_LEN = 50  # the learner reads the last 50 items before a target

_Share = Annotated[Number, check(lambda v: 0 <= v < 1, "must be a number in [0, 1), got {value!r}")]
ITEM_INPUTS = ("id", "text", "text+id")
TEXT_INPUTS = ("text", "text+id")  # the item inputs that read the items' text vectors
_ItemInput = Annotated[
    StrictStr,
    check(lambda v: v in ITEM_INPUTS, "must be 'id', 'text' or 'text+id', got {value!r}"),
]


class SequentialTrainSettings(Settings):
    """How to train a sequential learner; every field is checked and a bad one is named."""

    model_config = ConfigDict(protected_namespaces=())  # `model_options` is a field
    label: ClassVar[str] = "sequential train setting"

    # the learner (TD3's SASRec)
    max_len: PositiveInt = DEFAULT_MAX_LEN
    hidden: PositiveInt = 32
    layers: PositiveInt = 1
    heads: PositiveInt = 1
    inner: PositiveInt = 64  # feed-forward width (SASRec)
    dropout: _Share = 0.2  # on hidden states
    attention_dropout: _Share = 0.5  # on attention weights (SASRec)
    # item-id embeddings, projected MiniLM vectors, or both added ("text+id")
    item_input: _ItemInput = "id"
    # a text-reading learner also trains the text encoder's top layer (MiniLM's sixth) from
    # its pretrained weights: `recommenders.text_top_layer` (slow on a CPU for a whole catalogue)
    text_top_layer: StrictBool = False
    # the optimiser
    batch_size: PositiveInt = 128  # training windows (sequences of up to max_len + 1 items)
    lr: Rate = 1e-2
    weight_decay: NonNegative = 0.0
    max_epochs: PositiveInt = 60
    patience: NonNegativeInt = 10
    min_improvement: NonNegative = 0.0  # a dev gain below this does not reset patience
    min_steps_per_epoch: PositiveInt = 8  # an epoch cycles a small (condensed) set this often
    early_stop_metric: MetricName = "NDCG@10"
    # where and how it runs
    device: Device = "auto"
    threads: PositiveInt = 1  # one thread: fastest on a shared 2-core machine, same bits
    eval_batch: PositiveInt = 1024  # users scored at once in dev/test full ranking
    model_options: dict[str, Any] = {}  # the learner's own knobs (its `Options`)

    @property
    def reads_text(self) -> bool:
        """Whether the learner's item table is built from the items' text vectors."""
        return self.item_input in TEXT_INPUTS

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()
