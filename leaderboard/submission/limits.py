"""Size limits for submitted files (checked before anything is read or extracted)."""

from __future__ import annotations

from dataclasses import dataclass

MIB = 1024 * 1024


@dataclass(frozen=True)
class Limits:
    max_file_bytes: int = 256 * MIB
    max_total_bytes: int = 1024 * MIB
    max_files: int = 1000

    def __post_init__(self) -> None:
        for name in ("max_file_bytes", "max_total_bytes", "max_files"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be positive")
