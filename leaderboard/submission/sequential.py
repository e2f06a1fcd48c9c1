"""A submitted train set for a sequential original (``meta["kind"] == "sequential"``).

Accepted forms of the ``condensed_set`` folder (docs/submitting.md, "The sequential track"):

- a Parquet dataset folder as `Dataset.save` writes it: its train split holds **hard**
  sequences (rows of one sequence share ``group_id``, in order, every row label 1) or its
  ``soft.safetensors`` a **soft** set (`harness.sequences.SoftSequences`), not both;
- ``sequences.tsv`` alone: a hard set, header ``sequence_id<TAB>items``, one line per
  sequence, item ids separated by spaces, in order (the text `harness.sizes.sequences_tsv`
  writes);
- ``soft.safetensors`` alone: a soft set, dense (``probs`` [S, L, n_items]), tucker
  (``core``, ``users``, ``positions``, ``items``) or latent (``latent`` [S, L, d],
  ``decoder`` [d, n_items]); the header's ``form`` may be left out (the tensor names say
  it). Nothing is unpickled: tensors are read by safetensors only, after the file's first
  bytes are checked to be a safetensors header.

Rules (`check_sequential`): item ids known; sequences non-empty; soft tensors finite, their
shapes chain, their item axis is the original's item table, dense rows sum to 1; a soft
header's ``frozen`` is a JSON list naming at most the tucker ``items`` tensor (`read_soft`);
budget: at most k sequences OR at most k × `BUDGET_LENGTH` interaction-equivalents (a hard
set's rows, a soft set's S × L), k = `Budget.limit` of the original's train users (the content
track's rounding): the rule of the condenser contract suite, which the track's baselines
meet (k whole sequences, or the last k × L interactions). Leakage, hard sets only: (a) a
sequence whose id is a user of the original may not hold that user's dev or test target
unless the user's own train sequence already holds the item; (b) no sequence, under any id,
may hold a user's dev or test step contiguously (`evaluation_steps`: the user's last
`LEAK_CONTEXT` context items, then the target) unless the original's own train sequences
hold that step too. Soft sets hold distributions, not item ids, and are not checked for
leakage.

Only the train set is taken from a submission; items, histories, dev and test stay the
original's (a synthetic sequence id gets its own sequence as its history).
"""

from __future__ import annotations

import json
import struct
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from condensers.sequence_sets import DEFAULT_LENGTH
from harness.dataset import Dataset
from harness.errors import DataError
from harness.sequences import (
    DENSE,
    FORM_TENSORS,
    LATENT,
    SOFT_FILE,
    TUCKER,
    SoftSequences,
    hard_sequences,
    sequence_count,
    sequences_frame,
    train_kind,
)
from harness.sequences import interaction_equivalents as counted_equivalents
from leaderboard.submission.checks import budget_users
from leaderboard.submission.condensed import id_lists, int_column, read_table
from leaderboard.submission.rejection import SubmissionRejected
from leaderboard.submission.scan import is_headerless_pickle, looks_like_pickle

HARD_FILE = "sequences.tsv"
HARD_COLUMNS = ("sequence_id", "items")
# L of the budget: one budget unit (a sequence) stands for at most this many interactions;
# the learners read the last 50 items, and the track's shaped baselines use the same L
BUDGET_LENGTH = DEFAULT_LENGTH
# m of the leakage rule: a user's dev step is its last m train items then its dev target;
# its test step its last m items of train + dev then its test target. On ml-100k-seq the
# original's own train sequences hold one such step of another user at m = 3 (none at m = 4);
# steps the original train set holds are exempt, so the original passes at any m
LEAK_CONTEXT = 3
# (form, tensor) a submitted soft set may declare frozen: only TD3's pretrained item table V
# (not learned; its bytes are counted apart); every other tensor is the method's own
SUBMITTED_FROZEN = ((TUCKER, "items"),)
SUM_TOLERANCE = 1e-3  # a dense position sums to 1 within this (SoftSequences' own tolerance)
_HEADER_LIMIT = 100 * 1024 * 1024  # a safetensors header larger than this is no real header


@dataclass(frozen=True)
class SubmittedSequences:
    """A sequential train set as read: hard sequences (ids, items, where each is in its
    file) or a soft set, never both; ``source`` names the file for messages."""

    source: str
    ids: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sequences: tuple[Sequence[int], ...] = ()
    places: tuple[str, ...] = ()  # per hard sequence: "line 3" / "train row 17"
    soft: SoftSequences | None = None


# ---- reading --------------------------------------------------------------------------------


def read_sequential(folder: Path, label: str) -> SubmittedSequences:
    """Read the set in `folder` (one of the three forms); `label` names it in messages."""
    if not folder.is_dir():
        raise SubmissionRejected("condensed set folder not found", file=label)
    if (folder / "manifest.json").is_file():
        return _read_parquet(folder, label)
    names = sorted(p.name for p in folder.iterdir())
    forms = [n for n in names if n in (HARD_FILE, SOFT_FILE)]
    if not forms:
        raise SubmissionRejected(
            f"neither a Parquet dataset (manifest.json), a hard set ({HARD_FILE}) "
            f"nor a soft set ({SOFT_FILE})",
            file=label,
        )
    if len(forms) > 1:
        raise SubmissionRejected(
            f"both {HARD_FILE} and {SOFT_FILE}: a train set is hard or soft, not both", file=label
        )
    extra = [n for n in names if n != forms[0]]
    if extra:
        raise SubmissionRejected(
            f"unexpected file {extra[0]!r}: a sequential set is {HARD_FILE} alone, "
            f"{SOFT_FILE} alone, or a Parquet dataset folder",
            file=label,
        )
    if forms[0] == HARD_FILE:
        return _read_tsv(folder / HARD_FILE, f"{label}/{HARD_FILE}")
    return SubmittedSequences(
        source=f"{label}/{SOFT_FILE}", soft=read_soft(folder / SOFT_FILE, f"{label}/{SOFT_FILE}")
    )


def _read_tsv(path: Path, label: str) -> SubmittedSequences:
    raw = read_table(path, label, HARD_COLUMNS)
    ids = int_column(raw, "sequence_id", label).to_numpy(np.int64)
    lists = id_lists(raw, "items", label)
    places = tuple(f"line {row + 2}" for row in range(len(raw)))
    seen: dict[int, int] = {}
    for row, sequence_id in enumerate(ids.tolist()):
        if sequence_id in seen:
            raise SubmissionRejected(
                f"sequence {sequence_id} appears twice (first on line {seen[sequence_id] + 2})",
                file=label,
                where=places[row],
            )
        seen[sequence_id] = row
    return SubmittedSequences(source=label, ids=ids, sequences=tuple(lists), places=places)


def _read_parquet(folder: Path, label: str) -> SubmittedSequences:
    soft_label = f"{label}/{SOFT_FILE}"
    # read first, by the checked reader: a bad file is refused with its place, never unpickled
    soft = read_soft(folder / SOFT_FILE, soft_label) if (folder / SOFT_FILE).exists() else None
    try:
        dataset = Dataset.load(folder)
    except (DataError, KeyError, TypeError, ValueError) as exc:
        raise SubmissionRejected(f"unreadable condensed set: {exc}", file=label) from None
    train = dataset.split("train")
    train_label = f"{label}:train"
    if soft is not None:
        if len(train):
            raise SubmissionRejected(
                f"{len(train)} train rows and {SOFT_FILE}: a train set is hard or soft, not both",
                file=label,
            )
        return SubmittedSequences(source=soft_label, soft=soft)
    not_positive = train["label"] != 1
    if not_positive.any():
        row = int(np.flatnonzero(not_positive.to_numpy())[0])
        raise SubmissionRejected(
            "hard sequences hold positives only (label 1)", file=train_label, where=f"row {row}"
        )
    ids, sequences = hard_sequences(dataset)
    first_rows = train.drop_duplicates("group_id").index.to_numpy()  # same order as `ids`
    places = tuple(f"train row {int(r)}" for r in first_rows)
    return SubmittedSequences(
        source=train_label,
        ids=ids,
        sequences=tuple(sequences),
        places=places,
    )


def _check_safetensors_bytes(path: Path, label: str) -> None:
    """Refuse anything that does not open like a safetensors file (8-byte little-endian
    header length, then a JSON object) before a reader sees it: a pickle never gets there."""
    size = path.stat().st_size
    with path.open("rb") as handle:
        head = handle.read(9)
        pickled = looks_like_pickle(path.name, head) or is_headerless_pickle(handle, size)
    if pickled:
        raise SubmissionRejected(
            "pickle data, not safetensors (condbench never unpickles a submitted file)",
            file=label,
        )
    if len(head) < 9:
        raise SubmissionRejected("not a safetensors file (too short)", file=label)
    (length,) = struct.unpack("<Q", head[:8])
    if length > min(size - 8, _HEADER_LIMIT) or head[8:9] != b"{":
        raise SubmissionRejected("not a safetensors file (no safetensors header)", file=label)


def read_soft(path: Path, label: str) -> SoftSequences:
    """A `SoftSequences` from a submitted safetensors file; the header's ``form`` is taken
    from the tensor names when missing. Every problem is one `SubmissionRejected`."""
    from safetensors import safe_open  # lazy: only soft sets need it

    _check_safetensors_bytes(path, label)
    try:
        with safe_open(str(path), framework="numpy") as handle:
            header = handle.metadata() or {}
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118
    except Exception as exc:  # safetensors raises its own error types for a bad file
        raise SubmissionRejected(f"unreadable safetensors: {exc}", file=label) from None
    form = header.get("form") or _form_of(tensors, label)
    frozen = _header_value(header, "frozen", "[]", list, "a JSON list of tensor names", label)
    if not all(isinstance(name, str) for name in frozen):
        raise SubmissionRejected(
            f"the header's 'frozen' must be a JSON list of tensor names, got {header['frozen']!r}",
            file=label,
        )
    claimed = [name for name in frozen if (form, name) not in SUBMITTED_FROZEN]
    if claimed:
        raise SubmissionRejected(
            f"the header's 'frozen' names {claimed[0]!r}: a submitted soft set may declare only "
            "the tucker 'items' tensor frozen (a pretrained item table); every other tensor "
            "counts as learned",
            file=label,
        )
    meta = _header_value(header, "meta", "{}", dict, "a JSON object", label)
    for name, array in tensors.items():
        _check_finite(name, np.asarray(array), label)
    if form == DENSE and "probs" in tensors:
        _check_distributions(np.asarray(tensors["probs"]), label)
    try:
        return SoftSequences(form=form, tensors=tensors, frozen=tuple(frozen), meta=meta)
    except DataError as exc:
        raise SubmissionRejected(str(exc), file=label) from None


def _header_value(header: dict, key: str, default: str, kind: type, what: str, label: str):
    """The JSON value of header entry `key`, refused unless it is a `kind`."""
    try:
        value = json.loads(header.get(key, default))
    except json.JSONDecodeError:
        value = None
    if not isinstance(value, kind):
        raise SubmissionRejected(
            f"the header's {key!r} must be {what}, got {header.get(key)!r}", file=label
        )
    return value


def _form_of(tensors: dict[str, np.ndarray], label: str) -> str:
    for form, names in FORM_TENSORS.items():
        if sorted(names) == sorted(tensors):
            return form
    raise SubmissionRejected(
        f"tensors {sorted(tensors)} are neither dense {list(FORM_TENSORS[DENSE])}, "
        f"tucker {list(FORM_TENSORS[TUCKER])} nor latent {list(FORM_TENSORS[LATENT])}",
        file=label,
    )


def _check_finite(name: str, array: np.ndarray, label: str) -> None:
    if not np.issubdtype(array.dtype, np.number):
        raise SubmissionRejected(f"tensor {name!r} is {array.dtype}, not numbers", file=label)
    bad = ~np.isfinite(array)
    if bad.any():
        index = tuple(int(i) for i in np.argwhere(bad)[0])
        raise SubmissionRejected(
            f"tensor {name!r} holds NaN or infinity", file=label, where=f"index {list(index)}"
        )


def _check_distributions(probs: np.ndarray, label: str) -> None:
    """Each position of a dense set is a distribution: no negative entry, sums to 1."""
    if probs.ndim != 3:
        raise SubmissionRejected(
            f"probs must be [sequences, positions, items], got shape {list(probs.shape)}",
            file=label,
        )
    negative = (probs < 0).any(axis=-1)
    sums = probs.sum(axis=-1, dtype=np.float64)
    bad = negative | ~np.isclose(sums, 1.0, rtol=0.0, atol=SUM_TOLERANCE)
    if bad.any():
        s, position = (int(i) for i in np.argwhere(bad)[0])
        what = (
            "has a negative entry" if negative[s, position] else f"sums to {sums[s, position]:.6g}"
        )
        raise SubmissionRejected(
            f"probs {what}; every position must be a distribution over items (sum 1)",
            file=label,
            where=f"sequence {s}, position {position}",
        )


# ---- checking -------------------------------------------------------------------------------


def check_sequential(
    submitted: SubmittedSequences, original: Dataset, *, budget: str, method: str
) -> Dataset:
    """Run every rule (module doc); return the dataset to evaluate: the original with the
    submitted train set (hard rows or soft sequences), its own dev, test and histories."""
    k = budget_users(budget, original)
    meta = {"submission": method}
    if submitted.soft is not None:
        train, histories = sequences_frame([], np.zeros(0, dtype=np.int64)), None
        _check_soft(submitted.soft, original, k, budget, submitted.source)
    else:
        _check_hard(submitted, original, k, budget)
        train = sequences_frame(list(submitted.sequences), submitted.ids)
        histories = _synthetic_histories(submitted, original)
    condensed = original.with_train(
        train,
        variant=f"submission:{method}",
        histories=histories,
        meta=meta,
        soft=submitted.soft,
    )
    try:
        condensed.validate(source=submitted.source)
    except DataError as exc:
        raise SubmissionRejected(str(exc)) from None
    return condensed


def _check_budget(
    sequences: int, equivalents: int, k: int, budget: str, source: str, how: str
) -> None:
    """Within budget k: at most k sequences OR at most k × L interaction-equivalents (the
    rule of the track's baselines: k whole sequences, or the last k × L interactions)."""
    allowed = k * BUDGET_LENGTH
    if sequences > k and equivalents > allowed:
        raise SubmissionRejected(
            f"the set has {sequences} sequences and {equivalents} interaction-equivalents "
            f"({how}): over both k = {k} sequences and k × L = {k} × {BUDGET_LENGTH} = "
            f"{allowed} (budget {budget}); a set keeps within one of them",
            file=source,
        )


def _check_hard(submitted: SubmittedSequences, original: Dataset, k: int, budget: str) -> None:
    source, ids = submitted.source, submitted.ids
    if not len(ids):
        raise SubmissionRejected("the set holds no sequence", file=source)
    known = set(original.items["item_id"].tolist())
    targets = _held_out_targets(original)
    history = original.history_of()
    for sequence_id, items, place in zip(
        ids.tolist(), submitted.sequences, submitted.places, strict=True
    ):
        items = [int(i) for i in items]
        if not items:
            raise SubmissionRejected(f"sequence {sequence_id} is empty", file=source, where=place)
        unknown = [(p, i) for p, i in enumerate(items) if i not in known]
        if unknown:
            position, item = unknown[0]
            raise SubmissionRejected(
                f"sequence {sequence_id}: unknown item id {item}",
                file=source,
                where=f"{place}, position {position}",
            )
        own = targets.get(sequence_id)
        if own:
            allowed = set(history.get(sequence_id, ()))
            for position, item in enumerate(items):
                if item in own and item not in allowed:
                    raise SubmissionRejected(
                        f"sequence {sequence_id} holds item {item}, the {own[item]} target of "
                        f"user {sequence_id}: dev/test leakage under the user's own id",
                        file=source,
                        where=f"{place}, position {position}",
                    )
    _check_steps(submitted, original)
    rows = sum(len(s) for s in submitted.sequences)
    _check_budget(len(ids), rows, k, budget, source, "hard: its interactions")


def _held_out_targets(original: Dataset) -> dict[int, dict[int, str]]:
    """user -> {item: "dev" / "test"}: each user's held-out targets (label 1 rows; the
    test split's sampled negatives are no events)."""
    inter = original.interactions
    held = inter[(inter["split"] != "train") & (inter["label"] == 1)]
    out: dict[int, dict[int, str]] = {}
    for split, user, item in zip(
        held["split"].tolist(), held["user_id"].tolist(), held["item_id"].tolist(), strict=True
    ):
        out.setdefault(int(user), {}).setdefault(int(item), split)
    return out


def evaluation_steps(
    original: Dataset, m: int = LEAK_CONTEXT
) -> dict[tuple[int, ...], list[tuple[int, str]]]:
    """(context..., target) -> [(user, "dev" / "test")]: each user's dev step (its last `m`
    train items, then its dev target) and test step (its last `m` items of train + dev,
    then its test target), the steps the evaluation asks the model to take. A user without
    earlier items has no step."""
    if m < 1:
        raise ValueError(f"a step needs at least one context item, got m = {m}")
    targets: dict[str, dict[int, int]] = {"dev": {}, "test": {}}
    inter = original.interactions
    held = inter[inter["split"].isin(list(targets)) & (inter["label"] == 1)]
    for split, user, item in zip(
        held["split"].tolist(), held["user_id"].tolist(), held["item_id"].tolist(), strict=True
    ):
        targets[split].setdefault(int(user), int(item))
    steps: dict[tuple[int, ...], list[tuple[int, str]]] = {}
    for user, history in original.history_of().items():
        context = [int(i) for i in history]
        for split in ("dev", "test"):
            target = targets[split].get(int(user))
            if target is None:
                continue
            if context:
                steps.setdefault((*context[-m:], target), []).append((int(user), split))
            context.append(target)
    return steps


def _found_steps(sequences, steps: dict) -> Iterator[tuple[int, int, tuple[int, ...]]]:
    """(sequence index, start, step) for every step of `steps` a sequence holds
    contiguously, in sequence order then position order: windows as tuples, looked up."""
    sizes = sorted({len(key) for key in steps})
    for index, sequence in enumerate(sequences):
        items = tuple(int(i) for i in sequence)
        for start in range(len(items)):
            for size in sizes:
                window = items[start : start + size]
                if len(window) == size and window in steps:
                    yield index, start, window


def _check_steps(submitted: SubmittedSequences, original: Dataset) -> None:
    """Refuse a hard sequence (any id) holding a user's dev or test step, unless the
    original's own train sequences hold that step too (it teaches nothing the original
    does not)."""
    steps = evaluation_steps(original)
    taught = {key for _, _, key in _found_steps(hard_sequences(original)[1], steps)}
    leaking = {key: owners for key, owners in steps.items() if key not in taught}
    for index, start, key in _found_steps(submitted.sequences, leaking):
        user, split = leaking[key][0]
        sequence_id = int(submitted.ids[index])
        raise SubmissionRejected(
            f"sequence {sequence_id} holds user {user}'s {split} step (its last "
            f"{len(key) - 1} context items {list(key[:-1])}, then its {split} target "
            f"{key[-1]}) at positions {start}-{start + len(key) - 1}: dev/test leakage",
            file=submitted.source,
            where=f"{submitted.places[index]}, position {start}",
        )


def _synthetic_histories(submitted: SubmittedSequences, original: Dataset) -> pd.DataFrame | None:
    """A history for every sequence id the original does not know: its own sequence (a
    sequential history is the train sequence), so the set validates; original users keep
    theirs (the evaluation contexts)."""
    users = set(original.histories["user_id"].tolist())
    rows = [
        (int(s), [int(i) for i in items])
        for s, items in zip(submitted.ids.tolist(), submitted.sequences, strict=True)
        if int(s) not in users
    ]
    if not rows:
        return None
    return pd.DataFrame({"user_id": [r[0] for r in rows], "history": [r[1] for r in rows]})


def _check_soft(soft: SoftSequences, original: Dataset, k: int, budget: str, source: str) -> None:
    sequences, length, items = soft.shape
    if items != original.num_items:
        raise SubmissionRejected(
            f"soft sequences range over {items} items; the original has {original.num_items} "
            "(the item axis follows the original's item table, row by row)",
            file=source,
        )
    if sequences < 1 or length < 1:
        raise SubmissionRejected(
            f"soft sequences of shape {list(soft.shape)} hold no position", file=source
        )
    _check_budget(
        sequences,
        soft.interaction_equivalents,
        k,
        budget,
        source,
        f"soft: S × L = {sequences} × {length}",
    )
    if soft.form != DENSE and not np.isfinite(soft.probs()).all():
        raise SubmissionRejected(
            f"the {soft.form} factors give NaN or infinite probabilities (overflow)",
            file=source,
        )


# ---- the whole step -------------------------------------------------------------------------


def check_sequential_set(
    folder: Path, label: str, original: Dataset, *, budget: str, method: str
) -> Dataset:
    """Read the set in `folder` and check it against `original` (`read_sequential`,
    `check_sequential`)."""
    return check_sequential(read_sequential(folder, label), original, budget=budget, method=method)


def sequential_summary(condensed: Dataset) -> dict:
    """What `condbench submit --json` reports of a sequential set."""
    return {
        "train_kind": train_kind(condensed),
        "sequences": sequence_count(condensed),
        "interaction_equivalents": counted_equivalents(condensed),
    }
