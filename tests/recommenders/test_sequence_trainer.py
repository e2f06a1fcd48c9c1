"""The sequential trainer, evaluator and track (recommenders/sequence_trainer.py,
sequence_evaluator.py, tracks.py) on the tiny sequential set: repeatability, early stopping
with the best weights restored, user representations, the item table, text item input, and
the registered track."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch
from factories import HashEncoder, learnable_dataset, tiny_sequential_dataset

from harness.errors import ConfigError, DataError
from harness.full_ranking import full_ranking_reference, ranking_task
from recommenders.sequence_evaluator import evaluate_sequential, last_states, score_users
from recommenders.sequence_items import item_texts, text_item_vectors
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import item_table, train_sequential, user_representations
from recommenders.tracks import SEQUENTIAL, TRACKS


def fast(**overrides) -> SequentialTrainSettings:
    values = dict(device="cpu", batch_size=16, lr=0.01, max_epochs=4, patience=4)
    values.update(overrides)
    return SequentialTrainSettings(**values)


@pytest.fixture(scope="module")
def data():
    return tiny_sequential_dataset()


@pytest.fixture(scope="module")
def trained(data):
    return train_sequential(data, "sasrec", 0, fast(), progress=False)


def test_same_seed_same_bits_other_seed_other_weights(data, trained):
    again = train_sequential(data, "sasrec", 0, fast(), progress=False)

    def timeless(run):
        return [{k: v for k, v in record.items() if k != "seconds"} for record in run.epochs]

    assert timeless(again) == timeless(trained)
    for (name, a), b in zip(
        trained.model.state_dict().items(), again.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b), name
    other = train_sequential(data, "sasrec", 1, fast(), progress=False)
    assert other.loss_history != trained.loss_history


def test_epoch_records_carry_loss_and_dev_metrics(trained):
    assert trained.epochs_run == 4 and len(trained.loss_history) == 4
    assert set(trained.epochs[0]) >= {"epoch", "train_loss", "seconds", "HR@5", "NDCG@10", "MRR@5"}
    assert trained.loss_history[-1] < trained.loss_history[0]
    assert trained.samples_per_second > 0 and trained.wall_seconds > 0


def test_early_stopping_keeps_the_best_dev_epoch(data):
    seen = []
    run = train_sequential(
        data, "gru4rec", 0, fast(max_epochs=12, patience=2, lr=0.05), progress=False,
        on_epoch=lambda epoch, record: seen.append((epoch, record["NDCG@10"])),
    )  # fmt: skip
    scores = [record["NDCG@10"] for record in run.epochs]
    assert seen == list(enumerate(scores, start=1))
    assert run.best_epoch == 1 + int(np.argmax(scores))
    if run.epochs_run < 12:  # stopped: patience (2 epochs) ran out after the best
        assert run.epochs_run - run.best_epoch == 2
    dev = evaluate_sequential(run, data, "dev", ["NDCG@10"])
    assert dev.metrics["NDCG@10"] == pytest.approx(max(scores))  # the best weights are back


def test_evaluation_reports_the_tracks_metrics_and_the_sampled_figure(data, trained):
    test = evaluate_sequential(trained, data, "test")
    assert list(test.metrics) == ["HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR@5"]
    assert (test.groups_used, test.groups_dropped) == (40, 0)
    assert list(test.secondary) == ["uni100"]
    # the sampled figure ranks 11 candidates, not 30 items: hits come easier
    assert test.secondary["uni100"]["HR@5"] >= test.metrics["HR@5"]
    assert evaluate_sequential(trained, data, "dev").secondary == {}
    task = ranking_task(data, "test")
    scores = score_users(trained.model, task)
    assert scores.shape == (40, 30)


def test_user_representations_are_the_last_state_of_the_history(data, trained):
    users = np.array([3, 0, 17])
    vectors = user_representations(trained, data, users)
    history = data.history_of()
    model = trained.model
    rows = np.full((3, model.settings.max_len), model.pad)
    for row, user in enumerate(users):
        rows[row, -len(history[user]) :] = history[user]
    assert vectors.shape == (3, 32) and vectors.dtype == np.float32
    np.testing.assert_array_equal(vectors, last_states(model, rows, 2).numpy())
    assert not np.allclose(vectors[0], vectors[1])
    with pytest.raises(DataError, match="user 999 has no history"):
        user_representations(trained, data, [999])


def test_item_table_is_the_learned_input_table(trained):
    table = item_table(trained)
    assert table.shape == (30, 32)
    np.testing.assert_array_equal(table, trained.model.item_embedding.weight[:30].detach().numpy())


def test_another_item_table_is_refused(data, trained):
    other = tiny_sequential_dataset()
    other.items = other.items.iloc[:-1]
    with pytest.raises(DataError, match="another item table"):
        evaluate_sequential(trained, other, "test")


def test_text_item_input_reads_cached_encoder_vectors(data, monkeypatch, tmp_path):
    monkeypatch.setenv("CONDBENCH_CACHE", str(tmp_path))
    monkeypatch.setattr("recommenders.sequence_items.SentenceEncoder", HashEncoder)
    run = train_sequential(
        data, "gru4rec", 0, fast(item_input="text", max_epochs=2), progress=False
    )
    expected = HashEncoder().encode(item_texts(data)).astype(np.float32)
    np.testing.assert_array_equal(run.model.text_vectors.numpy(), expected)
    assert len(list((tmp_path / "item-vectors").glob("*.npy"))) == 1
    assert run.loss_history[-1] < run.loss_history[0]

    class Unavailable:
        def encode(self, texts):
            raise AssertionError("the cache must answer")

    monkeypatch.setattr("recommenders.sequence_items.SentenceEncoder", Unavailable)
    np.testing.assert_array_equal(text_item_vectors(data), expected)  # same items: cached
    changed = tiny_sequential_dataset(seed=1)  # other text: another key
    with pytest.raises(AssertionError, match="the cache must answer"):
        text_item_vectors(changed)


def test_item_texts_are_decoded_fields():
    dataset = learnable_dataset()
    texts = item_texts(dataset)
    assert len(texts) == dataset.num_items
    assert " | " in texts[0]  # two text fields: title | tag


def test_the_sequential_track_is_registered(data):
    assert TRACKS.get("sequential") is SEQUENTIAL
    assert SEQUENTIAL.learners.names() == ["gru4rec", "sasrec", "sasrec-text"]
    assert SEQUENTIAL.settings is SequentialTrainSettings
    assert SEQUENTIAL.metrics(data) == ["HR@5", "HR@10", "NDCG@5", "NDCG@10", "MRR@5"]
    assert SEQUENTIAL.quality_metrics(SEQUENTIAL.metrics(data)) == [
        "HR@5",
        "HR@10",
        "NDCG@5",
        "NDCG@10",
    ]
    names = SEQUENTIAL.metrics(data)
    assert SEQUENTIAL.reference(data, names, "test") == full_ranking_reference(data, names, "test")
    assert SEQUENTIAL.random_method == "random-kxl"
    assert SEQUENTIAL.ratio_label == "interaction-equivalents ratio"
    with pytest.raises(ConfigError, match="takes sequential data"):
        SEQUENTIAL.check_dataset(learnable_dataset())
    ratio = SEQUENTIAL.ratio(SEQUENTIAL.sizes(data), SEQUENTIAL.sizes(data))
    assert ratio["ratio_overall"] == 1.0


def test_settings_are_checked_and_load_no_torch():
    with pytest.raises(ConfigError, match="'item_input' must be 'id', 'text' or 'text\\+id'"):
        SequentialTrainSettings(item_input="words")
    with pytest.raises(ConfigError, match="unknown sequential train setting 'epochs'"):
        SequentialTrainSettings(epochs=3)
    code = (
        "import sys, recommenders.tracks as t; t.SequentialTrainSettings(max_epochs=3); "
        "t.SEQUENTIAL.learners.names(); print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
