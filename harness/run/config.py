"""Typed experiment configs (``configs/*.yaml``), validated on load.

A config describes one grid (datasets x condensers x budgets x recommenders x seeds), the
training settings, the LLM, tracking and tuning. Every problem is reported before any work
starts, as one line naming the file and the key path, e.g.
``configs/movielens.yaml: grid.condensers[2].params.alpha: must be a number``.

Layout (see ``configs/movielens.yaml`` for a commented example)::

    name: movielens                 # MLflow experiment name, default study prefix
    track: content                  # the protocol (recommenders.tracks.TRACKS); default content
    grid:
      datasets: [movielens-tfdcon]  # registry names, or folders written by Dataset.save
      condensers:                   # relative to the config file
        - name: original            # budget "all"
        - {name: random, budgets: [47]}
        - {name: tfdcon, budgets: [47], params: {alpha: 0.5}}
      recommenders: [naml, nrms, fastformer]
      seeds: [0, 1, 2, 3, 4]        # or "0-4"
    metrics: null                   # default: the track's metrics for the dataset (its cutoffs)
    training: {max_epochs: 10}      # the track's train settings (recommenders.settings.TrainSettings)
    llm: replay                     # condensers.llm spec: replay | local | openai:MODEL@URL
    llm_settings: {timeout_s: 60, max_retries: 3}   # condensers.llm.ClientSettings
    tracking: {uri: null}           # default sqlite:///<results>/mlflow.db; deadline_s: 5
    tuning: {condenser: tfdcon, budget: 47, space: {alpha: {low: 0, high: 2}}}
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from condensers import registry as condenser_registry
from condensers.llm import ClientSettings
from condensers.llm.spec import parse_spec
from harness.budget import ALL_USERS, Budget
from harness.data import DATASETS
from harness.errors import ConfigError
from harness.metrics import parse_metrics
from harness.run.tracking import TRACKING_DEADLINE_S
from harness.seeds import Seeds
from harness.structured_text import TextRefused, check_size, load_yaml_text
from harness.tracks import DEFAULT_TRACK
from harness.typed import Problem, key_path, problems_error, problems_of
from harness.typed import Strict as _Strict  # frozen, extra="forbid": one validation style
from recommenders.tracks import CONTENT, TRACKS

MAX_TRACKING_DEADLINE_S = 120  # MLflow's own default request timeout


def budget_label(value: int | str) -> str:
    """The budget as records name it: ``"all"``, ``"47"`` (users) or ``"5%"`` (share);
    `harness.budget.Budget` parses it (a pydantic validator, so errors are ValueErrors)."""
    try:
        return Budget.parse(value).label
    except ConfigError as exc:
        raise ValueError(str(exc).removeprefix("budget: ")) from None


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


class GridSpec(_Strict):
    datasets: list[str] = Field(min_length=1)
    condensers: list[CondenserSpec] = Field(min_length=1)
    recommenders: list[str] = Field(min_length=1)
    seeds: Seeds  # a list, a range "0-4" or "0,1,2" (harness.seeds)

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
    # seconds a server (http://...) has to answer, else tracking is off and the grid goes on
    deadline_s: int = Field(default=TRACKING_DEADLINE_S, ge=1, le=MAX_TRACKING_DEADLINE_S)


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
    track: str = DEFAULT_TRACK  # the protocol (recommenders.tracks.TRACKS)
    grid: GridSpec
    metrics: list[str] | None = None
    training: dict[str, Any] = Field(default_factory=dict)
    llm: str = "replay"
    # how the LLM client talks to its backend (deadline, retries, concurrency); not in
    # records or cache keys: it decides how hard to try, not what an answer is
    llm_settings: ClientSettings = Field(default_factory=ClientSettings)
    user_embeddings: UserEmbeddingSpec = Field(default_factory=UserEmbeddingSpec)
    tracking: TrackingSpec = Field(default_factory=TrackingSpec)
    tuning: TuningSpec | None = None

    @field_validator("metrics")
    @classmethod
    def _metric_names(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None

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


def parse_config(
    data: Any, source: str = "<config>", base_dir: Path | None = None
) -> ExperimentConfig:
    """Validate a config mapping; raise one `ConfigError` listing every problem, each as
    ``source: key.path: message`` on its own line.

    The schema's problems (types, unknown keys) and the registries' (unknown datasets,
    recommenders, condensers; condenser params; training keys) are reported together: when the
    schema fails, the registry checks still run on the config with the broken keys left out
    (or defaulted), as long as that much validates.
    """
    if not isinstance(data, dict):
        raise ConfigError(f"{source}: the config must be a mapping of keys to values")
    problems: list[Problem] = []
    broken: list[str] = []
    try:
        config: ExperimentConfig | None = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        problems = problems_of(exc)
        config, broken = _without_broken_keys(data, exc)
    if config is not None:
        if base_dir is not None:
            config = _resolve_dataset_paths(config, base_dir)
        problems += [
            p for p in registry_problems(config) if not any(_under(p.path, b) for b in broken)
        ]
    if problems:
        raise problems_error(source, problems)
    assert config is not None
    return config


def _under(path: str, prefix: str) -> bool:
    return path == prefix or path.startswith((f"{prefix}.", f"{prefix}["))


# stand-ins for required keys left out by `_without_broken_keys`; whatever the registry checks
# say about them is not reported (they sit under a broken key)
_STAND_INS: dict[tuple[str, ...], Any] = {
    ("name",): "_",
    ("grid", "datasets"): ["_"],
    ("grid", "condensers"): [{"name": "_"}],
    ("grid", "recommenders"): ["_"],
    ("grid", "seeds"): [0],
}


def _without_broken_keys(
    data: dict, exc: ValidationError
) -> tuple[ExperimentConfig | None, list[str]]:
    """(the config with every key pydantic rejected left out or stood in for, when that
    validates, else None; the key paths left out). A list with a bad item goes as a whole, so
    the indices the registry checks report stay right. Lets the registry checks run beside
    the schema's errors."""
    data = copy.deepcopy(data)
    left_out: list[str] = []
    for error in exc.errors():
        loc = list(error["loc"])
        while loc and isinstance(loc[-1], int):  # a bad list item: the whole list goes
            loc.pop()
        if not loc:
            return None, left_out
        parent: Any = data
        for part in loc[:-1]:
            try:
                parent = parent[part]
            except (KeyError, IndexError, TypeError):
                return None, left_out
        if not isinstance(parent, dict):
            return None, left_out
        parent.pop(loc[-1], None)
        if tuple(loc) in _STAND_INS:
            parent[loc[-1]] = copy.deepcopy(_STAND_INS[tuple(loc)])
        left_out.append(key_path(loc))
    try:
        return ExperimentConfig.model_validate(data), left_out
    except ValidationError:
        return None, left_out


# a config is a few KB; YAML anchors are fine in a config (the user's own file)
MAX_CONFIG_BYTES = 1024 * 1024
MAX_CONFIG_DEPTH = 32


def load_config(path: str | Path) -> ExperimentConfig:
    """Read and validate a YAML config file (dataset folders resolve relative to it)."""
    path = Path(path)
    try:
        check_size(path.stat().st_size, MAX_CONFIG_BYTES, "the config")
        text = path.read_text(encoding="utf-8")
        data = load_yaml_text(text, MAX_CONFIG_DEPTH)
    except FileNotFoundError:
        raise ConfigError(f"{path}: config file not found") from None
    except TextRefused as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: unreadable config: {exc}") from None
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
    """Unknown condensers, recommenders, datasets and training keys fail here, before any work
    (one `ConfigError` listing them all)."""
    problems = registry_problems(config)
    if problems:
        raise problems_error(source, problems)


def registry_problems(config: ExperimentConfig) -> list[Problem]:
    """Every problem of `config` against the registries: datasets, recommenders, condensers and
    their params, the tuned space, the training keys."""
    problems: list[Problem] = []
    _check_datasets(config, problems)
    _check_recommenders(config, problems)
    _check_condensers(config, problems)
    _check_llm_specs(config, problems)
    if config.track in TRACKS:
        problems += typed_problems(TRACKS.get(config.track).settings, config.training, "training")
        _check_model_options(config, problems)
    return problems


def _check_llm_specs(config: ExperimentConfig, problems: list[Problem]) -> None:
    """`llm` and every condenser's `llm`: a spec the LLM layer reads (not yet reached)."""
    specs = [("llm", config.llm)]
    specs += [(f"grid.condensers[{i}].llm", c.llm) for i, c in enumerate(config.grid.condensers)]
    for where, spec in specs:
        if spec is None:
            continue
        try:
            parse_spec(spec)
        except ConfigError as exc:
            problems.append(Problem(where, str(exc)))


def _check_model_options(config: ExperimentConfig, problems: list[Problem]) -> None:
    """`training.model_options` against every grid recommender's own options model."""
    options = config.training.get("model_options")
    if not isinstance(options, dict) or not options:
        return  # absent, or its type is the training settings' problem
    learners = TRACKS.get(config.track).learners
    for name in config.grid.recommenders:
        if name not in learners:
            continue  # reported by _check_recommenders
        learner = learners.get(name)
        kind = getattr(learner, "Options", None) or getattr(learner, "Config", None)
        if kind is None:
            continue
        for problem in typed_problems(kind, options, "training.model_options"):
            problems.append(Problem(problem.path, f"{name}: {problem.message}"))


def _check_datasets(config: ExperimentConfig, problems: list[Problem]) -> None:
    for index, reference in enumerate(config.grid.datasets):
        where = f"grid.datasets[{index}]"
        if is_dataset_folder(reference):
            if not (Path(reference) / "manifest.json").is_file():
                problems.append(
                    Problem(where, f"{reference} is not a dataset folder (no manifest.json)")
                )
        elif reference not in DATASETS:
            problems.append(
                Problem(
                    where, f"unknown dataset {reference!r}; known: {', '.join(DATASETS.names())}"
                )
            )


def _check_recommenders(config: ExperimentConfig, problems: list[Problem]) -> None:
    if config.track not in TRACKS:
        problems.append(
            Problem("track", f"unknown track {config.track!r}; known: {', '.join(TRACKS.names())}")
        )
        return
    learners = TRACKS.get(config.track).learners
    named = [(f"grid.recommenders[{i}]", name) for i, name in enumerate(config.grid.recommenders)]
    if config.tuning is not None and config.tuning.recommender is not None:
        named.append(("tuning.recommender", config.tuning.recommender))
    # TF-DCon's user embeddings come from a content learner whatever the grid's track
    checks = [(key, name, learners) for key, name in named]
    checks.append(
        ("user_embeddings.recommender", config.user_embeddings.recommender, CONTENT.learners)
    )
    for key, name, registry in checks:
        known = registry.names()
        if name not in registry:
            problems.append(
                Problem(key, f"unknown recommender {name!r}; known: {', '.join(known)}")
            )


def _check_condensers(config: ExperimentConfig, problems: list[Problem]) -> None:
    for index, spec in enumerate(config.grid.condensers):
        where = f"grid.condensers[{index}]"
        try:
            condenser_cls = condenser_registry.get(spec.name)
        except ConfigError as exc:
            problems.append(Problem(f"{where}.name", str(exc)))
            continue
        problems += typed_problems(condenser_cls.Params, spec.params, f"{where}.params")
        if config.track in TRACKS and not condenser_cls.takes(TRACKS.get(config.track).data_kind):
            problems.append(
                Problem(
                    f"{where}.name",
                    f"condenser {spec.name!r} takes {' or '.join(condenser_cls.data_kinds)} data; "
                    f"track {config.track!r} takes {TRACKS.get(config.track).data_kind} data",
                )
            )
        if config.tuning is not None and config.tuning.condenser == spec.method:
            known = sorted(condenser_cls.Params.model_fields)
            for name in config.tuning.space:
                if name not in known:
                    problems.append(
                        Problem(
                            f"tuning.space.{name}",
                            f"not a parameter of {condenser_cls.__name__} "
                            f"(known: {', '.join(known) or 'none'})",
                        )
                    )
    if config.tuning is not None and config.tuning.dataset is not None:
        if config.tuning.dataset not in config.grid.datasets:
            problems.append(
                Problem("tuning.dataset", f"{config.tuning.dataset!r} is none of grid.datasets")
            )


def typed_problems(kind: type[_Strict], values: dict[str, Any], where: str) -> list[Problem]:
    """Every problem of building the model `kind` from `values`, paths under `where`."""
    try:
        kind.model_validate(values)
    except ValidationError as exc:
        return problems_of(exc, kind, prefix=where)
    return []


def build_typed(kind: type[_Strict], values: dict[str, Any], where: str) -> Any:
    """The pydantic model `kind` from `values`; one `ConfigError` lists every problem, each
    as ``where.key: message``."""
    try:
        return kind.model_validate(values)
    except ValidationError as exc:
        lines = [
            f"{where}.{p.path}: {p.message}" if p.path else f"{where}: {p.message}"
            for p in problems_of(exc, kind)
        ]
        if len(lines) > 1:
            lines.insert(0, f"{where}: {len(lines)} problems")
        raise ConfigError("\n".join(lines)) from None


def condenser_params(condenser_cls: type, params: dict[str, Any], where: str) -> Any:
    """The condenser's typed params (its `Params` model) from a mapping."""
    return build_typed(condenser_cls.Params, params, where)


def training_settings(
    values: dict[str, Any], source: str = "<config>", track: str = DEFAULT_TRACK
) -> Any:
    """The track's typed train settings (content: `TrainSettings`) from the `training` mapping."""
    return build_typed(TRACKS.get(track).settings, values, f"{source}: training")


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
