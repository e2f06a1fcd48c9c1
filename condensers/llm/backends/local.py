"""`local` backend: a small chat model run in this process (default SmolLM2-135M-Instruct).

Loaded with transformers from the converted copy of the GGUF (see `model_files`), on first
use only, so a run served wholly from the cache never loads it. Greedy decoding with a mild
repetition penalty, so the same prompt gives the same answer; the reply is started with the
task's answer prefix (e.g. ``[new_title]{``) so the tiny model keeps the format; one
generation at a time (a lock), on `threads` CPU threads (oversubscribing a busy CPU makes
generation many times slower, so the default is half the cores).

Batches: `complete_many` answers many prompts with one `generate` call per `batch_size`
prompts. Each prompt is split into its *context* (every message but the last: the system
text and the few-shot examples, the same for every prompt of a task) and its *suffix* (the
last message and the answer prefix). The context is run once and its key/value cache
reused by every row; the suffixes are padded *between* context and suffix with an
attention mask (position ids follow the mask), so each row sees exactly the tokens it sees
alone. Each row stops at its own stop string. `complete` is a batch of one, so single and
batched calls decode the same way. Padding and the reused context change float rounding
only; on real MovieLens prompts (32 titles, 16 interest lists, batches of 8 and 16) the text
is identical to a plain full-prompt `generate`, so cache keys do not name the batching
(checked by tests/condensers/llm/test_llm_local_batch.py, slow). Measured on one CPU thread of a busy
2-core machine: 0.43 titles/s one by one, 1.48/s in batches of 8, 1.87/s in batches of 16.
"""

from __future__ import annotations

import copy
import os
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from condensers.llm.errors import LLMSpecError, LLMUnavailable
from condensers.llm.model_files import converted_model_dir, file_sha256
from condensers.llm.prompts import Message
from harness.progress import quiet_model_loading

ENGINE = "transformers"
REPETITION_PENALTY = 1.15
NO_REPEAT_NGRAM_SIZE = 3
DECODING = (
    f"greedy, repetition_penalty {REPETITION_PENALTY}, no_repeat_ngram {NO_REPEAT_NGRAM_SIZE}"
)
DEFAULT_BATCH_SIZE = 16
KEPT_CONTEXTS = 4  # context caches kept (title task, interests task, a retry or two)


def default_threads() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


@dataclass(frozen=True)
class PromptTokens:
    """One chat prompt as token ids: the shared context and the prompt's own suffix."""

    context: tuple[int, ...]
    suffix: tuple[int, ...]


class LocalBackend:
    name = "local"
    endpoint = None  # in this process: its cache keys name no URL (as in every older cache)
    concurrency = 1

    def __init__(
        self,
        gguf_path: Path,
        *,
        models_root: Path | None = None,
        threads: int | None = None,
        batch_size: int = DEFAULT_BATCH_SIZE,
    ):
        self.gguf_path = Path(gguf_path).expanduser().resolve()
        if not self.gguf_path.is_file():
            raise LLMUnavailable(f"{self.gguf_path}: no such model file")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise LLMSpecError(f"local llm batch_size={batch_size!r} must be an integer >= 1")
        self.model = self.gguf_path.stem
        self.sha256 = file_sha256(self.gguf_path)
        self.identity = f"{self.model}/sha256:{self.sha256}/{ENGINE}/{DECODING}"
        self.threads = threads or default_threads()
        self.batch_size = batch_size
        self._models_root = models_root
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None
        self._contexts: OrderedDict[tuple[int, ...], Any] = OrderedDict()

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": self.model,
            "model_sha256": self.sha256,
            "engine": ENGINE,
            "decoding": DECODING,
        }

    def load(self) -> tuple[Any, Any]:
        """(model, tokenizer), loading them on the first call."""
        if self._loaded is None:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
            # lazy: torch and transformers take seconds to import; only loading the model needs them
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

            quiet_model_loading()

            directory = converted_model_dir(self.gguf_path, self._models_root)
            tokenizer = AutoTokenizer.from_pretrained(directory)
            model = AutoModelForCausalLM.from_pretrained(directory, dtype=torch.float32)
            model.eval()
            self._loaded = (model, tokenizer)
        return self._loaded

    def complete(
        self,
        messages: list[Message],
        *,
        max_tokens: int,
        stop: tuple[str, ...] = (),
        answer_prefix: str = "",
    ) -> str:
        """The answer to one prompt (a batch of one)."""
        return self.complete_many(
            [messages], max_tokens=max_tokens, stop=stop, answer_prefix=answer_prefix
        )[0]

    def complete_many(
        self,
        conversations: list[list[Message]],
        *,
        max_tokens: int,
        stop: tuple[str, ...] = (),
        answer_prefix: str = "",
    ) -> list[str]:
        """The answer to each conversation, in order; prompts sharing a context are batched
        `batch_size` at a time, shortest suffixes together (least padding)."""
        with self._lock:
            model, tokenizer = self.load()
            prompts = [prompt_tokens(tokenizer, chat, answer_prefix) for chat in conversations]
            answers = [""] * len(prompts)
            for batch in plan_batches(prompts, self.batch_size):
                context = prompts[batch[0]].context
                suffixes = [prompts[index].suffix for index in batch]
                continuations = self._generate(
                    model, tokenizer, context, suffixes, max_tokens, stop
                )
                for index, continuation in zip(batch, continuations, strict=True):
                    answers[index] = answer_prefix + cut_at_stop(continuation, stop)
        return answers

    def close(self) -> None:
        self._loaded = None
        self._contexts.clear()

    def _generate(
        self,
        model: Any,
        tokenizer: Any,
        context: tuple[int, ...],
        suffixes: list[tuple[int, ...]],
        max_tokens: int,
        stop: tuple[str, ...],
    ) -> list[str]:
        """The decoded continuation of each row: one greedy `generate` over the batch."""
        import torch  # lazy: torch takes seconds to import; only generating needs it

        pad_id = tokenizer.eos_token_id
        input_ids, attention_mask = pad_between(context, suffixes, pad_id)
        reused = {}
        if context:
            cache = copy.deepcopy(self._context_cache(model, context))
            cache.batch_repeat_interleave(len(suffixes))
            reused["cache"] = cache
        with torch.inference_mode(), _torch_threads(self.threads):
            output = model.generate(
                input_ids=input_ids,
                attention_mask=attention_mask,
                max_new_tokens=max_tokens,
                do_sample=False,
                repetition_penalty=REPETITION_PENALTY,
                no_repeat_ngram_size=NO_REPEAT_NGRAM_SIZE,
                stop_strings=list(stop) or None,
                tokenizer=tokenizer,
                pad_token_id=pad_id,
                **reused,
            )
        prompt_width = input_ids.shape[1]
        return [tokenizer.decode(row[prompt_width:], skip_special_tokens=True) for row in output]

    def _context_cache(self, model: Any, context: tuple[int, ...]) -> Any:
        """The key/value cache of `context` (batch of one), computed once and kept."""
        import torch  # lazy: torch takes seconds to import; only generating needs it

        if context in self._contexts:
            self._contexts.move_to_end(context)
            return self._contexts[context]
        with torch.inference_mode(), _torch_threads(self.threads):
            cache = model(input_ids=torch.tensor([context]), use_cache=True).cache
        self._contexts[context] = cache
        while len(self._contexts) > KEPT_CONTEXTS:
            self._contexts.popitem(last=False)
        return cache


def prompt_tokens(tokenizer: Any, messages: list[Message], answer_prefix: str) -> PromptTokens:
    """The token ids of one chat prompt (the reply started with `answer_prefix`, if any),
    split after the chat of all messages but the last. When that chat is not a token prefix
    of the whole (a template that re-renders earlier turns), the context is empty."""
    if answer_prefix:
        chat = [*messages, {"role": "assistant", "content": answer_prefix}]
        template = {"continue_final_message": True}
    else:
        chat, template = list(messages), {"add_generation_prompt": True}
    ids = tuple(tokenizer.apply_chat_template(chat, return_dict=True, **template)["input_ids"])
    if len(messages) < 2:
        return PromptTokens(context=(), suffix=ids)
    context = tuple(tokenizer.apply_chat_template(messages[:-1], return_dict=True)["input_ids"])
    if len(context) < len(ids) and ids[: len(context)] == context:
        return PromptTokens(context=context, suffix=ids[len(context) :])
    return PromptTokens(context=(), suffix=ids)


def plan_batches(prompts: list[PromptTokens], batch_size: int) -> list[list[int]]:
    """Indices of `prompts` in batches: one context per batch, at most `batch_size` each,
    sorted by (context, suffix length, position) so the plan is deterministic."""
    order = sorted(
        range(len(prompts)),
        key=lambda index: (prompts[index].context, len(prompts[index].suffix), index),
    )
    batches: list[list[int]] = []
    for index in order:
        last = batches[-1] if batches else None
        if (
            last is None
            or len(last) >= batch_size
            or prompts[last[0]].context != prompts[index].context
        ):
            batches.append([index])
        else:
            last.append(index)
    return batches


def pad_between(
    context: tuple[int, ...], suffixes: list[tuple[int, ...]], pad_id: int
) -> tuple[Any, Any]:
    """(input_ids, attention_mask): each row is context + padding + its suffix, the padding
    masked out, so every row ends at the same column where generation continues."""
    import torch  # lazy: torch takes seconds to import; only generating needs it

    width = len(context) + max(len(suffix) for suffix in suffixes)
    input_ids = torch.full((len(suffixes), width), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(suffixes), width), dtype=torch.long)
    if context:
        input_ids[:, : len(context)] = torch.tensor(context, dtype=torch.long)
        attention_mask[:, : len(context)] = 1
    for row, suffix in enumerate(suffixes):
        input_ids[row, width - len(suffix) :] = torch.tensor(suffix, dtype=torch.long)
        attention_mask[row, width - len(suffix) :] = 1
    return input_ids, attention_mask


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """`text` up to (not including) the first stop string, as the OpenAI API returns it."""
    ends = [text.find(marker) for marker in stop if marker and marker in text]
    return text[: min(ends)] if ends else text


def _torch_threads(count: int):
    """`recommenders.threads.torch_threads`, imported on first use (torch takes seconds to
    import; only generating needs it)."""
    from recommenders.threads import torch_threads  # lazy: torch

    return torch_threads(count)
