"""`TrainSettings`: how the one trainer trains, a typed config that never imports torch.

The experiment config's ``training`` section, ``condbench train`` flags and
``condbench condense --train-setting`` become this model; validating a config therefore
costs no torch import. `recommenders.trainer` re-exports it.
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

from pydantic import AfterValidator, ConfigDict, model_serializer

from harness.errors import ConfigError
from harness.metrics import parse_metric
from harness.typed import Number, Settings, StrictBool, StrictStr, check, int_at_least

DEFAULT_MAX_TOKENS = 32  # tokens of an item's text the encoders read
DEFAULT_MAX_HISTORY = 50  # history items the user encoder reads

# field types the train settings of every track share (`recommenders.sequence_settings` too)
PositiveInt = int_at_least(1, "must be a positive integer, got {value!r}")
NonNegativeInt = int_at_least(0, "must be a non-negative integer, got {value!r}")
Rate = Annotated[Number, check(lambda v: 0 < v < 1, "must be a number in (0, 1), got {value!r}")]
NonNegative = Annotated[
    Number, check(lambda v: v >= 0, "must be a non-negative number, got {value!r}")
]
Device = Annotated[
    StrictStr,
    check(
        lambda v: v in ("auto", "cpu") or v.startswith("cuda"),
        "must be auto, cpu or cuda[:N], got {value!r}",
    ),
]


def _metric_name(value: str) -> str:
    try:
        parse_metric(value)
    except ConfigError as exc:
        raise ValueError(f"must be a metric name: {exc}") from None
    return value


MetricName = Annotated[StrictStr, AfterValidator(_metric_name)]  # e.g. the early-stop metric


class TrainSettings(Settings):
    """How to train; every field is checked on construction and a bad one is named."""

    model_config = ConfigDict(protected_namespaces=())  # `model_options` is a field
    label: ClassVar[str] = "train setting"

    batch_size: PositiveInt = 2048  # each step encodes most of the items: large batches pay
    lr: Rate = 1e-2  # tuned for batch 2048 (the paper: 5e-3, batch size not given)
    max_epochs: PositiveInt = 6
    patience: NonNegativeInt = 2
    min_improvement: NonNegative = 0.001  # a dev gain below this does not reset patience
    min_steps_per_epoch: PositiveInt = 16  # small (condensed) train sets get smaller batches
    max_tokens: PositiveInt = DEFAULT_MAX_TOKENS
    max_history: PositiveInt = DEFAULT_MAX_HISTORY
    negatives: PositiveInt = 4
    device: Device = "auto"
    threads: PositiveInt = 1  # one thread: fastest on a shared 2-core machine, same bits everywhere
    early_stop_metric: MetricName = "NDCG@5"
    amp: StrictBool = True  # bfloat16 autocast, CUDA only
    model_options: dict[str, Any] = {}  # the learner's config (`recommenders.base.ModelConfig`)
    # None: a step encodes each length bucket of its distinct items whole (every committed
    # record). N: in checkpointed pieces of N rows, for long-history data (MIND): memory of
    # one piece, one more forward pass of the item encoder, other float rounding
    encode_chunk_rows: PositiveInt | None = None

    @model_serializer(mode="wrap")
    def _omit_whole_buckets(self, handler) -> dict[str, Any]:
        """`encode_chunk_rows` unset is left out of the dump: the dicts hashed into cache keys
        and written into records stay those of the settings before it existed."""
        dumped = handler(self)
        if dumped.get("encode_chunk_rows", 0) is None:
            del dumped["encode_chunk_rows"]
        return dumped

    def to_dict(self) -> dict[str, Any]:
        return self.model_dump()
