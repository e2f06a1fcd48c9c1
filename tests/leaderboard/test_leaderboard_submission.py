"""condbench submit: each rejection has a crafted submission; valid entries pass."""

from __future__ import annotations

import io
import json
import os
import pickle
import tarfile
import zipfile
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from leaderboard_factory import small_dataset

from harness.cli import main
from harness.run.submission import EvaluationUnavailable, evaluate_submission
from leaderboard.submission import Limits, SubmissionRejected, validate_submission

MANIFEST = {
    "method": "my-condenser",
    "version": "1.0",
    "authors": ["A. Author", "B. Author"],
    "paper_url": "https://example.org/paper",
    "params": {"alpha": 0.5},
    "dataset": "tiny",
    "budget": 2,
    "condensed_set": "condensed",
}
CONDENSER_SOURCE = """
from condensers.base import Condenser


class MyCondenser(Condenser):
    name = "my-condenser"

    def condense(self, dataset, budget, rng, ctx):
        return dataset
"""


def _load(name: str):
    assert name == "tiny"
    return small_dataset()


def _validate(path, **kwargs):
    return validate_submission(path, load_original_dataset=_load, **kwargs)


def _write_tsv(folder: Path, train_rows, histories=None, items=None) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["user_id\titem_id\tlabel"] + [f"{u}\t{i}\t{lab}" for u, i, lab in train_rows]
    (folder / "train.tsv").write_text("\n".join(lines) + "\n")
    if histories is not None:
        lines = ["user_id\thistory"] + [f"{u}\t{' '.join(map(str, h))}" for u, h in histories]
        (folder / "histories.tsv").write_text("\n".join(lines) + "\n")
    if items is not None:
        lines = ["item_id\ttitle"] + [f"{i}\t{' '.join(map(str, t))}" for i, t in items]
        (folder / "items.tsv").write_text("\n".join(lines) + "\n")


def _entry(
    tmp_path: Path, train_rows=((0, 0, 1), (0, 1, 1), (1, 2, 1)), manifest=None, **tables
) -> Path:
    root = tmp_path / "entry"
    root.mkdir()
    (root / "manifest.json").write_text(json.dumps(manifest or MANIFEST))
    _write_tsv(root / "condensed", train_rows, **tables)
    return root


def _tar(tmp_path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    path = tmp_path / "entry.tar.gz"
    with tarfile.open(path, "w:gz") as archive:
        for info, data in members:
            if data is not None:
                info.size = len(data)
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return path


def _file(name: str, data: bytes) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), data


# ---- valid entries --------------------------------------------------------------------------


def test_valid_tsv_entry_becomes_original_dev_test_with_submitted_train(tmp_path):
    valid = _validate(_entry(tmp_path))
    train = valid.condensed.split("train")
    assert sorted(zip(train["user_id"], train["item_id"], strict=True)) == [(0, 0), (0, 1), (1, 2)]
    original = small_dataset()
    pd.testing.assert_frame_equal(valid.condensed.split("test"), original.split("test"))
    assert valid.condensed.meta["negatives_from"] == "original"  # positives only
    assert valid.summary()["train_users"] == 2 and valid.kind == "condensed_set"


def test_valid_parquet_entry_with_synthetic_user_and_rewritten_items(tmp_path):
    original = small_dataset()
    synthetic = pd.DataFrame(
        {"user_id": [100, 100, 100], "item_id": [0, 2, 11], "label": [1, 1, 0]}
    )
    items = original.items.assign(title=[[7, i] for i in range(12)])
    condensed = original.with_train(
        synthetic,
        variant="mine",
        items=items,
        histories=pd.DataFrame({"user_id": [100], "history": [[1, 2, 3]]}),
    )
    root = tmp_path / "entry"
    root.mkdir()
    condensed.save(root / "condensed")
    manifest = dict(MANIFEST, budget="50%")
    (root / "manifest.yaml").write_text(json.dumps(manifest))  # JSON is valid YAML
    valid = _validate(root)
    assert valid.condensed.split("train")["user_id"].unique().tolist() == [100]
    assert valid.condensed.items.set_index("item_id").loc[3, "title"] == [7, 3]
    assert "negatives_from" not in valid.condensed.meta  # it has its own label-0 rows


def test_valid_zip_and_condenser_module(tmp_path):
    path = tmp_path / "entry.zip"
    manifest = dict(MANIFEST, condensed_set=None, condenser_module="method.py")
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("my-entry/manifest.json", json.dumps(manifest))
        archive.writestr("my-entry/method.py", CONDENSER_SOURCE)
    valid = _validate(path)
    assert valid.kind == "condenser_module" and valid.condenser.class_name == "MyCondenser"
    with pytest.raises(EvaluationUnavailable, match="runs in the sandbox"):
        evaluate_submission(valid, config_path="unused.yaml", results_dir=tmp_path / "results")


def test_entry_hash_is_the_same_for_the_folder_and_its_archive(tmp_path):
    manifest = dict(MANIFEST, condensed_set=None, condenser_module="method.py")
    folder = tmp_path / "my-entry"
    folder.mkdir()
    (folder / "manifest.json").write_text(json.dumps(manifest))
    (folder / "method.py").write_text(CONDENSER_SOURCE)
    path = tmp_path / "entry.zip"
    with zipfile.ZipFile(path, "w") as archive:
        for name in ("manifest.json", "method.py"):
            archive.write(folder / name, f"my-entry/{name}")
    from_folder, from_zip = _validate(folder), _validate(path)
    assert len(from_folder.entry_sha256) == 64
    assert from_folder.entry_sha256 == from_zip.entry_sha256
    (folder / "method.py").write_text(CONDENSER_SOURCE + "\n# changed\n")
    assert _validate(folder).entry_sha256 != from_folder.entry_sha256


# ---- archives -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["/etc/evil.json", "../evil.json", "entry/../../evil.json", "C:\\evil.json"]
)
def test_archive_member_paths_outside_the_entry_are_rejected(tmp_path, name):
    path = _tar(tmp_path, [_file("manifest.json", b"{}"), _file(name, b"x")])
    with pytest.raises(SubmissionRejected, match="absolute paths|'\\.\\.'"):
        _validate(path)
    assert not (tmp_path / "evil.json").exists()


def test_zip_with_dotdot_member_is_rejected(tmp_path):
    path = tmp_path / "entry.zip"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", "{}")
        archive.writestr("../../evil.py", "print(1)")
    with pytest.raises(SubmissionRejected, match="'\\.\\.' in a member path"):
        _validate(path)


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_tar_links_are_rejected(tmp_path, kind):
    link = tarfile.TarInfo("condensed/train.tsv")
    link.type = kind
    link.linkname = "/etc/passwd"
    path = _tar(tmp_path, [_file("manifest.json", b"{}"), (link, None)])
    with pytest.raises(SubmissionRejected, match="links are not accepted"):
        _validate(path)


def test_zip_symlink_is_rejected(tmp_path):
    path = tmp_path / "entry.zip"
    info = zipfile.ZipInfo("condensed/train.tsv")
    info.external_attr = 0o120777 << 16
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("manifest.json", "{}")
        archive.writestr(info, "/etc/passwd")
    with pytest.raises(SubmissionRejected, match="links are not accepted"):
        _validate(path)


def test_symlink_in_a_folder_entry_is_rejected(tmp_path):
    root = _entry(tmp_path)
    os.symlink("/etc/passwd", root / "condensed" / "extra.tsv")
    with pytest.raises(SubmissionRejected, match="links are not accepted"):
        _validate(root)


def test_oversize_files_are_rejected(tmp_path):
    root = _entry(tmp_path)
    (root / "big.txt").write_bytes(b"x" * 5000)
    with pytest.raises(SubmissionRejected, match="over the limit of 4096"):
        _validate(root, limits=Limits(max_file_bytes=4096))
    archive = _tar(tmp_path, [_file("manifest.json", b"{}"), _file("big.txt", b"x" * 5000)])
    with pytest.raises(SubmissionRejected, match="over the limit of 4096"):
        _validate(archive, limits=Limits(max_file_bytes=4096))


# ---- pickles --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["weights.pkl", "data.pickle", "table.npy", "arrays.npz"])
def test_pickle_files_are_rejected_by_name(tmp_path, name):
    root = _entry(tmp_path)
    (root / name).write_bytes(b"harmless bytes")
    with pytest.raises(SubmissionRejected, match="pickle files are not accepted"):
        _validate(root)


def test_pickle_content_is_rejected_whatever_its_name(tmp_path):
    root = _entry(tmp_path)
    (root / "condensed" / "notes.parquet").write_bytes(pickle.dumps({"a": 1}, protocol=4))
    with pytest.raises(SubmissionRejected, match="pickle files are not accepted"):
        _validate(root)


# ---- manifest -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "field", ["method", "version", "authors", "paper_url", "params", "dataset", "budget"]
)
def test_manifest_missing_field_is_named(tmp_path, field):
    manifest = {k: v for k, v in MANIFEST.items() if k != field}
    with pytest.raises(SubmissionRejected, match=f"manifest.json: missing field '{field}'"):
        _validate(_entry(tmp_path, manifest=manifest))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"paper_url": "javascript:alert(1)"}, "'paper_url': must be an http"),
        ({"method": "random"}, "built-in method name"),
        ({"budget": "lots"}, "'budget': must be a number"),
        ({"condenser_module": "m.py"}, "exactly one of"),
        ({"extra": 1}, "unknown field 'extra'"),
        ({"condensed_set": "../elsewhere"}, "inside the entry"),
    ],
)
def test_manifest_bad_values(tmp_path, change, message):
    with pytest.raises(SubmissionRejected, match=message):
        _validate(_entry(tmp_path, manifest=dict(MANIFEST, **change)))


def test_no_manifest(tmp_path):
    root = _entry(tmp_path)
    (root / "manifest.json").unlink()
    with pytest.raises(SubmissionRejected, match="no manifest"):
        _validate(root)


def test_condenser_module_without_condenser_class(tmp_path):
    root = tmp_path / "entry"
    root.mkdir()
    (root / "manifest.json").write_text(
        json.dumps(dict(MANIFEST, condensed_set=None, condenser_module="m.py"))
    )
    (root / "m.py").write_text("class Thing:\n    pass\n")
    with pytest.raises(SubmissionRejected, match="deriving from Condenser"):
        _validate(root)


# ---- the condensed set against the original -------------------------------------------------


def test_unknown_item_id_is_rejected(tmp_path):
    with pytest.raises(SubmissionRejected, match="unknown item id 99"):
        _validate(_entry(tmp_path, train_rows=[(0, 0, 1), (0, 99, 1)]))


def test_train_row_equal_to_a_test_interaction_is_rejected(tmp_path):
    # (user 1, item 9) is a test interaction of the original
    with pytest.raises(SubmissionRejected, match=r"\(user 1, item 9\) is a dev/test interaction"):
        _validate(_entry(tmp_path, train_rows=[(0, 0, 1), (1, 9, 1)]))


def test_train_row_equal_to_a_dev_interaction_is_rejected(tmp_path):
    with pytest.raises(SubmissionRejected, match=r"\(user 0, item 6\) is a dev/test interaction"):
        _validate(_entry(tmp_path, train_rows=[(0, 6, 0), (0, 0, 1)]))


@pytest.mark.parametrize("user", [4, 5])
def test_dev_or_test_only_user_in_train_is_rejected(tmp_path, user):
    with pytest.raises(SubmissionRejected, match=f"user {user} is a dev/test user of the original"):
        _validate(_entry(tmp_path, train_rows=[(0, 0, 1), (user, 11, 1)]))


def test_changed_history_of_an_original_user_is_rejected(tmp_path):
    entry = _entry(tmp_path, histories=[(0, [5, 6])])
    with pytest.raises(SubmissionRejected, match="history of user 0 differs"):
        _validate(entry)


def test_new_user_without_history_is_rejected(tmp_path):
    with pytest.raises(SubmissionRejected, match="user 100 is new"):
        _validate(_entry(tmp_path, train_rows=[(100, 0, 1)]))


def test_over_budget_is_rejected(tmp_path):
    with pytest.raises(SubmissionRejected, match="3 users, over the budget of 2"):
        _validate(_entry(tmp_path, train_rows=[(0, 0, 1), (1, 1, 1), (2, 2, 1)]))


def test_items_must_cover_every_item(tmp_path):
    entry = _entry(tmp_path, items=[(i, [1, 2]) for i in range(11)])
    with pytest.raises(SubmissionRejected, match="item 11 has no text"):
        _validate(entry)


def test_bad_tsv_value_names_the_line(tmp_path):
    with pytest.raises(
        SubmissionRejected, match=r"train.tsv \(line 3\): item_id must be an integer"
    ):
        _validate(_entry(tmp_path, train_rows=[(0, 0, 1), (0, "x", 1)]))


# ---- CLI ------------------------------------------------------------------------------------


def test_cli_exit_codes_and_json(tmp_path, monkeypatch):
    monkeypatch.setattr("leaderboard.submission.pipeline.load_original", _load)
    good = _entry(tmp_path)
    result = CliRunner().invoke(main, ["submit", str(good), "--validate-only", "--json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (
        payload["status"] == "valid"
        and payload["method"] == "my-condenser"
        and payload["train_users"] == 2
    )

    (good / "x.pkl").write_bytes(b"")
    result = CliRunner().invoke(main, ["submit", str(good), "--validate-only"])
    assert result.exit_code == 1
    lines = result.stderr.strip().splitlines()
    assert (
        lines[-1]
        == "error: submission rejected: x.pkl: pickle files are not accepted (use Parquet or TSV)"
    )
    assert "Traceback" not in result.output


def test_too_many_archive_members_are_rejected(tmp_path):
    members = [_file("manifest.json", b"{}")] + [_file(f"f{i}.txt", b"x") for i in range(5)]
    with pytest.raises(SubmissionRejected, match="more than 3 members"):
        _validate(_tar(tmp_path, members), limits=Limits(max_files=3))
