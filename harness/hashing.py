"""The one content-hash key helper: every cache key in condbench is `content_key(payload)`.

A key is the sha256 of the payload's canonical JSON (sorted keys), so changing any input
changes the key and a cache can never serve a stale result (DESIGN.md, Conventions).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any


def content_key(payload: Any, *, length: int | None = 32, ensure_ascii: bool = True) -> str:
    """Hex sha256 of ``json.dumps(payload, sort_keys=True)`` (non-JSON values via ``str``),
    cut to `length` hex digits (None: all 64)."""
    text = json.dumps(payload, sort_keys=True, default=str, ensure_ascii=ensure_ascii)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return digest if length is None else digest[:length]
