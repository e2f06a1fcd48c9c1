"""evaluate_submission(): train the standard recommenders on a validated entry, write records.

The standard recommenders and seeds are those of the dataset's benchmark config (e.g.
``configs/movielens.yaml``: NAML, NRMS, Fastformer over seeds 0-4), and training is the
harness's own (`harness.run.runner.GridRunner`), so a submission is scored exactly like the
built-in methods. Records carry ``method.source = "submission"`` with the manifest's
authors, paper URL, version and params.

Condenser-module entries run the submitter's code; that happens only in the fixed
container and is not wired here yet (see docs/submitting.md).
"""

from __future__ import annotations

from pathlib import Path

from harness.errors import CondbenchError, ConfigError
from harness.progress import progress as progress_iter
from harness.run.config import load_config
from harness.run.runner import Cell, GridRunner
from leaderboard.record import (
    TUNED_SUFFIX,
    MethodInfo,
    ResultRecord,
    read_record,
    record_path,
    write_record,
)
from leaderboard.submission.names import check_method_name
from leaderboard.submission.pipeline import ValidatedSubmission
from leaderboard.submission.rejection import SubmissionRejected

SUBMISSION_CONDENSER = "submission"


class EvaluationUnavailable(CondbenchError):
    """The entry is valid but this kind of entry cannot be evaluated here."""


def find_config(dataset: str, configs_dir: Path) -> Path:
    """The benchmark config in `configs_dir` whose grid lists `dataset`."""
    for path in sorted(configs_dir.glob("*.yaml")):
        if dataset in load_config(path).grid.datasets:
            return path
    raise ConfigError(f"no config in {configs_dir} lists dataset {dataset!r}; pass --config")


def _method_info(entry: ValidatedSubmission) -> MethodInfo:
    manifest = entry.manifest
    return MethodInfo(
        name=manifest.method,
        version=manifest.version,
        params=manifest.params,
        source="submission",
        authors=", ".join(manifest.authors),
        paper_url=manifest.paper_url,
    )


def _check_name_is_free(name: str, method: MethodInfo, config, dataset_dir: Path) -> None:
    """Refuse a name (or look-alike) of a grid cell of the config, its tuned label, or another
    entry already in the results; the same entry re-run (same method info) resumes."""
    labels = {spec.method for spec in config.grid.condensers}
    entries = set()
    if dataset_dir.is_dir():
        entries = {p.name for p in dataset_dir.iterdir() if p.is_dir()}
    check_method_name(name, taken=labels | {m + TUNED_SUFFIX for m in labels} | (entries - {name}))
    for path in sorted((dataset_dir / name).rglob("seed=*.json")):
        if read_record(path).method != method:
            raise SubmissionRejected(
                f"method {name!r}: the results already hold another entry of that name "
                f"({path}); choose another name, or give the same version, authors and params"
            )


def evaluate_submission(
    entry: ValidatedSubmission,
    *,
    config_path: str | Path,
    results_dir: str | Path,
    progress: bool = True,
    command: str = "",
) -> list[Path]:
    """Train and evaluate every recommender x seed of the config on the entry; write records.

    Cells whose record already exists are skipped (a re-run resumes). Returns the record paths.
    """
    if entry.condensed is None:
        raise EvaluationUnavailable(
            "evaluating a condenser module is not yet wired: it runs submitted code and must run "
            "in the fixed container; submit its condensed set instead, or ask the maintainers"
        )

    config = load_config(config_path)
    manifest = entry.manifest
    runner = GridRunner(
        config=config, results_dir=Path(results_dir), progress=progress, command=command
    )
    original = runner.original(manifest.dataset)
    method = _method_info(entry)
    _check_name_is_free(manifest.method, method, config, Path(results_dir) / original.name)
    cells = [
        Cell(
            dataset=manifest.dataset,
            method=manifest.method,
            condenser=SUBMISSION_CONDENSER,
            budget=manifest.budget,
            recommender=recommender,
            seed=seed,
            params=dict(manifest.params),
        )
        for recommender in config.grid.recommenders
        for seed in config.grid.seeds
    ]
    written = []
    for cell in progress_iter(cells, desc="evaluating submission", unit="cell", enabled=progress):
        path = record_path(
            results_dir, original.name, cell.method, cell.budget, cell.recommender, cell.seed
        )
        if not path.is_file():
            result = runner.train_and_evaluate(cell, entry.condensed, original)
            made = {"condense_s": 0.0, "params": dict(manifest.params)}
            record: ResultRecord = runner.build_record(
                cell, original, entry.condensed, made, result
            )
            path = write_record(record.model_copy(update={"method": method}), results_dir)
        written.append(path)
    return written
