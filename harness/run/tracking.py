"""MLflow tracking of grid cells, tolerant of a failing store.

By default the store is SQLite in the results folder (``sqlite:///<results>/mlflow.db``)
with artifacts in ``<results>/mlruns``; ``--tracking-uri`` (or ``tracking.uri`` in the
config) points at a server instead. Telemetry is switched off before MLflow is imported.

Tracking never decides whether a result exists: the result record does. If the store fails
(at start or mid-run) the failure is collected in `Tracker.failures`, reported once on
stderr, every later call is skipped, and the caller still writes its record.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.unprintable import escape_unprintable

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "1"

CELL_TAG = "condbench.cell"  # tag holding the cell key; one FINISHED run per cell
FINISHED, KILLED, FAILED = "FINISHED", "KILLED", "FAILED"


@dataclass(frozen=True)
class TrackingTarget:
    uri: str
    artifact_root: str | None  # a folder; None lets the server decide
    experiment: str


SQLITE_PREFIX = "sqlite:///"


def default_target(
    results_dir: str | Path, experiment: str, uri: str | None = None, artifacts: str | None = None
):
    """SQLite in `results_dir` unless `uri` names another store.

    Artifacts go beside a local SQLite store (its folder's ``mlruns/``), never into the
    current directory; a server (``http://...``) keeps its own artifact root.
    """
    results = Path(results_dir).resolve()
    if uri is None:
        results.mkdir(parents=True, exist_ok=True)
        uri = f"sqlite:///{results / 'mlflow.db'}"
        artifacts = artifacts or str(results / "mlruns")
    elif uri.startswith(SQLITE_PREFIX) and artifacts is None:
        database = Path(uri[len(SQLITE_PREFIX) :])
        artifacts = str(database.parent / "mlruns")
    return TrackingTarget(
        uri=uri,
        artifact_root=str(Path(artifacts).resolve()) if artifacts else None,
        experiment=experiment,
    )


def metric_key(split: str, name: str) -> str:
    """MLflow metric names cannot hold '@': ``("test", "NDCG@5") -> "test/NDCG_at_5"``."""
    return f"{split}/{name.replace('@', '_at_')}"


@dataclass
class Tracker:
    """One MLflow experiment. Every call is guarded; the first failure disables tracking."""

    target: TrackingTarget | None
    stream: TextIO = field(default_factory=lambda: sys.stderr)
    failures: list[str] = field(default_factory=list)
    _client: Any = None
    _experiment_id: str | None = None

    @classmethod
    def disabled(cls) -> Tracker:
        return cls(target=None)

    @property
    def active(self) -> bool:
        return self.target is not None and not self.failures

    def guarded(self, what: str, action: Callable[[], Any]) -> Any:
        """Run `action`; on any error record it, report it once and switch tracking off."""
        if not self.active:
            return None
        try:
            return action()
        except Exception as exc:  # the store may fail in any way; the record must not
            message = f"MLflow tracking failed ({what}): {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
            self.failures.append(message)
            print(  # the store's message may quote names from a submission
                escape_unprintable(
                    f"warning: {message}; results are still written, tracking is off from here"
                ),
                file=self.stream,
            )
            return None

    def _connect(self) -> tuple[Any, str]:
        if self._client is None:
            # lazy: MLflow takes over a second to import; untracked runs never need it
            from mlflow.tracking import MlflowClient

            client = MlflowClient(tracking_uri=self.target.uri)
            experiment = client.get_experiment_by_name(self.target.experiment)
            if experiment is None:
                location = (
                    Path(self.target.artifact_root).as_uri() if self.target.artifact_root else None
                )
                try:
                    experiment_id = client.create_experiment(
                        self.target.experiment, artifact_location=location
                    )
                except Exception:  # another worker created it first
                    experiment = client.get_experiment_by_name(self.target.experiment)
                    if experiment is None:
                        raise
                    experiment_id = experiment.experiment_id
            else:
                experiment_id = experiment.experiment_id
            self._client, self._experiment_id = client, experiment_id
        return self._client, self._experiment_id

    def connect(self) -> bool:
        """Open the store now (so a broken URI is reported before the grid starts)."""
        return self.guarded("opening the store", self._connect) is not None

    def runs_of(self, cell_key: str, status: str | None = None) -> list[Any]:
        """The MLflow runs of one cell (optionally only those with `status`)."""

        def search() -> list[Any]:
            client, experiment_id = self._connect()
            query = f"tags.`{CELL_TAG}` = '{_quote(cell_key)}'"
            if status:
                query += f" and attributes.status = '{status}'"
            return list(client.search_runs([experiment_id], filter_string=query, max_results=1000))

        return self.guarded("searching runs", search) or []

    def settle_done(self, done_keys: set[str]) -> int:
        """Runs left RUNNING by a process killed after its cell's record was written: their
        cell is done, so they become FINISHED (each done cell keeps exactly one FINISHED run)."""

        def settle() -> int:
            client, experiment_id = self._connect()
            query = "attributes.status = 'RUNNING'"
            stale = client.search_runs([experiment_id], filter_string=query, max_results=5000)
            settled = [run for run in stale if run.data.tags.get(CELL_TAG) in done_keys]
            for run in settled:
                client.set_terminated(run.info.run_id, status=FINISHED)
            return len(settled)

        return self.guarded("settling interrupted runs", settle) or 0

    def start(self, cell_key: str, run_name: str, tags: Mapping[str, str] | None = None) -> CellRun:
        """A run for one cell. Runs of this cell left RUNNING by a killed process become KILLED."""

        def begin() -> Any:
            client, experiment_id = self._connect()
            for stale in self.runs_of(cell_key, status="RUNNING"):
                client.set_terminated(stale.info.run_id, status=KILLED)
            all_tags = {CELL_TAG: cell_key, **(tags or {})}
            return client.create_run(experiment_id, run_name=run_name, tags=all_tags).info.run_id

        return CellRun(self, self.guarded("starting a run", begin))


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


@dataclass
class CellRun:
    """The MLflow run of one cell; a no-op when tracking is off or failed."""

    tracker: Tracker
    run_id: str | None

    @property
    def active(self) -> bool:
        return self.run_id is not None and self.tracker.active

    def _do(self, what: str, action: Callable[[Any], Any]) -> None:
        if self.active:
            self.tracker.guarded(what, lambda: action(self.tracker._client))

    def log_params(self, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param  # lazy: MLflow: only a tracked run needs it

        items = [
            Param(str(k), json.dumps(v) if not isinstance(v, str) else v) for k, v in params.items()
        ]
        self._do("logging params", lambda c: c.log_batch(self.run_id, params=items))

    def log_metrics(
        self, split: str, metrics: Mapping[str, float], step: int | None = None
    ) -> None:
        from mlflow.entities import Metric  # lazy: MLflow: only a tracked run needs it

        now = int(time.time() * 1000)
        items = [Metric(metric_key(split, k), float(v), now, step or 0) for k, v in metrics.items()]
        self._do("logging metrics", lambda c: c.log_batch(self.run_id, metrics=items))

    def log_dict(self, data: Any, filename: str) -> None:
        def write(client: Any) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / filename
                path.write_text(
                    json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8"
                )
                client.log_artifact(self.run_id, str(path))

        self._do(f"logging {filename}", write)

    def log_folder(self, folder: str | Path, artifact_path: str) -> None:
        self._do(
            f"logging {artifact_path}",
            lambda c: c.log_artifacts(self.run_id, str(folder), artifact_path),
        )

    def set_tag(self, key: str, value: str) -> None:
        self._do("tagging", lambda c: c.set_tag(self.run_id, key, value))

    def finish(self, status: str = FINISHED) -> None:
        self._do("ending the run", lambda c: c.set_terminated(self.run_id, status=status))
