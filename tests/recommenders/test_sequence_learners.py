"""What every sequential learner guarantees (recommenders/sequence_base.py): causal states,
padding that changes nothing, soft one-hot input equal to hard input, the item table as
input and output, text item vectors, and named option errors. Run for every registered
learner, untrained (eval mode: no dropout)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from harness.errors import ConfigError
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.sequence_settings import SequentialTrainSettings

ITEMS = 12
MAX_LEN = 8


def build(name: str, vectors=None, **settings):
    torch.manual_seed(0)
    learner = SEQUENTIAL_LEARNERS.get(name)
    values = SequentialTrainSettings(**dict(max_len=MAX_LEN, device="cpu", **settings))
    if vectors is None and learner.resolve_settings(values).reads_text:  # sasrec-text
        vectors = np.random.default_rng(1).normal(size=(ITEMS, 6)).astype(np.float32)
    return learner(ITEMS, values, vectors).eval()


def padded(rows: list[list[int]], length: int = MAX_LEN) -> torch.Tensor:
    out = torch.full((len(rows), length), ITEMS)
    for index, row in enumerate(rows):
        out[index, length - len(row) :] = torch.tensor(row)
    return out


@pytest.fixture(params=SEQUENTIAL_LEARNERS.names())
def name(request):
    return request.param


def test_a_state_reads_only_earlier_positions(name):
    model = build(name)
    first = padded([[1, 2, 3, 4, 5, 6, 7, 8], [0, 0, 5, 9, 9, 1]])
    second = first.clone()
    second[:, 5:] = torch.tensor([11, 10, 2])
    with torch.no_grad():
        a, b = model(first, first != ITEMS), model(second, second != ITEMS)
    earlier = (first != ITEMS) & (
        torch.arange(MAX_LEN) < 5
    )  # a padded position's state is never read
    torch.testing.assert_close(a[earlier], b[earlier])
    assert not torch.allclose(a[:, 5:], b[:, 5:])  # later positions do read the change


def test_left_padding_changes_no_state(name):
    model = build(name)
    items = [[4, 1, 7], [2, 9, 9, 3, 5]]
    with torch.no_grad():
        long, short = padded(items, MAX_LEN), padded(items, 5)
        torch.testing.assert_close(
            model(long, long != ITEMS)[:, -1], model(short, short != ITEMS)[:, -1]
        )


def test_one_hot_soft_input_is_hard_input(name):
    model = build(name)
    rows = padded([[1, 2, 3, 4, 5, 6, 7, 8], [3, 3, 11]])
    valid = rows != ITEMS
    one_hot = torch.nn.functional.one_hot(rows, ITEMS + 1)[..., :ITEMS].float()
    with torch.no_grad():
        torch.testing.assert_close(model(one_hot, valid), model(rows, valid))


def test_scores_are_states_times_the_input_table(name):
    model = build(name)
    table = model.item_table()
    assert table.shape == (ITEMS, 32)
    rows = padded([[5]])
    with torch.no_grad():
        vectors = model.embed(rows)
        torch.testing.assert_close(vectors[0, -1], table[5])  # input: the table's row
        assert not vectors[0, :-1].any()  # padding: zero vectors
        state = model(rows, rows != ITEMS)[0, -1]
        torch.testing.assert_close(model.logits(state), table @ state)


def test_text_items_are_frozen_vectors_through_a_learned_projection(name):
    vectors = np.random.default_rng(0).normal(size=(ITEMS, 6)).astype(np.float32)
    model = build(name, vectors, item_input="text")
    expected = model.item_projection(torch.as_tensor(vectors))
    torch.testing.assert_close(model.item_table(), expected)
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "text_vectors" not in trainable and "item_projection.weight" in trainable
    assert "text_vectors" in model.state_dict()  # saved with the model
    with pytest.raises(ConfigError, match="one text vector per item"):
        build(name, vectors[:3], item_input="text")


def test_text_plus_id_adds_an_item_id_embedding_to_the_projected_text(name):
    vectors = np.random.default_rng(0).normal(size=(ITEMS, 6)).astype(np.float32)
    model = build(name, vectors, item_input="text+id")
    projected = model.item_projection(torch.as_tensor(vectors))
    torch.testing.assert_close(model.item_table(), projected + model.item_embedding.weight[:ITEMS])
    rows = padded([[5]])
    with torch.no_grad():
        assert not model.embed(rows)[0, :-1].any()  # padding stays a zero vector


@pytest.mark.parametrize("item_input", ["id", "text", "text+id"])
def test_a_subset_of_the_item_table_is_those_rows_only(name, item_input):
    vectors = np.random.default_rng(0).normal(size=(ITEMS, 6)).astype(np.float32)
    model = build(name, vectors, item_input=item_input)
    rows = torch.tensor([7, 2, 11])
    torch.testing.assert_close(model.item_table(rows), model.item_table()[rows])


def test_sasrec_text_reads_text_whatever_the_settings_say():
    learner = SEQUENTIAL_LEARNERS.get("sasrec-text")
    assert learner.resolve_settings(SequentialTrainSettings()).item_input == "text"
    kept = SequentialTrainSettings(item_input="text+id")
    assert learner.resolve_settings(kept).item_input == "text+id"
    with pytest.raises(ConfigError, match="needs one text vector per item"):
        learner(ITEMS, SequentialTrainSettings(max_len=MAX_LEN))  # no vectors given


def test_unknown_model_options_are_named(name):
    with pytest.raises(ConfigError, match="unknown model option 'colour'"):
        build(name, model_options={"colour": "red"})


def test_gru4rec_width_is_an_option():
    model = build("gru4rec", model_options={"gru_hidden": 16})
    assert model.gru.hidden_size == 16
    rows = padded([[1, 2]])
    assert model(rows, rows != ITEMS).shape == (1, MAX_LEN, 32)


def test_sasrec_heads_must_divide_hidden():
    with pytest.raises(ConfigError, match="heads"):
        build("sasrec", heads=3)
    assert len(build("sasrec", heads=4, layers=2).blocks) == 2
