"""Submitted train sets for a sequential original: the three forms (hard TSV, soft
safetensors, a Parquet dataset folder), each rule refused with its message, and one entry
end to end through `validate_submission`.

The original is `factories.tiny_sequential_dataset()` (40 users, 30 items); user 0's train
sequence ends in item 0, its dev target is item 1 and its test target item 2; user 1's dev
target 14 is also in its own train sequence (a re-consumption the original shows).
"""

from __future__ import annotations

import json
import pickle
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from factories import tiny_sequential_dataset
from safetensors.numpy import save_file

from harness.sequences import SoftSequences, hard_sequences, sequences_frame
from leaderboard.submission import SubmissionRejected, validate_submission
from leaderboard.submission.sequential import (
    BUDGET_LENGTH,
    LEAK_CONTEXT,
    check_sequential_set,
    evaluation_steps,
    read_sequential,
)

ORIGINAL = tiny_sequential_dataset()
SYNTHETIC = 1000  # no user of the original
MANIFEST = {
    "method": "my-sequences",
    "version": "1.0",
    "authors": ["A. Author"],
    "paper_url": "https://example.org/paper",
    "params": {},
    "dataset": "tiny-seq",
    "budget": 6,
    "condensed_set": "condensed",
}


def _write_tsv(folder: Path, rows) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["sequence_id\titems"] + [f"{s}\t{' '.join(map(str, items))}" for s, items in rows]
    (folder / "sequences.tsv").write_text("\n".join(lines) + "\n")
    return folder


def _write_soft(folder: Path, tensors: dict, form: str | None = None, **header: str) -> Path:
    """`header`: further safetensors header entries (``frozen``, ``meta``), as text."""
    folder.mkdir(parents=True, exist_ok=True)
    metadata = ({"form": form} if form else {}) | header
    save_file(
        {k: np.asarray(v) for k, v in tensors.items()},
        str(folder / "soft.safetensors"),
        metadata=metadata or None,
    )
    return folder


def _tucker_tensors(sequences: int = 3, length: int = 5, seed: int = 1) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    shapes = {
        "core": (2, 3, 4),
        "users": (sequences, 2),
        "positions": (length, 3),
        "items": (30, 4),
    }
    return {name: rng.normal(size=shape).astype(np.float32) for name, shape in shapes.items()}


def _check(folder: Path, budget: str = "6"):
    return check_sequential_set(folder, "condensed", ORIGINAL, budget=budget, method="mine")


def _dense(sequences: int, length: int, items: int = 30, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.dirichlet(np.ones(items), size=(sequences, length)).astype(np.float32)


# ---- valid sets ---------------------------------------------------------------------------


def test_hard_tsv_becomes_the_train_set_in_order(tmp_path):
    own = ORIGINAL.history_of()[3]
    folder = _write_tsv(tmp_path / "c", [(3, own), (SYNTHETIC, [4, 5, 6, 4])])
    valid = _check(folder)
    ids, sequences = hard_sequences(valid)
    assert ids.tolist() == [3, SYNTHETIC]
    assert [s.tolist() for s in sequences] == [list(own), [4, 5, 6, 4]]
    train = valid.split("train")
    assert (train["user_id"] == train["group_id"]).all() and (train["label"] == 1).all()
    assert valid.history_of()[SYNTHETIC] == [4, 5, 6, 4]  # a synthetic id's history: itself
    assert valid.history_of()[3] == ORIGINAL.history_of()[3]
    for split in ("dev", "test"):
        pd.testing.assert_frame_equal(valid.split(split), ORIGINAL.split(split))
    assert valid.soft is None
    assert valid.meta["variant"] == "submission:mine" and valid.meta["submission"] == "mine"


def test_every_users_own_train_sequence_passes_at_all_users(tmp_path):
    """The original's train set itself (re-consumed targets included) is no leak."""
    history = ORIGINAL.history_of()
    folder = _write_tsv(tmp_path / "c", sorted(history.items()))
    valid = _check(folder, budget="100%")
    ids, sequences = hard_sequences(valid)
    assert ids.tolist() == sorted(history)
    assert [s.tolist() for s in sequences] == [list(history[u]) for u in sorted(history)]


def test_dense_soft_set_keeps_its_probabilities(tmp_path):
    probs = _dense(2, 5)
    valid = _check(_write_soft(tmp_path / "c", {"probs": probs}, form="dense"))
    assert valid.soft is not None and valid.soft.form == "dense"
    np.testing.assert_array_equal(valid.soft.probs(), probs)
    assert valid.split("train").empty
    pd.testing.assert_frame_equal(valid.split("test"), ORIGINAL.split("test"))


def test_tucker_soft_set_without_form_header_gives_softmax_of_the_product(tmp_path):
    rng = np.random.default_rng(1)
    core, users = rng.normal(size=(2, 3, 4)), rng.normal(size=(3, 2))
    positions, items = rng.normal(size=(5, 3)), rng.normal(size=(30, 4))
    tensors = {"core": core, "users": users, "positions": positions, "items": items}
    valid = _check(
        _write_soft(tmp_path / "c", {k: v.astype(np.float32) for k, v in tensors.items()})
    )
    assert valid.soft.form == "tucker" and valid.soft.shape == (3, 5, 30)
    f32 = {k: v.astype(np.float32).astype(np.float64) for k, v in tensors.items()}
    logits = np.zeros((3, 5, 30))
    for a in range(3):  # P[a, b, c] = softmax_c(sum_ijk G[i,j,k] U[a,i] T[b,j] V[c,k])
        for b in range(5):
            mixed = np.tensordot(
                np.tensordot(f32["users"][a], f32["core"], 1), f32["positions"][b], (0, 0)
            )
            logits[a, b] = f32["items"] @ mixed
    expected = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(valid.soft.probs(), expected, rtol=1e-4, atol=1e-6)


def test_latent_soft_set_without_form_header_gives_softmax_of_latent_times_decoder(tmp_path):
    rng = np.random.default_rng(3)
    latent = rng.normal(size=(4, 5, 2)).astype(np.float32)
    decoder = rng.normal(size=(2, 30)).astype(np.float32)
    valid = _check(_write_soft(tmp_path / "c", {"latent": latent, "decoder": decoder}))
    assert valid.soft.form == "latent" and valid.soft.shape == (4, 5, 30)
    assert valid.split("train").empty and valid.soft.interaction_equivalents == 20
    logits = np.einsum("sld,dn->sln", latent.astype(np.float64), decoder.astype(np.float64))
    expected = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(valid.soft.probs(), expected, rtol=1e-5, atol=1e-7)
    # a latent set learned every tensor: neither may be declared frozen
    _refused(
        _write_soft(tmp_path / "f", {"latent": latent, "decoder": decoder}, frozen='["decoder"]'),
        "'frozen' names 'decoder'",
    )
    _refused(
        _write_soft(tmp_path / "w", {"latent": latent, "decoder": decoder[:, :7]}),
        "range over 7 items; the original has 30",
    )


def test_parquet_folders_hard_and_soft(tmp_path):
    train = sequences_frame([[7, 8, 9], [1, 2]], np.array([5, SYNTHETIC]))
    hard = ORIGINAL.with_train(
        train, variant="mine", histories=pd.DataFrame({"user_id": [SYNTHETIC], "history": [[1, 2]]})
    )
    hard.save(tmp_path / "hard")
    ids, sequences = hard_sequences(_check(tmp_path / "hard"))
    assert ids.tolist() == [5, SYNTHETIC] and [s.tolist() for s in sequences] == [[7, 8, 9], [1, 2]]

    probs = _dense(3, 4, seed=2)
    soft = ORIGINAL.with_train(
        sequences_frame([], np.zeros(0)),
        variant="mine",
        soft=SoftSequences("dense", {"probs": probs}),
    )
    soft.save(tmp_path / "soft")
    np.testing.assert_array_equal(_check(tmp_path / "soft").soft.probs(), probs)


# ---- each rule refused ---------------------------------------------------------------------


def _refused(folder: Path, match: str, budget: str = "6") -> SubmissionRejected:
    with pytest.raises(SubmissionRejected, match=match) as info:
        _check(folder, budget)
    return info.value


def test_unknown_item_names_sequence_line_and_position(tmp_path):
    error = _refused(
        _write_tsv(tmp_path / "c", [(SYNTHETIC, [1, 2]), (SYNTHETIC + 1, [3, 30])]),
        "unknown item id 30",
    )
    assert error.file == "condensed/sequences.tsv" and error.where == "line 3, position 1"
    assert "sequence 1001" in error.reason


def test_empty_and_duplicate_sequences(tmp_path):
    error = _refused(_write_tsv(tmp_path / "a", [(SYNTHETIC, [1]), (5, [])]), "sequence 5 is empty")
    assert error.where == "line 3"
    _refused(
        _write_tsv(tmp_path / "b", [(5, [1]), (5, [2])]),
        r"sequence 5 appears twice \(first on line 2\)",
    )
    _refused(_write_tsv(tmp_path / "d", [("x", [1])]), "sequence_id must be an integer")


def test_over_both_budget_limits_is_refused(tmp_path):
    """Within budget k: at most k sequences OR at most k × L interaction-equivalents."""
    assert BUDGET_LENGTH == 50
    rows = [(SYNTHETIC + s, [3] * 43) for s in range(7)]  # 7 sequences, 301 interactions
    _refused(
        _write_tsv(tmp_path / "c", rows),
        r"7 sequences and 301 interaction-equivalents \(hard: its interactions\): over both "
        r"k = 6 sequences and k × L = 6 × 50 = 300 \(budget 6\)",
    )
    # 25% of the 40 train users is k = 10: 11 sequences of 46 = 506 > 500 is over both
    _refused(
        _write_tsv(tmp_path / "p", [(SYNTHETIC + s, [3] * 46) for s in range(11)]),
        r"11 sequences and 506 interaction-equivalents .*k = 10 sequences .* = 500 \(budget 25%\)",
        budget="25%",
    )
    _refused(
        _write_soft(tmp_path / "soft", {"probs": _dense(3, 34)}),
        r"3 sequences and 102 interaction-equivalents \(soft: S × L = 3 × 34\): over both "
        r"k = 2 sequences and k × L = 2 × 50 = 100",
        budget="2",
    )


def test_over_one_budget_limit_within_the_other_passes(tmp_path):
    # more sequences than k, but at most k × L interactions (the `temporal` baseline's shape)
    many_short = [(SYNTHETIC + s, [3] * 42) for s in range(7)]  # 7 > 6 sequences, 294 <= 300
    ids, _ = hard_sequences(_check(_write_tsv(tmp_path / "short", many_short)))
    assert len(ids) == 7
    # k whole sequences holding more than k × L interactions (the `longest-users` shape)
    long = [i % 30 for i in range(51)]
    few_long = [(SYNTHETIC, long), (SYNTHETIC + 1, long)]  # 2 sequences, 102 > 100
    assert (
        sum(len(s) for s in hard_sequences(_check(_write_tsv(tmp_path / "long", few_long), "2"))[1])
        == 102
    )
    # soft: 2 sequences of 60 positions (2 <= k = 2), or 3 of 30 (90 <= 100)
    assert _check(_write_soft(tmp_path / "s1", {"probs": _dense(2, 60)}), "2").soft.shape == (
        2,
        60,
        30,
    )
    assert _check(_write_soft(tmp_path / "s2", {"probs": _dense(3, 30)}), "2").soft.shape == (
        3,
        30,
        30,
    )


def test_a_users_own_dev_or_test_target_under_their_id_is_leakage(tmp_path):
    history = ORIGINAL.history_of()
    assert 2 not in history[0] and 1 not in history[0]
    error = _refused(
        _write_tsv(tmp_path / "t", [(0, [28, 29, 0, 2])]),
        "sequence 0 holds item 2, the test target of user 0",
    )
    assert error.where == "line 2, position 3"
    _refused(_write_tsv(tmp_path / "d", [(0, [0, 1])]), "item 1, the dev target of user 0")
    # the same items under a synthetic id, or a target the user's own train sequence holds, pass
    _check(_write_tsv(tmp_path / "s", [(SYNTHETIC, [28, 29, 0, 2, 1])]))
    assert 14 in history[1]
    _check(_write_tsv(tmp_path / "r", [(1, [12, 13, 14])]))


def _windows(sequence, size: int) -> list[list[int]]:
    items = [int(i) for i in sequence]
    return [items[p : p + size] for p in range(len(items) - size + 1)]


def test_a_users_evaluation_step_under_any_id_is_leakage(tmp_path):
    """User 2's train sequence ends 17, 18, 19; dev 24, test 25. Its dev step is
    [17, 18, 19, 24], its test step [18, 19, 24, 25] (m = 3); no train sequence of the
    original holds either."""
    assert LEAK_CONTEXT == 3
    history = ORIGINAL.history_of()
    assert history[2][-3:] == [17, 18, 19]
    dev, test = (ORIGINAL.split(s) for s in ("dev", "test"))
    assert dev.loc[dev["user_id"] == 2, "item_id"].tolist() == [24]
    assert test.loc[(test["user_id"] == 2) & (test["label"] == 1), "item_id"].tolist() == [25]
    every_window = [w for h in history.values() for w in _windows(h, 4)]
    assert [17, 18, 19, 24] not in every_window and [18, 19, 24, 25] not in every_window

    error = _refused(
        _write_tsv(tmp_path / "dev", [(SYNTHETIC + 1, [3]), (SYNTHETIC, [5, 17, 18, 19, 24, 3])]),
        r"sequence 1000 holds user 2's dev step \(its last 3 context items \[17, 18, 19\], "
        r"then its dev target 24\) at positions 1-4",
    )
    assert error.where == "line 3, position 1"
    # under another user's id (user 3, whose own targets are 9 and 10)
    error = _refused(
        _write_tsv(tmp_path / "test", [(3, [18, 19, 24, 25])]),
        r"sequence 3 holds user 2's test step \(its last 3 context items \[18, 19, 24\], "
        r"then its test target 25\) at positions 0-3",
    )
    assert error.where == "line 2, position 0"
    # the same items not contiguous, or after another context, are no step of user 2
    _check(_write_tsv(tmp_path / "ok", [(SYNTHETIC, [17, 18, 19, 3, 24]), (4, [16, 18, 19, 24])]))


def test_a_step_the_original_train_set_holds_is_no_leakage(tmp_path):
    """User 0's dev step [28, 29, 0, 1] and test step [29, 0, 1, 2] are both in user 3's
    train sequence: the original teaches them itself, so a copy passes."""
    history = ORIGINAL.history_of()
    assert history[0][-3:] == [28, 29, 0]
    assert [28, 29, 0, 1] in _windows(history[3], 4) and [29, 0, 1, 2] in _windows(history[3], 4)
    valid = _check(_write_tsv(tmp_path / "c", [(SYNTHETIC, [27, 28, 29, 0, 1, 2])]))
    assert [s.tolist() for s in hard_sequences(valid)[1]] == [[27, 28, 29, 0, 1, 2]]


def test_evaluation_steps_follow_dev_then_test():
    steps = evaluation_steps(ORIGINAL, 3)
    assert steps[(17, 18, 19, 24)] == [(2, "dev")] and steps[(18, 19, 24, 25)] == [(2, "test")]
    assert (2, "dev") in evaluation_steps(ORIGINAL, 1)[(19, 24)]  # m = 1: [last item, target]
    assert all(len(key) == 3 for key in evaluation_steps(ORIGINAL, 2))


def test_wrong_number_of_items(tmp_path):
    error = _refused(
        _write_soft(tmp_path / "c", {"probs": _dense(2, 5, items=29)}),
        "range over 29 items; the original has 30",
    )
    assert error.file == "condensed/soft.safetensors"


def test_nan_tensor_names_its_index(tmp_path):
    probs = _dense(2, 5)
    probs[1, 2, 7] = np.nan
    error = _refused(
        _write_soft(tmp_path / "c", {"probs": probs}), "tensor 'probs' holds NaN or infinity"
    )
    assert error.where == "index [1, 2, 7]"


def test_dense_position_must_sum_to_one(tmp_path):
    probs = _dense(2, 5)
    probs[0, 3] *= 2
    error = _refused(_write_soft(tmp_path / "c", {"probs": probs}), "probs sums to 2;")
    assert error.where == "sequence 0, position 3"


def test_only_the_tucker_item_table_may_be_declared_frozen(tmp_path):
    valid = _check(_write_soft(tmp_path / "ok", _tucker_tensors(), frozen='["items"]'))
    assert valid.soft.frozen == ("items",)
    assert valid.soft.stored_bytes() == 4 * (2 * 3 * 4 + 3 * 2 + 5 * 3)  # without V [30, 4]
    error = _refused(
        _write_soft(tmp_path / "dense", {"probs": _dense(2, 5)}, frozen='["probs"]'),
        "'frozen' names 'probs': a submitted soft set may declare only the tucker 'items' "
        "tensor frozen",
    )
    assert error.file == "condensed/soft.safetensors"
    _refused(
        _write_soft(tmp_path / "core", _tucker_tensors(), frozen='["items", "core"]'),
        "'frozen' names 'core'",
    )
    _refused(  # the Parquet form reads its soft set the same way
        _write_soft(tmp_path / "none", {"probs": _dense(2, 5)}, frozen='["users"]'),
        "'frozen' names 'users'",
    )


@pytest.mark.parametrize("frozen", ["5", "items", '"items"', "{}", '["items", 3]'])
def test_frozen_header_must_be_a_json_list_of_names(tmp_path, frozen):
    error = _refused(
        _write_soft(tmp_path / "c", _tucker_tensors(), frozen=frozen),
        "the header's 'frozen' must be a JSON list of tensor names",
    )
    assert error.file == "condensed/soft.safetensors"


def test_frozen_claim_in_a_parquet_folder_is_refused(tmp_path):
    soft = SoftSequences("dense", {"probs": _dense(2, 5)}, frozen=("probs",))
    ORIGINAL.with_train(sequences_frame([], np.zeros(0)), variant="m", soft=soft).save(
        tmp_path / "p"
    )
    error = _refused(tmp_path / "p", "'frozen' names 'probs'")
    assert error.file == "condensed/soft.safetensors"


def test_tucker_shapes_must_chain(tmp_path):
    tensors = {
        "core": np.ones((2, 3, 4)),
        "users": np.ones((3, 2)),
        "positions": np.ones((5, 3)),
        "items": np.ones((30, 5)),
    }
    _refused(
        _write_soft(tmp_path / "c", {k: v.astype(np.float32) for k, v in tensors.items()}),
        "shapes do not chain",
    )


@pytest.mark.parametrize("protocol", [0, 4])
def test_pickle_posing_as_safetensors_is_never_unpickled(tmp_path, protocol):
    folder = tmp_path / "c"
    folder.mkdir()
    (folder / "soft.safetensors").write_bytes(pickle.dumps({"probs": [[1.0]]}, protocol=protocol))
    with pytest.raises(SubmissionRejected, match="pickle data, not safetensors"):
        read_sequential(folder, "condensed")


def test_folder_forms_are_exclusive(tmp_path):
    folder = _write_soft(_write_tsv(tmp_path / "both", [(SYNTHETIC, [1])]), {"probs": _dense(1, 2)})
    _refused(folder, "a train set is hard or soft, not both")
    extra = _write_tsv(tmp_path / "extra", [(SYNTHETIC, [1])])
    (extra / "notes.txt").write_text("hi")
    _refused(extra, "unexpected file 'notes.txt'")
    (tmp_path / "none").mkdir()
    _refused(tmp_path / "none", "neither a Parquet dataset")
    mixed = ORIGINAL.with_train(
        sequences_frame([[1, 2]], np.array([5])),
        variant="m",
        soft=SoftSequences("dense", {"probs": _dense(1, 2)}),
    )
    mixed.save(tmp_path / "mixed")
    _refused(tmp_path / "mixed", "2 train rows and soft.safetensors")


# ---- end to end ----------------------------------------------------------------------------


def _load(name: str):
    assert name == "tiny-seq"
    return ORIGINAL


def _entry(tmp_path: Path) -> Path:
    root = tmp_path / "entry"
    root.mkdir(parents=True)
    (root / "manifest.json").write_text(json.dumps(MANIFEST))
    return root


def test_validate_submission_hard_and_soft_entries(tmp_path):
    hard = _entry(tmp_path / "h")
    _write_tsv(hard / "condensed", [(3, [1, 2, 3]), (SYNTHETIC, [4, 5])])
    valid = validate_submission(hard, load_original_dataset=_load)
    assert valid.kind == "condensed_set"
    summary = valid.summary()
    assert (summary["train_kind"], summary["sequences"], summary["interaction_equivalents"]) == (
        "hard",
        2,
        5,
    )

    soft = _entry(tmp_path / "s")
    _write_soft(soft / "condensed", {"probs": _dense(4, 3)})
    summary = validate_submission(soft, load_original_dataset=_load).summary()
    assert (summary["train_kind"], summary["sequences"], summary["interaction_equivalents"]) == (
        "soft",
        4,
        12,
    )
    assert summary["files"] == ["condensed/soft.safetensors", "manifest.json"]


def test_validate_submission_refuses_pickle_and_leakage(tmp_path):
    root = _entry(tmp_path / "p")
    (root / "condensed").mkdir()
    (root / "condensed" / "soft.safetensors").write_bytes(pickle.dumps([1.0], protocol=4))
    with pytest.raises(SubmissionRejected, match="pickle files are not accepted"):
        validate_submission(root, load_original_dataset=_load)
    root = _entry(tmp_path / "l")
    _write_tsv(root / "condensed", [(0, [2])])
    with pytest.raises(
        SubmissionRejected, match="condensed/sequences.tsv \\(line 2, position 0\\)"
    ):
        validate_submission(root, load_original_dataset=_load)


# ---- the real original ---------------------------------------------------------------------


@pytest.mark.slow
def test_the_real_originals_train_set_passes_the_leakage_rule(mirror):
    """ml-100k-seq's own train sequences, submitted as they are, pass at 100%. One step of
    another user is among them at m = 3 (user 48's test step, in user 806's sequence; none
    at m = 4): the exemption for steps the original holds is what lets it pass."""
    from harness.data import load_dataset
    from leaderboard.submission.sequential import SubmittedSequences, check_sequential

    original = load_dataset("ml-100k-seq", mirror=mirror)
    ids, sequences = hard_sequences(original)
    steps = evaluation_steps(original, LEAK_CONTEXT)
    held = {
        (int(ids[s]), owner)
        for s, sequence in enumerate(sequences)
        for window in _windows(sequence, LEAK_CONTEXT + 1)
        for owner in steps.get(tuple(window), ())
    }
    assert held == {(806, (48, "test"))}
    longer = evaluation_steps(original, LEAK_CONTEXT + 1)
    assert not any(tuple(w) in longer for s in sequences for w in _windows(s, LEAK_CONTEXT + 2))
    places = tuple(f"line {i + 2}" for i in range(len(ids)))
    submitted = SubmittedSequences("sequences.tsv", ids, tuple(sequences), places)
    valid = check_sequential(submitted, original, budget="100%", method="original")
    assert len(valid.split("train")) == len(original.split("train"))
