"""A method built from a partial description (FOSTER: its abstract) says so: the record keeps
`MethodInfo.implemented_from` and `open_choices` (left out of the JSON when empty; the runner
copies them from the condenser class), and the entry page lists every choice beside the value
the records used, escaped."""

from __future__ import annotations

import json

from leaderboard_factory import make_sequential_record

from condensers.foster import OPEN_CHOICES, FosterCondenser
from harness.run.runner import Cell, method_description
from leaderboard.record import read_record, write_record
from leaderboard.site import LoadedRecord, render_site

CHOICES = {"subset_size": "k items a step <ours>", "reset_every": "steps between resets"}


def _described(seed: int = 0, value: float = 0.3):
    record = make_sequential_record(method="foster", budget="20", seed=seed, value=value)
    method = record.method.model_copy(
        update={
            "implemented_from": "the abstract & nothing else",
            "open_choices": CHOICES,
            "params": {"subset_size": 256, "reset_every": None},
        }  # fmt: skip
    )
    return record.model_copy(update={"method": method})


def test_the_record_keeps_both_and_a_plain_record_has_neither(tmp_path):
    path = write_record(_described(), tmp_path / "a")
    stored = json.loads(path.read_text(encoding="utf-8"))
    assert stored["method"]["implemented_from"] == "the abstract & nothing else"
    assert stored["method"]["open_choices"] == CHOICES
    assert read_record(path).method.open_choices == CHOICES
    plain = write_record(make_sequential_record(method="random-kxl", budget="20"), tmp_path / "b")
    method = json.loads(plain.read_text(encoding="utf-8"))["method"]
    assert "implemented_from" not in method and "open_choices" not in method


def test_foster_names_every_open_choice_and_where_it_comes_from():
    assert "abstract" in FosterCondenser.implemented_from
    assert FosterCondenser.open_choices == OPEN_CHOICES
    assert {"subset_size", "reset_every", "cooccurrence_weight", "matching"} <= set(OPEN_CHOICES)


def test_the_entry_page_lists_each_choice_with_its_value_escaped(sequential_track, tmp_path):
    records = [_described(seed=s, value=0.3 + s / 100) for s in (0, 1)]
    records += [make_sequential_record(method="original", budget="all", seed=s) for s in (0, 1)]
    out = tmp_path / "site"
    render_site([LoadedRecord(r, None) for r in records], out, built="now")
    page = next(p for p in (out / "entries").glob("*.html") if "--foster--" in p.name).read_text()
    assert 'Implemented from</th><td class="text">the abstract &amp; nothing else' in page
    assert '<code>subset_size</code></td><td class="text">k items a step &lt;ours&gt;' in page
    assert "<code>256</code>" in page and "<code>None</code>" in page
    original = next(p for p in (out / "entries").glob("*.html") if "--original--" in p.name)
    assert "open-choices" not in original.read_text()


def test_the_runner_takes_them_from_a_registered_condenser_only():
    def cell(condenser: str) -> Cell:
        return Cell(dataset="ml-100k-seq", method="x", condenser=condenser, budget="20",
                    recommender="sasrec", seed=0)  # fmt: skip

    described = method_description(cell("foster"))
    assert described["implemented_from"] == FosterCondenser.implemented_from
    assert described["open_choices"] == OPEN_CHOICES
    assert method_description(cell("td3")) == {"implemented_from": None, "open_choices": {}}
    assert method_description(cell("submission")) == {}  # a submitted entry: not registered
