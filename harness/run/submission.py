"""evaluate_submission(): train the standard recommenders on a validated entry, write records.

The standard recommenders and seeds are those of the dataset's benchmark config (e.g.
``configs/movielens.yaml``: NAML, NRMS, Fastformer over seeds 0-4), and training is the
harness's own (`harness.run.runner.GridRunner`), so a submission is scored exactly like the
built-in methods. Records carry ``method.source = "submission"`` with the manifest's
authors, paper URL, version and params.

A condenser-module entry runs the submitter's code once, in the Docker sandbox
(`harness.run.sandbox`: no network, the entry and the original's train view read-only, one
writable output folder, limits), with `SandboxOptions.condense_seed`. The set it writes is
validated exactly like a submitted train set and then trained here, outside the sandbox, so
submitted code never sees dev or test. Every record names the entry's content hash and, for
a module, the sandbox image's digest and limits (`leaderboard.record.SubmissionInfo`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.dataset import Dataset
from harness.errors import CondbenchError, ConfigError
from harness.progress import progress as progress_iter
from harness.run.config import load_config
from harness.run.runner import Cell, GridRunner
from harness.run.sandbox import (
    OUTPUT_SET,
    SandboxLimits,
    run_condenser_module,
    sandbox_workdir,
)
from leaderboard.record import (
    TUNED_SUFFIX,
    MethodInfo,
    ResultRecord,
    SubmissionInfo,
    read_record,
    record_path,
    write_record,
)
from leaderboard.submission.limits import MIB, Limits
from leaderboard.submission.names import check_method_name
from leaderboard.submission.pipeline import ValidatedSubmission, train_set_kind
from leaderboard.submission.rejection import SubmissionRejected
from leaderboard.submission.scan import scan_entry

SUBMISSION_CONDENSER = "submission"


class EvaluationUnavailable(CondbenchError):
    """The entry is valid but this kind of entry cannot be evaluated here."""


DEFAULT_SANDBOX_IMAGE = "condbench:latest"


@dataclass(frozen=True)
class SandboxOptions:
    """How a condenser-module entry is run: the image, its limits, the condensation seed."""

    image: str = DEFAULT_SANDBOX_IMAGE
    limits: SandboxLimits = field(default_factory=SandboxLimits)
    condense_seed: int = 0


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
    entry_root: Path | None = None,
    sandbox: SandboxOptions | None = None,
) -> list[Path]:
    """Train and evaluate every recommender x seed of the config on the entry; write records.

    A condenser-module entry first runs in the sandbox (`entry_root`: the unpacked entry;
    `sandbox`: image, limits, seed). Cells whose record already exists are skipped (a re-run
    resumes, without running the module again when every cell is done). Returns the paths.
    """
    if entry.condensed is None and (entry_root is None or sandbox is None):
        raise EvaluationUnavailable(
            "a condenser-module entry runs in the sandbox: pass its unpacked entry and the "
            "sandbox settings (condbench submit does)"
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
    planned = [
        (cell, record_path(results_dir, original.name, cell.method, cell.budget,
                           cell.recommender, cell.seed))
        for cell in cells
    ]  # fmt: skip
    paths = [path for _, path in planned]
    if all(path.is_file() for path in paths):
        return paths
    with sandbox_workdir() as workdir:
        train_set, provenance, condense_s = _train_set(entry, original, entry_root, sandbox, workdir)
        todo = [cell for cell, path in planned if not path.is_file()]
        for cell in progress_iter(todo, desc="evaluating submission", unit="cell", enabled=progress):
            result = runner.train_and_evaluate(cell, train_set, original)
            made = {"condense_s": condense_s, "params": dict(manifest.params)}
            record: ResultRecord = runner.build_record(cell, original, train_set, made, result)
            update = {"method": method, "submission": provenance}
            write_record(record.model_copy(update=update), results_dir)
    return paths


def _train_set(
    entry: ValidatedSubmission,
    original: Dataset,
    entry_root: Path | None,
    sandbox: SandboxOptions | None,
    workdir: Path,
) -> tuple[Dataset, SubmissionInfo, float]:
    """The set to train on, the records' `SubmissionInfo`, and the condensation's seconds."""
    if entry.condensed is not None:
        info = SubmissionInfo(entry_sha256=entry.entry_sha256, kind="condensed_set")
        return entry.condensed, info, 0.0
    assert entry_root is not None and sandbox is not None and entry.condenser is not None
    manifest = entry.manifest
    ran = run_condenser_module(
        entry_root=entry_root, files=entry.files, module=manifest.condenser_module or "",
        class_name=entry.condenser.class_name, params=dict(manifest.params),
        budget=manifest.budget, seed=sandbox.condense_seed, original=original,
        image=sandbox.image, limits=sandbox.limits, workdir=workdir,
    )  # fmt: skip
    folder = ran.output / OUTPUT_SET
    limit = sandbox.limits.output_mb * MIB
    scan_entry(folder, Limits(max_file_bytes=limit, max_total_bytes=limit))  # no pickles, links
    label = f"sandbox output of {manifest.condenser_module}"
    train_set = train_set_kind(original).check(
        folder, label, original, budget=manifest.budget, method=manifest.method
    )
    info = SubmissionInfo(
        entry_sha256=entry.entry_sha256, kind="condenser_module",
        sandbox_image_digest=ran.image_digest, sandbox_limits=sandbox.limits.model_dump(),
        condense_seed=sandbox.condense_seed,
    )  # fmt: skip
    return train_set, info, ran.wall_s
