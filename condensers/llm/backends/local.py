"""`local` backend: a small chat model run in this process (default SmolLM2-135M-Instruct).

Loaded with transformers from the converted copy of the GGUF (see `model_files`), on first
use only, so a run served wholly from the cache never loads it. Greedy decoding with a mild
repetition penalty, so the same prompt gives the same answer; the reply is started with the
task's answer prefix (e.g. ``[new_title]{``) so the tiny model keeps the format; one
generation at a time (a lock), on `threads` CPU threads (oversubscribing a busy CPU makes
generation many times slower, so the default is half the cores).
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from condensers.llm.errors import LLMUnavailable
from condensers.llm.model_files import converted_model_dir, file_sha256
from condensers.llm.prompts import Message

ENGINE = "transformers"
REPETITION_PENALTY = 1.15
NO_REPEAT_NGRAM_SIZE = 3
DECODING = (
    f"greedy, repetition_penalty {REPETITION_PENALTY}, no_repeat_ngram {NO_REPEAT_NGRAM_SIZE}"
)


def default_threads() -> int:
    return max(1, (os.cpu_count() or 2) // 2)


class LocalBackend:
    name = "local"
    concurrency = 1

    def __init__(
        self, gguf_path: Path, *, models_root: Path | None = None, threads: int | None = None
    ):
        self.gguf_path = Path(gguf_path).expanduser().resolve()
        if not self.gguf_path.is_file():
            raise LLMUnavailable(f"{self.gguf_path}: no such model file")
        self.model = self.gguf_path.stem
        self.sha256 = file_sha256(self.gguf_path)
        self.identity = f"{self.model}/sha256:{self.sha256}/{ENGINE}/{DECODING}"
        self.threads = threads or default_threads()
        self._models_root = models_root
        self._lock = threading.Lock()
        self._loaded: tuple[Any, Any] | None = None

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
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer

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
        import torch

        with self._lock:
            model, tokenizer = self.load()
            if answer_prefix:
                chat = [*messages, {"role": "assistant", "content": answer_prefix}]
                template = {"continue_final_message": True}
            else:
                chat, template = list(messages), {"add_generation_prompt": True}
            encoded = tokenizer.apply_chat_template(
                chat, return_tensors="pt", return_dict=True, **template
            )
            prompt_length = encoded["input_ids"].shape[1]
            with torch.inference_mode(), _torch_threads(self.threads):
                output = model.generate(
                    **encoded,
                    max_new_tokens=max_tokens,
                    do_sample=False,
                    repetition_penalty=REPETITION_PENALTY,
                    no_repeat_ngram_size=NO_REPEAT_NGRAM_SIZE,
                    stop_strings=list(stop) or None,
                    tokenizer=tokenizer,
                    pad_token_id=tokenizer.eos_token_id,
                )
        continuation = tokenizer.decode(output[0][prompt_length:], skip_special_tokens=True)
        return answer_prefix + cut_at_stop(continuation, stop)

    def close(self) -> None:
        self._loaded = None


def cut_at_stop(text: str, stop: tuple[str, ...]) -> str:
    """`text` up to (not including) the first stop string, as the OpenAI API returns it."""
    ends = [text.find(marker) for marker in stop if marker and marker in text]
    return text[: min(ends)] if ends else text


@contextlib.contextmanager
def _torch_threads(count: int) -> Iterator[None]:
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)
