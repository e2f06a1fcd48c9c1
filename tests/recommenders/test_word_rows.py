"""A training step's words gathered once (`WordRows`) give the same values and gradients as
embedding each length bucket from the whole word table, bit for bit."""

from __future__ import annotations

import pytest
import torch

import recommenders
from recommenders.base import WordRows
from recommenders.evaluator import encode_item_rows
from recommenders.inputs import ItemTexts


def _step_gradients(name: str, items: ItemTexts, rows: torch.Tensor, gathered: bool) -> dict:
    torch.manual_seed(7)
    model = recommenders.get(name).from_options({})
    model.train()
    cpu = torch.device("cpu")
    words = WordRows.gather(model.word_embedding, items.tokens[rows]) if gathered else None
    torch.manual_seed(11)  # the same dropout masks for both
    vectors = encode_item_rows(model, items, rows, cpu, words)
    (vectors.square().sum() + vectors[:, 0].sum()).backward()
    grads = {n: p.grad for n, p in model.named_parameters() if p.grad is not None}
    return {"vectors": vectors.detach()} | grads  # the user encoder's get none here


@pytest.mark.parametrize("name", ["naml", "nrms", "fastformer"])
def test_gathered_words_give_the_same_vectors_and_gradients_bit_for_bit(name, tiny_dataset):
    items = ItemTexts.from_dataset(tiny_dataset, max_tokens=32)
    rows = torch.cat([torch.arange(items.pad_row), torch.tensor([items.pad_row, 0, 1])])
    assert len(items.length_buckets(rows)) > 1  # several encoder calls, as in a step
    plain = _step_gradients(name, items, rows, gathered=False)
    gathered = _step_gradients(name, items, rows, gathered=True)
    assert plain.keys() == gathered.keys()
    for key in plain:
        assert torch.equal(plain[key], gathered[key]), key
    table = gathered["word_embedding.weight"]
    assert not table[0].any()  # the padding row never gets a gradient


def test_gather_takes_the_named_rows_and_the_padding_row():
    embedding = torch.nn.Embedding(50, 4, padding_idx=0)
    words = WordRows.gather(embedding, torch.tensor([[7, 3, 0], [3, 9, 0]]))
    assert words.table.shape == (4, 4) and words.padding_row == 0
    tokens = torch.tensor([[9, 7], [3, 0]])
    assert torch.equal(words.embed(tokens), embedding(tokens))
    assert int(words.positions[5]) == -1  # not gathered
