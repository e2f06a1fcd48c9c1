"""Sequential train sets: hard sequences in the train split, soft sets as `SoftSequences`."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from factories import tiny_sequential_dataset

from harness.dataset import Dataset
from harness.errors import DataError
from harness.sequences import (
    HARD,
    LATENT,
    SOFT,
    SOFT_FILE,
    SoftSequences,
    hard_sequences,
    interaction_equivalents,
    sequence_count,
    sequences_frame,
    train_kind,
)
from harness.sizes import sequence_size_figures, sequence_sizes, sequences_tsv


def _dense(sequences: int = 2, length: int = 3, items: int = 30, seed: int = 0) -> SoftSequences:
    logits = np.random.default_rng(seed).normal(size=(sequences, length, items))
    probs = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    return SoftSequences("dense", {"probs": probs})


def _tucker(sequences: int = 4, length: int = 5, items: int = 30) -> SoftSequences:
    rng = np.random.default_rng(1)
    tensors = {
        "core": rng.normal(size=(2, 3, 6)),
        "users": rng.normal(size=(sequences, 2)),
        "positions": rng.normal(size=(length, 3)),
        "items": rng.normal(size=(items, 6)),
    }
    return SoftSequences("tucker", tensors, frozen=("items",))


def _latent(sequences: int = 3, length: int = 4, items: int = 30) -> SoftSequences:
    rng = np.random.default_rng(2)
    tensors = {
        "latent": rng.normal(size=(sequences, length, 5)),
        "decoder": rng.normal(size=(5, items)),
    }
    return SoftSequences(LATENT, tensors)


def test_hard_sequences_keep_row_order_per_group():
    train = sequences_frame([[5, 1, 9], [2], [7, 7]], np.array([3, 0, 8]))
    data = tiny_sequential_dataset().with_train(train, variant="hand")
    ids, sequences = hard_sequences(data)
    assert ids.tolist() == [3, 0, 8]
    assert [s.tolist() for s in sequences] == [[5, 1, 9], [2], [7, 7]]
    assert interaction_equivalents(data) == 6 and sequence_count(data) == 3
    assert train_kind(data) == HARD
    assert sequences_tsv(data) == "sequence_id\titems\n3\t5 1 9\n0\t2\n8\t7 7\n"


def test_original_train_sequences_are_the_histories():
    data = tiny_sequential_dataset()
    ids, sequences = hard_sequences(data)
    history = data.history_of()
    assert all(history[int(u)] == s.tolist() for u, s in zip(ids, sequences, strict=True))


def test_tucker_probs_are_the_softmax_of_the_product():
    soft = _tucker()
    t = soft.tensors
    logits = np.einsum("ijk,ai,bj,ck->abc", t["core"], t["users"], t["positions"], t["items"])
    expected = np.exp(logits) / np.exp(logits).sum(axis=-1, keepdims=True)
    np.testing.assert_allclose(soft.probs(), expected, rtol=1e-5, atol=1e-7)
    assert soft.shape == (4, 5, 30) and soft.interaction_equivalents == 20
    assert soft.stored_bytes() == 4 * (2 * 3 * 6 + 4 * 2 + 5 * 3)  # float32, items frozen
    assert soft.stored_bytes(with_frozen=True) == soft.stored_bytes() + 4 * 30 * 6
    assert soft.dense_bytes() == 4 * 5 * 30 * 4


def test_latent_probs_by_hand():
    # one sequence of two positions over three items, d = 2: logits = latent @ decoder
    latent = np.array([[[1.0, 0.0], [0.5, -1.0]]])
    decoder = np.array([[0.0, 1.0, 2.0], [3.0, 0.0, -1.0]])
    soft = SoftSequences("latent", {"latent": latent, "decoder": decoder})
    # position 0: logits (0, 1, 2); position 1: (0.5*0 - 3, 0.5 - 0, 1 + 1) = (-3, 0.5, 2)
    e = np.e
    first = np.array([1.0, e, e**2]) / (1 + e + e**2)
    second = np.array([e**-3, e**0.5, e**2]) / (e**-3 + e**0.5 + e**2)
    probs = soft.probs()
    assert probs.dtype == np.float32 and probs.shape == (1, 2, 3)
    np.testing.assert_allclose(probs[0, 0], first, rtol=1e-6)
    np.testing.assert_allclose(probs[0, 1], second, rtol=1e-6)
    assert soft.shape == (1, 2, 3) and soft.interaction_equivalents == 2
    assert soft.stored_bytes() == 4 * (1 * 2 * 2 + 2 * 3) and soft.dense_bytes() == 4 * 2 * 3


@pytest.mark.parametrize(
    ("latent", "decoder"),
    [((1, 2, 3), (2, 5)), ((2, 3), (3, 5)), ((1, 2, 3), (3, 5, 1))],
)
def test_latent_shapes_that_do_not_chain_are_refused(latent, decoder):
    with pytest.raises(DataError, match=r"latent is \[S, L, d\] and decoder \[d, items\]"):
        SoftSequences("latent", {"latent": np.ones(latent), "decoder": np.ones(decoder)})


@pytest.mark.parametrize("make", [_dense, _tucker, _latent])
def test_soft_set_saves_loads_and_keeps_its_fingerprint(tmp_path, make):
    original = tiny_sequential_dataset()
    soft = make()
    data = original.with_train(original.split("train").iloc[0:0], variant="soft", soft=soft)
    data.validate()
    assert (
        train_kind(data) == SOFT and interaction_equivalents(data) == soft.interaction_equivalents
    )
    folder = data.save(tmp_path / "set")
    assert (folder / SOFT_FILE).is_file()
    loaded = Dataset.load(folder)
    assert loaded.soft is not None and loaded.soft.form == soft.form
    assert loaded.soft.frozen == soft.frozen
    np.testing.assert_array_equal(loaded.soft.probs(), soft.probs())
    assert loaded.fingerprint() == data.fingerprint() != original.fingerprint()
    nudged = {k: v.copy() for k, v in soft.tensors.items()}
    first = next(iter(nudged))
    nudged[first].flat[0] += 1e-3
    moved = data.with_train(
        data.split("train"), variant="soft", soft=SoftSequences(soft.form, nudged, soft.frozen)
    )
    assert moved.fingerprint() != data.fingerprint()


def test_latent_sequence_size_figures():
    original = tiny_sequential_dataset()
    soft_set = original.with_train(original.split("train").iloc[0:0], variant="s", soft=_latent())
    full = sequence_sizes(original)
    figures = sequence_size_figures(sequence_sizes(soft_set), full)
    assert figures["interactions"] == 12 and figures["sequences"] == 3
    assert figures["ratio_overall"] == pytest.approx(12 / full.interactions)
    assert figures["stored_kb"] == pytest.approx(4 * (3 * 4 * 5 + 5 * 30) / 1024)
    assert figures["frozen_kb"] == 0
    assert figures["dense_kb"] == pytest.approx(3 * 4 * 30 * 4 / 1024)


def test_sequence_size_figures():
    original = tiny_sequential_dataset()
    soft_set = original.with_train(original.split("train").iloc[0:0], variant="s", soft=_tucker())
    full = sequence_sizes(original)
    assert full.interactions == (original.interactions["split"] == "train").sum()
    figures = sequence_size_figures(sequence_sizes(soft_set), full)
    assert figures["ratio_overall"] == pytest.approx(20 / full.interactions)
    assert figures["sequences"] == 4 and figures["interactions"] == 20
    assert figures["frozen_kb"] == pytest.approx(4 * 30 * 6 / 1024)
    assert figures["ratio_dense"] == pytest.approx(4 * 5 * 30 * 4 / full.stored_bytes)


@pytest.mark.parametrize(
    ("form", "tensors", "message"),
    [
        ("dense", {"probs": np.full((1, 2, 3), 0.5)}, "sum to 1"),
        ("dense", {"probs": np.array([[[1.5, -0.5]]])}, "negative"),
        ("dense", {"probs": np.full((2, 3), 0.5)}, "[S, L, items]"),
        ("dense", {"probs": np.full((1, 1, 2), np.nan)}, "NaN"),
        ("sparse", {"probs": np.ones((1, 1, 1))}, "unknown form"),
        (
            "tucker",
            {
                "core": np.ones((2, 2, 2)),
                "users": np.ones((1, 3)),
                "positions": np.ones((1, 2)),
                "items": np.ones((4, 2)),
            },
            "do not chain",
        ),  # fmt: skip
    ],
)
def test_bad_soft_sequences_are_refused(form, tensors, message):
    with pytest.raises(DataError, match=message.replace("[", r"\[").replace("]", r"\]")):
        SoftSequences(form, tensors)


def test_soft_set_over_other_items_fails_validation():
    original = tiny_sequential_dataset()
    data = original.with_train(original.split("train").iloc[0:0], variant="s", soft=_dense(items=7))
    with pytest.raises(DataError, match="7 items"):
        data.validate()


def test_unreadable_soft_file_names_it(tmp_path):
    original = tiny_sequential_dataset()
    data = original.with_train(
        pd.DataFrame(original.split("train").iloc[0:0]), variant="s", soft=_dense()
    )
    folder = data.save(tmp_path / "set")
    (folder / SOFT_FILE).write_bytes(b"not safetensors")
    with pytest.raises(DataError, match=SOFT_FILE):
        Dataset.load(folder)


@pytest.mark.parametrize(
    ("frozen", "what"),
    [("5", "int"), ("items", "not JSON"), ('"items"', "str"), ("{}", "dict"), ("[1]", "list")],
)
def test_frozen_header_must_be_a_json_list_of_names(tmp_path, frozen, what):
    from safetensors.numpy import save_file

    soft = _tucker()
    path = tmp_path / SOFT_FILE
    save_file(dict(soft.tensors), str(path), metadata={"form": "tucker", "frozen": frozen})
    with pytest.raises(DataError, match="'frozen' must be a JSON list of tensor names") as info:
        SoftSequences.load(tmp_path)
    assert info.value.file == str(path)
    # the same file with a good header loads, its frozen names kept
    save_file(dict(soft.tensors), str(path), metadata={"form": "tucker", "frozen": '["items"]'})
    assert SoftSequences.load(tmp_path).frozen == ("items",)


@pytest.mark.parametrize("meta", ["5", "not json", "[]"])
def test_meta_header_must_be_a_json_object(tmp_path, meta):
    from safetensors.numpy import save_file

    save_file(dict(_dense().tensors), str(tmp_path / SOFT_FILE), metadata={"meta": meta})
    with pytest.raises(DataError, match="'meta' must be a JSON object"):
        SoftSequences.load(tmp_path)
