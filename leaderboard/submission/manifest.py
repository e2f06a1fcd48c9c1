"""The submission manifest: `manifest.json` or `manifest.yaml` at the top of the entry.

Every field is required except `condenser_class`; exactly one of `condensed_set` (a folder
in the entry) and `condenser_module` (a .py file in the entry) is given. The file itself is
capped and parsed by `manifest_text` (size, nesting, no YAML aliases, printable text).

``budget`` is kept in its canonical form, `Budget.label` (``00047`` and `` 47`` are ``47``,
``5.0%`` is ``5%``), so one budget is one row of the board.
"""

from __future__ import annotations

import re
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from harness.budget import Budget
from harness.errors import ConfigError
from leaderboard.submission.manifest_text import read_manifest_data
from leaderboard.submission.names import check_method_name
from leaderboard.submission.rejection import SubmissionRejected

MANIFEST_NAMES = ("manifest.json", "manifest.yaml", "manifest.yml")
_BUDGET = re.compile(r"^(\d+|\d+(\.\d+)?%)$")


class SubmissionManifest(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str = Field(min_length=1, max_length=100)
    version: str = Field(min_length=1, max_length=50)
    authors: list[str] = Field(min_length=1)
    paper_url: str
    params: dict[str, Any]
    dataset: str = Field(min_length=1)
    budget: str
    condensed_set: str | None = None
    condenser_module: str | None = None
    condenser_class: str | None = None

    @field_validator("authors", mode="before")
    @classmethod
    def _authors_list(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("budget", mode="before")
    @classmethod
    def _budget_text(cls, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            value = str(value)
        if isinstance(value, str) and not _BUDGET.match(value.strip()):
            raise ValueError("must be a number of users (e.g. 47) or a percentage (e.g. 5%)")
        if isinstance(value, str):
            try:  # the one Budget: refuses 0 users and shares above 100%; its label is canonical
                return Budget.parse(value).label
            except ConfigError as exc:
                raise ValueError(str(exc).removeprefix("budget: ")) from None
        return value

    @field_validator("method")
    @classmethod
    def _not_reserved(cls, value: str) -> str:
        try:  # reserved names, look-alikes, names that are not their own record folder
            return check_method_name(value)
        except SubmissionRejected as exc:
            raise ValueError(exc.reason) from None

    @field_validator("paper_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        parts = urlsplit(value.strip())
        if parts.scheme.lower() not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) URL")
        return value.strip()

    @field_validator("condensed_set", "condenser_module")
    @classmethod
    def _relative_path(cls, value: str | None) -> str | None:
        if value is None:
            return None
        path = PurePosixPath(value.replace("\\", "/"))
        if path.is_absolute() or ".." in path.parts:
            raise ValueError("must be a path inside the entry folder")
        if not path.parts:  # "", "." or "./": the entry itself, which holds the manifest
            raise ValueError(
                f"{value!r} is the entry folder itself: name a folder or file inside it "
                "(e.g. 'condensed')"
            )
        return path.as_posix()

    @model_validator(mode="after")
    def _one_payload(self) -> SubmissionManifest:
        if (self.condensed_set is None) == (self.condenser_module is None):
            raise ValueError("give exactly one of 'condensed_set' and 'condenser_module'")
        return self


def find_manifest(root: Path) -> Path:
    found = [root / name for name in MANIFEST_NAMES if (root / name).is_file()]
    if not found:
        raise SubmissionRejected(
            f"no manifest: expected one of {', '.join(MANIFEST_NAMES)}", file=str(root)
        )
    if len(found) > 1:
        raise SubmissionRejected("more than one manifest; keep one", file=str(root))
    return found[0]


def read_manifest(root: Path) -> SubmissionManifest:
    path = find_manifest(root)
    data = read_manifest_data(path)  # capped, no YAML aliases, printable (manifest_text.py)
    if not isinstance(data, dict):
        raise SubmissionRejected("manifest must be a mapping of fields", file=path.name)
    try:
        return SubmissionManifest.model_validate(data)
    except ValidationError as exc:
        raise SubmissionRejected(_first_problem(exc), file=path.name) from None


def _first_problem(exc: ValidationError) -> str:
    error = exc.errors()[0]
    key = ".".join(str(p) for p in error["loc"])
    if error["type"] == "missing":
        return f"missing field {key!r}"
    if error["type"] == "extra_forbidden":
        return f"unknown field {key!r}"
    message = error["msg"].removeprefix("Value error, ")
    return f"field {key!r}: {message}" if key else message
