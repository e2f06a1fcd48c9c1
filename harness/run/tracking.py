"""MLflow tracking of grid cells, tolerant of a failing store.

By default the store is SQLite in the results folder (``sqlite:///<results>/mlflow.db``)
with artifacts in ``<results>/mlruns``; ``--tracking-uri`` (or ``tracking.uri`` in the
config) points at a server instead. Telemetry is switched off before MLflow is imported.

A cell's metrics are buffered and sent in one request (`CellRun.flush`: before the cell's
record is written, at the end of its run, and every `METRICS_FLUSH_S` during a long one),
its JSON artifacts in one upload: each request to a SQLite store is a synced commit.

Tracking never decides whether a result exists: the result record does. If the store fails
(at start or mid-run) the failure is collected in `Tracker.failures`, reported once on
stderr (one escaped line), every later call is skipped, and the caller still writes its record.

Tracking never holds the grid up either. A server (``http(s)://``) gets `TRACKING_DEADLINE_S`
(5 s; ``tracking.deadline_s`` in the config) to answer:

- before the grid, `Tracker.connect` opens the store in a helper thread and waits at most
  the deadline (wall clock, name lookup included); a silent server, a closed port or an
  unknown host switch tracking off there;
- every later call is one HTTP request without retries whose connect and read each time out
  after the deadline (MLflow's ``MLFLOW_HTTP_REQUEST_TIMEOUT``, ``..._MAX_RETRIES``,
  ``..._BACKOFF_FACTOR`` and ``..._BACKOFF_JITTER`` are set for the call only), so a server
  that stops answering mid-grid costs one deadline (two at most, when the connect itself
  crawls) and tracking is off from then on.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from harness.unprintable import escape_unprintable

os.environ["MLFLOW_DISABLE_TELEMETRY"] = "true"
os.environ["DO_NOT_TRACK"] = "1"

CELL_TAG = "condbench.cell"  # tag holding the cell key; one FINISHED run per cell
FINISHED, KILLED, FAILED = "FINISHED", "KILLED", "FAILED"
TRACKING_DEADLINE_S = 5  # seconds a tracking server has to answer before tracking is switched off
METRICS_FLUSH_S = 30.0  # buffered metrics go to the store at least this often (`CellRun`)
MAX_METRICS_PER_BATCH = 1000  # MLflow's limit for one log_batch request
SERVER_SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class TrackingTarget:
    uri: str
    artifact_root: str | None  # a folder; None lets the server decide
    experiment: str
    deadline_s: int = TRACKING_DEADLINE_S  # a server's answer time (whole seconds: MLflow's)

    @property
    def is_server(self) -> bool:
        return self.uri.lower().startswith(SERVER_SCHEMES)


def bounded_http_settings(deadline_s: int) -> dict[str, str]:
    """MLflow's HTTP client settings for one request that gives up after `deadline_s`
    (per connect and per read) and is never retried (its default: 120 s, 7 retries with
    back-off, minutes per call)."""
    return {
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(deadline_s),
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0",
        "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "0",
        "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    }


@contextmanager
def scoped_environ(values: Mapping[str, str]) -> Iterator[None]:
    """`values` in ``os.environ`` for the block (MLflow reads its settings there per
    request); the previous values come back after it."""
    before = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in before.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def within(deadline_s: float, action: Callable[[], Any], what: str) -> Any:
    """`action()`'s result, or `TimeoutError` when it has not returned after `deadline_s`
    (wall clock). It runs in a daemon thread, left behind on a timeout: it holds nothing the
    caller waits for, and ends with its own socket timeout."""
    outcome: dict[str, Any] = {}

    def work() -> None:
        try:
            outcome["value"] = action()
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    worker = threading.Thread(target=work, name="condbench-tracking", daemon=True)
    worker.start()
    worker.join(deadline_s)
    if worker.is_alive():
        raise TimeoutError(f"{what}: no answer within {deadline_s:g} s")
    if "error" in outcome:
        raise outcome["error"]
    return outcome.get("value")


SQLITE_PREFIX = "sqlite:///"


def default_target(
    results_dir: str | Path,
    experiment: str,
    uri: str | None = None,
    artifacts: str | None = None,
    deadline_s: int = TRACKING_DEADLINE_S,
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
        deadline_s=deadline_s,
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
        """Run `action`; on any error record it, report it once and switch tracking off.
        A server's requests are bounded by the target's deadline, without retries."""
        if not self.active:
            return None
        try:
            with self._bounded():
                return action()
        except Exception as exc:  # the store may fail in any way; the record must not
            first_line = str(exc).splitlines()[0] if str(exc) else ""
            self.absorb([f"MLflow tracking failed ({what}): {type(exc).__name__}: {first_line}"])
            return None

    def absorb(self, failures: list[str]) -> None:
        """Take the first of `failures` (this tracker's or a worker's) when tracking has not
        failed yet, and report it: one escaped line on the stream. Later ones are dropped."""
        if not failures or self.failures:
            return
        self.failures.append(failures[0])
        print(  # the store's message may quote names from a submission
            escape_unprintable(
                f"warning: {failures[0]}; results are still written, tracking is off from here"
            ),
            file=self.stream,
        )

    def _bounded(self) -> Any:
        if self.target is None or not self.target.is_server:
            return nullcontext()
        return scoped_environ(bounded_http_settings(self.target.deadline_s))

    def _connect(self) -> tuple[Any, str]:
        if self._client is None:
            client = _client_class()(tracking_uri=self.target.uri)
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
        """Open the store now, so a broken URI is reported before the grid starts; a server
        has `TrackingTarget.deadline_s` of wall clock to answer."""
        if self.target is None or not self.target.is_server:
            return self.guarded("opening the store", self._connect) is not None
        _client_class()  # imported before the clock starts: the import alone takes a second
        deadline, uri = self.target.deadline_s, self.target.uri
        return (
            self.guarded("reaching the server", lambda: within(deadline, self._connect, uri))
            is not None
        )

    def runs_of(self, cell_key: str, status: str | None = None) -> list[Any]:
        """The MLflow runs of one cell (optionally only those with `status`)."""

        return self.guarded("searching runs", lambda: self._runs_of(cell_key, status)) or []

    def _runs_of(self, cell_key: str, status: str | None) -> list[Any]:
        client, experiment_id = self._connect()
        query = f"tags.`{CELL_TAG}` = '{_quote(cell_key)}'"
        if status:
            query += f" and attributes.status = '{status}'"
        return list(client.search_runs([experiment_id], filter_string=query, max_results=1000))

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
            for stale in self._runs_of(cell_key, status="RUNNING"):  # one failure, one report
                client.set_terminated(stale.info.run_id, status=KILLED)
            all_tags = {CELL_TAG: cell_key, **(tags or {})}
            return client.create_run(experiment_id, run_name=run_name, tags=all_tags).info.run_id

        return CellRun(self, self.guarded("starting a run", begin))


def _client_class() -> type:
    # lazy: MLflow takes over a second to import; untracked runs never need it
    from mlflow.tracking import MlflowClient

    return MlflowClient


def _quote(text: str) -> str:
    return text.replace("'", "\\'")


@dataclass
class CellRun:
    """The MLflow run of one cell; a no-op when tracking is off or failed.

    Metrics are buffered and sent in one `log_batch` (MLflow's 1,000 metrics a request at
    most) by `flush`: when `flush_after_s` have passed since the last one (live curves for a
    long cell), when the caller asks (before its record is written) and when the run ends.
    A short cell's per-epoch and final figures thus cost one request, not one per group.
    """

    tracker: Tracker
    run_id: str | None
    flush_after_s: float = METRICS_FLUSH_S
    _pending: list = field(default_factory=list, repr=False)
    _flushed_at: float = field(default_factory=time.monotonic, repr=False)

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
        """Buffer `metrics` (timestamped now) for the next `flush`."""
        if not self.active:
            return
        from mlflow.entities import Metric  # lazy: MLflow: only a tracked run needs it

        now = int(time.time() * 1000)
        self._pending += [
            Metric(metric_key(split, k), float(v), now, step or 0) for k, v in metrics.items()
        ]
        if time.monotonic() - self._flushed_at >= self.flush_after_s:
            self.flush()

    def flush(self) -> None:
        """Send the buffered metrics."""
        pending, self._pending = self._pending, []
        self._flushed_at = time.monotonic()
        for start in range(0, len(pending), MAX_METRICS_PER_BATCH):
            batch = pending[start : start + MAX_METRICS_PER_BATCH]
            self._do("logging metrics", lambda c, b=batch: c.log_batch(self.run_id, metrics=b))

    def log_dict(self, data: Any, filename: str) -> None:
        self.log_dicts({filename: data})

    def log_dicts(self, files: Mapping[str, Any]) -> None:
        """Each value as a JSON artifact named by its key, in one upload."""

        def write(client: Any) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                for filename, data in files.items():
                    (Path(tmp) / filename).write_text(
                        json.dumps(data, indent=2, sort_keys=True, default=str), encoding="utf-8"
                    )
                client.log_artifacts(self.run_id, tmp)

        self._do(f"logging {', '.join(files)}", write)

    def log_folder(self, folder: str | Path, artifact_path: str) -> None:
        self._do(
            f"logging {artifact_path}",
            lambda c: c.log_artifacts(self.run_id, str(folder), artifact_path),
        )

    def set_tag(self, key: str, value: str) -> None:
        self._do("tagging", lambda c: c.set_tag(self.run_id, key, value))

    def finish(self, status: str = FINISHED) -> None:
        self.flush()
        self._do("ending the run", lambda c: c.set_terminated(self.run_id, status=status))
