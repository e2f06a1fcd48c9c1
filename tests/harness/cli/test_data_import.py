"""`condbench data import`: a user's sequential files into a dataset folder a config takes."""

from __future__ import annotations

import json

from cli_runner import invoke_condbench

from harness.data.importing import IMPORT_FORMATS
from harness.dataset import Dataset

INTER = ["user_id:token\titem_id:token\ttimestamp:float"] + [
    f"{user}\t{item}\t{10 * step}"
    for user in ("u1", "u2", "u3")
    for step, item in enumerate(["a", "b", "c", "d", "e", "f"][: 4 + (user == "u3")])
] + ["u4\tz\t1"]  # fmt: skip
ITEM = ["item_id:token\ttitle:token_seq", "a\tApple", "b\tBanana"]


def write_files(folder):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "shop.inter").write_text("\n".join(INTER) + "\n")
    (folder / "shop.item").write_text("\n".join(ITEM) + "\n")
    return folder / "shop.inter", folder / "shop.item"


def test_import_writes_a_dataset_folder(tmp_path):
    inter, item = write_files(tmp_path / "in")
    out = tmp_path / "shop-seq"
    result = invoke_condbench(
        "data",
        "import",
        "recbole",
        inter,
        item,
        "--name",
        "shop",
        "-o",
        out,
        "--min-count",
        "3",
        "--json",
    )
    assert result.exit_code == 0, result.output
    figures = json.loads(result.stdout)
    # 3-core on the unfiltered table: item e (1 event), item z and user u4 (1 event) go
    assert (figures["interactions"], figures["users"], figures["items"]) == (12, 3, 4)
    assert (figures["train_interactions"], figures["dev_targets"], figures["test_targets"]) == (
        6,
        3,
        3,
    )
    assert figures["sampled_negatives"] == 0  # every user touched all four items
    assert (out / "manifest.json").is_file()  # what grid.datasets takes as a folder
    dataset = Dataset.load(out)
    assert dataset.meta["kind"] == "sequential" and dataset.meta["settings"]["min_count"] == 3
    assert dataset.histories["history"].tolist() == [[0, 1]] * 3
    assert dataset.meta["counts"]["items_without_text"] == 2


def test_a_path_under_the_mirror_and_a_seed(tmp_path, monkeypatch):
    write_files(tmp_path / "mirror" / "shop")
    monkeypatch.chdir(tmp_path)
    result = invoke_condbench(
        "data", "import", "recbole", "shop/shop.inter", "--name", "shop", "-o", tmp_path / "out",
        "--min-count", "1", "--seed", "7", "--mirror", tmp_path / "mirror",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "3 users" in result.stderr and result.stdout == ""
    assert Dataset.load(tmp_path / "out").meta["negatives"]["seed"] == 7


def test_refusals_are_one_line(tmp_path):
    inter, item = write_files(tmp_path / "in")
    (tmp_path / "busy").mkdir()
    (tmp_path / "busy" / "notes.txt").write_text("mine")
    cases = [
        (("recbole", inter, "--name", "shop", "-o", tmp_path / "busy"), "not a dataset folder"),
        (("amazon-2014", inter, "--name", "shop", "-o", tmp_path / "o"), "unknown import format 'amazon-2014'"),
        (("recbole", inter, "--name", "../up", "-o", tmp_path / "o"), "--name '../up'"),
        (("recbole", tmp_path / "none.inter", "--name", "s", "-o", tmp_path / "o"), "no such file"),
    ]  # fmt: skip
    for args, message in cases:
        result = invoke_condbench("data", "import", *args)
        assert result.exit_code == 2, result.output
        assert message in result.stderr and result.stderr.strip().count("\n") == 0
    assert (tmp_path / "busy" / "notes.txt").read_text() == "mine"


def test_help_names_every_format():
    result = invoke_condbench("data", "import", "--help")
    assert result.exit_code == 0
    for name in IMPORT_FORMATS.names():
        assert name in result.output
