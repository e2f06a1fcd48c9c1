"""`replay` backend: answers only from recorded outputs (e.g. the TF-DCon release's gpt-3.5
titles and interests). A key that was never recorded is an error, never a silent fallback.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from condensers.llm.client import LLMClient
from condensers.llm.errors import ReplayMiss
from condensers.llm.prompts import INTERESTS_TASK, TITLE_TASK

RELEASE_MODEL = "gpt-3.5-turbo (TF-DCon release raw_data)"


class RecordedOutputs(Protocol):
    """Anything with item id -> title and user id -> interests dicts (the data layer's
    `release_llm_outputs(name)` result)."""

    titles: Mapping[Any, str]
    interests: Mapping[Any, list[str]]


def item_key(dataset_name: str, item_id: Any) -> str:
    return f"{dataset_name}/item/{item_id}"


def user_key(dataset_name: str, user_id: Any) -> str:
    return f"{dataset_name}/user/{user_id}"


@dataclass
class ReplayTable:
    """Recorded answers: {("title", key): str, ("interests", key): list[str]}."""

    entries: dict[tuple[str, str], Any] = field(default_factory=dict)
    model: str = "recorded"

    @classmethod
    def from_release(
        cls, dataset_name: str, outputs: RecordedOutputs, *, model: str = RELEASE_MODEL
    ) -> ReplayTable:
        """Keys "<dataset>/item/<id>" and "<dataset>/user/<id>" from `outputs`."""
        entries: dict[tuple[str, str], Any] = {}
        for item_id, title in outputs.titles.items():
            entries[(TITLE_TASK, item_key(dataset_name, item_id))] = str(title)
        for user_id, interests in outputs.interests.items():
            entries[(INTERESTS_TASK, user_key(dataset_name, user_id))] = [str(i) for i in interests]
        return cls(entries=entries, model=model)

    def lookup(self, task: str, key: str) -> Any:
        try:
            return self.entries[(task, key)]
        except KeyError:
            recorded = sum(1 for recorded_task, _ in self.entries if recorded_task == task)
            raise ReplayMiss(
                f"replay has no recorded {task} for {key!r} ({recorded} {task} outputs recorded); "
                "use --llm local or openai:MODEL@URL to generate it"
            ) from None

    def __len__(self) -> int:
        return len(self.entries)


class ReplayClient(LLMClient):
    """The client of the replay backend: no model, no calls, no cache."""

    def __init__(self, table: ReplayTable):
        super().__init__()
        self.table = table

    def titles(
        self, requests: Mapping[str, Mapping[str, str]], *, progress: bool = True
    ) -> dict[str, str]:
        """The recorded title of each key (the item fields are not read)."""
        return {key: self._replay(TITLE_TASK, key) for key in requests}

    def interests_many(
        self, requests: Mapping[str, list[str]], *, progress: bool = True
    ) -> dict[str, list[str]]:
        """The recorded interests of each key (the history titles are not read)."""
        return {key: list(self._replay(INTERESTS_TASK, key)) for key in requests}

    def describe(self) -> dict[str, Any]:
        return {"backend": "replay", "model": self.table.model, "prompt_version": "recorded"}

    def _replay(self, task: str, key: str) -> Any:
        self._stats.add("requests")
        answer = self.table.lookup(task, key)
        self._stats.add("replayed")
        return answer
