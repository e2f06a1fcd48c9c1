"""What reaches the board is what was submitted: crafted entries for each hole a hostile
submitter found (issue 16): manifest caps and YAML aliases, unprintable names, budget labels,
token ids, integer cells, hard links and text pickles."""

from __future__ import annotations

import json
import os
import pickle
from pathlib import Path

import pytest
from leaderboard_factory import small_dataset

from leaderboard.submission import SubmissionRejected, validate_submission
from leaderboard.submission.manifest_text import MAX_MANIFEST_BYTES, MAX_MANIFEST_DEPTH

MANIFEST = {
    "method": "my-condenser",
    "version": "1.0",
    "authors": ["A. Author"],
    "paper_url": "https://example.org/paper",
    "params": {},
    "dataset": "tiny",
    "budget": 2,
    "condensed_set": "condensed",
}
TRAIN = "user_id\titem_id\tlabel\n0\t0\t1\n1\t2\t1\n"


def _entry(tmp_path: Path, manifest: str | dict = MANIFEST, name="manifest.json", **files) -> Path:
    """An entry folder: the manifest (a dict as JSON, or text as it is) and condensed files
    (``items__tsv="..."`` is condensed/items.tsv; train.tsv is `TRAIN` unless given)."""
    root = tmp_path / "entry"
    (root / "condensed").mkdir(parents=True)
    text = manifest if isinstance(manifest, str) else json.dumps(manifest)
    (root / name).write_text(text, encoding="utf-8")
    files = {"train.tsv": TRAIN} | {key.replace("__", "."): text for key, text in files.items()}
    for file_name, content in files.items():
        (root / "condensed" / file_name).write_text(content, encoding="utf-8")
    return root


def _validate(root: Path):
    return validate_submission(root, load_original_dataset=lambda name: small_dataset())


def _refused(root: Path, match: str) -> SubmissionRejected:
    with pytest.raises(SubmissionRejected, match=match) as info:
        _validate(root)
    assert "\n" not in str(info.value)
    return info.value


# ---- 1. the manifest file: size, nesting, YAML anchors and aliases ---------------------------

BILLION_LAUGHS = """\
method: my-condenser
version: "1.0"
authors: [A. Author]
paper_url: https://example.org/paper
dataset: tiny
budget: 2
condensed_set: condensed
params:
  a: &a ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]
  b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a]
  c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b]
  d: [*c, *c, *c, *c, *c, *c, *c, *c, *c]
"""


@pytest.mark.parametrize("name", ["manifest.yaml", "manifest.yml"])
def test_yaml_anchors_and_aliases_are_refused(tmp_path, name):
    _refused(_entry(tmp_path, BILLION_LAUGHS, name=name), rf"{name}: YAML anchors and aliases")


def test_a_yaml_merge_key_or_a_lone_anchor_is_refused(tmp_path):
    merge = BILLION_LAUGHS.split("params:")[0] + "params: &p {x: 1}\nother: {<<: *p}\n"
    _refused(_entry(tmp_path / "merge", merge, name="manifest.yaml"), "anchors and aliases")
    lone = BILLION_LAUGHS.split("params:")[0] + "params: &p {x: 1}\n"
    _refused(_entry(tmp_path / "lone", lone, name="manifest.yaml"), "anchors and aliases")


@pytest.mark.parametrize("name", ["manifest.json", "manifest.yaml"])
def test_a_manifest_over_the_size_cap_is_refused_before_parsing(tmp_path, name):
    big = dict(MANIFEST, params={"padding": "x" * MAX_MANIFEST_BYTES})
    error = _refused(_entry(tmp_path, big, name=name), rf"{name}: manifest is \d+ bytes")
    assert str(MAX_MANIFEST_BYTES) in str(error)
    # not even parsed: a broken file over the cap gets the size message, not a parse error
    _refused(_entry(tmp_path / "broken", "{" * (MAX_MANIFEST_BYTES + 1), name=name), "bytes")


def _nested(depth: int) -> dict:
    value: object = 1
    for _ in range(depth - 1):  # the manifest itself is level 1, params level 2
        value = {"x": value}
    return dict(MANIFEST, params=value)


@pytest.mark.parametrize("name", ["manifest.json", "manifest.yaml"])
def test_nesting_over_the_depth_cap_is_refused(tmp_path, name):
    assert _validate(_entry(tmp_path / "ok", _nested(MAX_MANIFEST_DEPTH), name=name))
    _refused(
        _entry(tmp_path / "deep", _nested(MAX_MANIFEST_DEPTH + 1), name=name),
        f"nests deeper than {MAX_MANIFEST_DEPTH}",
    )
    # far deeper than Python's recursion limit: refused, not a RecursionError
    text = '{"params": ' + "[" * 5000 + "]" * 5000 + "}"
    _refused(_entry(tmp_path / "very", text, name=name), "nests deeper")


def test_brackets_inside_json_strings_do_not_count_as_nesting(tmp_path):
    manifest = dict(MANIFEST, params={"note": "[[[[{{{{" * 10 + '\\"[['})
    assert _validate(_entry(tmp_path, manifest)).manifest.params["note"].startswith("[[[[")


@pytest.mark.parametrize(
    ("text", "name"),
    [
        ('{"params": {"alpha": NaN}}', "manifest.json"),
        ('{"params": {"alpha": -Infinity}}', "manifest.json"),
        ("params: {alpha: .nan}", "manifest.yaml"),
        ("params: {alpha: -.inf}", "manifest.yaml"),
    ],
)
def test_numbers_that_are_not_finite_are_refused(tmp_path, text, name):
    _refused(_entry(tmp_path, text, name=name), f"{name}: .*(finite|NaN|Infinity)")


# ---- 7. unprintable characters in any manifest field -------------------------------------------

HIDDEN = ["\x1b[31m", "\x9b2J", "\x07", "a\nb", "\r", "\u202e", "\u2066", "\u200b", "\ufeff"]


@pytest.mark.parametrize("char", HIDDEN)
@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("version", "1.0{}"),
        ("authors", ["A. Author{}"]),
        ("paper_url", "https://example.org/{}"),
        ("params", {"alpha{}": 1}),
        ("params", {"alpha": ["x{}"]}),
        ("dataset", "tiny{}"),
        ("condenser_class", "My{}"),
        ("method", "my{}condenser"),
    ],
)
def test_unprintable_characters_in_any_field_are_refused(tmp_path, field, value, char):
    filled = json.loads(json.dumps(value).replace("{}", json.dumps(char)[1:-1]))
    error = _refused(_entry(tmp_path, dict(MANIFEST, **{field: filled})), "manifest.json: field")
    assert f"field '{field}" in str(error) and "U+" in str(error)


def test_printable_unicode_in_names_passes(tmp_path):
    manifest = dict(MANIFEST, authors=["Zoë Ångström", "李 明"], params={"τ": "naïve"})
    assert _validate(_entry(tmp_path, manifest)).manifest.authors[0] == "Zoë Ångström"


# ---- 6. one budget, one label ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "label"),
    [("00002", "2"), (" 2", "2"), ("2 ", "2"), (2, "2"), ("50.0%", "50%"), ("050%", "50%"),
     ("62.50%", "62.5%"), ("50%", "50%")],
)  # fmt: skip
def test_the_manifest_budget_is_kept_in_its_canonical_form(tmp_path, written, label):
    valid = _validate(_entry(tmp_path, dict(MANIFEST, budget=written)))
    assert valid.manifest.budget == label and valid.summary()["budget"] == label


# ---- 4. ids and labels in TSV cells are plain digits --------------------------------------

NOT_INTEGERS = ["40.9", "0.5", "1e0", "+3", " 7", "7 ", "0x10", "NaN", "", "-1", "٣", "1_0", "²"]


@pytest.mark.parametrize("cell", NOT_INTEGERS)
@pytest.mark.parametrize("column", ["user_id", "item_id", "label"])
def test_train_cells_that_are_not_plain_integers_are_refused(tmp_path, column, cell):
    row = {"user_id": "1", "item_id": "2", "label": "1"} | {column: cell}
    train = TRAIN + "\t".join(row.values()) + "\n"
    error = _refused(_entry(tmp_path, train__tsv=train), "must be an integer in plain digits")
    assert (error.file, error.where) == ("condensed/train.tsv", "line 4")
    assert repr(cell) in error.reason


@pytest.mark.parametrize("cell", NOT_INTEGERS)
def test_histories_and_items_cells_that_are_not_plain_integers_are_refused(tmp_path, cell):
    histories = "user_id\thistory\n0\t0 1\n"
    files = {"histories__tsv": histories + f"{cell or '1x'}\t1 2\n"}
    error = _refused(
        _entry(tmp_path / "user", **files), "user_id must be an integer in plain digits"
    )
    assert (error.file, error.where) == ("condensed/histories.tsv", "line 3")
    if cell:  # an empty cell inside a list is two spaces in a row
        files = {"histories__tsv": histories + f"1\t1 {cell} 2\n"}
        error = _refused(
            _entry(tmp_path / "list", **files), "history must be integers in plain digits"
        )
        assert (error.file, error.where) == ("condensed/histories.tsv", "line 3")
    items = "item_id\ttitle\n" + "".join(f"{i}\t{100 + i} 5\n" for i in range(12))
    bad_items = items.replace("3\t103 5", f"3\t103 {cell or ''} 5")
    error = _refused(
        _entry(tmp_path / "items", items__tsv=bad_items), "title must be integers in plain digits"
    )
    assert (error.file, error.where) == ("condensed/items.tsv", "line 5")


def test_a_sequence_tsv_with_a_cast_id_is_refused(tmp_path):
    from factories import tiny_sequential_dataset

    from leaderboard.submission.sequential import check_sequential_set

    folder = tmp_path / "c"
    folder.mkdir()
    for text, column in (("1000.0\t1 2\n", "sequence_id"), ("1000\t1 2.0\n", "items")):
        (folder / "sequences.tsv").write_text("sequence_id\titems\n" + text)
        with pytest.raises(
            SubmissionRejected, match=f"{column} must be (an )?integers? in plain"
        ) as info:
            check_sequential_set(folder, "c", tiny_sequential_dataset(), budget="6", method="mine")
        assert (info.value.file, info.value.where) == ("c/sequences.tsv", "line 2")


def test_plain_integers_with_crlf_lines_pass(tmp_path):
    train = TRAIN.replace("\n", "\r\n")
    assert _validate(_entry(tmp_path, train__tsv=train)).summary()["train_rows"] == 2


# ---- 2. token ids are in the original's vocabulary ----------------------------------------


def _items(title_of) -> str:
    return "item_id\ttitle\n" + "".join(f"{i}\t{title_of(i)}\n" for i in range(12))


@pytest.mark.parametrize("token", ["30522", "99999999", str(2**62)])
def test_token_ids_past_the_vocabulary_are_refused(tmp_path, token):
    items = _items(lambda i: f"101 {token}" if i == 4 else "101 102")
    error = _refused(_entry(tmp_path, items__tsv=items), "not in the original's vocabulary")
    assert (error.file, error.where) == ("condensed:items", "row 4, position 1")
    assert token in error.reason and "30521" in error.reason


def test_token_ids_of_a_parquet_set_are_checked_too(tmp_path):
    original = small_dataset()
    items = original.items.assign(title=[[7, -1 if i == 2 else 3] for i in range(12)])
    condensed = original.with_train(original.split("train").head(2), variant="x", items=items)
    root = _entry(tmp_path)
    for path in (root / "condensed").iterdir():
        path.unlink()
    (root / "condensed").rmdir()
    condensed.save(root / "condensed")
    error = _refused(root, "token id -1 of 'title' is not in the original's vocabulary")
    assert error.where == "row 2, position 1"


def test_the_vocabulary_is_the_originals(tmp_path):
    items = _items(lambda i: "0 30521")
    assert _validate(_entry(tmp_path / "edge", items__tsv=items)).condensed.items is not None
    small = small_dataset()
    small.meta["vocab_size"] = 500
    items = _items(lambda i: "499 500")
    with pytest.raises(SubmissionRejected, match=r"token id 500 .*0 to 499"):
        validate_submission(
            _entry(tmp_path / "meta", items__tsv=items), load_original_dataset=lambda n: small
        )


# ---- 5. hard links and headerless (protocol 0 / 1) pickles -------------------------------


def test_a_hard_link_in_a_folder_entry_is_refused(tmp_path):
    outside = tmp_path / "outside.tsv"
    outside.write_text(TRAIN)
    root = _entry(tmp_path)
    (root / "condensed" / "train.tsv").unlink()
    os.link(outside, root / "condensed" / "train.tsv")
    error = _refused(root, "hard links are not accepted")
    assert error.file == "condensed/train.tsv"


class _Shell:
    def __reduce__(self):
        return (os.system, ("echo pwned",))


@pytest.mark.parametrize("protocol", [0, 1])
@pytest.mark.parametrize(
    "payload",
    [_Shell(), {"a": [1, 2.5, "é"]}, list(range(30000)), "x" * 100_000, None],
    ids=["reduce", "dict", "long-list", "long-string", "none"],
)
def test_protocol_0_and_1_pickles_are_refused_by_content(tmp_path, protocol, payload):
    root = _entry(tmp_path)
    (root / "condensed" / "extra.tsv").write_bytes(pickle.dumps(payload, protocol=protocol))
    error = _refused(root, "pickle files are not accepted")
    assert error.file == "condensed/extra.tsv"


def test_ordinary_text_json_yaml_python_and_parquet_files_are_no_pickles(tmp_path):
    from leaderboard.submission.scan import is_headerless_pickle

    original = small_dataset()
    original.save(tmp_path / "parquet")
    texts = {
        "readme.md": "Condensed set of MovieLens. Uses 47 users.\n",
        "notes.txt": "Version 1.0\nA second line. (Really.)\n",
        "config.yaml": "lr: 0.001\nbatch_size: 64\n",
        "numbers.json": json.dumps({"x": [0.5, 1.5], "y": "a.b"}),
        "method.py": "import os.path\n\nx = 1.5\n",
        "items.tsv": "item_id\ttitle\n0\t101 102\n",
        "sequences.tsv": "sequence_id\titems\n1000\t1 2 3\n",
        "long.tsv": "user_id\titem_id\tlabel\n" + "1\t2\t1\n" * 50_000,
    }
    for name, text in texts.items():
        (tmp_path / name).write_text(text)
    for path in [p for p in tmp_path.rglob("*") if p.is_file()]:
        with path.open("rb") as handle:
            assert not is_headerless_pickle(handle, path.stat().st_size), path.name


def test_the_documented_caps_are_the_codes():
    from harness.text import VOCAB_SIZE
    from leaderboard.submission.scan import PICKLE_SNIFF_BYTES

    docs = (Path(__file__).resolve().parents[2] / "docs" / "submitting.md").read_text()
    assert f"**{MAX_MANIFEST_BYTES // 1024} KiB** ({MAX_MANIFEST_BYTES:,} bytes)" in docs
    assert f"at most **{MAX_MANIFEST_DEPTH}** levels" in docs
    assert f"**0 to {VOCAB_SIZE - 1:,}**" in docs
    assert f"first {PICKLE_SNIFF_BYTES // 1024} KiB" in docs
