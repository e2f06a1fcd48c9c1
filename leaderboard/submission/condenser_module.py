"""Static check of a submitted condenser module. It is parsed, never imported here.

Importing runs the submitter's code; that happens only when the entry is evaluated (in the
fixed container). Here we check that the file is UTF-8 Python that parses and defines a
class deriving from `Condenser` (the one named by `condenser_class`, when given).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path

from leaderboard.submission.rejection import SubmissionRejected

BASE_CLASS = "Condenser"


@dataclass(frozen=True)
class CondenserModule:
    path: Path
    source: str
    class_name: str


def _base_names(node: ast.ClassDef) -> list[str]:
    names = []
    for base in node.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def check_condenser_module(path: Path, label: str, class_name: str | None) -> CondenserModule:
    if not path.is_file():
        raise SubmissionRejected("condenser module not found", file=label)
    if path.suffix != ".py":
        raise SubmissionRejected("a condenser module must be a .py file", file=label)
    try:
        source = path.read_text(encoding="utf-8")
        tree = ast.parse(source, filename=label)
    except UnicodeDecodeError:
        raise SubmissionRejected("not UTF-8 text", file=label) from None
    except SyntaxError as exc:
        raise SubmissionRejected(
            f"not valid Python: {exc.msg}", file=label, where=f"line {exc.lineno}"
        ) from None
    candidates = [
        n.name for n in tree.body if isinstance(n, ast.ClassDef) and BASE_CLASS in _base_names(n)
    ]
    if class_name is not None:
        if class_name not in candidates:
            raise SubmissionRejected(
                f"no class {class_name!r} deriving from {BASE_CLASS}", file=label
            )
        return CondenserModule(path, source, class_name)
    if len(candidates) != 1:
        found = ", ".join(candidates) or "none"
        raise SubmissionRejected(
            f"expected exactly one class deriving from {BASE_CLASS} (found {found}); name it with 'condenser_class'",
            file=label,
        )
    return CondenserModule(path, source, candidates[0])
