"""`TrainSettings.encode_chunk_rows`: the item encoder in checkpointed pieces (long histories).

The pieces compute the same function as whole buckets (same vectors, same gradients up to
float rounding, with dropout off); checkpointing replays each piece's dropout masks, so the
recomputed backward pass is the one of the first forward pass bit for bit; unset, training
is exactly what it was (the committed records' path).
"""

from __future__ import annotations

import resource

import pytest
import torch

import recommenders
from harness.errors import ConfigError
from recommenders.cpu_memory import keep_freed_memory
from recommenders.evaluator import encode_item_rows
from recommenders.inputs import ItemTexts
from recommenders.trainer import TrainSettings, train_model

MODELS = ["naml", "nrms", "fastformer"]


def _model_and_items(name, dataset, seed=0):
    torch.manual_seed(seed)
    model = recommenders.get(name).from_options({})
    return model, ItemTexts.from_dataset(dataset, 32)


def _vectors_and_grads(model, items, rows, chunk_rows):
    model.zero_grad(set_to_none=True)
    vectors = encode_item_rows(model, items, rows, torch.device("cpu"), chunk_rows=chunk_rows)
    (vectors * torch.linspace(-1, 1, vectors.numel()).view_as(vectors)).sum().backward()
    grads = {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}
    return vectors.detach(), grads


@pytest.mark.parametrize("name", MODELS)
def test_pieces_compute_the_same_vectors_and_gradients(name, tiny_dataset):
    model, items = _model_and_items(name, tiny_dataset)
    model.eval()  # no dropout: the two paths differ only in float rounding
    rows = torch.arange(items.pad_row + 1).flip(0)  # every item and the pad row, out of order
    whole, whole_grads = _vectors_and_grads(model, items, rows, None)
    pieces, piece_grads = _vectors_and_grads(model, items, rows, 3)
    torch.testing.assert_close(pieces, whole, rtol=1e-5, atol=1e-6)
    assert pieces[rows == items.pad_row].abs().sum() == 0  # the pad row stays zero
    assert piece_grads.keys() == whole_grads.keys() and whole_grads
    for key, grad in whole_grads.items():
        torch.testing.assert_close(piece_grads[key], grad, rtol=1e-4, atol=1e-6)


def test_checkpointing_replays_the_dropout_masks(tiny_dataset):
    """In training mode, the checkpointed pieces give the gradients of the same pieces
    encoded without checkpointing, bit for bit: the recomputation drew the same masks."""
    model, items = _model_and_items("naml", tiny_dataset)
    model.train()
    rows = torch.arange(items.pad_row)

    def run(checkpointed: bool):
        torch.manual_seed(7)
        model.zero_grad(set_to_none=True)
        if checkpointed:
            vectors = encode_item_rows(model, items, rows, torch.device("cpu"), chunk_rows=4)
        else:  # the same pieces by hand, no recomputation
            buckets = items.length_buckets(rows)
            pieces = [p for b in buckets for p in b.split(4)]
            parts = [model.encode_items(*items.batch(rows[p], torch.device("cpu"))) for p in pieces]
            vectors = torch.cat(parts)[torch.argsort(torch.cat(pieces))]
        vectors.square().sum().backward()
        return vectors.detach(), {n: p.grad.clone() for n, p in model.named_parameters()
                                  if p.grad is not None}  # fmt: skip

    plain_vectors, plain = run(False)
    checkpointed_vectors, checkpointed = run(True)
    assert torch.equal(checkpointed_vectors, plain_vectors)
    assert all(torch.equal(checkpointed[k], plain[k]) for k in plain)
    torch.manual_seed(8)  # other masks: other gradients (the check above can fail)
    model.zero_grad(set_to_none=True)
    encode_item_rows(
        model, items, rows, torch.device("cpu"), chunk_rows=4
    ).square().sum().backward()
    assert not torch.equal(model.word_embedding.weight.grad, plain["word_embedding.weight"])


def test_unset_trains_exactly_as_before_and_pieces_train_as_well(tiny_dataset):
    settings = TrainSettings(max_epochs=4, patience=4, batch_size=32, threads=1, device="cpu")
    default = train_model(tiny_dataset, "naml", seed=0, settings=settings, progress=False)
    explicit = train_model(
        tiny_dataset,
        "naml",
        seed=0,
        settings=settings.model_copy(update={"encode_chunk_rows": None}),
        progress=False,
    )
    assert default.epochs == [
        {**e, "seconds": d["seconds"]} for e, d in zip(explicit.epochs, default.epochs, strict=True)
    ]
    chunked = train_model(
        tiny_dataset,
        "naml",
        seed=0,
        settings=settings.model_copy(update={"encode_chunk_rows": 16}),
        progress=False,
    )
    # the liked token is learnt through the pieces too (liked items are clicked 85% of the
    # time, others 15%: AUC 0.5 is chance)
    assert max(e["AUC"] for e in chunked.epochs) > 0.7
    assert max(e["AUC"] for e in default.epochs) > 0.7


@pytest.mark.parametrize("bad", [0, -4, 2.5, "512"])
def test_encode_chunk_rows_is_checked_by_name(bad):
    with pytest.raises(ConfigError, match="encode_chunk_rows"):
        TrainSettings.from_mapping({"encode_chunk_rows": bad})


def test_freed_memory_is_reused_without_page_faults():
    """After `keep_freed_memory`, a freed 24 MiB block (a piece's activation size) comes
    back from the heap: filling it again faults in no fresh pages (6,144 when it does)."""
    assert keep_freed_memory() is True

    def faults_of_a_fill() -> int:
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        block = torch.empty(6 * 1024 * 1024)  # 24 MiB of float32
        block.fill_(1.0)
        del block
        return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

    faults_of_a_fill()
    assert faults_of_a_fill() < 600
