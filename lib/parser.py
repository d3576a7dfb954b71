"""Pure-Python sshd log parser, built from `lib.templates`.

It gives, line for line, the same answer as the Spark Silver parse (`lib.silver`);
`tests/test_parser_agreement.py` holds the two together. The API and
`python -m lib parse` use it: no Spark in their path.
"""
from __future__ import annotations

import gzip
import re
from datetime import datetime, timezone
from functools import lru_cache
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from lib import templates as tp

# Field names of a parsed line, in output order (also Silver's columns, plus lineage).
FIELDS = ("line_number", "timestamp", "host", "process", "pid", "category", "event_id", "event_template",
          "message", "user", "invalid_user", "src_ip", "src_host", "src_port", "auth_method", "key_type",
          "key_fingerprint", "outcome", "action", "preauth", "repeat_count", "reason")

_A = re.ASCII


def _compile(regex: str) -> re.Pattern:
    return re.compile(regex, _A)


def _replacement_parts(java: str) -> list:
    """A Java replacement ("$1 $2") as literal strings and group numbers, to expand without re's template parser."""
    return [int(p[1:]) if p.startswith("$") else p for p in re.split(r"(\$\d)", java) if p]


def _expand(m: re.Match, parts: list) -> str:
    return "".join(p if isinstance(p, str) else (m.group(p) or "") for p in parts)


_HEADERS = {name: (_compile(regex), [_replacement_parts(r) for r in repls])
            for name, (regex, *repls) in tp.HEADER_FORMATS.items()}
_DISPATCH = {key: [(t, _compile(t.regex)) for t in lst] for key, lst in tp.dispatch_table().items()}
_REPEAT = _compile(tp.REPEAT_REGEX)
_FIRST_MONTH = _compile(tp.FIRST_MONTH_REGEX)
_MASKS = [(_compile(rx), repl) for rx, repl in tp.MASKS]
_IPV4 = _compile(tp.IPV4_REGEX)
_IPV6 = _compile(tp.IPV6_REGEX)
_BLANK = _compile(tp.BLANK_REGEX)
_PREAUTH = _compile(tp.PREAUTH_REGEX)
_MONTH = {m: i + 1 for i, m in enumerate(tp.MONTHS)}


def read_lines(path: str) -> Iterator[bytes]:
    """Raw lines of a (possibly gzipped) file, split on LF with one trailing CR removed.

    The same rule as Bronze: Spark's text source with ``lineSep='\\n'``.
    """
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rb") as f:
        for raw in f:  # binary files iterate on LF only, streaming
            if raw.endswith(b"\n"):
                raw = raw[:-1]
            yield raw[:-1] if raw.endswith(b"\r") else raw


def split_lines(data: bytes) -> list[bytes]:
    """In-memory bytes split by the rule of `read_lines` (and Bronze)."""
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    return [line[:-1] if line.endswith(b"\r") else line for line in lines]


_CONTROL = {ord(ch): "\ufffd" for ch in tp.CONTROL}


def clean_text(raw: bytes | str) -> str:
    """The text Silver parses: invalid UTF-8 and `templates.CONTROL` characters become U+FFFD."""
    text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else raw
    return text.translate(_CONTROL)


def mask(message: str) -> str:
    """Loghub-style template of a message no catalog template matched."""
    for rx, repl in _MASKS:
        message = rx.sub(repl, message)
    return message


def first_month(text: str) -> int | None:
    m = _FIRST_MONTH.match(text)
    return _MONTH[m.group(1)] if m else None


@lru_cache(maxsize=64)
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def _header(text: str) -> tuple[str, dict] | None:
    first = text[:1]
    order = ("rfc5424", "bsd", "iso") if first == "<" else ("iso",) if "0" <= first <= "9" else ("bsd",)
    for name in order:
        rx, repls = _HEADERS[name]
        m = rx.match(text)
        if m:
            return name, dict(zip(tp.HEADER_FIELDS, (_expand(m, r) for r in repls)))
    return None


def _timestamp(fmt: str, h: dict, year: int, month0: int | None, tz: str) -> datetime | None:
    try:
        if fmt == "bsd":
            mon, day, hms = h["ts_text"].split(" ")
            month = _MONTH[mon]
            y = year + (1 if month0 is not None and month < month0 else 0)
            hh, mm, ss = (int(x) for x in hms.split(":"))
            local = datetime(y, month, int(day), hh, mm, ss, tzinfo=_zone(tz))
        else:
            zone = h["zone"]
            if zone:
                if zone != "Z" and ":" not in zone:
                    zone = zone[:3] + ":" + zone[3:]
                return datetime.fromisoformat(h["ts_text"] + zone).astimezone(timezone.utc)
            local = datetime.fromisoformat(h["ts_text"]).replace(tzinfo=_zone(tz))
        return local.astimezone(timezone.utc)
    except (ValueError, OverflowError):  # no such date, or an offset pushing it out of years 1-9999
        return None


def _match(body: str):
    words = body.split(" ", 2)  # as Spark's substring_index(body, " ", 2)
    cands = _DISPATCH.get(tuple(words[:2])) if len(words) >= 2 else None
    if cands is None:
        cands = _DISPATCH.get((words[0],), ())
    for t, rx in cands:
        m = rx.match(body)
        if m:
            return t, dict(zip([tp.SLOT.get(n, n) for n in t.fields if n in tp.CAPTURED], m.groups()))
    return None


def _address(src: str | None) -> tuple[str | None, str | None]:
    """(ip, host) for a peer as sshd or PAM printed it."""
    if not src:
        return None, None
    if src.lower().startswith(tp.V4_MAPPED_PREFIX) and _IPV4.match(src[len(tp.V4_MAPPED_PREFIX):]):
        return src[len(tp.V4_MAPPED_PREFIX):], None
    if _IPV4.match(src) or _IPV6.match(src):
        return src, None
    return None, src


def _int(text: str | None) -> int | None:
    return int(text) if text else None


def parse_message(message: str) -> dict:
    """The sshd part of a line: event id, template and typed fields."""
    repeat = 1
    found = _match(message)
    if found is None and message.startswith(tp.REPEAT_PREFIX):
        m = _REPEAT.match(message)
        if m:
            repeat = int(m.group(1))
            found = _match(m.group(2))
    if found is None:
        return {"event_id": None, "event_template": mask(message), "user": None, "invalid_user": False,
                "src_ip": None, "src_host": None, "src_port": None, "auth_method": None, "key_type": None,
                "key_fingerprint": None, "outcome": "info", "action": None,
                "preauth": bool(_PREAUTH.search(message)), "repeat_count": repeat}
    t, got = found
    ip, host = _address(got.get("src") or None)
    return {"event_id": t.event_id, "event_template": t.template,
            "user": got.get("user") or t.user or None,
            "invalid_user": t.invalid_user,
            "src_ip": ip, "src_host": got.get("src_host") or host,
            "src_port": _int(got.get("port")),
            "auth_method": got.get("method") or t.method,
            "key_type": got.get("key_type") or None, "key_fingerprint": got.get("fingerprint") or None,
            "outcome": t.outcome, "action": t.action, "preauth": t.preauth,
            "repeat_count": int(got["repeat"]) if got.get("repeat") else repeat}


_EMPTY_EVENT = dict.fromkeys(f for f in FIELDS if f not in ("line_number", "reason"))


def parse_line(raw: bytes | str, line_number: int = 1, year: int | None = None,
               month0: int | None = None, tz: str = "UTC") -> dict:
    """Parse one raw line. `month0` is the file's first month (see `first_month`)."""
    text = clean_text(raw)
    out = dict(_EMPTY_EVENT, line_number=line_number, reason=None)
    if _BLANK.match(text):
        return dict(out, category="quarantined", reason="empty line")
    if len(text) > tp.MAX_LINE_CHARS:
        return dict(out, category="quarantined", reason="line too long")
    found = _header(text)
    if found is None:
        return dict(out, category="quarantined", reason="unrecognized header")
    fmt, h = found
    ts = _timestamp(fmt, h, year if year is not None else datetime.now(timezone.utc).year, month0, tz)
    if ts is None:
        return dict(out, category="quarantined", reason="invalid timestamp")
    out.update(timestamp=ts, host=h["host"] or None, process=h["process"], pid=_int(h["pid"]),
               message=h["message"])
    if h["process"] in tp.SSHD_PROCESSES:
        out.update(parse_message(h["message"]), category="sshd")
    else:
        out.update(category="other", event_template=mask(h["message"]))
    return out


def parse_lines(lines: Iterable[bytes | str], year: int | None = None, tz: str = "UTC") -> Iterator[dict]:
    """Parse the lines of one file in order (line numbers from 1)."""
    month0 = None
    for n, raw in enumerate(lines, start=1):
        if month0 is None:
            month0 = first_month(clean_text(raw))
        yield parse_line(raw, n, year, month0, tz)


def to_json_record(event: dict) -> dict:
    """A parsed line as the CLI prints it (timestamps in ISO 8601, UTC)."""
    ts = event["timestamp"]
    return {k: (ts.isoformat().replace("+00:00", "Z") if k == "timestamp" and ts else event[k]) for k in FIELDS}
