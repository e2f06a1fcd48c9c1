"""The grid: expand a config into cells, skip the done ones, run each, write its record.

A cell is dataset x method x budget x recommender x seed. Running one cell:

1. load the original dataset (once per process);
2. condense it, or take the condensed set from the cache (``<cache>/condensed/<key>``, keyed
   by a content hash of the dataset, method, params, budget, seed and LLM spec), so each
   train set is built once; a method's per-step figures (`CondenseContext.report`) go to the
   cell's MLflow run, and its own evaluations (``meta["extra_evaluations"]``) are kept with
   the set, so a cached set still has them;
3. train the recommender on it (negatives from Original where the set says so) and evaluate
   on the ORIGINAL dev and test splits;
4. log everything to MLflow, then write the result record atomically.

A cell whose record exists is skipped, so a run killed at any moment resumes where it
stopped: the record is the only proof a cell is done, and it is written before its MLflow
run is marked FINISHED (a killed cell's run is marked KILLED when the cell runs again). A
record made with other settings does not count as done: `harness.run.resume` compares it.
"""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from condensers import registry
from condensers.context import EXTRA_EVALUATIONS, CondenseContext
from harness.budget import Budget, train_users
from harness.cache_seal import read_sealed
from harness.data import load_dataset
from harness.dataset import NEGATIVES_CATALOGUE, NEGATIVES_ORIGINAL, Dataset
from harness.errors import ConfigError, DataError, unknown_field
from harness.hashing import content_key
from harness.metrics import is_metric_name
from harness.paths import cache_root
from harness.run.config import (
    ExperimentConfig,
    condenser_params,
    is_dataset_folder,
    training_settings,
)
from harness.run.provenance import environment
from harness.run.tracking import FAILED, CellRun, Tracker
from harness.tracks import Track
from leaderboard.record import (
    DatasetInfo,
    ExtraEvaluation,
    LLMInfo,
    MethodInfo,
    ResultRecord,
    SizeInfo,
    Timings,
    Tuning,
    extra_evaluations,
    record_path,
    record_problem,
    write_record,
)
from recommenders.tracks import TRACKS

CONDENSED_FOLDER = "condensed"
CONDENSED_KEY_VERSION = 1
IDENTITY_CONDENSER = "original"  # returns its input: never cached
ONLY_KEYS = {"dataset": "dataset", "method": "method", "budget": "budget", "model": "recommender",
             "recommender": "recommender", "seed": "seed"}  # fmt: skip

RELEASE_PREFIX = "release-"  # a release entry: its budget is its set's own


# ---- cells ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Cell:
    """One grid cell and everything needed to run it again (stored in its record's config)."""

    dataset: str  # registry name or absolute dataset folder
    method: str  # the label records use
    condenser: str  # the registry name
    budget: str
    recommender: str
    seed: int
    params: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    llm: str = "replay"

    @property
    def dataset_name(self) -> str:
        if is_dataset_folder(self.dataset):
            return str(
                json.loads((Path(self.dataset) / "manifest.json").read_text(encoding="utf-8"))[
                    "name"
                ]
            )
        return self.dataset

    @property
    def key(self) -> str:
        return f"{self.dataset_name}/{self.method}/budget={self.budget}/{self.recommender}/seed={self.seed}"

    def record_path(self, results_dir: str | Path) -> Path:
        return record_path(
            results_dir, self.dataset_name, self.method, self.budget, self.recommender, self.seed
        )

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Cell:
        unknown, _ = unknown_field(data, cls)
        if unknown:
            raise ConfigError(f"cell: unknown key {unknown!r}")
        return cls(**data)


def expand_cells(config: ExperimentConfig) -> list[Cell]:
    """Every cell of the grid, in a stable order (dataset, method, budget, recommender, seed)."""
    cells = []
    for dataset in config.grid.datasets:
        for spec in config.grid.condensers:
            for budget in spec.budgets:
                for recommender in config.grid.recommenders:
                    for seed in config.grid.seeds:
                        cells.append(
                            Cell(
                                dataset=dataset,
                                method=spec.method,
                                condenser=spec.name,
                                budget=budget,
                                recommender=recommender,
                                seed=seed,
                                params=dict(spec.params),
                                llm=spec.llm or config.llm,
                            )
                        )
    return cells


def parse_only(text: str | None) -> dict[str, set[str]]:
    """``"model=naml,seed=0|1"`` -> {"recommender": {"naml"}, "seed": {"0", "1"}}."""
    selection: dict[str, set[str]] = {}
    if not text:
        return selection
    for part in text.split(","):
        if not part.strip():
            continue
        key, sep, value = part.partition("=")
        key = key.strip().lower()
        if not sep or not value.strip():
            raise ConfigError(f"--only: {part!r} is not KEY=VALUE (e.g. model=naml,seed=0)")
        if key not in ONLY_KEYS:
            raise ConfigError(f"--only: unknown key {key!r}; use {', '.join(sorted(ONLY_KEYS))}")
        selection.setdefault(ONLY_KEYS[key], set()).update(v.strip() for v in value.split("|"))
    return selection


def select_cells(cells: Iterable[Cell], only: dict[str, set[str]]) -> list[Cell]:
    def matches(cell: Cell) -> bool:
        values = {"dataset": {cell.dataset, cell.dataset_name}, "method": {cell.method},
                  "budget": {cell.budget}, "recommender": {cell.recommender}, "seed": {str(cell.seed)}}  # fmt: skip
        return all(values[key] & wanted for key, wanted in only.items())

    return [cell for cell in cells if matches(cell)]


def pending_cells(cells: Iterable[Cell], results_dir: str | Path) -> tuple[list[Cell], list[Cell]]:
    """(to run, recorded): by record files alone; `harness.run.resume.plan_resume` also
    compares the recorded settings with the config's."""
    todo, done = [], []
    for cell in cells:
        (done if cell.record_path(results_dir).is_file() else todo).append(cell)
    return todo, done


# ---- running one cell -----------------------------------------------------------------------


@dataclass
class CellResult:
    """What training and evaluating one train set gave."""

    metrics: dict[str, float]
    dev_metrics: dict[str, float]
    groups_used: int
    groups_dropped: int
    timings: Timings
    secondary: dict[str, dict[str, float]] = field(default_factory=dict)  # test, other protocols


@dataclass
class GridRunner:
    """Runs cells of one config in this process; holds per-process caches (datasets, floors)."""

    config: ExperimentConfig
    results_dir: Path
    tracker: Tracker = field(default_factory=Tracker.disabled)
    cache: Path | None = None
    mirror: Path | None = None
    progress: bool = True
    command: str = ""
    reuse_condensed: bool = True  # False: condense again, ignoring (and not writing) the cache
    _datasets: dict[str, Dataset] = field(default_factory=dict)
    _references: dict[str, dict] = field(default_factory=dict)
    _original_sizes: dict[str, Any] = field(default_factory=dict)

    # ---- inputs ---------------------------------------------------------------------------
    def original(self, reference: str) -> Dataset:
        if reference not in self._datasets:
            if is_dataset_folder(reference):
                self._datasets[reference] = Dataset.load(reference)
            else:
                self._datasets[reference] = load_dataset(
                    reference, mirror=self.mirror, cache=self.cache
                )
            self.track.check_dataset(self._datasets[reference])
        return self._datasets[reference]

    def check_budgets(self, cells: list[Cell]) -> None:
        """A budget of more users than a dataset's train users with a positive is one
        `ConfigError` naming the config key, before any cell runs (a share never asks for
        more; a release entry's budget is its set's own)."""
        for cell in {(c.dataset, c.method, c.budget, c.condenser): c for c in cells}.values():
            if cell.condenser.startswith(RELEASE_PREFIX):
                continue
            try:
                users = Budget.parse(cell.budget).users
            except ConfigError:
                continue
            if users is None:
                continue
            population = len(train_users(self.original(cell.dataset)))
            if users > population:
                index = [c.method for c in self.config.grid.condensers].index(cell.method)
                raise ConfigError(
                    f"grid.condensers[{index}].budgets: {users} users asked for; "
                    f"{cell.dataset_name} has only {population} train users with a positive"
                )

    @property
    def track(self) -> Track:
        """The protocol every cell of this config runs under."""
        return TRACKS.get(self.config.track)

    def settings(self) -> Any:
        return training_settings(self.config.training, "training", self.config.track)

    def metric_names(self, dataset: Dataset) -> list[str]:
        return list(self.config.metrics or self.track.metrics(dataset))

    def reference(self, dataset: Dataset) -> dict:
        """chance and popularity on the original test split (computed once per dataset)."""
        if dataset.name not in self._references:
            self._references[dataset.name] = self.track.reference(
                dataset, self.metric_names(dataset), "test"
            )
        return self._references[dataset.name]

    def sizes(self, train_set: Dataset, original: Dataset) -> SizeInfo | None:
        """Canonical sizes of the train set and its ratios to Original's (computed once)."""
        if original.name not in self._original_sizes:
            self._original_sizes[original.name] = self.track.sizes(original)
        full = self._original_sizes[original.name]
        figures = self.track.ratio(self.track.sizes(train_set), full)
        if original.meta.get("train_missing"):  # nothing to divide by: sizes, no ratios
            figures = {k: v for k, v in figures.items() if not k.startswith("ratio_")}
        return SizeInfo(**figures)

    # ---- condensation (cached) ------------------------------------------------------------
    def condensed(
        self, cell: Cell, original: Dataset, run: CellRun | None = None
    ) -> tuple[Dataset, dict]:
        """The cell's train set and how it was made (seconds, LLM, params, the method's own
        evaluations), built at most once. With `run`, the figures the condenser reports
        (`CondenseContext.report`) are logged to it, per step."""
        condenser_cls = registry.get(cell.condenser)
        params = condenser_params(condenser_cls, cell.params, f"condenser {cell.method!r} params")
        condenser = condenser_cls(params)
        params_dict = params.model_dump()  # the same dict the dataclass params gave: keys match
        embeddings = self.config.user_embeddings
        key_payload = {
            "version": CONDENSED_KEY_VERSION,
            "dataset": original.fingerprint(),
            "condenser": cell.condenser,
            "condenser_version": str(getattr(condenser_cls, "version", "1")),
            "params": params_dict,
            "budget": cell.budget,
            "seed": cell.seed,
            "llm": cell.llm,
            "user_embeddings": embeddings.model_dump(),
            "training": self.settings().model_dump(mode="json"),  # resolved: defaults count
        }
        key = content_key(key_payload)
        folder = cache_root(self.cache) / CONDENSED_FOLDER / key
        identity = cell.condenser == IDENTITY_CONDENSER
        if not identity and self.reuse_condensed:
            dataset = read_sealed(folder, Dataset.load, what="condensed set")
            if dataset is not None:
                made = dataset.meta.get("condbench", {})
                return dataset, dict(made, folder=str(folder), cached=True)
        context = CondenseContext(
            cache_dir=self.cache,
            llm_spec=cell.llm,
            llm_settings=self.config.llm_settings,
            recommender=embeddings.recommender,
            seed=embeddings.seed,
            train_settings=self.settings(),
            progress=self.progress,
            metrics_sink=run.log_metrics if run is not None else None,
        )
        budget = Budget.parse(cell.budget)
        started = time.perf_counter()
        dataset = condenser.condense(original, budget, np.random.default_rng(cell.seed), context)
        seconds = time.perf_counter() - started
        made = {
            "condense_s": seconds,
            "params": params_dict,
            "key": key,
            "stages": dict(context.timings),
        }
        if context.llm_client is not None:
            made["llm"] = {**dict(context.llm_client.describe()), **context.llm_stats()}
        if dataset.meta.get(EXTRA_EVALUATIONS):  # checked now, before anything is cached
            extras = extra_evaluations(
                dataset.meta[EXTRA_EVALUATIONS], f"condenser {cell.condenser!r}"
            )
            made["extra_evaluations"] = {k: v.model_dump() for k, v in extras.items()}
        dataset = dataclasses.replace(dataset, meta={**dataset.meta, "condbench": made})
        if identity or not self.reuse_condensed:  # nothing worth caching (original) or asked not to
            return dataset, dict(made, cached=False)
        dataset.save(folder, sealed=True)
        return dataset, dict(made, folder=str(folder), cached=False)

    # ---- training and evaluation ----------------------------------------------------------
    def train_and_evaluate(
        self,
        cell: Cell,
        train_set: Dataset,
        original: Dataset,
        *,
        splits: tuple[str, ...] = ("dev", "test"),
        on_epoch: Callable[[int, dict], None] | None = None,
    ) -> CellResult:
        # a positive-only set draws negatives by its dataset's rule, from the original
        # dataset: its shown-not-clicked train rows, or the catalogue minus dev and test rows
        negatives_from = (
            original
            if train_set.meta.get("negatives_from") in (NEGATIVES_ORIGINAL, NEGATIVES_CATALOGUE)
            else train_set
        )
        trained = self.track.train(
            train_set,
            cell.recommender,
            cell.seed,
            self.settings(),
            negatives_from=negatives_from,
            evaluate_on=original,
            progress=self.progress,
            on_epoch=on_epoch,
        )
        names = self.metric_names(original)
        results = {split: self.track.evaluate(trained, original, split, names) for split in splits}
        final = results.get("test") or results[splits[-1]]
        timings = Timings(
            train_s=float(trained.wall_seconds),
            epochs=int(trained.epochs_run),
            best_epoch=int(trained.best_epoch),
            samples_per_s=float(np.nan_to_num(trained.samples_per_second)),
        )
        return CellResult(
            metrics=dict(results["test"].metrics) if "test" in results else {},
            dev_metrics=dict(results["dev"].metrics) if "dev" in results else {},
            groups_used=int(final.groups_used),
            groups_dropped=int(final.groups_dropped),
            timings=timings,
            secondary={
                protocol: dict(values)
                for protocol, values in (
                    getattr(results.get("test"), "secondary", None) or {}
                ).items()
            },
        )

    # ---- the whole cell -------------------------------------------------------------------
    def run_cell(
        self, cell: Cell, *, tuning: Tuning | None = None, write: bool = True
    ) -> ResultRecord:
        """Condense (cached), train, evaluate, track, and write the record (unless `write` is False)."""
        original = self.original(cell.dataset)
        run = self.tracker.start(
            cell.key, run_name=cell.key, tags={**_cell_tags(cell), "track": self.track.name}
        )
        try:
            if cell.condenser == IDENTITY_CONDENSER and original.meta.get("train_missing"):
                raise ConfigError(
                    f"{cell.key}: {original.name} has no original train split (the public copy "
                    f"lacks it), so `original` cannot be trained; leave it out of the grid"
                )
            train_set, made = self.condensed(cell, original, run)
            run.log_params(self._params(cell, made))

            def on_epoch(epoch: int, values: dict) -> None:
                numbers = {
                    k: v for k, v in values.items() if k != "epoch" and isinstance(v, int | float)
                }
                metrics = {k: v for k, v in numbers.items() if is_metric_name(k)}
                run.log_metrics("dev", metrics, step=epoch)
                run.log_metrics(
                    "epoch", {k: v for k, v in numbers.items() if k not in metrics}, step=epoch
                )

            result = self.train_and_evaluate(cell, train_set, original, on_epoch=on_epoch)
            record = self.build_record(cell, original, train_set, made, result, tuning=tuning)
            self._log_outcome(run, record, train_set, made)
        except BaseException:
            run.finish(FAILED)
            raise
        if write:
            write_record(record, self.results_dir)
        run.finish()
        return record

    def build_record(
        self,
        cell: Cell,
        original: Dataset,
        train_set: Dataset,
        made: dict,
        result: CellResult,
        *,
        tuning: Tuning | None = None,
    ) -> ResultRecord:
        """The cell's record; a figure no record may hold (a NaN metric, a negative size)
        is one `DataError` naming the cell and the field, and nothing is written."""
        try:
            return self._record(cell, original, train_set, made, result, tuning=tuning)
        except ValidationError as exc:
            message, where = record_problem(exc)
            raise DataError(
                f"the cell's result is no valid record: {message}", file=cell.key, where=where
            ) from None

    def _record(
        self,
        cell: Cell,
        original: Dataset,
        train_set: Dataset,
        made: dict,
        result: CellResult,
        *,
        tuning: Tuning | None = None,
    ) -> ResultRecord:
        train = train_set.split("train")
        llm = made.get("llm")
        return ResultRecord(
            track=self.track.name,
            created=datetime.now(UTC).isoformat(timespec="seconds"),
            dataset=DatasetInfo(
                name=original.name,
                version=str(original.meta.get("version", "1")),
                sha256=original.fingerprint(),
                num_train_users=int(train["user_id"].nunique()),
                num_train_interactions=len(train),
                negatives=train_set.meta.get("negatives_from"),
            ),
            method=MethodInfo(
                name=cell.method,
                label=method_label(cell),
                **method_description(cell),
                params=made.get("params", {}),
                source="release" if cell.condenser.startswith(RELEASE_PREFIX) else "condbench",
            ),
            budget=cell.budget,
            recommender=cell.recommender,
            seed=cell.seed,
            metrics=result.metrics,
            dev_metrics=result.dev_metrics,
            secondary_metrics=result.secondary,
            extra_evaluations=_extras(made),
            reference=self.reference(original),
            groups_used=result.groups_used,
            groups_dropped=result.groups_dropped,
            sizes=self.sizes(train_set, original),
            timings=result.timings.model_copy(
                update={"condense_s": float(made.get("condense_s", 0.0))}
            ),
            llm=_llm_info(llm) if llm else None,
            environment=environment(),
            config=cell_config(cell, self.config),
            command=self.command,
            tuning=tuning,
        )

    def _params(self, cell: Cell, made: dict) -> dict[str, Any]:
        params = {"condenser": cell.condenser, "budget": cell.budget, "recommender": cell.recommender,
                  "seed": cell.seed, "llm": cell.llm, "condensed_cached": made.get("cached", False)}  # fmt: skip
        params.update({f"param.{k}": v for k, v in made.get("params", {}).items()})
        params.update({f"train.{k}": v for k, v in self.config.training.items()})
        return params

    def track_record(self, cell: Cell, record: ResultRecord) -> None:
        """Log a cell run elsewhere (a Ray worker that cannot reach this tracking store) from
        its record: one FINISHED run with the cell's tags, params and outcome, as `run_cell`
        logs it, less the per-epoch curves and the condensed-set folder."""
        run = self.tracker.start(
            cell.key, run_name=cell.key, tags={**_cell_tags(cell), "track": self.track.name}
        )
        run.log_params(self._params(cell, {"params": cell.params}))
        self._log_outcome(run, record, None, {})
        run.finish()

    def _log_outcome(
        self, run: CellRun, record: ResultRecord, train_set: Dataset | None, made: dict
    ) -> None:
        run.log_metrics("test", record.metrics)
        run.log_metrics("final_dev", record.dev_metrics)
        run.log_metrics("timing", record.timings.model_dump())
        if record.sizes is not None:
            run.log_metrics("size", record.sizes.model_dump())
        for key, extra in record.extra_evaluations.items():
            run.log_metrics(f"extra.{key}", extra.metrics)
        run.flush()  # the cell's figures (epochs included) in one request, before the record
        run.log_dicts({
            "config.json": record.config,
            "llm_cache_stats.json": made.get("llm") or {"llm": "not used"},
            "record.json": json.loads(record.model_dump_json()),
        })  # fmt: skip
        if made.get("folder"):
            run.log_folder(made["folder"], "condensed_set")


def method_label(cell: Cell) -> str | None:
    """How the board shows the cell's method: its condenser's `Condenser.label`, only when the
    cell keeps the condenser's own name (a config ``label:`` renames the method; then None)."""
    if cell.method != cell.condenser:
        return None
    return registry.get(cell.condenser).label


def method_description(cell: Cell) -> dict[str, Any]:
    """A registered condenser's `implemented_from` and `open_choices`, for the record (a
    submitted entry's condenser, "submission", is not registered: it has neither)."""
    if cell.condenser not in registry.available():
        return {}
    condenser = registry.get(cell.condenser)
    return {
        "implemented_from": condenser.implemented_from,
        "open_choices": dict(condenser.open_choices),
    }


def _extras(made: dict) -> dict[str, ExtraEvaluation]:
    """The method's own evaluations of how the set was made (a cached set's too)."""
    return extra_evaluations(made.get("extra_evaluations") or {}, "condensed set")


def _cell_tags(cell: Cell) -> dict[str, str]:
    return {"dataset": cell.dataset_name, "method": cell.method, "budget": cell.budget,
            "recommender": cell.recommender, "seed": str(cell.seed)}  # fmt: skip


def _llm_info(llm: dict) -> LLMInfo:
    return LLMInfo(
        backend=str(llm.get("backend", "")),
        model=str(llm.get("model", "")),
        prompt_version=str(llm.get("prompt_version", llm.get("prompt_template_version", ""))),
        calls=int(llm.get("calls", 0)),
        cached=int(llm.get("cached", 0))
        + int(llm.get("replayed", 0)),  # replay answers count as cached
        fallbacks=int(llm.get("fallbacks", 0)),
        retries=int(llm.get("retries", 0)),
        http_attempts=int(llm.get("http_attempts", 0)),
    )


def cell_config(cell: Cell, config: ExperimentConfig) -> dict[str, Any]:
    """Everything `condbench verify` needs to run the cell again."""
    return {
        "experiment": config.name,
        "track": config.track,
        "cell": cell.to_dict(),
        "training": dict(config.training),
        "metrics": config.metrics,
        "user_embeddings": config.user_embeddings.model_dump(),
    }
