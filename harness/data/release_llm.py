"""The gpt-3.5-turbo outputs shipped with the TF-DCon release, keyed by our ids (replay).

``raw_data/<ds>/content_condensation.csv`` (columns ``mid|bid, sum``): the condensed item
text. Its id column holds the ORIGINAL dataset ids (MovieLens-100K: 1 = Toy Story,
3 = Four Rooms; Goodreads book ids), not the release's ids: row k of the csv is release item
k (checked by tokenizing every row: it begins with the tokens of content/condensed.npy's
``sum`` for item k, which the release cut to about 20 tokens).

``raw_data/<ds>/user_interest.log`` (JSON lines ``{"uid": N, "interest": [...]}``): the
interests the LLM extracted from each user's history. Its uid IS the release uid (checked:
interests overlap the user's own history text far more than a neighbour's). Lists are kept
as released: most hold 5 strings, a few hold 0 to 4 or more than 5.
"""

from __future__ import annotations

from dataclasses import dataclass

from harness.data.registry import get_source
from harness.data.source import PathLike
from harness.data.textfiles import parse_int, read_csv_records, read_json_lines
from harness.data.tfdcon_release import TfdconRelease
from harness.errors import DataError


@dataclass(frozen=True)
class ReleaseLLMOutputs:
    """LLM outputs of the release: ``titles`` item_id -> condensed text, ``interests``
    user_id -> interest strings, ``source_item_ids`` item_id -> the csv's original id."""

    titles: dict[int, str]
    interests: dict[int, list[str]]
    source_item_ids: dict[int, int]


def release_llm_outputs(
    name: str, mirror: PathLike = None, cache: PathLike = None
) -> ReleaseLLMOutputs:
    source = get_source(name)
    if not isinstance(source, TfdconRelease):
        raise DataError(
            f"{name} is not a TF-DCon release dataset: it ships no recorded LLM outputs"
        )
    files = source.fetch_raw_data(mirror=mirror, cache=cache)
    csv_path, log_path = files["content_condensation.csv"], files["user_interest.log"]

    titles: dict[int, str] = {}
    source_ids: dict[int, int] = {}
    for item_id, (line, record) in enumerate(read_csv_records(csv_path, (source.item_key, "sum"))):
        source_ids[item_id] = parse_int(
            record[source.item_key], str(csv_path), f"line {line}", source.item_key
        )
        titles[item_id] = record["sum"]

    interests: dict[int, list[str]] = {}
    for line, record in read_json_lines(log_path, ("uid", "interest")):
        where = f"line {line}"
        user = record["uid"]
        values = record["interest"]
        if not isinstance(user, int) or isinstance(user, bool):
            raise DataError(f"uid {user!r} is not an integer", file=str(log_path), where=where)
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise DataError("interest must be a list of strings", file=str(log_path), where=where)
        if user in interests:
            raise DataError(f"duplicate uid {user}", file=str(log_path), where=where)
        interests[user] = values
    return ReleaseLLMOutputs(titles=titles, interests=interests, source_item_ids=source_ids)
