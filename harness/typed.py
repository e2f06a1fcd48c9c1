"""One validation style: every typed config is a frozen pydantic model that forbids extra keys.

The experiment config (`harness.run.config`), train settings (`recommenders.settings`), learner
configs (`recommenders.base.ModelConfig`), condenser params (`condensers.base.NoParams` and each
method's `Params`) and LLM settings (`condensers.llm`) all derive from `Strict` or `Settings`.
A `ValidationError` becomes a list of `Problem` (key path, readable message), so a config
with several mistakes reports all of them, each with its key path:

    configs/x.yaml: 2 problems
    configs/x.yaml: training.epochs: unknown key; known: amp, batch_size, ...
    configs/x.yaml: grid.condensers[1].params.text_tokens: must be a number

Field types keep what a mapping gave: `Number` keeps an int an int (``alpha: 1`` stays ``1``)
and integer fields are strict (no bools, strings or floats), as the dataclasses they replace
did, so the dicts hashed into cache keys (`model_dump()`) are unchanged.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Annotated, Any, ClassVar, NamedTuple

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainValidator,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
)

from harness.errors import ConfigError

__all__ = [
    "Number",
    "Problem",
    "Settings",
    "Strict",
    "StrictBool",
    "StrictInt",
    "StrictStr",
    "check",
    "int_at_least",
    "key_path",
    "number_at_least",
    "problems_error",
    "problems_of",
]

# pydantic error types -> the words condbench uses (other errors: the validator's own message)
MESSAGES = {
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


class Problem(NamedTuple):
    """One mistake of a config: where (a key path such as ``grid.seeds[0]``) and what."""

    path: str
    message: str


class Strict(BaseModel):
    """A frozen model that rejects unknown keys."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Settings(Strict):
    """A `Strict` model that raises `error` (a `ConfigError`) on construction, naming each key.

    ``label`` words the direct-construction message: ``"train setting 'lr' must be ..."`` and
    ``"unknown train setting 'x'; known: ..."``; without a label, ``"lr: must be ..."``.
    `model_validate` still raises pydantic's `ValidationError` (with every error), which
    `problems_of` turns into key paths for config files.
    """

    label: ClassVar[str | None] = None
    error: ClassVar[type[ConfigError]] = ConfigError

    def __init__(self, **data: Any) -> None:
        try:
            super().__init__(**data)
        except ValidationError as exc:
            raise self.error(self._message(problems_of(exc))) from None

    # pydantic calls an overridden __init__ from `model_validate` too; marked as the base init
    # (as pydantic's own RootModel does), `model_validate` keeps raising ValidationError
    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None = None) -> Any:
        """From a plain mapping (config section, CLI pairs), naming any unknown key."""
        return cls(**dict(values or {}))

    @classmethod
    def field_names(cls) -> list[str]:
        return sorted(cls.model_fields)

    @classmethod
    def _message(cls, problems: list[Problem]) -> str:
        lines = [cls._line(p) for p in problems]
        if len(lines) == 1:
            return lines[0]
        return "\n".join([f"{len(lines)} problems", *lines])

    @classmethod
    def _line(cls, problem: Problem) -> str:
        path, message = problem
        if not path:
            return message
        if message.startswith("unknown key") and "." not in path and "[" not in path:
            known = ", ".join(cls.field_names()) or "none"
            if cls.label:
                return f"unknown {cls.label} {path!r}; known: {known}"
            return f"unknown parameter {path!r} (accepted: {known})"
        return f"{cls.label} {path!r} {message}" if cls.label else f"{path}: {message}"


def key_path(loc: Iterable[Any]) -> str:
    """('grid', 'condensers', 2, 'params', 'alpha') -> 'grid.condensers[2].params.alpha'."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def describe(error: Mapping[str, Any]) -> str:
    """The message of one pydantic error, in condbench's words."""
    message = MESSAGES.get(error["type"])
    if message is None:
        message = str(error["msg"]).removeprefix("Value error, ")
    return message


def problems_of(
    exc: ValidationError, model: type[BaseModel] | None = None, prefix: str = ""
) -> list[Problem]:
    """Every error of `exc` as a `Problem`; paths start with `prefix`. An unknown top-level key
    of `model` also lists the known ones."""
    found = []
    for error in exc.errors():
        path = key_path(error["loc"])
        message = describe(error)
        if model is not None and error["type"] == "extra_forbidden" and len(error["loc"]) == 1:
            message += f"; known: {', '.join(sorted(model.model_fields)) or 'none'}"
        if prefix:
            path = f"{prefix}.{path}" if path else prefix
        found.append(Problem(path, message))
    return found


def problems_error(
    source: str, problems: list[Problem], error: type[ConfigError] = ConfigError
) -> ConfigError:
    """One error listing every problem as ``source: key.path: message`` on its own line (first
    line ``source: N problems`` when there are several)."""
    lines = [
        f"{source}: {p.path}: {p.message}" if p.path else f"{source}: {p.message}" for p in problems
    ]
    if len(lines) > 1:
        lines.insert(0, f"{source}: {len(lines)} problems")
    raised = error("\n".join(lines))
    raised.problems = list(problems)  # type: ignore[attr-defined]
    return raised


# ---- field types ------------------------------------------------------------------------


def _number(value: Any) -> int | float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a number")
    return value


# an int or a float, kept as given (1 stays 1, 0.5 stays 0.5); no bools, no strings
Number = Annotated[int | float, PlainValidator(_number)]


def check(condition: Callable[[Any], bool], message: str) -> AfterValidator:
    """A validator: `message` (may use ``{value!r}``) unless `condition(value)` holds."""

    def validate(value: Any) -> Any:
        if not condition(value):
            raise ValueError(message.format(value=value))
        return value

    return AfterValidator(validate)


def int_at_least(minimum: int, message: str | None = None) -> Any:
    """A strict integer >= `minimum`."""
    message = message or f"must be an integer >= {minimum}, got {{value!r}}"
    return Annotated[StrictInt, check(lambda v: v >= minimum, message)]


def number_at_least(minimum: float, *, strict: bool = False, message: str | None = None) -> Any:
    """A `Number` >= `minimum` (> when `strict`)."""
    sign = ">" if strict else ">="
    message = message or f"must be a number {sign} {minimum}, got {{value!r}}"
    if strict:
        return Annotated[Number, check(lambda v: v > minimum, message)]
    return Annotated[Number, check(lambda v: v >= minimum, message)]
