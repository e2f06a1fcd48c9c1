"""Canonical size accounting of a train set (the paper's Table IV, in one defined form).

Both parts are written as UTF-8 TSV, one header line then one line per record, numbers in
decimal, and measured in KB of 1,024 bytes:

- item part: ``item_id`` and, per text field in the dataset's order, the field's decoded
  text (WordPiece ids -> text; tabs and newlines become spaces). Every item of the item
  table is counted: a condensed set ships its whole item table (training reads it, and dev
  and test are scored with it), and this matches the paper, which counts the whole content
  table for every method (Table IV: the same item size for Random, Majority and TF-DCon).
- user part: the train set's users' histories (``user_id``, history item ids separated by
  spaces), then the train interactions (``user_id``, ``item_id``, ``label``), sorted by user
  (stable). Only users with train interactions count: the users of dev and test are not part
  of the train set.

`canonical_sizes` measures one dataset; `size_ratio` compares a condensed set with its
original. The writers `item_part_tsv` and `user_part_tsv` are public so the exact bytes can be
inspected (and tests can count them by hand).
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.dataset import Dataset
from harness.sequences import hard_sequences, interaction_equivalents, sequence_count
from harness.text import get_tokenizer

KB = 1024


@dataclass(frozen=True)
class SizeReport:
    item_bytes: int
    user_bytes: int

    @property
    def overall_bytes(self) -> int:
        return self.item_bytes + self.user_bytes

    @property
    def item_kb(self) -> float:
        return self.item_bytes / KB

    @property
    def user_kb(self) -> float:
        return self.user_bytes / KB

    @property
    def overall_kb(self) -> float:
        return self.overall_bytes / KB

    def as_dict(self) -> dict[str, float]:
        return {
            "item_kb": round(self.item_kb, 3),
            "user_kb": round(self.user_kb, 3),
            "overall_kb": round(self.overall_kb, 3),
        }


def _clean(text: str) -> str:
    return " ".join(text.split())


def item_part_tsv(dataset: Dataset) -> str:
    tokenizer = get_tokenizer()
    items = dataset.items.sort_values("item_id", kind="stable")
    columns = [tokenizer.decode_many([list(v) for v in items[f]]) for f in dataset.text_fields]
    lines = ["\t".join(("item_id", *dataset.text_fields))]
    for row, item_id in enumerate(items["item_id"].tolist()):
        lines.append("\t".join((str(int(item_id)), *(_clean(col[row]) for col in columns))))
    return "\n".join(lines) + "\n"


def user_part_tsv(dataset: Dataset) -> str:
    train = dataset.split("train").sort_values("user_id", kind="stable")
    users = sorted(set(train["user_id"].tolist()))
    history = dataset.history_of()
    lines = ["user_id\thistory"]
    lines += [f"{u}\t{' '.join(str(int(i)) for i in history.get(u, []))}" for u in users]
    lines.append("user_id\titem_id\tlabel")
    lines += [
        f"{u}\t{i}\t{y}"
        for u, i, y in zip(
            train["user_id"].tolist(),
            train["item_id"].tolist(),
            train["label"].tolist(),
            strict=True,
        )
    ]
    return "\n".join(lines) + "\n"


def canonical_sizes(dataset: Dataset) -> SizeReport:
    """Bytes of the item part and the user part of `dataset`'s train set (see module doc)."""
    return SizeReport(
        item_bytes=len(item_part_tsv(dataset).encode("utf-8")),
        user_bytes=len(user_part_tsv(dataset).encode("utf-8")),
    )


def size_ratio(condensed: SizeReport, original: SizeReport) -> dict[str, float]:
    """Condensed size over original size per part (1.0 = same size)."""

    def ratio(small: int, full: int) -> float:
        return small / full if full else float("nan")

    return {
        "ratio_item": ratio(condensed.item_bytes, original.item_bytes),
        "ratio_user": ratio(condensed.user_bytes, original.user_bytes),
        "ratio_overall": ratio(condensed.overall_bytes, original.overall_bytes),
    }


# ---- the sequential track: interaction-equivalents, sequences, bytes both ways --------------


@dataclass(frozen=True)
class SequenceSizeReport:
    """What the sequential ratio counts of one train set (`harness.sequences`).

    ``interactions``: interaction-equivalents (S × L for a soft set, train rows for a hard
    one); ``sequences``: S, or a hard set's distinct sequences; ``stored_bytes``: a hard
    set's canonical TSV (`sequences_tsv`), a soft set's tensors as stored without frozen
    tables (float32); ``frozen_bytes``: those frozen tables; ``dense_bytes``: a soft set
    written out densely (S × L × items float32), a hard set's TSV again.
    """

    interactions: int
    sequences: int
    stored_bytes: int
    frozen_bytes: int
    dense_bytes: int


def sequences_tsv(dataset: Dataset) -> str:
    """A hard train set as UTF-8 TSV: a header, then one line per sequence: its id, a tab,
    its item ids separated by spaces (in order)."""
    ids, sequences = hard_sequences(dataset)
    lines = ["sequence_id\titems"]
    lines += [
        f"{s}\t{' '.join(map(str, items.tolist()))}"
        for s, items in zip(ids.tolist(), sequences, strict=True)
    ]
    return "\n".join(lines) + "\n"


def sequence_sizes(dataset: Dataset) -> SequenceSizeReport:
    soft = dataset.soft
    if soft is None:
        text_bytes = len(sequences_tsv(dataset).encode("utf-8"))
        stored, frozen, dense = text_bytes, 0, text_bytes
    else:
        stored = soft.stored_bytes()
        frozen = soft.stored_bytes(with_frozen=True) - stored
        dense = soft.dense_bytes()
    return SequenceSizeReport(
        interactions=interaction_equivalents(dataset),
        sequences=sequence_count(dataset),
        stored_bytes=stored,
        frozen_bytes=frozen,
        dense_bytes=dense,
    )


def sequence_size_figures(
    condensed: SequenceSizeReport, original: SequenceSizeReport
) -> dict[str, float]:
    """The record's size figures: the headline ratio (``ratio_overall``) is interaction-
    equivalents over the original's train interactions; bytes both ways over the original's
    canonical TSV."""

    def ratio(small: float, full: float) -> float:
        return small / full if full else float("nan")

    return {
        "ratio_overall": ratio(condensed.interactions, original.interactions),
        "interactions": float(condensed.interactions),
        "sequences": condensed.sequences,
        "stored_kb": condensed.stored_bytes / KB,
        "frozen_kb": condensed.frozen_bytes / KB,
        "dense_kb": condensed.dense_bytes / KB,
        "ratio_stored": ratio(condensed.stored_bytes, original.stored_bytes),
        "ratio_dense": ratio(condensed.dense_bytes, original.stored_bytes),
    }
