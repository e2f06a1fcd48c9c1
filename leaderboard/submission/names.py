"""Submission method names: reserved names and look-alikes are refused.

Reserved (derived, never hand-kept): every condenser name in the registry (built-ins, the
release entries ``release-*`` and installed plugins), each of them with the tuned suffix
(``tfdcon-tuned``, as `condbench tune` names its records), and the reference scorers
(``chance``, ``popularity``). The run floor adds the grid labels of the benchmark config (and
their tuned labels) when it evaluates an entry.

A name is written in ASCII letters, digits and ``. _ = -``, starting with a letter or digit,
so it is its own record folder (`leaderboard.record.safe_part` changes nothing): no spaces,
no "/", no control, zero-width or other invisible characters, no non-ASCII letters. It may not
look like a reserved name either: names are compared after NFKC normalisation, case folding,
mapping Cyrillic and Greek letters that look Latin to their Latin twins, dropping invisible
characters and treating every run of other characters (``-``, ``_``, ``.``, ``/``, spaces) as
one separator (``Random``, ``tfdcon_user``, ``tfdcon/user``,
``rаndom`` with a Cyrillic "а" and ``random\\u200b`` all look like a built-in name).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from condensers.registry import available
from harness.reference import REFERENCE_SCORERS
from leaderboard.record import TUNED_SUFFIX, safe_part
from leaderboard.submission.rejection import SubmissionRejected

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._=-]*$")
_SEPARATORS = re.compile(r"[\W_]+")  # any run of non-letters, non-digits
# letters that look Latin: Cyrillic and Greek (after NFKC and case folding)
_CONFUSABLES = str.maketrans(
    {
        "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "ё": "e", "һ": "h", "і": "i",
        "ї": "i", "ј": "j", "к": "k", "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p",
        "ԛ": "q", "г": "r", "ѕ": "s", "т": "t", "υ": "u", "ѵ": "v", "ԝ": "w", "х": "x",
        "у": "y", "α": "a", "β": "b", "ϲ": "c", "ε": "e", "η": "n", "ι": "i", "κ": "k",
        "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "χ": "x", "γ": "y", "ω": "w", "ѡ": "w",
        "ı": "i", "ℓ": "l",
    }
)  # fmt: skip


def reserved_method_names() -> frozenset[str]:
    """Names a submission may not take: the condenser registry's (and each one tuned) and
    the reference scorers'."""
    condensers = set(available())
    return frozenset(
        condensers | {name + TUNED_SUFFIX for name in condensers} | set(REFERENCE_SCORERS)
    )


def look_alike_key(name: str) -> str:
    """What `name` looks like: two names with the same key are refused as look-alikes."""
    text = unicodedata.normalize("NFKC", name).casefold().translate(_CONFUSABLES)
    text = "".join(c for c in text if unicodedata.category(c)[0] != "C")  # invisible, control
    return _SEPARATORS.sub("-", text).strip("-")


def check_method_name(name: str, taken: Iterable[str] = ()) -> str:
    """Refuse a reserved name, a look-alike of one (or of a `taken` name: other entries, grid
    labels) and a name that is not its own record folder. Returns `name`."""
    if not isinstance(name, str) or not name:
        raise SubmissionRejected("method name must be a non-empty string")
    key = look_alike_key(name)
    reserved = reserved_method_names()
    for other in sorted(reserved) + sorted(set(taken) - reserved):
        if look_alike_key(other) == key or safe_part(name) == safe_part(other):
            what = "a built-in method name" if other in reserved else "the name of another entry"
            same = "is" if name == other else "looks like"
            raise SubmissionRejected(f"method {name!r} {same} {what} ({other!r}); choose another")
    odd = [c for c in name if not c.isascii() or unicodedata.category(c)[0] == "C"]
    if odd:
        char = odd[0]
        raise SubmissionRejected(
            f"method {name!r} holds U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')}); "
            "use ASCII letters, digits and . _ = -"
        )
    if not _NAME.match(name):
        raise SubmissionRejected(
            f"method {name!r}: use ASCII letters, digits and . _ = -, starting with a letter or "
            "digit (the name is a folder of the results)"
        )
    return name
