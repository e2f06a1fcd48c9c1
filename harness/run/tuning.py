"""`condbench tune`: an Optuna study over a condenser's params (TF-DCon's α, m, ...).

Each trial condenses with the suggested params (the config's `tuning.space`, on top of the
condenser's grid params), trains `tuning.recommender` with `tuning.seed` and scores **dev
Quality**: the mean over the dataset's reported ranking metrics of dev metric(S) / dev
metric(Original), Original trained with the same recommender and seed (computed once,
cached under ``<cache>/tuning``). TPE is seeded (`tuning.sampler_seed`).

Storage is SQLite in the results folder by default (``sqlite:///<results>/optuna.sqlite``);
the same study name resumes it. A PostgreSQL URL lets several `condbench tune` workers
share one study (Optuna's RDB mode): trial numbers come from the database, so no trial runs
twice, and ``--trials N`` is the number of COMPLETE trials the study should reach, whoever
runs them. A worker that asked for a trial beyond N (a race with another worker) gives it
back as FAIL with ``over_budget`` set, without running it.

When the study has its N trials, the best trial's train set is scored on test and written
as a record of method ``<label>-tuned`` whose ``tuning`` names the study and trial.
"""

from __future__ import annotations

import contextlib
import importlib.util
import json
import os
import socket
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from harness.budget import ALL_USERS
from harness.cache_seal import read_json, read_sealed, seal
from harness.errors import CondbenchError, ConfigError
from harness.hashing import content_key
from harness.metrics import quality
from harness.paths import atomic_write_text, cache_root, exclusive_lock
from harness.run.config import ExperimentConfig, ParamRange
from harness.run.runner import Cell, GridRunner
from leaderboard.record import TUNED_SUFFIX, ResultRecord, Tuning, read_record

REFERENCE_FOLDER = "tuning"
HEARTBEAT_S = 10  # a RUNNING trial without a heartbeat for GRACE_S is failed (a killed worker)
GRACE_S = 60


def default_storage(results_dir: str | Path) -> str:
    path = Path(results_dir).resolve()
    path.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path / 'optuna.sqlite'}"


def redact(url: str) -> str:
    """A storage URL without its password (records and logs must not hold secrets)."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return url
    credentials, _, host = rest.rpartition("@")
    user = credentials.split(":", 1)[0]
    return f"{scheme}://{user}@{host}"


@dataclass
class TuneReport:
    study: str
    storage: str
    trials_complete: int
    trials_run_here: list[int]
    best_trial: int | None
    best_value: float | None
    best_params: dict[str, Any]
    record: ResultRecord | None = None
    record_path: str | None = None

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "record"}
        if self.record is not None:
            out["test_metrics"] = self.record.metrics
        return out


@dataclass
class Tuner:
    """One worker of one study."""

    config: ExperimentConfig
    runner: GridRunner
    storage: str
    study_name: str
    _original_dev: dict[str, float] | None = None
    trials_run: list[int] = field(default_factory=list)

    # ---- the base cell --------------------------------------------------------------------
    @property
    def spec(self):
        if self.config.tuning is None:
            raise ConfigError("the config has no 'tuning' section")
        return self.config.tuning

    def base_cell(self, params: dict[str, Any] | None = None, method: str | None = None) -> Cell:
        spec, grid = self.spec, self.config.grid
        condenser = self.config.condenser(spec.condenser)
        return Cell(
            dataset=spec.dataset or grid.datasets[0],
            method=method or condenser.method,
            condenser=condenser.name,
            budget=spec.budget,
            recommender=spec.recommender or grid.recommenders[0],
            seed=spec.seed,
            params={**condenser.params, **(params or {})},
            llm=condenser.llm or self.config.llm,
        )

    # ---- dev Quality ----------------------------------------------------------------------
    def quality_metrics(self) -> list[str]:
        track = self.runner.track
        original = self.runner.original(self.base_cell().dataset)
        names = self.runner.metric_names(original)
        return track.quality_metrics(names) or track.quality_metrics(track.metrics(original))

    def original_dev_metrics(self) -> dict[str, float]:
        """Dev metrics of the recommender trained on Original (same seed), cached on disk."""
        if self._original_dev is None:
            base = self.base_cell()
            cell = Cell(dataset=base.dataset, method="original", condenser="original", budget=ALL_USERS,
                        recommender=base.recommender, seed=base.seed)  # fmt: skip
            original = self.runner.original(cell.dataset)
            payload = {"dataset": original.fingerprint(), "recommender": cell.recommender,
                       "seed": cell.seed, "training": self.config.training, "metrics": self.config.metrics}  # fmt: skip
            key = content_key(payload)
            path = cache_root(self.runner.cache) / REFERENCE_FOLDER / f"original-dev-{key}.json"
            self._original_dev = read_sealed(path, read_json, what="Original's dev metrics")
            if self._original_dev is None:
                train_set, _ = self.runner.condensed(cell, original)
                result = self.runner.train_and_evaluate(cell, train_set, original, splits=("dev",))
                self._original_dev = result.dev_metrics
                atomic_write_text(path, json.dumps(self._original_dev, sort_keys=True))
                seal(path)
        return self._original_dev

    def dev_quality(self, dev_metrics: dict[str, float]) -> float:
        names = self.quality_metrics()
        return float(
            quality([dev_metrics], [self.original_dev_metrics()], names)["quality"]["mean"]
        )

    # ---- the study ------------------------------------------------------------------------
    def open_study(self):
        optuna.logging.set_verbosity(optuna.logging.ERROR)  # over-budget trials are expected
        storage = self._rdb_storage()
        sampler = optuna.samplers.TPESampler(seed=self.spec.sampler_seed)
        return optuna.create_study(
            study_name=self.study_name,
            storage=storage,
            sampler=sampler,
            direction="maximize",
            load_if_exists=True,
        )

    def _rdb_storage(self, attempts: int = 5):
        """Optuna's RDB storage. Workers that start together on a new database race to create
        its tables and stamp its schema version; on SQLite they take turns (a file lock beside
        the database), elsewhere the loser retries and opens what the winner made."""
        for attempt in range(attempts):
            try:
                with _creation_lock(self.storage), warnings.catch_warnings():
                    # heartbeats are "experimental" in Optuna
                    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                    return optuna.storages.RDBStorage(
                        driver_url(self.storage),
                        heartbeat_interval=HEARTBEAT_S,
                        grace_period=GRACE_S,
                        engine_kwargs=_engine_kwargs(self.storage),
                    )
            except Exception as exc:
                raced = any(sign in str(exc) for sign in _CREATION_RACE)
                if not raced or attempt == attempts - 1:
                    raise
                time.sleep(0.5 * (attempt + 1))
        raise AssertionError("unreachable")

    def suggest(self, trial) -> dict[str, Any]:
        return {name: _suggest(trial, name, spec) for name, spec in self.spec.space.items()}

    def run_trial(self, study, trial) -> float:
        params = self.suggest(trial)
        cell = self.base_cell(params)
        trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
        run = self.runner.tracker.start(f"tune/{self.study_name}/trial={trial.number}", run_name=f"{self.study_name}#{trial.number}",
                                        tags={"study": self.study_name, "trial": str(trial.number)})  # fmt: skip
        try:
            original = self.runner.original(cell.dataset)
            train_set, made = self.runner.condensed(cell, original)
            result = self.runner.train_and_evaluate(cell, train_set, original, splits=("dev",))
            value = self.dev_quality(result.dev_metrics)
            trial.set_user_attr("dev_metrics", result.dev_metrics)
            run.log_params(
                {**{f"param.{k}": v for k, v in params.items()}, "study": self.study_name}
            )
            run.log_metrics("dev", {**result.dev_metrics, "quality": value})
        except BaseException:
            run.finish("FAILED")
            raise
        run.finish()
        return value

    def optimise(self, trials: int) -> object:
        """Run trials until the study holds `trials` COMPLETE ones (counting other workers').

        One `study.optimize` call per trial, so Optuna's heartbeat marks a killed worker's
        trial FAIL (after `GRACE_S`) and a later worker runs that slot again.
        """
        study = self.open_study()
        live = (TrialState.COMPLETE, TrialState.RUNNING)
        over_budget: list[int] = []

        def objective(trial) -> float:
            ahead = [
                t for t in study.get_trials(deepcopy=False, states=live) if t.number < trial.number
            ]
            if len(ahead) >= trials:  # another worker took the last slot first: give it back
                trial.set_user_attr("over_budget", True)
                over_budget.append(trial.number)
                raise OverBudget(f"trial {trial.number} is beyond the study's {trials} trials")
            value = self.run_trial(study, trial)
            self.trials_run.append(trial.number)
            return value

        while not over_budget and len(study.get_trials(deepcopy=False, states=live)) < trials:
            study.optimize(objective, n_trials=1, catch=(OverBudget,), gc_after_trial=False)
        return study

    def score_best(self, study, results_dir: Path) -> tuple[ResultRecord | None, Path | None]:
        """The best trial's train set on test, as a record naming the study and the trial."""
        if not study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
            return None, None
        best = study.best_trial
        label = self.config.condenser(self.spec.condenser).method + TUNED_SUFFIX
        cell = self.base_cell({**best.params}, method=label)
        path = cell.record_path(results_dir)
        if path.is_file():
            existing = read_record(path)
            if (
                existing.tuning
                and existing.tuning.study == self.study_name
                and existing.tuning.trial == best.number
            ):
                return existing, path
        tuning = Tuning(study=self.study_name, trial=best.number, storage=redact(self.storage))
        record = self.runner.run_cell(cell, tuning=tuning)
        return record, path


class OverBudget(Exception):
    """A trial asked for after the study reached its size (a race between workers)."""


def _suggest(trial, name: str, spec: ParamRange) -> float | int:
    if spec.integer:
        return trial.suggest_int(name, int(spec.low), int(spec.high), log=spec.log)
    return trial.suggest_float(name, spec.low, spec.high, log=spec.log)


def driver_url(url: str) -> str:
    """``postgresql://`` with the PostgreSQL driver that is installed (SQLAlchemy 2.1 defaults to
    psycopg 3; the dev extra installs psycopg2)."""
    if (
        url.startswith(("postgresql://", "postgres://"))
        and importlib.util.find_spec("psycopg") is None
    ):
        if importlib.util.find_spec("psycopg2") is not None:
            return "postgresql+psycopg2://" + url.split("://", 1)[1]
    return url


# what a worker sees when another one created the same new database a moment before
_CREATION_RACE = ("already exists", "UNIQUE constraint failed", "duplicate key")


@contextlib.contextmanager
def _creation_lock(url: str):
    """An exclusive lock on ``<database>.lock`` for a SQLite file URL; nothing otherwise."""
    path = url.split(":///", 1)[1] if url.startswith("sqlite:///") else ""
    if not path or path == ":memory:":
        yield
        return
    with exclusive_lock(f"{path}.lock"):
        yield


def _engine_kwargs(url: str) -> dict:
    """SQLite shared by several processes: wait for the lock instead of failing at once."""
    return {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}


def study_name_for(config: ExperimentConfig) -> str:
    spec = config.tuning
    if spec is None:
        raise ConfigError("the config has no 'tuning' section")
    if spec.study:
        return spec.study
    dataset = spec.dataset or config.grid.datasets[0]
    dataset = Path(dataset).name if "/" in dataset else dataset
    recommender = spec.recommender or config.grid.recommenders[0]
    return f"{config.name}-{spec.condenser}-{dataset}-{recommender}-b{spec.budget}"


def tune(
    config: ExperimentConfig,
    runner: GridRunner,
    *,
    trials: int | None = None,
    study: str | None = None,
    storage: str | None = None,
    score_best: bool = True,
) -> TuneReport:
    """Run (or resume, or join) the study; then score its best trial on test."""
    if config.tuning is None:
        raise ConfigError("the config has no 'tuning' section; add one to use condbench tune")
    url = storage or config.tuning.storage or default_storage(runner.results_dir)
    tuner = Tuner(
        config=config, runner=runner, storage=url, study_name=study or study_name_for(config)
    )
    target = trials or config.tuning.trials
    try:
        result = tuner.optimise(target)
    except CondbenchError:
        raise
    except Exception as exc:
        if type(exc).__module__.startswith(("sqlalchemy", "optuna", "psycopg2")):
            raise ConfigError(
                f"tuning storage {redact(url)}: {type(exc).__name__}: {str(exc).splitlines()[0]}"
            ) from None
        raise
    complete = result.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    report = TuneReport(
        study=tuner.study_name,
        storage=redact(url),
        trials_complete=len(complete),
        trials_run_here=tuner.trials_run,
        best_trial=result.best_trial.number if complete else None,
        best_value=result.best_value if complete else None,
        best_params=dict(result.best_trial.params) if complete else {},
    )
    if score_best and len(complete) >= target:
        record, path = tuner.score_best(result, runner.results_dir)
        report.record, report.record_path = record, str(path) if path else None
    return report
