"""Resuming a grid: which cells are done, which to run, and which were recorded differently.

A cell is done when its record exists AND the record's ``config`` (written by
`harness.run.runner.cell_config`) defines the same result as the config this run would write.
What defines a cell's result (`cell_definition`), on both sides resolved through the typed
models so that a default written out equals a default left out:

- the track, the condenser, its params (resolved by its `Params`) and the LLM spec;
- the training settings (resolved by the track's settings), except `EXECUTION_SETTINGS`,
  which say where and how a cell runs, not what it computes;
- the metrics and the user-embedding recommender (TF-DCon's z_u).

The identity condenser (`original`, the full train set) condenses nothing: its cells ignore
the LLM spec and the user embeddings, so configs that share its cells but differ in ``llm``
(``configs/movielens-local-llm.yaml`` and ``configs/movielens.yaml``) resume each other's.

Not compared: the experiment name (two configs may share cells), the dataset reference (a
folder's path differs between machines; its name is in the record's path, with the method,
budget, recommender and seed), and everything outside ``config``: the command line, the
results folder, ``--workers``, the environment and timings.

A cell recorded under another definition is *changed*: `condbench run` lists it and refuses
to mix records (exit 2) unless ``--rerun-changed`` runs it again and overwrites its record.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from condensers import registry
from harness.errors import ConfigError, DataError
from harness.run.config import ExperimentConfig, condenser_params, training_settings
from harness.run.runner import IDENTITY_CONDENSER, Cell, cell_config
from harness.tracks import DEFAULT_TRACK

EXECUTION_SETTINGS = frozenset({"device", "threads", "eval_batch"})  # where and how, not what


@dataclass(frozen=True)
class ChangedCell:
    """A done cell whose record was made under another definition."""

    cell: Cell
    differences: tuple[tuple[str, Any, Any], ...]  # (key path, recorded, now)

    @property
    def keys(self) -> list[str]:
        return [key for key, _, _ in self.differences]

    def describe(self) -> str:
        return f"{self.cell.key}: {', '.join(self.keys)}"


@dataclass(frozen=True)
class ResumePlan:
    """The grid's cells sorted for this run: to run, done (skipped), changed."""

    todo: list[Cell]
    done: list[Cell]
    changed: list[ChangedCell]

    def refusal(self, results_dir: str | Path) -> str:
        """The one-line reason a run that would mix definitions stops."""
        key, recorded, now = self.changed[0].differences[0]
        return (
            f"{len(self.changed)} done cell(s) in {results_dir} were recorded with other "
            f"settings (e.g. {self.changed[0].cell.key}: {key} recorded {recorded!r}, now "
            f"{now!r}); pass --rerun-changed to run them again and overwrite their records, "
            f"or use another --results folder"
        )


def plan_resume(
    cells: Iterable[Cell], results_dir: str | Path, config: ExperimentConfig
) -> ResumePlan:
    """Sort `cells` by their records in `results_dir` against what `config` would record."""
    todo, done, changed = [], [], []
    for cell in cells:
        path = cell.record_path(results_dir)
        if not path.is_file():
            todo.append(cell)
            continue
        differences = config_differences(stored_config(path), cell_config(cell, config))
        if differences:
            changed.append(ChangedCell(cell, tuple(differences)))
        else:
            done.append(cell)
    return ResumePlan(todo=todo, done=done, changed=changed)


def stored_config(path: Path) -> dict[str, Any]:
    """The ``config`` of the record at `path` (read as JSON: no full validation needed)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DataError(f"unreadable result record: {exc}", file=str(path)) from None
    config = data.get("config") if isinstance(data, dict) else None
    return config if isinstance(config, dict) else {}


def config_differences(
    recorded: Mapping[str, Any], wanted: Mapping[str, Any]
) -> list[tuple[str, Any, Any]]:
    """(key path, recorded value, wanted value) for each difference of the two definitions."""
    return _differences(cell_definition(recorded), cell_definition(wanted), "")


def cell_definition(stored: Mapping[str, Any]) -> dict[str, Any]:
    """What in a record's ``config`` defines the cell's result (see the module's doc)."""
    cell = stored.get("cell") if isinstance(stored.get("cell"), dict) else {}
    track = stored.get("track") or DEFAULT_TRACK
    condenser = cell.get("condenser")
    condenses = condenser != IDENTITY_CONDENSER  # the identity uses no LLM and no z_u
    return {
        "track": track,
        "cell": {
            "condenser": condenser,
            "params": _resolved_params(condenser, cell.get("params") or {}),
            "llm": cell.get("llm") if condenses else None,
        },
        "training": _resolved_training(stored.get("training") or {}, track),
        "metrics": stored.get("metrics"),
        "user_embeddings": stored.get("user_embeddings") if condenses else None,
    }


def _resolved_params(condenser: Any, params: dict[str, Any]) -> dict[str, Any]:
    """The condenser's params with its defaults; as written when they no longer validate
    (or the condenser is not registered: a submission's)."""
    try:
        condenser_cls = registry.get(str(condenser))
        return condenser_params(condenser_cls, params, "params").model_dump(mode="json")
    except ConfigError:
        return dict(params)


def _resolved_training(values: dict[str, Any], track: str) -> dict[str, Any]:
    """The track's train settings with their defaults, less `EXECUTION_SETTINGS`; as written
    when they no longer validate."""
    try:
        resolved = training_settings(values, "training", track).model_dump(mode="json")
    except (ConfigError, KeyError):
        resolved = dict(values)
    return {k: v for k, v in resolved.items() if k not in EXECUTION_SETTINGS}


def _differences(old: Any, new: Any, prefix: str) -> list[tuple[str, Any, Any]]:
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for key in sorted(set(old) | set(new), key=str):
            path = f"{prefix}.{key}" if prefix else str(key)
            out += _differences(old.get(key), new.get(key), path)
        return out
    return [] if old == new else [(prefix, old, new)]
