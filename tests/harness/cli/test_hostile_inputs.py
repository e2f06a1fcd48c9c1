"""Hostile and broken inputs through every command: a one-line error and exit 2 (or 1 for a
failed check), never a traceback.

Each row is one class of input (nesting, size, seeds, budgets, options, LLM specs, archives,
records, paths) given to one command, run in this process (`invoke_condbench`, which lets
any exception through: a traceback fails the row). The config rows are refused when the
config is loaded, before any work: none of them writes a record.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from cli_runner import invoke_condbench
from factories import tiny_config, write_config

REPO = Path(__file__).resolve().parents[3]
A_RECORD = REPO / "results/movielens-tfdcon/random/budget=47/naml/seed=0.json"
DEEP = 5000  # far past every depth limit, and past Python's recursion limit


@dataclass(frozen=True)
class Row:
    """`argv(workspace)` -> the command line; the exit code and what its one line says."""

    argv: Callable[[Path], list[str]]
    exit_code: int
    says: str


def _config(workspace: Path, name: str, **changes) -> Path:
    config = tiny_config(workspace / "tiny-dataset")
    for dotted, value in changes.items():
        target = config
        *parents, last = dotted.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[int(last) if last.isdigit() else last] = value
    return write_config(workspace / f"{name}.yaml", config)


def _text_file(workspace: Path, name: str, text: str) -> Path:
    path = workspace / name
    path.write_text(text)
    return path


def _record_dir(workspace: Path, name: str, text: str) -> Path:
    folder = workspace / name / "tiny/x/budget=1/naml"
    folder.mkdir(parents=True)
    (folder / "seed=0.json").write_text(text)
    return workspace / name


def _record_text(**changes) -> str:
    data = json.loads(A_RECORD.read_text())
    data.update(changes)
    return json.dumps(data)


def _bomb_mirror(workspace: Path) -> Path:
    """A mirror whose MIND-small zips each hold 64 MiB of zeros (~64 KB packed)."""
    folder = workspace / "bomb-mirror" / "mind"
    folder.mkdir(parents=True)
    for part, member in (("train", "behaviors.tsv"), ("dev", "behaviors.tsv")):
        with zipfile.ZipFile(folder / f"MINDsmall_{part}.zip", "w", zipfile.ZIP_DEFLATED) as z:
            z.writestr("news.tsv", b"N1\tnews\tsports\ttitle\tabstract\t\t[]\t[]\n")
            z.writestr(member, b"\0" * (64 << 20))
    return workspace / "bomb-mirror"


MANIFEST = {
    "method": "hostile", "version": "1", "authors": ["t"], "paper_url": "https://example.org",
    "params": {}, "dataset": "movielens-tfdcon", "budget": 47, "condensed_set": "condensed",
}  # fmt: skip


def _entry_zip(
    workspace: Path, name: str, members: dict[str, bytes], deflate: bool = False, **flags
) -> Path:
    """A zip whose members carry `flags` (``flag_bits``, ``compress_type``) as given."""
    path = workspace / f"{name}.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for member, data in members.items():
            info = zipfile.ZipInfo(member)
            info.compress_type = zipfile.ZIP_DEFLATED if deflate else zipfile.ZIP_STORED
            archive.writestr(info, data)
    if flags:  # rewrite the headers' fields, as a crafted archive would carry them
        raw = bytearray(path.read_bytes())
        for signature, flag_at, method_at in ((b"PK\x03\x04", 6, 8), (b"PK\x01\x02", 8, 10)):
            start = 0
            while (start := raw.find(signature, start)) != -1:
                if "flag_bits" in flags:
                    raw[start + flag_at] |= flags["flag_bits"]
                if "compress_type" in flags:
                    raw[start + method_at : start + method_at + 2] = flags[
                        "compress_type"
                    ].to_bytes(2, "little")
                start += 4
        path.write_bytes(bytes(raw))
    return path


def _manifest(**changes) -> bytes:
    return json.dumps({**MANIFEST, **changes}).encode()


def _entry_folder(workspace: Path, name: str, manifest: str) -> Path:
    folder = workspace / name
    folder.mkdir()
    (folder / "manifest.json").write_text(manifest)
    return folder


ROWS: dict[str, Row] = {
    # ---- configs: run and tune refuse them when the config is loaded -----------------------
    "run: nested YAML": Row(
        lambda w: ["run", _text_file(w, "deep.yaml", "a: " + "[" * DEEP + "]" * DEEP)],
        2, "nests deeper than 32 levels"),
    "run: huge config": Row(
        lambda w: ["run", _text_file(w, "huge.yaml", "# " + "x" * (1 << 20) + "\nname: x\n")],
        2, "over the limit of 1048576"),
    "run: seed 2^32": Row(
        lambda w: ["run", _config(w, "seed", grid__seeds=[2**32])], 2,
        "grid.seeds[0]: must be below 2^32"),
    "run: negative seed": Row(
        lambda w: ["run", _config(w, "neg", grid__seeds=[-1])], 2,
        "grid.seeds[0]: must be a non-negative integer"),
    "run: endless seed range": Row(
        lambda w: ["run", _config(w, "range", grid__seeds="0-99999999999")], 2,
        "names more than 10000 seeds"),
    "run: budget 0%": Row(
        lambda w: ["run", _config(w, "b0", grid__condensers__1__budgets=["0%"])], 2,
        "grid.condensers[1].budgets"),
    "run: budget 150%": Row(
        lambda w: ["run", _config(w, "b150", grid__condensers__1__budgets=["150%"])], 2,
        "grid.condensers[1].budgets"),
    "run: budget 5000 users": Row(
        lambda w: ["run", _config(w, "b5000", grid__condensers__1__budgets=[5000]),
                   "--results", w / "r5000"], 2,
        "grid.condensers[1].budgets: 5000 users asked for"),
    "run: unknown model option": Row(
        lambda w: ["run", _config(w, "opt", training__model_options={"colour": 1})], 2,
        "training.model_options.colour"),
    "run: llm bogus": Row(
        lambda w: ["run", _config(w, "llm", llm="bogus")], 2, "llm: llm spec 'bogus'"),
    "run: a condenser's llm bogus": Row(
        lambda w: ["run", _config(w, "cllm", grid__condensers__1__llm="bogus")], 2,
        "grid.condensers[1].llm"),
    "tune: nested YAML": Row(
        lambda w: ["tune", _text_file(w, "deep-t.yaml", "a:\n" + "- " * 40 + "x\n")],
        2, "nests deeper than 32 levels"),
    "tune: seed 2^32": Row(
        lambda w: ["tune", _config(w, "tseed", grid__seeds=[2**32])], 2, "must be below 2^32"),
    # ---- command-line values ---------------------------------------------------------------
    "condense: seed 2^32": Row(
        lambda w: ["condense", "--dataset", w / "tiny-dataset", "--method", "random",
                   "--seed", str(2**32), "-o", w / "out"], 2, "'--seed'"),
    "condense: budget -5": Row(
        lambda w: ["condense", "--dataset", w / "tiny-dataset", "--method", "random",
                   "--budget", "-5", "-o", w / "out"], 2, "'-5' is not a positive number"),
    "condense: budget 150%": Row(
        lambda w: ["condense", "--dataset", w / "tiny-dataset", "--method", "random",
                   "--budget", "150%", "-o", w / "out"], 2, "at most 100%"),
    "condense: llm bogus": Row(
        lambda w: ["condense", "--dataset", w / "tiny-dataset", "--method", "random",
                   "--llm", "bogus", "-o", w / "out"], 2, "llm spec 'bogus'"),
    "train: seed 2^32": Row(
        lambda w: ["train", "--dataset", w / "tiny-dataset", "--model", "naml",
                   "--seeds", str(2**32)], 2, "must be below 2^32"),
    "data import: seed 2^32": Row(
        lambda w: ["data", "import", w / "nothing", "--seed", str(2**32)], 2, "'--seed'"),
    "data fetch: a zip bomb in the mirror": Row(
        lambda w: ["data", "fetch", "mind-small", "--mirror", _bomb_mirror(w)], 2, "a zip bomb"),
    "data stats: unknown dataset": Row(
        lambda w: ["data", "stats", "no-such-dataset"], 2, "no-such-dataset"),
    "llm title: llm bogus": Row(
        lambda w: ["llm", "title", "--llm", "bogus", "-f", "title=x"], 2, "llm spec 'bogus'"),
    "llm serve: port out of range": Row(
        lambda w: ["llm", "serve", "--port", "70000"], 2, "'--port'"),
    # ---- records: results, leaderboard, verify -------------------------------------------
    "results show: nested record": Row(
        lambda w: ["results", "show", _record_dir(w, "deep", "[" * DEEP + "]" * DEEP)], 2,
        "refused result record: nests deeper"),
    "leaderboard build: nested record": Row(
        lambda w: ["leaderboard", "build", _record_dir(w, "deep-lb", "{\"a\":" * DEEP),
                   "-o", w / "site"], 2, "refused result record: nests deeper"),
    "verify: nested record": Row(
        lambda w: ["verify", _record_dir(w, "deep-v", "[" * DEEP) / "tiny/x/budget=1/naml/seed=0.json"],
        2, "refused result record"),
    "verify: record seed 2^32": Row(
        lambda w: ["verify", _record_dir(w, "seed-v", _record_text(seed=2**32))
                   / "tiny/x/budget=1/naml/seed=0.json"], 2, "seed"),
    "results show: NaN metric": Row(
        lambda w: ["results", "show", _record_dir(w, "nan", _record_text(
            metrics={"AUC": float("nan")}).replace("NaN", "NaN"))], 2, "metrics"),
    # ---- submissions: archives and manifests ---------------------------------------------
    "submit: nested manifest": Row(
        lambda w: ["submit", _entry_folder(w, "deep-m", "{\"a\":" * DEEP), "--validate-only"],
        1, "nests deeper than 20 levels"),
    "submit: encrypted zip": Row(
        lambda w: ["submit", _entry_zip(w, "enc", {"manifest.json": _manifest()}, flag_bits=1),
                   "--validate-only"], 1, "encrypted"),
    "submit: unsupported compression": Row(
        lambda w: ["submit", _entry_zip(w, "method99", {"manifest.json": _manifest()},
                                        compress_type=99), "--validate-only"], 1,
        "compression method"),
    "submit: a file and a folder of one name": Row(
        lambda w: ["submit", _entry_zip(w, "clash", {"x/a": b"1", "x/a/b": b"2"}),
                   "--validate-only"], 1, "both as a file and as a folder"),
    "submit: condensed_set '.'": Row(
        lambda w: ["submit", _entry_folder(w, "dot", _manifest(condensed_set=".").decode()),
                   "--validate-only"], 1, "is the entry folder itself"),
    "submit: zip declaring gigabytes": Row(
        lambda w: ["submit", _entry_zip(w, "bomb", {"manifest.json": _manifest(),
                                                    "big.tsv": b"0" * (2 << 20)}, deflate=True),
                   "--validate-only", "--max-total-mb", "1"], 1,
        "declares over the total size limit"),
}  # fmt: skip


@pytest.fixture
def workspace(tmp_path, tiny_folder, monkeypatch, mirror) -> Path:
    shutil.copytree(tiny_folder, tmp_path / "tiny-dataset")
    monkeypatch.setenv("CONDBENCH_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("CONDBENCH_MIRROR", str(mirror))
    monkeypatch.chdir(tmp_path)
    return tmp_path


@pytest.mark.parametrize("case", list(ROWS))
def test_a_hostile_input_is_one_line_and_an_exit_code(case, workspace):
    row = ROWS[case]
    result = invoke_condbench(*row.argv(workspace))  # any exception escapes: a failed row
    output = result.output
    errors = [line for line in output.splitlines() if line.lower().startswith("error:")]
    assert result.exit_code == row.exit_code, output[-2000:]
    assert len(errors) == 1, output[-2000:]
    assert row.says in errors[0], errors[0]
    assert "Traceback" not in output
    assert not list(workspace.rglob("seed=*.json"))[1:], "a refused input wrote records"


def test_a_record_file_is_shown_as_itself(workspace):
    result = invoke_condbench("results", "show", A_RECORD, "--json")
    assert result.exit_code == 0, result.output
    shown = json.loads(result.output.splitlines()[-1])
    assert shown["count"] == 1 and shown["records"][0]["method"] == "random"


def test_a_missing_mirror_is_said_then_left_out(workspace, session_cache, mirror):
    """`--mirror` naming no folder: one warning line, then the cache (or the network)."""
    env = {**os.environ, "CONDBENCH_CACHE": str(session_cache), "CONDBENCH_MIRROR": str(mirror)}
    stats = [*_condbench(), "data", "stats", "movielens-tfdcon", "--json"]
    subprocess.run(stats, capture_output=True, timeout=300, env=env, check=True, cwd=REPO)
    missing = workspace / "no-such-mirror"
    done = subprocess.run([*stats, "--mirror", str(missing)], capture_output=True, text=True,
                          timeout=300, env=env, cwd=REPO)  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert f"mirror folder {missing} does not exist" in done.stderr
    assert done.stderr.count("does not exist") == 1
    assert json.loads(done.stdout)["dataset"] == "movielens-tfdcon"


def _condbench() -> list[str]:
    import sys

    return [sys.executable, "-m", "harness.cli"]


def test_records_are_written_readable_by_others(workspace):
    config = write_config(workspace / "ok.yaml", tiny_config(workspace / "tiny-dataset"))
    result = invoke_condbench("run", config, "--only", "method=random,seed=0", "--no-tracking",
                              "--results", workspace / "r")  # fmt: skip
    assert result.exit_code == 0, result.output[-2000:]
    (record,) = (workspace / "r").rglob("seed=0.json")
    assert record.stat().st_mode & 0o777 == 0o666 & ~_umask()


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root")
def test_a_full_disk_while_writing_a_record_is_one_line(workspace):
    results = workspace / "full"
    results.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(results)], check=True)
    try:
        _fill(results / "filler")
        config = write_config(workspace / "full.yaml", tiny_config(workspace / "tiny-dataset"))
        result = invoke_condbench("run", config, "--only", "method=random,seed=0",
                                  "--no-tracking", "--results", results)  # fmt: skip
        errors = [line for line in result.output.splitlines() if line.startswith("error:")]
        assert result.exit_code == 2, result.output[-2000:]
        assert len(errors) == 1 and "cannot write the record: No space left" in errors[0]
        assert not list(results.rglob("seed=*.json")) and not list(results.rglob("*.tmp"))
    finally:
        subprocess.run(["umount", str(results)], check=True)


def _fill(path: Path) -> None:
    """Write `path` until its file system is full."""
    try:
        with path.open("wb", buffering=0) as handle:
            while True:
                handle.write(b"\0" * 1024)
    except OSError:
        pass


def test_zip_bomb_members_are_refused_before_they_are_read(tmp_path):
    from harness.data.archives import MAX_COMPRESSION_RATIO, open_zip, read_member
    from harness.errors import DataError

    path = tmp_path / "MINDsmall_train.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("behaviors.tsv", b"\0" * (64 << 20))  # 64 MiB of zeros: ~64 KB packed
    info = zipfile.ZipFile(path).getinfo("behaviors.tsv")
    assert info.file_size > MAX_COMPRESSION_RATIO * info.compress_size
    with open_zip(path) as archive, pytest.raises(DataError, match="a zip bomb"):
        read_member(archive, "behaviors.tsv")


def test_yaml_config_keeps_its_anchors(workspace):
    """A config is the user's own file: anchors are fine there (only depth and size count)."""
    text = yaml.safe_dump(tiny_config(workspace / "tiny-dataset"))
    text = text.replace("training:", "defaults: &train {max_epochs: 1}\ntraining:", 1)
    path = _text_file(workspace, "anchors.yaml", text)
    result = invoke_condbench("run", path, "--only", "method=nothing")
    assert result.exit_code == 2
    assert "aliases" not in result.output  # read; then refused for its unknown key only
    assert "defaults: unknown key" in result.output, result.output
