"""The result record: one JSON file per grid cell (dataset x method x budget x recommender x seed).

Records are the only thing the leaderboard reads. Aggregation over seeds (mean, std, 95%
interval, Quality against Original, ΔRandom) is done from records by `leaderboard.aggregate`,
never stored twice. The schema is versioned; a reader refuses versions it does not know.

Values are checked whenever a record is built or read (the leaderboard and `condbench
verify` read every record): every metric value (test, dev, secondary protocols, reference
scorers, extra evaluations) is finite and within its metric's range (`MetricSpec.value_range`,
[0, 1] for every built-in kind); sizes, ratios and timings are finite and not negative, and
``ratio_overall`` is above 0. A bad record is one `DataError` naming the file and the field.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    FiniteFloat,
    StringConstraints,
    TypeAdapter,
    ValidationError,
    field_validator,
    model_serializer,
)

from harness.budget import canonical_label
from harness.errors import DataError
from harness.metrics import metric_value_problem
from harness.paths import atomic_write_text
from harness.seeds import Seed
from harness.structured_text import TextRefused, check_size, load_json_text
from harness.tracks import DEFAULT_TRACK

RECORD_SCHEMA_VERSION = 2  # 2: `track` names the protocol (schema 1 records are all content)
_SAFE_PART = re.compile(r"[^A-Za-z0-9._=-]+")
TUNED_SUFFIX = "-tuned"  # `condbench tune` records its best trial as method "<label>-tuned"


# figures a record may hold: finite (NaN and infinities are refused), sizes not negative,
# the headline ratio above 0 (the chart's log axis)
NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]
Positive = Annotated[float, Field(gt=0, allow_inf_nan=False)]
Count = Annotated[int, Field(ge=0)]
MetricValues = dict[str, FiniteFloat]


def check_metric_values(values: dict[str, float], within: str = "") -> dict[str, float]:
    """Refuse a metric value outside its metric's range (`harness.metrics.MetricSpec`,
    [0, 1] for every built-in kind); a name ``protocol:metric`` (an extra evaluation's
    secondary protocol, e.g. ``uni100:HR@10``) is checked as the metric after the colon."""
    for name, value in values.items():
        problem = metric_value_problem(name.rpartition(":")[2], value)
        if problem is not None:
            raise ValueError(f"metric {within + name!r} {problem}")
    return values


def safe_part(text: str) -> str:
    """One part of a record path as written: runs of characters outside [A-Za-z0-9._=-]
    become "_" (so "tfdcon/x" and "tfdcon_x" name the same folder)."""
    return _SAFE_PART.sub("_", text)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MethodInfo(_Strict):
    """The method of a record: ``name`` is its key on the board (the record's path);
    ``label`` how the board shows it beside the name (a condenser's `Condenser.label`, e.g.
    "Farzi (in TD3's loop)"), left out of the JSON when None so older records keep their text."""

    name: str = Field(min_length=1, max_length=200)
    label: str | None = Field(default=None, min_length=1, max_length=200)
    version: str = "0"
    params: dict[str, Any] = Field(default_factory=dict)
    # who produced the train set: our own condenser, a read-only release entry, a submission
    source: Literal["condbench", "release", "submission"] = "condbench"
    authors: str | None = None
    paper_url: str | None = None
    # a method built from a partial description: from what, and the choices it left open
    # (parameter -> our choice); left out of the JSON when empty, like `label`
    implemented_from: str | None = Field(default=None, max_length=500)
    open_choices: dict[str, str] = Field(default_factory=dict)

    @model_serializer(mode="wrap")
    def _without_empty_label(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in ("label", "implemented_from"):
            if data.get(name) is None:
                data.pop(name, None)
        if not data.get("open_choices"):
            data.pop("open_choices", None)
        return data


class DatasetInfo(_Strict):
    name: str
    version: str = "1"
    sha256: str = ""
    num_train_users: int | None = None
    num_train_interactions: int | None = None
    # how the train set's negatives were drawn (harness.dataset NEGATIVES_*); None: by its own
    # label-0 rows or the track's default (records before this field)
    negatives: str | None = None

    @model_serializer(mode="wrap")
    def _without_unnamed_negatives(self, handler: Any) -> dict[str, Any]:
        data = handler(self)  # records before `negatives` keep their text
        if data.get("negatives") is None:
            data.pop("negatives", None)
        return data


class SizeInfo(_Strict):
    """Sizes of the train set and its ratios to the original's, by the track's definition.

    ``ratio_overall`` is the track's headline ratio (the chart's x axis): canonical bytes in
    the content track (with ``item_kb`` ... ``ratio_user``, harness.sizes), interaction-
    equivalents in the sequential track (with ``interactions``, ``sequences`` and the bytes
    both ways: ``stored_kb`` as stored without frozen tables, ``frozen_kb`` of those,
    ``dense_kb`` written out densely). A track leaves the other track's fields out.
    Every figure is finite and not negative; ``ratio_overall`` is above 0 (a log axis).
    """

    item_kb: NonNegative | None = None
    user_kb: NonNegative | None = None
    overall_kb: NonNegative | None = None
    ratio_item: NonNegative | None = None
    ratio_user: NonNegative | None = None
    # after the content fields: content records keep their text; None where the dataset has
    # no original train set to divide by (the TF-DCon release's Goodreads)
    ratio_overall: Positive | None = None
    interactions: NonNegative | None = None
    sequences: Count | None = None
    stored_kb: NonNegative | None = None
    frozen_kb: NonNegative | None = None
    dense_kb: NonNegative | None = None
    ratio_stored: NonNegative | None = None
    ratio_dense: NonNegative | None = None

    @model_serializer(mode="wrap")
    def _without_other_tracks(self, handler: Any) -> dict[str, Any]:
        return {key: value for key, value in handler(self).items() if value is not None}


class Timings(_Strict):
    condense_s: NonNegative = 0.0
    train_s: NonNegative = 0.0
    epochs: Count = 0
    best_epoch: Count = 0
    samples_per_s: NonNegative = 0.0


class LLMInfo(_Strict):
    """The LLM of a record and its counts: ``calls`` made to the backend, answers ``cached``
    (or replayed), ``fallbacks``; ``retries`` (asks after a rejected answer) and
    ``http_attempts`` (every HTTP request, transport retries included) are left out of the
    JSON when 0, so records made before them keep their text."""

    backend: str
    model: str
    prompt_version: str = ""
    calls: int = 0
    cached: int = 0
    fallbacks: int = 0
    retries: Count = 0
    http_attempts: Count = 0

    @model_serializer(mode="wrap")
    def _without_zero_counts(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        for name in ("retries", "http_attempts"):
            if not data.get(name):
                data.pop(name, None)
        return data


class Environment(_Strict):
    git_sha: str
    image_digest: str = "host"
    python: str
    platform: str
    device: str = "cpu"
    # CPU model and the instruction set torch's kernels used: float results of CPU training
    # differ between instruction sets, so verify compares like with like ("" = not recorded)
    cpu: str = ""
    packages: dict[str, str] = Field(default_factory=dict)


class ExtraEvaluation(_Strict):
    """A method's own evaluation of its train set by its own recipe, e.g. TD3's warm-started
    learners: shown on the method's entry page, labelled, never ranked (the board ranks only
    the track's from-scratch recipe). ``metrics`` are this seed's figures on ``split``;
    ``description`` says what the recipe does differently."""

    label: str = Field(min_length=1, max_length=200)
    description: str = Field(default="", max_length=2000)
    split: Literal["dev", "test"] = "test"
    metrics: MetricValues = Field(min_length=1)

    @field_validator("metrics")
    @classmethod
    def _in_range(cls, values: dict[str, float]) -> dict[str, float]:
        return check_metric_values(values)


# an extra evaluation's key: a name MLflow and file names accept, e.g. "td3-recipe"
ExtraKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
_EXTRA_EVALUATIONS = TypeAdapter(dict[ExtraKey, ExtraEvaluation])


def extra_evaluations(data: Any, source: str) -> dict[str, ExtraEvaluation]:
    """``{key: ExtraEvaluation}`` from a plain mapping (a condenser's
    ``meta["extra_evaluations"]``); anything else is one `DataError` naming `source` and
    where. Keys are names MLflow and file names accept (letters, digits, ``.``, ``_``, ``-``)."""
    try:
        return _EXTRA_EVALUATIONS.validate_python(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "(all)"
        message = first["msg"].removeprefix("Value error, ")
        raise DataError(f"invalid extra evaluation: {message}", file=source, where=where) from None


class Tuning(_Strict):
    study: str
    trial: int
    storage: str = ""


class SubmissionInfo(_Strict):
    """What a submitted entry was: its content hash and kind; for a condenser module, the
    sandbox it ran in (the image's digest, its limits) and the seed of its one condensation.
    Left out of the JSON when the record is not a submission's."""

    entry_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    kind: Literal["condensed_set", "condenser_module"]
    sandbox_image_digest: str | None = None
    sandbox_limits: dict[str, float] = Field(default_factory=dict)
    condense_seed: int | None = None

    @model_serializer(mode="wrap")
    def _without_empty(self, handler: Any) -> dict[str, Any]:
        return {k: v for k, v in handler(self).items() if v is not None and v != {}}


class ResultRecord(_Strict):
    schema_version: int = RECORD_SCHEMA_VERSION
    track: str = Field(default=DEFAULT_TRACK, min_length=1)  # the protocol (harness.tracks)
    created: str  # ISO 8601 UTC
    dataset: DatasetInfo
    method: MethodInfo
    budget: str  # "all" for original, else e.g. "47" (users) or "5%"
    recommender: str
    seed: Seed  # [0, 2^32)
    # every metric value is finite and within its metric's range (`check_metric_values`)
    metrics: MetricValues  # test metrics of this seed, names as parsed by harness.metrics
    dev_metrics: MetricValues = Field(default_factory=dict)
    # test metrics under a track's secondary protocols, e.g. {"uni100": {...}}: the sequential
    # track's fixed sampled negatives, for comparing with papers that sample (never ranked)
    secondary_metrics: dict[str, MetricValues] = Field(default_factory=dict)
    # a method's own evaluation recipes (e.g. {"td3-recipe": ...}): shown on its entry page,
    # labelled, never ranked; left out of the JSON when empty, as secondary_metrics is
    extra_evaluations: dict[ExtraKey, ExtraEvaluation] = Field(default_factory=dict)
    reference: dict[str, MetricValues] = Field(default_factory=dict)  # chance, popularity
    groups_used: Count = 0
    groups_dropped: Count = 0
    sizes: SizeInfo | None = None
    timings: Timings = Field(default_factory=Timings)
    llm: LLMInfo | None = None
    environment: Environment
    config: dict[str, Any] = Field(default_factory=dict)
    command: str = ""
    tuning: Tuning | None = None
    submission: SubmissionInfo | None = None  # a submitted entry's provenance

    @field_validator("schema_version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != RECORD_SCHEMA_VERSION:
            raise ValueError(f"record schema version {value} is not {RECORD_SCHEMA_VERSION}")
        return value

    @field_validator("metrics", "dev_metrics")
    @classmethod
    def _metrics_in_range(cls, values: dict[str, float]) -> dict[str, float]:
        return check_metric_values(values)

    @field_validator("secondary_metrics", "reference")
    @classmethod
    def _named_metrics_in_range(
        cls, values: dict[str, dict[str, float]]
    ) -> dict[str, dict[str, float]]:
        for name, metrics in values.items():
            check_metric_values(metrics, within=f"{name}:")
        return values

    @model_serializer(mode="wrap")
    def _without_empty_optional(self, handler: Any) -> dict[str, Any]:
        data = handler(self)
        # records without them keep their text (every committed record stays byte-identical)
        for name in ("secondary_metrics", "extra_evaluations", "submission"):
            if not data.get(name):
                data.pop(name, None)
        return data

    @property
    def budget_label(self) -> str:
        """The budget's canonical label (`harness.budget.canonical_label`): ``"047"`` and
        ``"47"`` are one budget, one cell, one entry."""
        return canonical_label(self.budget)

    @property
    def cell_key(self) -> tuple[str, str, str, str, int]:
        return (self.dataset.name, self.method.name, self.budget_label, self.recommender, self.seed)

    @property
    def entry_key(self) -> tuple[str, str, str, str]:
        """Records that differ only by seed belong to one leaderboard entry."""
        return (self.dataset.name, self.method.name, self.budget_label, self.recommender)

    def relative_path(self) -> Path:
        """Where this record lives below a results folder."""
        return record_path("", *self.cell_key)


def record_path(
    results_dir: str | Path, dataset: str, method: str, budget: str, recommender: str, seed: int
) -> Path:
    """`results_dir`/dataset/method/budget=B/recommender/seed=N.json, each part `safe_part`."""
    parts = [dataset, method, f"budget={budget}", recommender]
    return Path(results_dir, *[safe_part(p) for p in parts], f"seed={seed}.json")


def record_json(record: ResultRecord) -> str:
    """The one text form of a record file."""
    return record.model_dump_json(indent=2) + "\n"


def write_record(record: ResultRecord, results_dir: str | Path) -> Path:
    """Write atomically: a crash leaves the old record or the new one, never half of one."""
    path = Path(results_dir) / record.relative_path()
    try:
        atomic_write_text(path, record_json(record))
    except OSError as exc:  # a full disk, a read-only folder: one line, the old record kept
        raise DataError(f"cannot write the record: {exc.strerror or exc}", file=str(path)) from None
    return path


def upgrade_record(data: Any) -> Any:
    """A record of an older schema, in today's: schema 1 had no `track` (all were content)."""
    if isinstance(data, dict) and data.get("schema_version") == 1:
        data = {**data, "schema_version": RECORD_SCHEMA_VERSION, "track": DEFAULT_TRACK}
    return data


# a record is a few KB (the largest committed one: under 20 KB) and nests 5 levels deep
MAX_RECORD_BYTES = 4 * 1024 * 1024
MAX_RECORD_DEPTH = 32


def read_record(path: str | Path) -> ResultRecord:
    """Read one record file, of this schema or an older one (`upgrade_record`)."""
    path = Path(path)
    try:
        check_size(path.stat().st_size, MAX_RECORD_BYTES, "the record")
        data = load_json_text(path.read_text(encoding="utf-8"), MAX_RECORD_DEPTH)
    except TextRefused as exc:
        raise DataError(f"refused result record: {exc}", file=str(path)) from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable result record: {exc}", file=str(path)) from None
    try:
        return ResultRecord.model_validate(upgrade_record(data))
    except ValidationError as exc:
        message, where = record_problem(exc)
        raise DataError(f"invalid result record: {message}", file=str(path), where=where) from None


def record_problem(exc: ValidationError) -> tuple[str, str]:
    """(message, field) of a record's first validation error, for one line."""
    first = exc.errors()[0]
    where = ".".join(str(p) for p in first["loc"]) or "(record)"
    return first["msg"].removeprefix("Value error, "), where


def read_records(results_dir: str | Path) -> list[ResultRecord]:
    """Every record below `results_dir` (sorted by path, so the order is stable)."""
    root = Path(results_dir)
    if not root.is_dir():
        raise DataError("results folder not found", file=str(root))
    return [read_record(p) for p in sorted(root.rglob("seed=*.json"))]
