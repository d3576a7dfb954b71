"""Recompute the `covered_by` column of lib/openssh_messages.tsv: `python -m tests.tools.message_coverage`.

A source message whose example a hand-written template of `lib.templates` already parses is
"covered" by it: the catalog then builds no template of its own for it (fewer alternatives
per dispatch group, a faster parse). tests/test_templates.py fails when the column is stale.
"""
from __future__ import annotations

import sys

from lib import parser
from lib import templates as tp


def coverage(rows: list[dict]) -> list[str]:
    """Per row, the hand-written template that parses its example, or ""."""
    hand = {t.event_id for t in tp.HAND_CATALOG}
    out = []
    for r in rows:
        got = parser.parse_message(r["example"])["event_id"]
        out.append(got if got in hand else "")
    return out


def main() -> int:
    rows = tp.read_messages()
    head = list(rows[0])
    for r, c in zip(rows, coverage(rows)):
        r["covered_by"] = c
    lines = ["\t".join(head)] + ["\t".join(r[h] for h in head) for r in rows]
    tp.MESSAGES_FILE.write_text("\n".join(lines) + "\n", encoding="utf-8")
    print(f"{sum(bool(r['covered_by']) for r in rows)} of {len(rows)} messages covered by hand-written templates",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
