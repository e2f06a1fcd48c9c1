"""bench/mind_shapes.py writes MIND zips the converter accepts, at the sizes it names."""

from __future__ import annotations

import sys
import zipfile
from pathlib import Path

import pytest

from harness.data import load_dataset
from harness.text import UNKNOWN, get_tokenizer

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "bench"))

from mind_shapes import SHAPES, generate  # noqa: E402


@pytest.mark.parametrize(
    ("shape", "source", "scale"), [("small", "mind-small", 0.002), ("large", "mind", 0.0002)]
)
def test_generated_zips_convert_at_their_sizes(tmp_path, shape, source, scale):
    sizes = generate(tmp_path / "mirror", shape, scale, seed=1)
    assert sizes["users"] == round(SHAPES[shape].users * scale)
    dataset = load_dataset(source, mirror=tmp_path / "mirror", cache=tmp_path / "cache")
    dataset.validate()
    assert len(dataset.items) == sizes["news"]
    assert len(dataset.histories) == sizes["users"]  # every user has an impression
    groups = dataset.interactions.groupby("split")["group_id"].nunique()
    assert groups["train"] + groups["dev"] == sizes["train_impressions"]
    assert groups["test"] == sizes["dev_impressions"]
    per_group = dataset.interactions.groupby("group_id")["label"]
    assert (per_group.sum() >= 1).all() and (per_group.size() >= 2).all()
    unknown = get_tokenizer().encode(UNKNOWN)
    titles = [t for title in dataset.items["title"] for t in title]
    assert len(titles) >= 10 * len(dataset.items) and not set(unknown) & set(titles)


def test_same_seed_same_bytes(tmp_path):
    for run in ("a", "b"):
        generate(tmp_path / run, "small", 0.001, seed=3)
    for part in ("train", "dev"):
        zips = [zipfile.ZipFile(tmp_path / run / "mind" / f"MINDsmall_{part}.zip") for run in "ab"]
        for member in ("news.tsv", "behaviors.tsv"):
            assert zips[0].read(member) == zips[1].read(member)
