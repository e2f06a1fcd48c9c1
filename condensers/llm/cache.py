"""The LLM response cache: one SQLite file, keyed by a hash of who answered what.

Key = sha256 of (backend, model, prompt template version, task, input[, endpoint]). The
endpoint (an openai backend's base URL) is appended only for backends that have one, so one
model name served at two URLs never shares answers, while the keys of the local backend
(no endpoint) are those of every cache written before (`results/llm-cache/*.sqlite` stays
usable). Only real answers are stored: the client never caches a fallback, and reads a
fallback row of an older cache as a miss, so a fallback is asked again on the next run.
Safe across threads (one connection per thread) and processes (WAL).
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from harness.errors import CondbenchError
from harness.hashing import content_key

CACHE_FILE = "cache.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS responses (
    key TEXT PRIMARY KEY,
    task TEXT NOT NULL,
    backend TEXT NOT NULL,
    model TEXT NOT NULL,
    prompt_version TEXT NOT NULL,
    input TEXT NOT NULL,
    output TEXT NOT NULL,
    fallback INTEGER NOT NULL,
    created REAL NOT NULL
)
"""


@dataclass(frozen=True)
class CachedAnswer:
    output: Any
    fallback: bool


def cache_key(
    backend: str,
    model: str,
    prompt_version: str,
    task: str,
    task_input: Any,
    endpoint: str | None = None,
) -> str:
    """The content hash that identifies one answer (`endpoint`: the base URL, if any)."""
    payload = [backend, model, prompt_version, task, task_input]
    if endpoint:
        payload.append(endpoint)
    return content_key(payload, length=None, ensure_ascii=False)


class ResponseCache:
    """Get/put answers in `<directory>/cache.sqlite`."""

    def __init__(self, directory: Path):
        self.path = Path(directory) / CACHE_FILE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._local = threading.local()
        self._connect()  # fail now, with the path, if the file is unusable

    def _connect(self) -> sqlite3.Connection:
        connection = getattr(self._local, "connection", None)
        if connection is None:
            try:
                connection = sqlite3.connect(self.path, timeout=30.0)
                connection.execute("PRAGMA journal_mode=WAL")
                connection.execute("PRAGMA busy_timeout=30000")
                connection.execute(_SCHEMA)
                connection.commit()
            except sqlite3.DatabaseError as exc:
                raise CondbenchError(f"{self.path}: not a usable LLM cache ({exc})") from exc
            self._local.connection = connection
        return connection

    def get(self, key: str) -> CachedAnswer | None:
        row = (
            self._connect()
            .execute("SELECT output, fallback FROM responses WHERE key = ?", (key,))
            .fetchone()
        )
        if row is None:
            return None
        return CachedAnswer(output=json.loads(row[0]), fallback=bool(row[1]))

    def put(
        self,
        key: str,
        *,
        task: str,
        backend: str,
        model: str,
        prompt_version: str,
        task_input: Any,
        output: Any,
        fallback: bool,
    ) -> None:
        connection = self._connect()
        with connection:
            connection.execute(
                "INSERT OR REPLACE INTO responses VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    key,
                    task,
                    backend,
                    model,
                    prompt_version,
                    json.dumps(task_input, ensure_ascii=False),
                    json.dumps(output, ensure_ascii=False),
                    int(fallback),
                    time.time(),
                ),
            )

    def count(self) -> int:
        return self._connect().execute("SELECT COUNT(*) FROM responses").fetchone()[0]

    def close(self) -> None:
        connection = getattr(self._local, "connection", None)
        if connection is not None:
            connection.close()
            self._local.connection = None
