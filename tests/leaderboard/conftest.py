"""The sequential track for leaderboard tests: the registered one, or (until it is
registered) a stand-in with the labels the leaderboard reads from it."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import pytest

from harness.tracks import Track
from recommenders.tracks import CONTENT, TRACKS


@pytest.fixture(scope="session")
def sequential_track() -> Iterator[Track]:
    if "sequential" in TRACKS:
        yield TRACKS.get("sequential")
        return
    stand_in = dataclasses.replace(
        CONTENT,
        name="sequential",
        data_kind="sequential",
        ratio_label="interaction-equivalents ratio",
        random_method="random-kxl",
        ratio_definition="interaction-equivalents over the original's train interactions",
    )
    TRACKS.register("sequential", stand_in)
    try:
        yield stand_in
    finally:
        TRACKS.unregister("sequential")
