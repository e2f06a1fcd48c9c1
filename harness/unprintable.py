"""Characters that must never reach a terminal or a page as they are.

Unprintable here: every character a terminal acts on or that reorders or hides text, by its
Unicode category: controls (``Cc``: C0 such as ESC and newline, DEL, C1 such as the CSI
``\\x9b``), format characters (``Cf``: the bidi embeddings, overrides and isolates
U+202A-U+202E and U+2066-U+2069, zero-width spaces and joiners, the BOM), surrogates and
private-use characters (``Cs``, ``Co``) and the line and paragraph separators (``Zl``, ``Zp``).

`escape_unprintable` writes each as a visible escape (``\\x1b``, ``\\u202e``): the CLI prints
every line through it. `first_unprintable` finds one: submission checks refuse names that
hold one.
"""

from __future__ import annotations

import unicodedata

UNPRINTABLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Zl", "Zp"})


def is_unprintable(char: str) -> bool:
    """True for a control, format (bidi, zero-width), surrogate, private-use or separator
    character."""
    return unicodedata.category(char) in UNPRINTABLE_CATEGORIES


def escaped_char(char: str) -> str:
    """``\\xNN`` below U+0100, else ``\\uNNNN`` (``\\UNNNNNNNN`` past the BMP)."""
    code = ord(char)
    if code < 0x100:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}"


def escape_unprintable(text: object) -> str:
    """`text` with every unprintable character written as a visible escape."""
    return "".join(escaped_char(c) if is_unprintable(c) else c for c in str(text))


def first_unprintable(text: str) -> str | None:
    """The first unprintable character of `text`, or None."""
    return next((c for c in text if is_unprintable(c)), None)


def describe_char(char: str) -> str:
    """``U+202E (RIGHT-TO-LEFT OVERRIDE)``: a character named for a message."""
    return f"U+{ord(char):04X} ({unicodedata.name(char, 'unnamed')})"
