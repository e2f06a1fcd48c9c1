"""Typed experiment configs (``configs/*.yaml``), validated on load.

A config describes one grid (datasets x condensers x budgets x recommenders x seeds), the
training settings, the LLM, tracking and tuning. Every problem is reported before any work
starts, as one line naming the file and the key path, e.g.
``configs/movielens.yaml: grid.condensers[2].params.alpha: must be a number``.

Layout (see ``configs/movielens.yaml`` for a commented example)::

    name: movielens                 # MLflow experiment name, default study prefix
    grid:
      datasets: [movielens-tfdcon]  # registry names, or folders written by Dataset.save
      condensers:                   # relative to the config file
        - name: original            # budget "all"
        - {name: random, budgets: [47]}
        - {name: tfdcon, budgets: [47], params: {alpha: 0.5}}
      recommenders: [naml, nrms, fastformer]
      seeds: [0, 1, 2, 3, 4]        # or "0-4"
    metrics: null                   # default: the dataset's (harness.metrics.default_metrics)
    training: {max_epochs: 10}      # recommenders.trainer.TrainSettings fields
    llm: replay                     # condensers.llm spec: replay | local | openai:MODEL@URL
    tracking: {uri: null}           # default sqlite:///<results>/mlflow.db
    tuning: {condenser: tfdcon, budget: 47, space: {alpha: {low: 0, high: 2}}}
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.errors import CondbenchError, ConfigError

_BUDGET_SHARE = re.compile(r"^\d+(\.\d+)?%$")
_SEED_RANGE = re.compile(r"^\s*(\d+)\s*-\s*(\d+)\s*$")
ALL_USERS = "all"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def budget_label(value: int | str) -> str:
    """The budget as records name it: ``"all"``, ``"47"`` (users) or ``"5%"`` (share)."""
    if isinstance(value, bool):
        raise ValueError("must be a number of users (e.g. 47), a share like '5%', or 'all'")
    if isinstance(value, int):
        if value < 1:
            raise ValueError("must be at least 1 user")
        return str(value)
    if isinstance(value, str):
        text = value.strip()
        if text == ALL_USERS or _BUDGET_SHARE.match(text):
            return text
        if text.isdigit() and int(text) >= 1:
            return str(int(text))
    raise ValueError("must be a number of users (e.g. 47), a share like '5%', or 'all'")


class CondenserSpec(_Strict):
    """One condenser of the grid; each budget is one train set per seed."""

    name: str = Field(min_length=1)
    label: str | None = None  # the method name in records; default `name`
    budgets: list[str] = Field(default_factory=lambda: [ALL_USERS])
    params: dict[str, Any] = Field(default_factory=dict)
    llm: str | None = None  # overrides the config's llm for this condenser

    @field_validator("budgets", mode="before")
    @classmethod
    def _budgets(cls, value: Any) -> list[str]:
        values = value if isinstance(value, list) else [value]
        if not values:
            raise ValueError("must name at least one budget")
        return [budget_label(v) for v in values]

    @property
    def method(self) -> str:
        return self.label or self.name


def _seed_list(value: Any) -> list[int]:
    if isinstance(value, str):
        match = _SEED_RANGE.match(value)
        if not match:
            raise ValueError("must be a list of integers or a range like '0-4'")
        low, high = int(match.group(1)), int(match.group(2))
        if high < low:
            raise ValueError(f"range {value!r} is empty")
        return list(range(low, high + 1))
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    return value


class GridSpec(_Strict):
    datasets: list[str] = Field(min_length=1)
    condensers: list[CondenserSpec] = Field(min_length=1)
    recommenders: list[str] = Field(min_length=1)
    seeds: list[int] = Field(min_length=1)

    @field_validator("seeds", mode="before")
    @classmethod
    def _seeds(cls, value: Any) -> list[int]:
        return _seed_list(value)

    @model_validator(mode="after")
    def _unique_methods(self) -> GridSpec:
        seen: set[str] = set()
        for spec in self.condensers:
            if spec.method in seen:
                raise ValueError(
                    f"two condensers are labelled {spec.method!r}; give one a distinct 'label'"
                )
            seen.add(spec.method)
        return self


class TrackingSpec(_Strict):
    uri: str | None = None  # default: sqlite:///<results>/mlflow.db
    artifacts: str | None = None  # default: <results>/mlruns (only for a local SQLite store)
    experiment: str | None = None  # default: the config's name
    enabled: bool = True


class UserEmbeddingSpec(_Strict):
    """The recommender trained on Original whose user encoder gives TF-DCon's z_u."""

    recommender: str = "naml"
    seed: int = 0


class ParamRange(_Strict):
    """A tuned parameter: uniform (or log-uniform) between `low` and `high`."""

    low: float
    high: float
    log: bool = False
    integer: bool = False

    @model_validator(mode="after")
    def _ordered(self) -> ParamRange:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class TuningSpec(_Strict):
    """What `condbench tune` searches: maximises dev Quality of one condenser's train set."""

    condenser: str  # a grid condenser's label (its name, params and llm are the base)
    budget: str = ALL_USERS
    dataset: str | None = None  # default: the grid's first dataset
    recommender: str | None = None  # default: the grid's first recommender
    seed: int = 0  # the seed of condensation and training in every trial
    sampler_seed: int = 0  # the TPE sampler's seed
    trials: int = Field(default=20, ge=1)
    study: str | None = None  # default: <name>-<condenser>-<dataset>-<recommender>-<budget>
    storage: str | None = None  # default: sqlite:///<results>/optuna.sqlite
    space: dict[str, ParamRange] = Field(min_length=1)

    @field_validator("budget", mode="before")
    @classmethod
    def _budget(cls, value: Any) -> str:
        return budget_label(value)


class ExperimentConfig(_Strict):
    name: str = Field(min_length=1, pattern=r"^[A-Za-z0-9._-]+$")
    description: str = ""
    grid: GridSpec
    metrics: list[str] | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    llm: str = "replay"
    user_embeddings: UserEmbeddingSpec = Field(default_factory=UserEmbeddingSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    tuning: TuningSpec | None = None

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        from harness.metrics import parse_metrics

        try:
            return [m.name for m in parse_metrics(value)]
        except Exception as exc:  # ConfigError from parse_metric: keep its words
            raise ValueError(str(exc)) from None

    @model_validator(mode="after")
    def _tuning_refers_to_grid(self) -> ExperimentConfig:
        if self.tuning is None:
            return self
        labels = [c.method for c in self.grid.condensers]
        if self.tuning.condenser not in labels:
            raise ValueError(
                f"tuning.condenser {self.tuning.condenser!r} is none of the grid's condensers {labels}"
            )
        return self

    def condenser(self, label: str) -> CondenserSpec:
        return next(c for c in self.grid.condensers if c.method == label)


# ---- loading --------------------------------------------------------------------------------

_MESSAGES = {
    "float_parsing": "must be a number",
    "float_type": "must be a number",
    "int_parsing": "must be an integer",
    "int_type": "must be an integer",
    "int_from_float": "must be an integer",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "dict_type": "must be a mapping",
    "model_type": "must be a mapping",
    "missing": "required key is missing",
    "extra_forbidden": "unknown key",
    "too_short": "must not be empty",
}


def key_path(loc: tuple[Any, ...]) -> str:
    """('grid', 'condensers', 2, 'params', 'alpha') -> 'grid.condensers[2].params.alpha'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


def _describe(error: dict) -> str:
    message = _MESSAGES.get(error["type"])
    if message is None:
        message = error["msg"].removeprefix("Value error, ")
    return message


def parse_config(
    data: Any, source: str = "<config>", base_dir: Path | None = None
) -> ExperimentConfig:
    """Validate a config mapping; raise one `ConfigError` naming `source` and the key path."""
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of keys to values")
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = f"{key_path(first['loc'])}: " if first["loc"] else ""
        raise ConfigError(f"{source}: {where}{_describe(first)}") from None
    if base_dir is not None:
        config = _resolve_dataset_paths(config, base_dir)
    check_against_registries(config, source)
    return config


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML config file (dataset folders resolve relative to it)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable config: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 1})" if where is not None else ""
        raise ConfigError(f"{path}{line}: not valid YAML: {getattr(exc, 'problem', exc)}") from None
    return parse_config(data, str(path), base_dir=path.resolve().parent)


def is_dataset_folder(reference: str) -> bool:
    return "/" in reference or reference.startswith(".")


def _resolve_dataset_paths(config: ExperimentConfig, base_dir: Path) -> ExperimentConfig:
    resolved = [
        str((base_dir / d).resolve()) if is_dataset_folder(d) else d for d in config.grid.datasets
    ]
    grid = config.grid.model_copy(update={"datasets": resolved})
    return config.model_copy(update={"grid": grid})


# ---- checks against the other parts' registries (condensers, recommenders, trainer) ----------


def check_against_registries(config: ExperimentConfig, source: str) -> None:
    """Unknown condensers, recommenders, datasets and training keys fail here, before any work."""
    _check_datasets(config, source)
    _check_recommenders(config, source)
    _check_condensers(config, source)
    training_settings(config.training, source)


def _check_datasets(config: ExperimentConfig, source: str) -> None:
    from harness.data import DATASETS

    for index, reference in enumerate(config.grid.datasets):
        where = f"{source}: grid.datasets[{index}]"
        if is_dataset_folder(reference):
            if not (Path(reference) / "manifest.json").is_file():
                raise ConfigError(
                    f"{where}: {reference} is not a dataset folder (no manifest.json)"
                )
        elif reference not in DATASETS:
            raise ConfigError(
                f"{where}: unknown dataset {reference!r}; known: {', '.join(sorted(DATASETS))}"
            )


def _check_recommenders(config: ExperimentConfig, source: str) -> None:
    import recommenders

    known = recommenders.names()
    named = [(f"grid.recommenders[{i}]", name) for i, name in enumerate(config.grid.recommenders)]
    named.append(("user_embeddings.recommender", config.user_embeddings.recommender))
    if config.tuning is not None and config.tuning.recommender is not None:
        named.append(("tuning.recommender", config.tuning.recommender))
    for key, name in named:
        if name not in known:
            raise ConfigError(
                f"{source}: {key}: unknown recommender {name!r}; known: {', '.join(known)}"
            )


def _check_condensers(config: ExperimentConfig, source: str) -> None:
    from condensers import registry

    for index, spec in enumerate(config.grid.condensers):
        where = f"{source}: grid.condensers[{index}]"
        try:
            condenser_cls = registry.get(spec.name)
        except Exception as exc:
            raise ConfigError(f"{where}.name: {exc}") from None
        condenser_params(condenser_cls, spec.params, f"{where}.params")
        if config.tuning is not None and config.tuning.condenser == spec.method:
            _check_tuned_params(condenser_cls, config.tuning.space, f"{source}: tuning.space")
    if config.tuning is not None and config.tuning.dataset is not None:
        if config.tuning.dataset not in config.grid.datasets:
            raise ConfigError(
                f"{source}: tuning.dataset: {config.tuning.dataset!r} is none of grid.datasets"
            )


def _check_tuned_params(condenser_cls: type, space: dict[str, ParamRange], where: str) -> None:
    params_type = getattr(condenser_cls, "Params", None)
    known = (
        [f.name for f in dataclasses.fields(params_type)]
        if dataclasses.is_dataclass(params_type)
        else []
    )
    for name in space:
        if name not in known:
            raise ConfigError(
                f"{where}.{name}: not a parameter of {condenser_cls.__name__} (known: {', '.join(known) or 'none'})"
            )


def condenser_params(condenser_cls: type, params: dict[str, Any], where: str) -> Any:
    """Build the condenser's typed params (its `Params` dataclass or model) from a mapping."""
    params_type = getattr(condenser_cls, "Params", None) or getattr(
        condenser_cls, "params_type", None
    )
    if params_type is None:
        if params:
            raise ConfigError(
                f"{where}: {condenser_cls.__name__} takes no params, got {sorted(params)}"
            )
        return None
    return build_typed(params_type, params, where)


def build_typed(kind: type, values: dict[str, Any], where: str) -> Any:
    """Construct a dataclass or pydantic model from `values`; errors name `where`.key."""
    if isinstance(kind, type) and issubclass(kind, BaseModel):
        try:
            return kind.model_validate(values)
        except ValidationError as exc:
            first = exc.errors()[0]
            raise ConfigError(f"{where}.{key_path(first['loc'])}: {_describe(first)}") from None
    if dataclasses.is_dataclass(kind):
        fields = {f.name: f for f in dataclasses.fields(kind)}
        for key, value in values.items():
            if key not in fields:
                raise ConfigError(f"{where}.{key}: unknown key; known: {', '.join(fields)}")
            _check_field_type(fields[key], value, f"{where}.{key}")
        try:
            return kind(**values)
        except (TypeError, ValueError, CondbenchError) as exc:
            raise ConfigError(f"{where}: {exc}") from None
    return kind(**values)


def _check_field_type(field: dataclasses.Field, value: Any, where: str) -> None:
    """The common scalar annotations of a dataclass field, checked with a readable message."""
    annotation = str(field.type)
    if value is None and "None" in annotation:
        return
    base = annotation.split("|")[0].strip()
    if base == "float" and (isinstance(value, bool) or not isinstance(value, int | float)):
        raise ConfigError(f"{where}: must be a number")
    if base == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{where}: must be an integer")
    if base == "bool" and not isinstance(value, bool):
        raise ConfigError(f"{where}: must be true or false")
    if base == "str" and not isinstance(value, str):
        raise ConfigError(f"{where}: must be a string")


def training_settings(values: dict[str, Any], source: str = "<config>") -> Any:
    """`recommenders.trainer.TrainSettings` from the config's `training` mapping."""
    from recommenders.trainer import TrainSettings

    return build_typed(TrainSettings, values, f"{source}: training")


def with_condensers(
    config: ExperimentConfig, names: list[str], budgets: list[str] | None = None
) -> ExperimentConfig:
    """The config with more condensers in its grid (``condbench run --condenser NAME``), each at
    `budgets` (default: every budget the grid's condensers use besides 'all'), default params."""
    if not names:
        return config
    used = [b for spec in config.grid.condensers for b in spec.budgets if b != ALL_USERS]
    chosen = budgets or list(dict.fromkeys(used)) or [ALL_USERS]
    labels = {spec.method for spec in config.grid.condensers}
    data = config.model_dump()
    for name in names:
        if name in labels:
            raise ConfigError(
                f"--condenser {name}: the grid already has a condenser labelled {name!r}"
            )
        data["grid"]["condensers"].append({"name": name, "budgets": chosen})
    return parse_config(data, "--condenser")
