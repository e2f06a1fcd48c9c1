"""The local backend with the real SmolLM2-135M-Instruct file."""

from __future__ import annotations

import time

import pytest

from condensers.llm import make_client
from condensers.llm.backends.local import LocalBackend, cut_at_stop
from condensers.llm.model_files import DEFAULT_MODEL, file_sha256


def test_the_pinned_model_file_is_in_the_cache(local_model):
    assert local_model.gguf.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert file_sha256(local_model.gguf) == DEFAULT_MODEL.sha256


@pytest.mark.slow  # imports torch + transformers in the test process (~15 s on a busy CPU)
def test_local_model_loads_with_its_chat_template(local_model, monkeypatch):
    monkeypatch.setenv("CONDBENCH_CACHE", str(local_model.cache_root))
    backend = LocalBackend(local_model.gguf)
    started = time.perf_counter()
    model, tokenizer = backend.load()
    print(f"local model load: {time.perf_counter() - started:.2f} s")
    assert model.config.model_type == "llama"
    assert sum(p.numel() for p in model.parameters()) > 100_000_000
    prompt = tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert "<|im_start|>user\nhi<|im_end|>" in prompt
    assert backend.describe()["model_sha256"] == DEFAULT_MODEL.sha256


@pytest.mark.slow
def test_local_client_generates_and_a_rerun_makes_no_call(local_model, monkeypatch, tmp_path):
    monkeypatch.setenv("CONDBENCH_CACHE", str(local_model.cache_root))
    spec = f"local:{local_model.gguf}"
    with make_client(spec, cache_dir=tmp_path) as client:
        started = time.perf_counter()
        title = client.title("t/item/0", {"title": "toy story", "year": "1995"})
        interests = client.interests("t/user/0", ["toy story", "babe", "heat", "twelve monkeys"])
        print(f"local: load + 2 calls {time.perf_counter() - started:.2f} s, {client.stats()}")
        assert title and 0 < len(interests) <= 5
        assert client.stats()["calls"] >= 2
    with make_client(spec, cache_dir=tmp_path) as client:
        assert client.title("t/item/0", {"title": "toy story", "year": "1995"}) == title
        assert (
            client.interests("t/user/0", ["toy story", "babe", "heat", "twelve monkeys"])
            == interests
        )
        assert client.stats()["calls"] == 0
        assert client.backend._loaded is None  # served from the cache: the model was never loaded


def test_answers_end_before_the_first_stop_string():
    assert cut_at_stop("Heat is a film.} more", ("}", "\n")) == "Heat is a film."
    assert cut_at_stop("a\nb}", ("}", "\n")) == "a"
    assert cut_at_stop("no stop here", ("}",)) == "no stop here"
