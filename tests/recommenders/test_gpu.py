"""The CUDA path (marker `gpu`; each test skips, naming why, where CUDA is absent): one
training epoch of NAML and of SASRec on CUDA gives a finite loss, and a model's forward
scores on CUDA match the same weights' scores on CPU. ``bench/gpu_check.sh`` runs these
(``pytest -m gpu``) on a GPU machine."""

from __future__ import annotations

import contextlib
import math

import numpy as np
import pytest
import torch
from factories import tiny_sequential_dataset

import recommenders
from recommenders.evaluator import score_rows
from recommenders.inputs import ItemTexts, UserHistories
from recommenders.sequence_settings import SequentialTrainSettings
from recommenders.sequence_trainer import train_sequential
from recommenders.trainer import TrainSettings, train_model

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device"),
]

SMALL = {"word_dim": 16, "content_dim": 32, "user_dim": 16, "attention_hidden": 16}
# CPU vs CUDA forward scores, full float32 (TF32 off): only the summation order differs
FORWARD_RTOL, FORWARD_ATOL = 1e-4, 1e-4


@contextlib.contextmanager
def full_float32():
    """TF32 off for matmuls and cuDNN convolutions (NAML's CNN), then as before."""
    matmul, cudnn = torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = torch.backends.cudnn.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cuda.matmul.allow_tf32, torch.backends.cudnn.allow_tf32 = matmul, cudnn


@pytest.mark.parametrize("amp", [True, False], ids=["bf16-autocast", "float32"])
def test_naml_trains_an_epoch_on_cuda_with_finite_loss(tiny_dataset, amp):
    settings = TrainSettings(
        batch_size=32, max_epochs=1, device="cuda", amp=amp, model_options=SMALL
    )
    trained = train_model(tiny_dataset, "naml", seed=0, settings=settings, progress=False)
    assert trained.device.startswith("cuda")
    assert next(trained.model.parameters()).is_cuda
    assert math.isfinite(trained.epochs[0]["train_loss"]) and trained.epochs[0]["train_loss"] > 0


def test_sasrec_trains_an_epoch_on_cuda_with_finite_loss():
    settings = SequentialTrainSettings(device="cuda", batch_size=16, max_epochs=1)
    trained = train_sequential(tiny_sequential_dataset(), "sasrec", 0, settings, progress=False)
    assert trained.device.startswith("cuda")
    assert math.isfinite(trained.loss_history[0]) and trained.loss_history[0] > 0


@pytest.mark.parametrize("name", ["naml", "nrms", "fastformer"])
def test_cuda_forward_matches_cpu(tiny_dataset, name):
    torch.manual_seed(0)
    model = recommenders.get(name).from_options(SMALL).eval()
    items = ItemTexts.from_dataset(tiny_dataset, max_tokens=32)
    histories = UserHistories.from_dataset(tiny_dataset, items, max_history=50)
    frame = tiny_dataset.split("test")
    cpu = score_rows(model, items, histories, frame, torch.device("cpu"))
    with full_float32():
        cuda = score_rows(model.to("cuda"), items, histories, frame, torch.device("cuda"))
    assert np.isfinite(cpu).all() and np.std(cpu) > 0  # scores that tell items apart
    np.testing.assert_allclose(cuda, cpu, rtol=FORWARD_RTOL, atol=FORWARD_ATOL)
