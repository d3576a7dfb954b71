"""Log text shown to people: attacker-controlled, so control characters are displayed, never obeyed."""
from __future__ import annotations


def shown(text) -> str:
    """`text` with control characters (ANSI escapes, line breaks, NUL) shown escaped, e.g. ``\\x1b``, ``\\n``."""
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in str(text))
