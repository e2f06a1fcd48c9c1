"""`condbench verify`: run the cells of result records again and compare their metrics.

A record's ``config`` holds everything its cell needs (dataset, method, params, budget,
recommender, seed, LLM spec, training settings, metrics). The cell is run again from
scratch (condensation included: the condensed-set cache is not read; the dataset, LLM and
embedding caches are, as they are keyed by content), nothing is tracked or written, and
every test and dev metric that moved by more than the tolerance is reported.

Float results of CPU training depend on the instruction set torch's kernels use (AVX2 and
AVX-512 round differently), so a record is reproducible bit for bit on the CPU kind it names
(`Environment.cpu`); on another kind its metrics move by a few thousandths, and by up to
~0.05 where a method's choice hangs on trained embeddings (TF-DCon's clustering). The report says
when the CPU differs.

Before a record is re-run, the dataset loaded now is compared with the one the record was
made from (its ``dataset.sha256``, the `Dataset.fingerprint` of the original): where they
differ the record is not re-run and fails, said in one line as soon as it is found; its
metrics could not be expected to agree. ``rewrite=True`` re-records: each fresh record replaces its file (same
path, command and tuning), for a deliberate re-commit whose reason goes in the commit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from harness.dataset import Dataset
from harness.errors import DataError
from harness.paths import atomic_write_text
from harness.progress import progress
from harness.run.config import ExperimentConfig, parse_config
from harness.run.provenance import cpu_name
from harness.run.runner import Cell, GridRunner
from leaderboard.record import ResultRecord, read_record, record_json

DEFAULT_TOLERANCE = 1e-4  # absolute; CPU runs are bit-for-bit repeatable on one machine
SHORT = 12  # hex digits of a fingerprint shown


@dataclass(frozen=True)
class DatasetMismatch:
    """A record made from another dataset than the one its name and version load now."""

    record: str
    dataset: str  # name and version, as recorded
    recorded: str  # the record's dataset.sha256
    now: str  # the fingerprint of the dataset loaded now

    def describe(self) -> str:
        return (
            f"{self.record}: the dataset differs from the one the record was made from "
            f"({self.dataset}: recorded sha256 {self.recorded[:SHORT]}…, loaded now "
            f"{self.now[:SHORT]}…); not re-run"
        )


def dataset_mismatch(name: str, record: ResultRecord, original: Dataset) -> DatasetMismatch | None:
    """The mismatch of `record`'s dataset fingerprint with `original`'s, if any (a record
    without a fingerprint is not compared)."""
    recorded, now = record.dataset.sha256, original.fingerprint()
    if not recorded or recorded == now:
        return None
    return DatasetMismatch(name, f"{record.dataset.name} {record.dataset.version}", recorded, now)


@dataclass(frozen=True)
class Difference:
    record: str
    split: str  # "test" or "dev"
    metric: str
    recorded: float | None
    now: float | None

    def describe(self) -> str:
        def show(value: float | None) -> str:
            return "missing" if value is None else f"{value:.6f}"

        delta = ""
        if self.recorded is not None and self.now is not None:
            delta = f" (moved {self.now - self.recorded:+.6f})"
        return f"{self.record}: {self.split} {self.metric}: recorded {show(self.recorded)}, now {show(self.now)}{delta}"


def record_files(paths: list[str | Path]) -> list[Path]:
    """Record files named directly, and every ``seed=*.json`` below named folders."""
    out: list[Path] = []
    for path in map(Path, paths):
        if path.is_dir():
            out.extend(sorted(path.rglob("seed=*.json")))
        elif path.is_file():
            out.append(path)
        else:
            raise DataError("no such record file or folder", file=str(path))
    if not out:
        raise DataError("no result records found", file=", ".join(map(str, paths)))
    return out


def config_of(record: ResultRecord, source: str) -> tuple[ExperimentConfig, Cell]:
    """The one-cell config that reproduces `record`."""
    stored = record.config
    if "cell" not in stored:
        raise DataError(
            "the record holds no cell config; it cannot be re-run", file=source, where="config.cell"
        )
    cell = Cell.from_dict(dict(stored["cell"]))
    data = {
        "name": stored.get("experiment", "verify"),
        "track": record.track,
        "grid": {
            "datasets": [cell.dataset],
            "condensers": [
                {
                    "name": cell.condenser,
                    "label": cell.method,
                    "budgets": [cell.budget],
                    "params": cell.params,
                    "llm": cell.llm,
                }
            ],  # fmt: skip
            "recommenders": [cell.recommender],
            "seeds": [cell.seed],
        },
        "metrics": stored.get("metrics"),
        "training": stored.get("training", {}),
        "llm": cell.llm,
    }
    if "user_embeddings" in stored:
        data["user_embeddings"] = stored["user_embeddings"]
    return parse_config(data, f"{source} (config)"), cell


def compare(
    name: str, recorded: ResultRecord, fresh: ResultRecord, tolerance: float
) -> list[Difference]:
    out = []
    for split, old, new in (
        ("test", recorded.metrics, fresh.metrics),
        ("dev", recorded.dev_metrics, fresh.dev_metrics),
    ):
        for metric in sorted(set(old) | set(new)):
            before, after = old.get(metric), new.get(metric)
            if before is None or after is None or abs(before - after) > tolerance:
                out.append(Difference(name, split, metric, before, after))
    return out


@dataclass
class VerifyReport:
    checked: list[str]
    differences: list[Difference]
    tolerance: float
    cpu: str = ""  # this machine's
    other_cpus: dict[str, str] = field(default_factory=dict)  # record -> its CPU, where other
    rewritten: list[str] = field(default_factory=list)
    dataset_mismatches: list[DatasetMismatch] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.differences and not self.dataset_mismatches

    def to_dict(self) -> dict:
        return {
            "passed": self.passed,
            "tolerance": self.tolerance,
            "checked": self.checked,
            "differences": [d.__dict__ for d in self.differences],
            "cpu": self.cpu,
            "records_from_other_cpus": self.other_cpus,
            "rewritten": self.rewritten,
            "dataset_mismatches": [m.__dict__ for m in self.dataset_mismatches],
        }


def verify_records(
    paths: list[str | Path],
    *,
    tolerance: float = DEFAULT_TOLERANCE,
    cache: Path | None = None,
    mirror: Path | None = None,
    progress_output: bool = True,
    rewrite: bool = False,
    notify: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Re-run every record below `paths` and compare; `notify` gets each dataset mismatch's
    line as it is found (before any training of that record)."""
    files = record_files(paths)
    records = [(str(path), read_record(path)) for path in files]  # all readable before any work
    configs = [(name, record, *config_of(record, name)) for name, record in records]
    differences: list[Difference] = []
    rewritten: list[str] = []
    mismatches: list[DatasetMismatch] = []
    for name, record, config, cell in progress(
        configs, desc="verify", unit="record", enabled=progress_output, leave=True
    ):
        runner = GridRunner(
            config=config,
            results_dir=Path("."),
            cache=cache,
            mirror=mirror,
            progress=progress_output,
            reuse_condensed=False,
        )
        mismatch = dataset_mismatch(name, record, runner.original(cell.dataset))
        if mismatch is not None:
            mismatches.append(mismatch)
            if notify is not None:
                notify(mismatch.describe())
            continue
        fresh = runner.run_cell(cell, tuning=record.tuning, write=False)
        differences.extend(compare(name, record, fresh, tolerance))
        if rewrite:
            fresh = fresh.model_copy(update={"command": record.command})
            atomic_write_text(Path(name), record_json(fresh))
            rewritten.append(name)
    here = cpu_name()
    return VerifyReport(
        checked=[name for name, _ in records],
        differences=differences,
        tolerance=tolerance,
        cpu=here,
        other_cpus={
            name: record.environment.cpu or "not recorded"
            for name, record in records
            if record.environment.cpu != here
        },
        rewritten=rewritten,
        dataset_mismatches=mismatches,
    )
