"""The text encoder's top layer trained with a learner (`recommenders.text_top_layer`,
``text_top_layer: true``): at its loaded weights it is all-MiniLM-L6-v2's last layer (the
sentence encoder's vectors, known answer), it trains with the learner, and it encodes only
the rows asked for."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from factories import tiny_sequential_dataset

from harness.errors import ConfigError
from recommenders.encoders import SentenceEncoder
from recommenders.sequence_items import _encode_tokens, item_texts, text_token_states
from recommenders.sequence_learners import SEQUENTIAL_LEARNERS
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import train_sequential
from recommenders.text_top_layer import load_top_layer

TEXTS = ["Toy Story (1995) | Animation Children's Comedy", "dog", "Heat (1995) | Action Crime"]


def test_the_loaded_layer_over_the_token_states_gives_the_sentence_encoders_vectors():
    tokens = _encode_tokens(TEXTS)
    assert (
        tokens.states.shape[:2] == tokens.mask.shape and tokens.mask[1].sum() == 3
    )  # [CLS] dog [SEP]
    layer = load_top_layer().eval()
    with torch.no_grad():
        ours = layer.vectors(torch.as_tensor(tokens.states), torch.as_tensor(tokens.mask))
    np.testing.assert_allclose(ours.numpy(), SentenceEncoder().encode(TEXTS), atol=1e-5)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    data = tiny_sequential_dataset()
    cache = tmp_path_factory.mktemp("cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CONDBENCH_CACHE", str(cache))
        yield data, text_token_states(data)


def test_a_learner_trains_the_top_layer_and_encodes_only_the_rows_asked(world):
    data, tokens = world
    assert len(tokens.states) == data.num_items == len(item_texts(data))
    settings = SequentialTrainSettings(text_top_layer=True, max_len=20)
    vectors = np.zeros((data.num_items, 384), dtype=np.float32)
    torch.manual_seed(0)
    model = SEQUENTIAL_LEARNERS.get("sasrec-text")(data.num_items, settings, vectors, tokens)
    pretrained = load_top_layer().state_dict()
    for name, value in model.text_top.state_dict().items():  # reset_parameters left it alone
        torch.testing.assert_close(value, pretrained[name])
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert "text_top.query.weight" in trainable
    assert not any(k.startswith("token_") for k in model.state_dict())  # rebuilt, not saved
    model.eval()
    rows = torch.tensor([3, 0, 7])
    with torch.no_grad():
        torch.testing.assert_close(model.item_table(rows), model.item_table()[rows])


def test_training_moves_the_top_layer(world):
    data, _ = world
    settings = SequentialTrainSettings(text_top_layer=True, max_len=20, max_epochs=2, patience=2,
                                       batch_size=16, device="cpu")  # fmt: skip
    trained = train_sequential(data, "sasrec-text", 0, settings, progress=False)
    moved = [
        not torch.equal(value, trained.model.text_top.state_dict()[name])
        for name, value in load_top_layer().state_dict().items()
    ]
    assert all(moved)
    assert trained.settings.text_top_layer and trained.settings.item_input == "text"


def test_a_learner_on_item_ids_cannot_train_the_text_layer(world):
    data, tokens = world
    settings = SequentialTrainSettings(text_top_layer=True, max_len=20)
    with pytest.raises(ConfigError, match="text_top_layer needs a learner that reads item text"):
        SEQUENTIAL_LEARNERS.get("sasrec")(data.num_items, settings, None, tokens)
