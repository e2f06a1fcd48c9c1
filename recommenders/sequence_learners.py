"""The sequential track's learners, by name: SASRec, SASRec reading item text, GRU4Rec.

Entries are ``"module:Class"`` strings, imported the first time they are asked for, so
listing the names (config validation, `condbench --help`) never loads torch. A new learner
is one module with a `recommenders.sequence_base.SequentialLearner` subclass plus one line
here; the learner contract suite (tests/contracts) then covers it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.registry import Registry

if TYPE_CHECKING:
    from recommenders.sequence_base import SequentialLearner

SEQUENTIAL_LEARNERS: Registry[type[SequentialLearner]] = Registry(
    "sequential learner", case_sensitive=False
)
SEQUENTIAL_LEARNERS.register("sasrec", "recommenders.sasrec:SASRec")
SEQUENTIAL_LEARNERS.register("sasrec-text", "recommenders.sasrec:SASRecText")
SEQUENTIAL_LEARNERS.register("gru4rec", "recommenders.gru4rec:GRU4Rec")
