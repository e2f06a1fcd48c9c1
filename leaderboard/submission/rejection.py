"""The one error a rejected submission raises: a check failed (exit code 1), one line."""

from __future__ import annotations

from harness.errors import CheckFailed


class SubmissionRejected(CheckFailed):
    """A submission failed validation; the message names the file (and row) and the reason."""

    def __init__(self, reason: str, file: str | None = None, where: str | None = None):
        self.reason = reason
        self.file = file
        self.where = where
        location = ""
        if file:
            location = f"{file}" + (f" ({where})" if where else "") + ": "
        super().__init__(f"submission rejected: {location}{reason}")
