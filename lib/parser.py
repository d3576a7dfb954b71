"""Pure-Python sshd log parser, built from `lib.templates`.

It gives, line for line, the same answer as the Spark Silver parse (`lib.silver`);
`tests/test_silver.py` holds the two together. The API and `python -m lib parse` use
it: no Spark in their path.
"""
from __future__ import annotations

import gzip
import os
import re
from bisect import bisect_right
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from typing import Iterable, Iterator
from zoneinfo import ZoneInfo

from lib import tables
from lib import templates as tp

# Field names of a parsed line, in output order (also Silver's columns, plus lineage).
FIELDS = ("line_number",) + tuple(c for c in tables.columns("silver") if c not in tables.LINEAGE) + ("reason",)

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
_DISPATCH = tp.dispatch_table()
_COMPILED: dict[tuple, list] = {}  # a dispatch group's regexes, compiled when a message first needs them
_REPEAT = _compile(tp.REPEAT_REGEX)
_FIRST_MONTH = _compile(tp.FIRST_MONTH_REGEX)
_MASKS = [(_compile(rx), repl) for rx, repl in tp.MASKS]
_IPV4 = _compile(tp.IPV4_REGEX)
_IPV6 = _compile(tp.IPV6_REGEX)
_BLANK = _compile(tp.BLANK_REGEX)
_UNESCAPED = _compile(tp.UNESCAPED_REGEX)
_PREAUTH = _compile(tp.PREAUTH_REGEX)
_SCAN_PEER = _compile(tp.SCAN_PEER_REGEX)
_SCAN_PORT = _compile(tp.SCAN_PORT_REGEX)
_SCAN_USER = _compile(tp.SCAN_USER_REGEX)
_MONTH = {m: i + 1 for i, m in enumerate(tp.MONTHS)}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


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


def modified(path: str) -> datetime:
    """A file's modification time (UTC): what year inference anchors to when no year is given."""
    return datetime.fromtimestamp(os.stat(path).st_mtime, timezone.utc)


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
    kind = "<" if first == "<" else "digit" if "0" <= first <= "9" else "letter"
    for name in tp.HEADER_ORDER[kind]:
        rx, repls = _HEADERS[name]
        m = rx.match(text)
        if m:
            return name, dict(zip(tp.HEADER_FIELDS, (_expand(m, r) for r in repls)))
    return None


def _bsd_local(ts_text: str, year: int, tz: str) -> datetime | None:
    """A BSD stamp ("Mmm d HH:MM:SS[.f]") in `year`, as UTC; None when no such time exists."""
    mon, day, hms = ts_text.split(" ")
    hh, mm, rest = hms.split(":")
    ss, _, frac = rest.partition(".")
    if int(ss) >= 60:
        return None
    try:
        local = datetime(year, _MONTH[mon], int(day), int(hh), int(mm), int(ss),
                         int((frac + "000000")[:6]) if frac else 0, tzinfo=_zone(tz))
        return local.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        return None


def _inferred_year(ts_text: str, tz: str, anchor: datetime) -> datetime | None:
    """The latest year that keeps the stamp at most MAX_AHEAD_SECONDS after `anchor`."""
    limit = anchor + timedelta(seconds=tp.MAX_AHEAD_SECONDS)
    for year in (anchor.year + 1, anchor.year, anchor.year - 1):
        ts = _bsd_local(ts_text, year, tz)
        if ts is not None and ts <= limit:
            return ts
    return None


def _offset(zone: str) -> str | None:
    """An ISO offset for a header's zone text, or None when the `timezone` parameter applies."""
    if zone == "Z" or zone in tp.ZONE_ABBREVIATIONS:
        return tp.ZONE_ABBREVIATIONS.get(zone, "+00:00")
    if zone.startswith(("+", "-")):
        return zone if ":" in zone else zone[:3] + ":" + zone[3:]
    return None


def _timestamp(h: dict, year: int | None, month0: int | None, tz: str, anchor: datetime) -> datetime | None:
    text = h["ts_text"]
    try:
        if text.startswith("@"):
            whole, _, frac = text[1:].partition(".")
            return _EPOCH + timedelta(seconds=int(whole), microseconds=int((frac + "000000")[:6]) if frac else 0)
        if "T" not in text:  # BSD: no year
            if year is None:
                return _inferred_year(text, tz, anchor)
            month = _MONTH[text[:3]]
            return _bsd_local(text, year + (1 if month0 is not None and month < month0 else 0), tz)
        offset = _offset(h["zone"])
        if offset is not None:
            return datetime.fromisoformat(text + offset).astimezone(timezone.utc)
        return datetime.fromisoformat(text).replace(tzinfo=_zone(tz)).astimezone(timezone.utc)
    except (ValueError, OverflowError):  # no such date, or an offset pushing it out of years 1-9999
        return None


def _group(body: str) -> tuple | None:
    """The dispatch key of a message's group (`templates.dispatch_keys`; Spark: `lib.silver._group_ids`)."""
    primary, other = tp.dispatch_keys(body)
    first = tp.primary_keys()
    return (next((k for k in primary if k in first), None)
            or next((k for k in other if k in _DISPATCH and k not in first), None)
            or (tp.LEADING if tp.LEADING in _DISPATCH else None))


def _candidates(body: str):
    key = _group(body)
    if key is None:
        return ()
    if key not in _COMPILED:
        _COMPILED[key] = [(t, _compile(t.regex)) for t in _DISPATCH[key]]
    return _COMPILED[key]


def _match(body: str):
    for t, rx in _candidates(body):
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


def _scan(body: str) -> dict:
    """What a message no template knows still says: its peer, the peer's port, a user."""
    peer = _SCAN_PEER.search(body)
    port = _SCAN_PORT.search(body) if peer else None
    user = _SCAN_USER.search(body)
    ip, host = _address(peer.group(1) if peer else None)
    return {"src_ip": ip, "src_host": host,
            "src_port": int(port.group(2)) if port and port.group(1) == peer.group(1) else None,
            "user": user.group(1) if user else None}


def _action(action: str | None, preauth: bool) -> str | None:
    """A disconnect before authentication is a preauth one, whichever template named it."""
    return "preauth_disconnect" if action == "session" and preauth else action


def repeat_count(digits: str, cap: int = tp.MAX_REPEAT) -> int:
    """A `message repeated N times` count, bounded to [1, cap] (it can be forged)."""
    digits = digits.lstrip("0")
    return cap if len(digits) > 9 else max(1, min(int(digits or 0), cap))


def _above(digits: str, cap: int) -> bool:
    digits = digits.lstrip("0")
    return len(digits) > 9 or int(digits or 0) > cap


def suspicious(message: str, claimed: str | None, cap: int) -> list[str]:
    """Why an sshd line is implausible (`templates.SUSPICIOUS_*`), [] if it is not."""
    out = []
    if claimed is not None and _above(claimed, cap):
        out.append(tp.SUSPICIOUS_CAPPED)
    if not message.startswith(tp.PAM_MESSAGE_PREFIX) and _UNESCAPED.search(message):
        out.append(tp.SUSPICIOUS_UNESCAPED)
    return out


def parse_message(message: str, max_repeat: int = tp.MAX_REPEAT) -> dict:
    """The sshd part of a line: event id, template and typed fields (counts capped at `max_repeat`)."""
    repeat, body, claimed = 1, message, None
    found = _match(message)
    if found is None and message.startswith(tp.REPEAT_PREFIX):
        m = _REPEAT.match(message)
        if m:
            claimed, body = m.group(1), m.group(2)
            repeat = repeat_count(claimed, max_repeat)
            found = _match(body)
    preauth = body.rstrip(" \t").endswith(tp.PREAUTH_SUFFIX.strip())  # as templates.PREAUTH_REGEX
    if found is None:
        return {"event_id": None, "event_template": mask(message), "invalid_user": False,
                "auth_method": None, "key_type": None, "key_fingerprint": None, "outcome": "info", "action": None,
                "preauth": preauth, "repeat_count": repeat, "suspicious": suspicious(message, claimed, max_repeat),
                **_scan(body)}
    t, got = found
    claimed = got.get("repeat") or claimed
    ip, host = _address(got.get("src") or None)
    return {"event_id": t.event_id, "event_template": t.template,
            "user": got["user"] if t.captures_user else t.user,
            "invalid_user": t.invalid_user,
            "src_ip": ip, "src_host": got.get("src_host") or host,
            "src_port": _int(got.get("port")),
            "auth_method": got.get("method") or t.method,
            "key_type": got.get("key_type") or None, "key_fingerprint": got.get("fingerprint") or None,
            "outcome": t.outcome, "action": _action(t.action, preauth), "preauth": preauth,
            "repeat_count": repeat_count(got["repeat"], max_repeat) if got.get("repeat") else repeat,
            "suspicious": suspicious(message, claimed, max_repeat)}


_EMPTY_EVENT = dict.fromkeys(f for f in FIELDS if f not in ("line_number", "reason"))


def parse_line(raw: bytes | str, line_number: int = 1, year: int | None = None,
               month0: int | None = None, tz: str = "UTC", anchor: datetime | None = None,
               max_repeat: int = tp.MAX_REPEAT) -> dict:
    """Parse one raw line (no connection stitching: see `parse_lines`).

    With `year`, a year-less stamp is in `year`, or the next one if its month is before
    `month0` (the file's first month, see `first_month`). Without, it is in the latest year
    that does not put it more than MAX_AHEAD_SECONDS after `anchor` (default: now).
    """
    text = clean_text(raw)
    out = dict(_EMPTY_EVENT, line_number=line_number, reason=None, inferred=[], suspicious=[])
    if _BLANK.match(text):
        return dict(out, category="quarantined", reason="empty line")
    if len(text) > tp.MAX_LINE_CHARS:
        return dict(out, category="quarantined", reason="line too long")
    found = _header(text)
    if found is None:
        return dict(out, category="quarantined", reason="unrecognized header")
    _, h = found
    now = datetime.now(timezone.utc)
    ts = _timestamp(h, year, month0, tz, min(anchor, now) if anchor else now)
    if ts is None:
        return dict(out, category="quarantined", reason="invalid timestamp")
    out.update(timestamp=ts, host=h["host"] or None, process=h["process"], pid=_int(h["pid"]),
               message=h["message"])
    if tp.is_sshd(h["process"]):
        out.update(parse_message(h["message"], max_repeat), category="sshd")
    else:
        out.update(category="other", event_template=mask(h["message"]))
    return out


def parse_lines(lines: Iterable[bytes | str], year: int | None = None, tz: str = "UTC",
                anchor: datetime | None = None, max_repeat: int = tp.MAX_REPEAT) -> list[dict]:
    """Parse the lines of one file in order (line numbers from 1), connections stitched.

    `anchor` is the file's modification time (`modified`), for year inference without `year`;
    `max_repeat` caps what one line's claimed count may stand for.
    """
    month0, events = None, []
    for n, raw in enumerate(lines, start=1):
        if month0 is None and year is not None:
            month0 = first_month(clean_text(raw))
        events.append(parse_line(raw, n, year, month0, tz, anchor, max_repeat))
    return stitch(events)


def _seconds(ts: datetime) -> int:
    return (ts - _EPOCH) // timedelta(seconds=1)


def _connection_line(e: dict) -> bool:
    return (e["category"] == "sshd" and e["pid"] is not None and e["timestamp"] is not None
            and (e["event_id"] is None or tp.BY_ID[e["event_id"]].scope == "connection"))


def _givers(rows: list, has) -> list:
    """Per row of one connection (in line order), the row that gives it a value it lacks, or None.

    `lib.silver`'s rule: the last row before it that `has` the value, within STITCH_SECONDS,
    or the first such row among the next STITCH_ROWS, within STITCH_SECONDS; the nearer in
    time, the earlier on a tie.
    """
    n, out, last = len(rows), [], None
    for i, (t, _, e) in enumerate(rows):
        after = next((r for r in rows[i + 1:min(n, i + 1 + tp.STITCH_ROWS)] if has(r[2])), None)
        before = last if last and t - last[0] <= tp.STITCH_SECONDS else None
        after = after if after and after[0] - t <= tp.STITCH_SECONDS else None
        out.append(before[2] if before and (after is None or t - before[0] <= after[0] - t)
                   else after[2] if after else None)
        if has(e):
            last = rows[i]
    return out


def stitch(events: list[dict]) -> list[dict]:
    """Give lines of one connection the peer and user it names elsewhere (see templates.STITCH_SECONDS).

    A connection is (source_file, host, pid); fields filled this way are listed in the line's
    `inferred`. `events` are one file's (or several files', told apart by `source_file`).
    """
    groups: dict[tuple, list] = {}
    for e in events:
        if _connection_line(e):
            groups.setdefault((e.get("source_file"), e["host"], e["pid"]), []).append(
                (_seconds(e["timestamp"]), e["line_number"], e))
    peer = ("src_ip", "src_host", "src_port")
    for rows in groups.values():
        rows.sort(key=lambda r: r[1])
        peers = _givers(rows, lambda x: x["src_ip"] is not None or x["src_host"] is not None)
        users = _givers(rows, lambda x: x["user"] is not None)
        for (_, _, e), p, u in zip(rows, peers, users):
            got = {}
            if p is not None and e["src_ip"] is None and e["src_host"] is None:
                got.update({k: p[k] for k in peer if p[k] is not None and e[k] is None})
            if u is not None and e["user"] is None:
                got["user"] = u["user"]
            e["_stitched"] = got
        for _, _, e in rows:  # after every choice: an inferred value is never passed on
            got = e.pop("_stitched")
            e.update(got)
            e["inferred"] = [k for k in tp.STITCHED if k in got]
    return events


def to_json_record(event: dict) -> dict:
    """A parsed line as the CLI prints it (timestamps in ISO 8601, UTC)."""
    ts = event["timestamp"]
    return {k: (ts.isoformat().replace("+00:00", "Z") if k == "timestamp" and ts else event[k]) for k in FIELDS}
