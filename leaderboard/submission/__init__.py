"""Submission validation: unpack safely and check an entry against the original dataset.

Evaluating a valid entry trains, so it lives on the run floor (`harness.run.submission`).

Modules, in the order a submission meets them:
    archive.py          safe unpacking of .zip / .tar.gz (paths, links, sizes)
    scan.py             every file: no pickles, no links, size limits
    manifest_text.py    the manifest file: size and nesting caps, no YAML aliases, printable
    manifest.py         the submission manifest (manifest.json / .yaml)
    condensed.py        reading a condensed set (Parquet as Dataset.save writes it, or TSV)
    condenser_module.py static check of a submitted condenser module (never imported here)
    checks.py           the condensed set against the original: ids, leakage, budget
    pipeline.py         validate_submission(): all of the above
"""

from leaderboard.submission.limits import Limits
from leaderboard.submission.pipeline import ValidatedSubmission, validate_submission
from leaderboard.submission.rejection import SubmissionRejected

__all__ = [
    "Limits",
    "SubmissionRejected",
    "ValidatedSubmission",
    "validate_submission",
]
