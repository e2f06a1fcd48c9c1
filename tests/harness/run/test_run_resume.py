"""Resume honours the config: a done cell recorded with other settings is refused, or run again
with --rerun-changed; equal settings (harmless differences included) are skipped."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cli_runner import invoke_condbench
from factories import tiny_config, write_config

from harness.run.config import load_config
from harness.run.resume import config_differences, plan_resume
from harness.run.runner import cell_config, expand_cells, parse_only, select_cells
from leaderboard.record import read_record

REPO = Path(__file__).resolve().parents[3]


def differences(stored: dict, wanted: dict) -> list[str]:
    return [key for key, _, _ in config_differences(stored, wanted)]


def test_only_what_defines_the_result_counts(tiny_folder, tmp_path):
    config = load_config(write_config(tmp_path / "c.yaml", tiny_config(tiny_folder)))
    cell = next(c for c in expand_cells(config) if c.method == "random")
    wanted = cell_config(cell, config)
    harmless = json.loads(json.dumps(wanted))
    harmless["experiment"] = "another-name"  # configs may share cells
    harmless["cell"]["dataset"] = "/elsewhere/tiny-dataset"  # a folder moves between machines
    harmless["training"].update(threads=2, device="cpu", negatives=4)  # how it runs; a default
    harmless["cell"]["params"]["text"] = "random"  # the condenser's default, written out
    assert differences(harmless, wanted) == []
    changed = json.loads(json.dumps(wanted))
    changed["training"]["lr"] = 0.5
    changed["cell"]["params"]["text_tokens"] = 5
    changed["training"]["model_options"] = {"dropout": 0.3}
    assert differences(changed, wanted) == [
        "cell.params.text_tokens",
        "training.lr",
        "training.model_options.dropout",
    ]


def test_original_cells_ignore_the_llm_and_user_embeddings(tiny_folder, tmp_path):
    config = load_config(write_config(tmp_path / "c.yaml", tiny_config(tiny_folder)))
    original, random = (next(c for c in expand_cells(config) if c.method == m)
                        for m in ("original", "random"))  # fmt: skip
    for cell, expected in ((original, []), (random, ["cell.llm"])):
        stored = cell_config(cell, config)
        stored["cell"] = {**stored["cell"], "llm": "local"}
        assert differences(stored, cell_config(cell, config)) == expected


def test_committed_records_resume_unchanged_with_the_committed_configs():
    """Every config in configs/ against results/ (no training): no cell counts as changed."""
    for path in sorted((REPO / "configs").glob("*.yaml")):
        config = load_config(path)
        plan = plan_resume(expand_cells(config), REPO / "results", config)
        assert plan.changed == [], (path.name, [c.describe() for c in plan.changed[:3]])


def main_job_grids() -> list[tuple[str, str | None]]:
    """(config, --only) of each `condbench run` in scripts/benchmark.sh, in order."""
    text = (REPO / "scripts" / "benchmark.sh").read_text(encoding="utf-8").replace("\\\n", " ")
    runs = re.findall(r'condbench" run (\S+)[^\n]*?(?:--only \'([^\']*)\')?\n', text)
    return [(config, only or None) for config, only in runs]


def test_the_main_job_resumes_its_own_folder_without_refusing():
    """scripts/benchmark.sh runs several configs into runs/main: a cell two of them share is
    defined alike, so a re-run (or the next config) skips it instead of refusing."""
    grids = main_job_grids()
    assert len(grids) >= 4 and any(only for _, only in grids)
    recorded: dict[str, dict] = {}
    for name, only in grids * 2:  # the second pass is the re-run
        config = load_config(REPO / name)
        for cell in select_cells(expand_cells(config), parse_only(only)):
            wanted = cell_config(cell, config)
            assert differences(recorded.setdefault(cell.key, wanted), wanted) == [], cell.key


@pytest.fixture
def resumed(tiny_folder, tmp_path) -> dict:
    """Two cells (seed 0) run into a results folder; `rerun(**training)` runs the grid again
    with those training settings changed."""
    results = tmp_path / "results"

    def rerun(*flags: str, **training) -> object:
        config = tiny_config(tiny_folder)
        config["training"] = {**config["training"], **training}
        path = write_config(tmp_path / "tiny.yaml", config)
        return invoke_condbench("run", path, "--results", results, "--only", "seed=0",
                                "--no-tracking", "--json", "--cache", tmp_path / "cache", *flags)  # fmt: skip

    first = rerun()
    assert first.exit_code == 0, first.stderr
    files = sorted(results.rglob("seed=*.json"))
    assert len(files) == 2
    return {"rerun": rerun, "files": files}


def contents(files: list[Path]) -> list[bytes]:
    return [path.read_bytes() for path in files]


def test_a_changed_training_setting_is_refused_then_rerun_with_the_flag(resumed):
    before = contents(resumed["files"])
    refused = resumed["rerun"](max_epochs=1)
    assert refused.exit_code == 2
    error = [line for line in refused.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "2 done cell(s)" in error[0] and "--rerun-changed" in error[0]
    assert "training.max_epochs recorded 2, now 1" in error[0]
    assert refused.stderr.count("changed: tiny/") == 2  # one line per cell, naming its keys
    assert "changed: tiny/original/budget=all/naml/seed=0: training.max_epochs" in refused.stderr
    assert contents(resumed["files"]) == before  # nothing mixed, nothing overwritten

    planned = resumed["rerun"]("--dry-run", "--rerun-changed", max_epochs=1)
    assert planned.exit_code == 0, planned.stderr
    assert json.loads(planned.stdout)["to_run"] == 2 and contents(resumed["files"]) == before

    rerun = resumed["rerun"]("--rerun-changed", max_epochs=1)
    assert rerun.exit_code == 0, rerun.stderr
    out = json.loads(rerun.stdout)
    assert (out["ran"], out["skipped"], out["rerun_changed"]) == (2, 0, 2)
    assert [read_record(p).config["training"]["max_epochs"] for p in resumed["files"]] == [1, 1]

    again = resumed["rerun"](max_epochs=1)
    assert again.exit_code == 0, again.stderr
    assert (json.loads(again.stdout)["ran"], json.loads(again.stdout)["skipped"]) == (0, 2)


def test_unchanged_and_harmless_changes_are_skipped(resumed):
    before = contents(resumed["files"])
    for flags, training in (((), {}), (("--workers", "2"), {"threads": 2})):
        done = resumed["rerun"](*flags, **training)
        assert done.exit_code == 0, done.stderr
        out = json.loads(done.stdout)
        assert (out["ran"], out["skipped"], out["rerun_changed"]) == (0, 2, 0)
        assert "changed:" not in done.stderr
    assert contents(resumed["files"]) == before
