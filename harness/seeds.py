"""The one seed parser: ``"0-4"``, ``"0,3,7"``, ``"2"``, ``2`` or ``[0, 1, 2]`` -> seeds.

Used by the experiment config (``grid.seeds``, as the field type `Seeds`) and by the CLI
(``condbench train --seeds 0-4``). Seeds are non-negative integers, in the order given,
each once.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import AfterValidator, BeforeValidator, Field, TypeAdapter, ValidationError

from harness.typed import check, int_at_least, problems_error, problems_of

SEEDS_HELP = "a range 0-4, a list 0,1,2 or one seed"
SEED_LIMIT = 2**32  # seeds are in [0, 2^32): what NumPy's and torch's seeding take
MAX_SEEDS = 10_000  # seeds one grid or command may name (a range is expanded)


def _from_text(value: Any) -> Any:
    """Text and a single integer -> a list; a list is left to the item checks."""
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if not isinstance(value, str):
        return value
    seeds: list[int] = []
    for part in value.split(","):
        part = part.strip()
        if not part and value.strip() == "":
            continue  # "" -> no seeds: reported as empty
        low, dash, high = part.partition("-")
        try:
            bounds = (int(low), int(high)) if dash else (int(part), int(part))
        except ValueError:
            raise ValueError(f"cannot read {part!r}; use e.g. 0-4 or 0,1,2") from None
        if bounds[1] - bounds[0] >= MAX_SEEDS:
            raise ValueError(f"range {part!r} names more than {MAX_SEEDS} seeds")
        span = list(range(bounds[0], bounds[1] + 1))
        if dash and not span:
            raise ValueError(f"range {part!r} is empty")
        seeds.extend(span)
    return seeds


def _unique(seeds: list[int]) -> list[int]:
    return list(dict.fromkeys(seeds))


# the field type of ``grid.seeds``: errors name the item (``grid.seeds[1]: must be an integer``)
Seed = Annotated[
    int_at_least(0, "must be a non-negative integer, got {value!r}"),
    check(lambda v: v < SEED_LIMIT, f"must be below 2^32 ({SEED_LIMIT}), got {{value!r}}"),
]
Seeds = Annotated[
    list[Seed],
    BeforeValidator(_from_text),
    AfterValidator(_unique),
    Field(min_length=1, max_length=MAX_SEEDS),
]

_SEEDS: TypeAdapter[list[int]] = TypeAdapter(Seeds)


def parse_seeds(value: str | int | list[int], where: str = "--seeds") -> list[int]:
    """The seeds `value` names; a `ConfigError` starting with `where` says what is wrong."""
    try:
        return _SEEDS.validate_python(value)
    except ValidationError as exc:
        raise problems_error(where, problems_of(exc)) from None
