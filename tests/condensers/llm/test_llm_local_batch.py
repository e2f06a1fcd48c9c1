"""Batched generation of the local backend: batch planning, padding, and the client's
batched path (same cache keys, counters, retries and fallbacks as one request at a time).

The fast client tests script the backend (answers computed from the prompt text); the slow
ones run the real SmolLM2 model on real MovieLens prompts and check that a padded batch
decodes to exactly the text of the plain full-prompt `generate` of the unbatched backend.
"""

from __future__ import annotations

import re
import time

import pytest

from condensers.llm import answers, prompts
from condensers.llm.backends.local import (
    LocalBackend,
    PromptTokens,
    pad_between,
    plan_batches,
    prompt_tokens,
)
from condensers.llm.cache import ResponseCache
from condensers.llm.client import BatchTextBackend, ClientSettings, GeneratingClient
from condensers.llm.prompts import INTERESTS_TASK, LIMITS, TITLE_TASK


# ---- batch planning and padding (no model) -------------------------------------------------
def test_batches_hold_one_context_and_at_most_batch_size_prompts():
    title_context, other_context = (1, 2, 3), (9,)
    prompts_ = [
        PromptTokens(title_context, (5, 6, 7)),
        PromptTokens(other_context, (5,)),
        PromptTokens(title_context, (5,)),
        PromptTokens(title_context, (5, 6)),
        PromptTokens(title_context, (5, 6, 7, 8)),
        PromptTokens(title_context, (5,)),
    ]
    batches = plan_batches(prompts_, batch_size=2)
    assert sorted(index for batch in batches for index in batch) == list(range(6))
    for batch in batches:
        assert 1 <= len(batch) <= 2
        assert len({prompts_[index].context for index in batch}) == 1
    # shortest suffixes together; ties by position, so the plan is deterministic
    assert batches == [[2, 5], [3, 0], [4], [1]]
    assert plan_batches(prompts_, batch_size=2) == batches
    assert plan_batches(prompts_, batch_size=1) == [[2], [5], [3], [0], [4], [1]]


def test_padding_goes_between_context_and_suffix():
    input_ids, mask = pad_between((1, 2), [(7,), (7, 8, 9)], pad_id=0)
    assert input_ids.tolist() == [[1, 2, 0, 0, 7], [1, 2, 7, 8, 9]]
    assert mask.tolist() == [[1, 1, 0, 0, 1], [1, 1, 1, 1, 1]]
    left_padded, left_mask = pad_between((), [(7,), (7, 8)], pad_id=0)
    assert left_padded.tolist() == [[0, 7], [7, 8]]
    assert left_mask.tolist() == [[0, 1], [1, 1]]


def test_local_backend_rejects_a_bad_batch_size(local_model):
    from condensers.llm.errors import LLMSpecError

    with pytest.raises(LLMSpecError, match="batch_size=0"):
        LocalBackend(local_model.gguf, batch_size=0)


def test_prompts_split_into_a_shared_context_and_their_own_suffix(local_model):
    from transformers import AutoTokenizer

    from condensers.llm.model_files import converted_model_dir

    tokenizer = AutoTokenizer.from_pretrained(converted_model_dir(local_model.gguf))
    prefix = LIMITS[TITLE_TASK].answer_prefix
    toy = prompts.title_messages({"name": "toy story", "year": "1995"})
    heat = prompts.title_messages({"name": "heat", "year": "1995"})
    split_toy, split_heat = (prompt_tokens(tokenizer, chat, prefix) for chat in (toy, heat))
    whole = tokenizer.apply_chat_template(
        [*toy, {"role": "assistant", "content": prefix}],
        continue_final_message=True,
        return_dict=True,
    )["input_ids"]
    assert list(split_toy.context + split_toy.suffix) == list(whole)
    assert split_toy.context == split_heat.context  # system text + few-shot examples
    assert len(split_toy.context) > 4 * len(split_toy.suffix)
    assert tokenizer.decode(split_toy.suffix).endswith("[new_title]{")
    single = prompt_tokens(tokenizer, [{"role": "user", "content": "hi"}], "")
    assert single.context == ()


# ---- the client's batched path, with a scripted backend ------------------------------------
class ScriptedBackend:
    """Answers from the prompt text: the last user message, rewritten. Inputs containing
    'garbage' get an unusable answer on the first ask; 'hopeless' ones on every ask."""

    name = "scripted"
    model = "scripted-1"
    identity = "scripted-1"
    concurrency = 1

    def __init__(self) -> None:
        self.prompts_seen: list[str] = []

    def complete(self, messages, *, max_tokens, stop=(), answer_prefix=""):
        last = messages[-1]["content"]
        self.prompts_seen.append(last)
        is_retry = last in prompts.RETRY_REMINDER.values()
        source = messages[-3]["content"] if is_retry else last
        if "hopeless" in source or ("garbage" in source and not is_retry):
            return "[title]{echo}"  # the input format echoed: unusable
        if answer_prefix.startswith("[interests]"):
            return f"[interests] -{len(source)} clicks, -cinema"
        return "[new_title]{About " + " ".join(re.findall(r"[a-z0-9]+", source.lower())) + "}"

    def describe(self):
        return {"backend": self.name, "model": self.model}

    def close(self) -> None:
        pass


class ScriptedBatchBackend(ScriptedBackend):
    def __init__(self, batch_size: int) -> None:
        super().__init__()
        self.batch_size = batch_size
        self.batch_sizes: list[int] = []

    def complete_many(self, conversations, *, max_tokens, stop=(), answer_prefix=""):
        self.batch_sizes.append(len(conversations))
        return [
            self.complete(c, max_tokens=max_tokens, stop=stop, answer_prefix=answer_prefix)
            for c in conversations
        ]


TITLE_REQUESTS = {
    f"t/item/{number}": {"name": name, "year": "1995"}
    for number, name in enumerate(
        ["toy story", "garbage in", "heat", "hopeless case", "babe", "toy story", "casino"]
    )
}
INTEREST_REQUESTS = {
    "t/user/0": ["toy story", "babe"],
    "t/user/1": [],
    "t/user/2": ["garbage in", "heat"],
    "t/user/3": ["toy story", "babe"],
}


def _client(backend, directory) -> GeneratingClient:
    return GeneratingClient(backend, ResponseCache(directory), ClientSettings(parse_retries=1))


def test_batched_client_answers_and_counts_as_one_at_a_time(tmp_path):
    assert isinstance(ScriptedBatchBackend(3), BatchTextBackend)
    assert not isinstance(ScriptedBackend(), BatchTextBackend)
    single = _client(ScriptedBackend(), tmp_path / "single")
    batched_backend = ScriptedBatchBackend(batch_size=3)
    batched = _client(batched_backend, tmp_path / "batched")

    expected_titles = {key: single.title(key, fields) for key, fields in TITLE_REQUESTS.items()}
    expected_interests = {key: single.interests(key, h) for key, h in INTEREST_REQUESTS.items()}
    assert batched.titles(TITLE_REQUESTS, progress=False) == expected_titles
    assert batched.interests_many(INTEREST_REQUESTS, progress=False) == expected_interests
    assert batched.stats() == single.stats()
    assert batched.stats() == {
        "requests": 11,
        "calls": 6 + 2 + 2 + 1,  # first asks, then one retry per unusable answer
        "cached": 2,  # the repeated "toy story" item and the repeated history
        "replayed": 0,
        "retries": 2 + 1,
        "fallbacks": 1 + 1,  # "hopeless case", and the empty history
        "http_attempts": 0,
    }
    assert expected_titles["t/item/3"] == answers.fallback_title({"name": "hopeless case"})
    assert expected_titles["t/item/1"] == "About name garbage in year 1995"
    assert expected_interests["t/user/1"] == []
    # one backend call per group of batch_size distinct inputs, retries batched
    assert batched_backend.batch_sizes == [3, 1, 3, 1, 2, 1]  # each group, then its retries
    assert max(batched_backend.batch_sizes) <= 3


def test_batched_answers_use_the_same_cache_keys(tmp_path):
    directory = tmp_path / "llm"
    first = _client(ScriptedBatchBackend(batch_size=4), directory)
    titles = first.titles(TITLE_REQUESTS, progress=False)
    first.close()
    # one at a time over the same cache: every real answer is a hit; the fallback was not
    # cached, so it is asked again (and falls back again)
    again_backend = ScriptedBackend()
    again = _client(again_backend, directory)
    assert {key: again.title(key, f) for key, f in TITLE_REQUESTS.items()} == titles
    assert len(again_backend.prompts_seen) == 2  # "hopeless case" and its retry
    assert again.stats()["calls"] == 2 and again.stats()["fallbacks"] == 1
    # and batched over a cache filled one at a time: only the new input is asked
    more = {**TITLE_REQUESTS, "t/item/99": {"name": "fargo", "year": "1996"}}
    later_backend = ScriptedBatchBackend(batch_size=4)
    later = _client(later_backend, directory)
    later_titles = later.titles(more, progress=False)
    assert list(later_titles) == list(more)
    assert later_titles["t/item/99"] == "About name fargo year 1996"
    assert later_backend.batch_sizes == [2, 1]  # fargo and "hopeless case", then its retry
    assert later.stats()["cached"] == len(TITLE_REQUESTS) - 1


def test_batched_client_rejects_bad_fields_before_any_call(tmp_path):
    from condensers.llm.errors import LLMInputError

    backend = ScriptedBatchBackend(batch_size=2)
    client = _client(backend, tmp_path)
    with pytest.raises(LLMInputError, match="t/item/bad"):
        client.titles({"t/item/0": {"name": "heat"}, "t/item/bad": {}}, progress=False)
    assert backend.batch_sizes == []


# ---- the real model ----------------------------------------------------------------------
def _movielens_requests(count_items: int, count_users: int):
    from harness.data import load_dataset
    from harness.text import get_tokenizer

    dataset = load_dataset("movielens-tfdcon")
    tokenizer = get_tokenizer()
    items = dataset.items.head(count_items)
    decoded = {f: tokenizer.decode_many([list(v) for v in items[f]]) for f in dataset.text_fields}
    fields = [{f: decoded[f][row] for f in dataset.text_fields} for row in range(len(items))]
    first = dataset.text_fields[0]
    title_of = dict(
        zip(
            dataset.items["item_id"].tolist(),
            tokenizer.decode_many([list(v) for v in dataset.items[first]]),
            strict=True,
        )
    )
    history_of = dataset.history_of()
    users = sorted(history_of)[:count_users]
    return fields, [[title_of[item] for item in history_of[user]] for user in users]


def _plain_generate(backend: LocalBackend, messages, task: str) -> str:
    """The reference: one full prompt, no padding, no reused context (the unbatched path)."""
    import torch

    from condensers.llm.backends import local

    limits = LIMITS[task]
    model, tokenizer = backend.load()
    encoded = tokenizer.apply_chat_template(
        [*messages, {"role": "assistant", "content": limits.answer_prefix}],
        continue_final_message=True,
        return_tensors="pt",
        return_dict=True,
    )
    with torch.inference_mode():
        output = model.generate(
            **encoded,
            max_new_tokens=limits.max_new_tokens,
            do_sample=False,
            repetition_penalty=local.REPETITION_PENALTY,
            no_repeat_ngram_size=local.NO_REPEAT_NGRAM_SIZE,
            stop_strings=list(limits.stop),
            tokenizer=tokenizer,
            pad_token_id=tokenizer.eos_token_id,
        )
    text = tokenizer.decode(output[0][encoded["input_ids"].shape[1] :], skip_special_tokens=True)
    return limits.answer_prefix + local.cut_at_stop(text, limits.stop)


@pytest.mark.slow  # loads the model and generates ~24 answers (~1-2 min on one busy thread)
def test_a_padded_batch_decodes_exactly_as_one_prompt_alone(
    local_model, mirror, session_cache, monkeypatch
):
    monkeypatch.setenv("CONDBENCH_MIRROR", str(mirror))
    monkeypatch.setenv("CONDBENCH_CACHE", str(session_cache))
    fields, histories = _movielens_requests(count_items=8, count_users=4)
    backend = LocalBackend(local_model.gguf, models_root=local_model.cache_root, threads=1)
    backend.batch_size = 8
    for task, chats in (
        (TITLE_TASK, [prompts.title_messages(f) for f in fields]),
        (INTERESTS_TASK, [prompts.interests_messages(h) for h in histories]),
    ):
        limits = LIMITS[task]
        options = {"max_tokens": limits.max_new_tokens, "stop": limits.stop}
        started = time.perf_counter()
        batched = backend.complete_many(chats, answer_prefix=limits.answer_prefix, **options)
        batched_s = time.perf_counter() - started
        started = time.perf_counter()
        alone = [_plain_generate(backend, chat, task) for chat in chats]
        alone_s = time.perf_counter() - started
        print(f"{task}: {len(chats)} batched {batched_s:.1f} s, one by one {alone_s:.1f} s")
        assert batched == alone
        assert (
            backend.complete(chats[-1], answer_prefix=limits.answer_prefix, **options)
            == (alone[-1])
        )


@pytest.mark.slow
def test_local_client_batches_real_titles_and_a_rerun_makes_no_call(
    local_model, mirror, session_cache, monkeypatch, tmp_path
):
    monkeypatch.setenv("CONDBENCH_MIRROR", str(mirror))
    monkeypatch.setenv("CONDBENCH_CACHE", str(session_cache))
    fields, _ = _movielens_requests(count_items=6, count_users=0)
    requests = {f"movielens/item/{n}": f for n, f in enumerate(fields)}

    def client() -> GeneratingClient:
        backend = LocalBackend(
            local_model.gguf, models_root=local_model.cache_root, threads=1, batch_size=4
        )
        return GeneratingClient(backend, ResponseCache(tmp_path), ClientSettings())

    with client() as first:
        titles = first.titles(requests, progress=False)
        assert all(titles.values())
        assert first.stats()["calls"] >= len(requests)
        assert first.stats()["requests"] == len(requests)
    with client() as again:
        assert again.titles(requests, progress=False) == titles
        assert again.stats()["calls"] == 0
        assert again.backend._loaded is None  # all from the cache: the model never loaded
