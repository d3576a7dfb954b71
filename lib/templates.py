"""The sshd template catalog: the single source of truth for parsing.

Both parsers are built from this module: the Spark Silver parse (`lib.silver`) and
the pure-Python parser (`lib.parser`, used by the CLI and the API). Nothing else in
the code base knows what an sshd message looks like.

A template is written once, as a *pattern* in which each variable part is a
``{field}`` placeholder. From it we derive

* the Loghub-style template string (each placeholder becomes ``<*>``), which is
  the ``event_template`` the parsers emit;
* one regular expression, in the subset of syntax on which Java (Spark) and
  Python agree, with one capture group per named field;
* a dispatch key: the message's leading literal words, so that a line is tried
  against the one or two templates that can match it, not against all of them.

Ids ``E1``–``E27`` are Loghub-2.0's corrected OpenSSH_2k ids and templates
(``E5`` does not exist there). Ids from ``E101`` are messages of real sshd
servers that the Loghub sample lacks, written from OpenSSH's own format strings.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property

# Every regex is compiled by both java.util.regex and Python's `re` (ASCII mode).
# Rules that keep them equivalent: every regex starts with `(?s)` (DOTALL: `.` is any
# character, and Java's `.*` is far faster than `[\s\S]*`); no `$`, `\b`, `\Z` (their
# meanings differ); end of input is `(?!.)`; digits are `[0-9]`.
END = r"(?!.)"
SEP = "\x01"  # separates values in the Spark records; parsed text never contains it (see CONTROL)
# Control characters the parsers replace with U+FFFD before parsing: NUL (which many tools
# choke on) and SEP (so that no field can contain the separator).
CONTROL = "\x00\x01"
NOT_SPACE = r"[^\t\n\x0b\x0c\r ]"  # \S, spelled out: Java matches an explicit class faster

# Capture pattern per field; `_` and `_n` are wildcards that are not captured.
FIELD_PATTERNS = {
    "user": r".*?",
    "known_user": r"(?!invalid user ).*?",  # a user name that is not sshd's "invalid user X"
    "src": NOT_SPACE + "*?",
    "src_host": NOT_SPACE + "+?",
    "port": r"[0-9]{1,5}",
    "method": NOT_SPACE + "+",
    "key_type": NOT_SPACE + "+",
    "fingerprint": NOT_SPACE + "+",
    "repeat": r"[0-9]{1,9}",
    "_": r".*?",
    "_n": r"[0-9]+",
}
CAPTURED = ("user", "known_user", "src", "src_host", "port", "method", "key_type", "fingerprint", "repeat")
SLOT = {"known_user": "user"}  # captured fields stored under another name

# Values a template fixes rather than captures.
OUTCOMES = ("success", "failure", "disconnect", "info")
ACTIONS = (
    "auth_success",        # a login succeeded
    "auth_failure",        # a login attempt failed (Failed <method> ...)
    "invalid_user",        # sshd saw a user name that does not exist
    "pam_failure",         # PAM's view of a failure; not counted again as an attempt
    "refused",             # policy refused the user (AllowUsers, root login, ...)
    "too_many_failures",   # sshd cut the connection for too many failures
    "preauth_disconnect",  # the client went away before authenticating
    "scan",                # no or bad SSH banner, no common algorithms: scanners
    "break_in",            # reverse DNS mismatch: "POSSIBLE BREAK-IN ATTEMPT!"
    "session",             # session opened/closed, post-auth disconnect
)

# The record each template fills, in this order (Spark builds it as one string).
RECORD = ("event_id", "user", "src", "src_host", "port", "method", "key_type",
          "fingerprint", "repeat", "outcome", "action", "invalid_user", "preauth")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


@dataclass(frozen=True)
class Template:
    event_id: str
    pattern: str
    outcome: str
    action: str | None = None
    method: str | None = None          # auth method when the template fixes it
    invalid_user: bool = False
    user: str | None = None            # user when the template fixes it (ROOT LOGIN REFUSED)
    loghub: str | None = None          # Loghub's template string when it differs from ours
    fields: tuple = field(init=False, default=())

    def __post_init__(self):
        names = tuple(_PLACEHOLDER.findall(self.pattern))
        unknown = set(names) - set(FIELD_PATTERNS)
        if unknown:
            raise ValueError(f"{self.event_id}: unknown fields {sorted(unknown)}")
        captured = [n for n in names if n in CAPTURED]
        if len(captured) != len(set(captured)):
            raise ValueError(f"{self.event_id}: a field is captured twice")
        if self.pattern.startswith("{"):
            raise ValueError(f"{self.event_id}: a template must start with literal text")
        if self.outcome not in OUTCOMES or (self.action and self.action not in ACTIONS):
            raise ValueError(f"{self.event_id}: bad outcome/action")
        object.__setattr__(self, "fields", names)

    @property
    def template(self) -> str:
        """Loghub's `<*>` notation."""
        return self.loghub or _PLACEHOLDER.sub("<*>", self.pattern)

    @property
    def preauth(self) -> bool:
        return self.pattern.endswith("[preauth]")

    @cached_property
    def regex(self) -> str:
        out, pos = [], 0
        for m in _PLACEHOLDER.finditer(self.pattern):
            out.append(_literal(self.pattern[pos:m.start()]))
            name = m.group(1)
            pat = FIELD_PATTERNS[name]
            out.append(f"({pat})" if name in CAPTURED else f"(?:{pat})")
            pos = m.end()
        out.append(_literal(self.pattern[pos:]))
        return "(?s)^" + "".join(out) + r"[ \t]*" + END

    @cached_property
    def key(self) -> tuple:
        """Leading literal words (at most two) that a message must start with."""
        head = self.pattern.split("{", 1)[0]
        words = head.split(" ")
        complete = words[:-1] if "{" in self.pattern else words  # last word may be cut by a field
        return tuple(complete[:2]) or (words[0],)

    def constant(self, name: str) -> str:
        """The value this template fixes for a RECORD slot it does not capture."""
        value = {"event_id": self.event_id, "outcome": self.outcome, "action": self.action,
                 "method": self.method, "user": self.user,
                 "invalid_user": "1" if self.invalid_user else None,
                 "preauth": "1" if self.preauth else None}.get(name)
        return "" if value is None else value


def _literal(text: str) -> str:
    # Runs of spaces in real logs vary (Loghub's E17 has two before `user=`).
    return " +".join(re.escape(part) for part in text.split(" "))


T = Template
CATALOG: tuple[Template, ...] = (
    # ---- Loghub-2.0 corrected OpenSSH_2k: ids and template strings as published ----
    T("E1", "Accepted password for {user} from {src} port {port} ssh2", "success", "auth_success", method="password"),
    T("E2", "Connection closed by {src} [preauth]", "disconnect", "preauth_disconnect"),
    T("E3", "Did not receive identification string from {src}", "disconnect", "scan"),
    T("E4", "Disconnecting: Too many authentication failures for {user} [preauth]", "failure", "too_many_failures"),
    T("E6", "error: Received disconnect from {src}: {_n}: com.jcraft.jsch.JSchException: Auth fail [preauth]",
      "disconnect", "preauth_disconnect"),
    T("E7", "error: Received disconnect from {src}: {_n}: No more user authentication methods available. [preauth]",
      "disconnect", "preauth_disconnect"),
    T("E8", "Failed none for invalid user {user} from {src} port {port} ssh2", "failure", "auth_failure",
      method="none", invalid_user=True),
    T("E10", "Failed password for invalid user {user} from {src} port {port} ssh2", "failure", "auth_failure",
      method="password", invalid_user=True),
    T("E9", "Failed password for {user} from {src} port {port} ssh2", "failure", "auth_failure", method="password"),
    T("E11", "fatal: Write failed: Connection reset by peer [preauth]", "disconnect", "preauth_disconnect"),
    T("E12", "input_userauth_request: invalid user {user} [preauth]", "info", invalid_user=True),
    T("E13", "Invalid user {user} from {src}", "failure", "invalid_user", invalid_user=True),
    # A repeated "Failed password for invalid user X" is not E14: it unwraps to E10, repeated.
    T("E14", "message repeated {repeat} times: [ Failed password for {known_user} from {src} port {port} ssh2]",
      "failure", "auth_failure", method="password",
      loghub="message repeated <*> times: [ Failed password for <*> from <*> port <*>]"),
    T("E15", "PAM {_n} more authentication failure; logname= uid={_n} euid={_n} tty=ssh ruser= rhost={src}",
      "failure", "pam_failure"),
    T("E16", "PAM {_n} more authentication failures; logname= uid={_n} euid={_n} tty=ssh ruser= rhost={src}",
      "failure", "pam_failure"),
    T("E17", "PAM {_n} more authentication failures; logname= uid={_n} euid={_n} tty=ssh ruser= rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E18", "PAM service(sshd) ignoring max retries; {_n} > {_n}", "info"),
    T("E19", "pam_unix(sshd:auth): authentication failure; logname= uid={_n} euid={_n} tty=ssh ruser= rhost={src}",
      "failure", "pam_failure"),
    T("E20", "pam_unix(sshd:auth): authentication failure; logname= uid={_n} euid={_n} tty=ssh ruser= rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E21", "pam_unix(sshd:auth): check pass; user unknown", "failure", invalid_user=True),
    T("E22", "pam_unix(sshd:session): session closed for user {user}", "info", "session"),
    # Order matters where one template's text fits inside another's field: newer pam_unix prints
    # "user alice(uid=1000)", which E23's user field would swallow, so E124 is tried first.
    T("E124", "pam_unix(sshd:session): session opened for user {user}(uid={_n}) by {_}(uid={_n})", "info", "session"),
    T("E23", "pam_unix(sshd:session): session opened for user {user} by (uid={_n})", "info", "session"),
    T("E24", "Received disconnect from {src}: {_n}: Bye Bye [preauth]", "disconnect", "preauth_disconnect"),
    T("E25", "Received disconnect from {src}: {_n}: Closed due to user request. [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E26", "Received disconnect from {src}: {_n}: disconnected by user", "disconnect", "session"),
    T("E27", "reverse mapping checking getaddrinfo for {src_host} [{src}] failed - POSSIBLE BREAK-IN ATTEMPT!",
      "info", "break_in"),

    # ---- Messages of current OpenSSH releases (auth.c, auth2.c, packet.c, sshd*.c, auth-pam.c) ----
    # Authentication results: "%s %s%s%s for %s%.100s from %.200s port %d ssh2%s%s"
    T("E101", "Accepted publickey for {user} from {src} port {port} ssh2: {key_type} {fingerprint}",
      "success", "auth_success", method="publickey"),
    T("E102", "Accepted {method} for {user} from {src} port {port} ssh2", "success", "auth_success"),
    T("E103", "Failed publickey for invalid user {user} from {src} port {port} ssh2: {key_type} {fingerprint}",
      "failure", "auth_failure", method="publickey", invalid_user=True),
    T("E104", "Failed publickey for {user} from {src} port {port} ssh2: {key_type} {fingerprint}",
      "failure", "auth_failure", method="publickey"),
    T("E105", "Failed {method} for invalid user {user} from {src} port {port} ssh2", "failure", "auth_failure",
      invalid_user=True),
    T("E106", "Failed {method} for {user} from {src} port {port} ssh2", "failure", "auth_failure"),
    T("E107", "Postponed {method} for {user} from {src} port {port} ssh2 [preauth]", "info"),
    T("E108", "Partial {method} for {user} from {src} port {port} ssh2", "info"),
    T("E109", "Invalid user {user} from {src} port {port}", "failure", "invalid_user", invalid_user=True),
    T("E110", "error: maximum authentication attempts exceeded for invalid user {user} from {src} port {port} ssh2 [preauth]",
      "failure", "too_many_failures", invalid_user=True),
    T("E111", "error: maximum authentication attempts exceeded for {user} from {src} port {port} ssh2 [preauth]",
      "failure", "too_many_failures"),
    T("E112", "Disconnecting invalid user {user} {src} port {port}: Too many authentication failures [preauth]",
      "failure", "too_many_failures", invalid_user=True),
    T("E113", "Disconnecting authenticating user {user} {src} port {port}: Too many authentication failures [preauth]",
      "failure", "too_many_failures"),
    # Policy refusals
    T("E114", "User {user} from {src} not allowed because {_}", "failure", "refused"),
    T("E115", "User {user} not allowed because {_}", "failure", "refused"),
    T("E116", "ROOT LOGIN REFUSED FROM {src} port {port}", "failure", "refused", user="root"),
    T("E117", "ROOT LOGIN REFUSED FROM {src}", "failure", "refused", user="root"),
    # PAM (auth-pam.c: "PAM: %s for %s%.100s from %.100s")
    T("E118", "error: PAM: Authentication failure for illegal user {user} from {src}", "failure", "pam_failure",
      invalid_user=True),
    T("E119", "error: PAM: Authentication failure for {user} from {src}", "failure", "pam_failure"),
    T("E120", "error: PAM: {_} for illegal user {user} from {src}", "failure", "pam_failure", invalid_user=True),
    T("E121", "error: PAM: {_} for {user} from {src}", "failure", "pam_failure"),
    T("E122", "PAM: {_} for illegal user {user} from {src}", "failure", "pam_failure", invalid_user=True),
    T("E123", "PAM: {_} for {user} from {src}", "failure", "pam_failure"),
    T("E125", "pam_unix(sshd:auth): authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E126", "pam_unix(sshd:auth): authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    # Connection life cycle (sshpkt_fmt_connection_id: "[authenticating|invalid] user U IP port P")
    T("E127", "Connection from {src} port {port} on {_} port {_n} rdomain {_}", "info"),
    T("E128", "Connection from {src} port {port} on {_} port {_n}", "info"),
    T("E129", "Connection closed by authenticating user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E130", "Connection closed by invalid user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect", invalid_user=True),
    T("E131", "Connection closed by {src} port {port} [preauth]", "disconnect", "preauth_disconnect"),
    T("E132", "Connection closed by user {user} {src} port {port}", "disconnect", "session"),
    T("E133", "Connection closed by {src} port {port}", "disconnect", "session"),
    T("E134", "Connection reset by authenticating user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E135", "Connection reset by invalid user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect", invalid_user=True),
    T("E136", "Connection reset by {src} port {port} [preauth]", "disconnect", "preauth_disconnect"),
    T("E137", "Connection reset by {src} port {port}", "disconnect", "session"),
    T("E138", "Disconnected from invalid user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect", invalid_user=True),
    T("E139", "Disconnected from authenticating user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E140", "Disconnected from user {user} {src} port {port}", "disconnect", "session"),
    T("E141", "Disconnected from {src} port {port} [preauth]", "disconnect", "preauth_disconnect"),
    T("E142", "Disconnected from {src} port {port}", "disconnect", "session"),
    T("E143", "Received disconnect from {src} port {port}:{_n}: {_} [preauth]", "disconnect", "preauth_disconnect"),
    T("E144", "Received disconnect from {src} port {port}:{_n}: {_}", "disconnect", "session"),
    T("E145", "Received disconnect from {src}: {_n}: {_} [preauth]", "disconnect", "preauth_disconnect"),
    T("E146", "Received disconnect from {src}: {_n}: {_}", "disconnect", "session"),
    T("E147", "error: Received disconnect from {src} port {port}:{_n}: {_} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E148", "Timeout before authentication for {src} port {port}", "disconnect", "preauth_disconnect"),
    T("E149", "Timeout before authentication for {src} port {port}, pid = {_}", "disconnect", "preauth_disconnect"),
    T("E150", "fatal: Timeout before authentication for {src}", "disconnect", "preauth_disconnect"),
    T("E151", "fatal: Read from socket failed: Connection reset by peer [preauth]", "disconnect", "preauth_disconnect"),
    T("E152", "Read error from remote host {src} port {port}: {_}", "disconnect", "session"),
    T("E153", "Connection closed by {src}", "disconnect", "session"),
    # Scanners: no banner, bad banner, nothing in common
    T("E154", "Did not receive identification string from {src} port {port}", "disconnect", "scan"),
    T("E155", "Bad protocol version identification '{_}' from {src} port {port}", "disconnect", "scan"),
    T("E156", "Bad protocol version identification '{_}' from {src}", "disconnect", "scan"),
    T("E157", "Unable to negotiate with {src} port {port}: no matching {_} found. Their offer: {_} [preauth]",
      "disconnect", "scan"),
    T("E158", "Unable to negotiate with {src} port {port}: no matching {_} found. Their offer: {_}",
      "disconnect", "scan"),
    T("E159", "banner exchange: Connection from {src} port {port}: {_}", "disconnect", "scan"),
    T("E160", "error: kex_exchange_identification: {_}", "disconnect", "scan"),
    T("E161", "error: Protocol major versions differ: {_n} vs. {_n}", "disconnect", "scan"),
    T("E162", "drop connection #{_n} from [{src}]:{port} on [{_}]:{_n} past MaxStartups", "disconnect", "scan"),
    # Reverse DNS checks (packet.c)
    T("E163", "reverse mapping checking getaddrinfo for {src_host} [{src}] failed.", "info"),
    T("E164", "Address {src} maps to {src_host}, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!",
      "info", "break_in"),
    T("E165", "Address {src} maps to {src_host}, but this does not map back to the address.", "info"),
    T("E166", "Nasty PTR record \"{src_host}\" is set up for {src}, ignoring", "info", "break_in"),
    # Daemon and session life
    T("E167", "Server listening on {_} port {_n}.", "info"),
    T("E168", "Received signal {_n}; terminating.", "info"),
    T("E169", "Received SIGHUP; restarting.", "info"),
    T("E170", "Starting session: {_} for {user} from {src} port {port} id {_n}", "info", "session"),
    T("E171", "Close session: user {user} from {src} port {port} id {_n}", "info", "session"),
    T("E172", "subsystem request for {_} by user {user}", "info", "session"),
    T("E173", "Accepted key {key_type} {fingerprint} found at {_}", "info"),
    T("E174", "error: Could not load host key: {_}", "info"),
    # pam_unix lines of old releases, logged as "sshd(pam_unix)[pid]:" without the "pam_unix(...)" prefix
    T("E175", "session opened for user {user} by (uid={_n})", "info", "session"),
    T("E176", "session closed for user {user}", "info", "session"),
    T("E177", "authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E178", "authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
)
del T

BY_ID = {t.event_id: t for t in CATALOG}
if len(BY_ID) != len(CATALOG):
    raise ValueError("duplicate event ids in the catalog")
LOGHUB_IDS = tuple(t.event_id for t in CATALOG if int(t.event_id[1:]) < 100)


def dispatch_table() -> dict[tuple, list[Template]]:
    """Candidate templates per dispatch key, in catalog order (specific before generic).

    A message whose first two words are ``k2`` is tried against ``table[k2]``; if
    no template has that two-word key, against ``table[(first word,)]``.
    """
    table: dict[tuple, list[Template]] = {}
    for t in CATALOG:
        table.setdefault(t.key, []).append(t)
    order = {t.event_id: i for i, t in enumerate(CATALOG)}
    for k in [k for k in table if len(k) == 2]:
        table[k] = sorted(table[k] + table.get(k[:1], []), key=lambda t: order[t.event_id])
    return table


# ---- "message repeated N times: [ ... ]" (syslog's duplicate suppression) ----
REPEAT_PREFIX = "message repeated "
REPEAT_REGEX = r"(?s)^message repeated ([0-9]{1,9}) times: \[ ?(.*)\]" + END

# ---- syslog headers -------------------------------------------------------
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
# Written as ranges: Java evaluates `[^\s\x00-\x1f...]` (the same set) about 5x slower.
_HOST = r"[^\x00-\x20\[\]:]+"
_PROC = r"[^\x00-\x20\[:]+"
_PID = r"(?:\[([0-9]{1,9})\])?"
_TAIL = r": ?(.*)" + END
# Each header regex yields (timestamp, zone, host, process, pid, message) as groups 1-6;
# the timestamp text is normalised by the replacement in HEADER_FORMATS.
HEADER_FORMATS = {
    # Dec 10 06:55:46 LabSZ sshd[24200]: msg      (RFC 3164; optional <PRI>, host, pid)
    "bsd": (r"(?s)^(?:<[0-9]{1,3}>)?(" + "|".join(MONTHS) + r") {1,2}([0-9]{1,2}) ([0-9]{2}:[0-9]{2}:[0-9]{2})"
            r"(?:\.[0-9]+)? (?:(" + _HOST + r") )?(" + _PROC + r")" + _PID + _TAIL,
            "$1 $2 $3", "", "$4", "$5", "$6", "$7"),
    # 2024-03-01T12:00:00.123456+01:00 host sshd[1]: msg   (rsyslog / journald short-iso)
    "iso": (r"(?s)^(?:<[0-9]{1,3}>)?([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,6})?[0-9]*"
            r"(Z|[+-][0-9]{2}:?[0-9]{2})? (?:(" + _HOST + r") )?(" + _PROC + r")" + _PID + _TAIL,
            "$1T$2$3", "$4", "$5", "$6", "$7", "$8"),
    # <38>1 2019-07-08T17:40:16.954167-04:00 host sshd 57915 - - msg   (RFC 5424)
    "rfc5424": (r"(?s)^<[0-9]{1,3}>1 ([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]{1,6})?[0-9]*"
                r"(Z|[+-][0-9]{2}:?[0-9]{2}) (?:-|(" + _HOST + r")) (?:-|(" + _PROC + r")) (?:-|([0-9]{1,9})|[^\x00-\x20]+)"
                r" [^\x00-\x20]+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?:\ufeff)?(.*))?" + END,
                "$1T$2$3", "$4", "$5", "$6", "$7", "$8"),
}
HEADER_FIELDS = ("ts_text", "zone", "host", "process", "pid", "message")

# The first month seen in a file anchors year inference (Dec -> Jan rolls the year).
FIRST_MONTH_REGEX = r"^(?:<[0-9]{1,3}>)?(" + "|".join(MONTHS) + r") "

# sshd's process names: the daemon, OpenSSH 9.8+'s per-session and auth binaries, old PAM lines.
SSHD_PROCESSES = ("sshd", "sshd-session", "sshd-auth", "sshd(pam_unix)")

PREAUTH_REGEX = r"(?s)\[preauth\][ \t]*" + END  # searched, not matched
BLANK_REGEX = r"(?s)^\s*" + END  # an empty or all-whitespace line
MAX_LINE_CHARS = 65536  # longer lines cannot be syslog messages: quarantined

# ---- masking of messages that match no template ---------------------------
# (regex, replacement) applied in order; the result groups unknown messages.
MASKS = (
    (r"'[^']*'", "'<*>'"),
    (r'"[^"]*"', '"<*>"'),
    (r"SHA256:[A-Za-z0-9+/=]+", "<*>"),
    (r"(?<![0-9A-Za-z_.])[0-9]{1,3}(?:\.[0-9]{1,3}){3}(?![0-9A-Za-z_])", "<*>"),
    (r"(?<![0-9A-Za-z_:])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![0-9A-Za-z_:])", "<*>"),
    (r"(?<![0-9A-Za-z_])0x[0-9A-Fa-f]+(?![0-9A-Za-z_])", "<*>"),
    (r"(?<![A-Za-z_])[0-9]+(?![A-Za-z_])", "<*>"),
    (r"(?:<\*>[ .:,/-]?)+<\*>", "<*>"),
)

# ---- peer addresses -------------------------------------------------------
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
IPV4_REGEX = r"(?s)^" + _OCTET + r"(?:\." + _OCTET + r"){3}" + END
IPV6_REGEX = r"(?s)^(?=[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*:)[0-9A-Fa-f:]+(?:" + _OCTET + r"(?:\." + _OCTET + r"){3})?" + END
V4_MAPPED_PREFIX = "::ffff:"


# What a dispatch group's rewrite puts in its record (Spark side), in this order; the last
# slot tells which template of the group matched (see `group_rewrite`).
VALUE_SLOTS = ("user", "src", "src_host", "port", "method", "key_type", "fingerprint", "repeat")
GROUP_RECORD = VALUE_SLOTS + ("branch",)


def group_rewrite(candidates: list[Template]) -> tuple[str, str]:
    """One Java regex for a dispatch group, and the replacement that turns a match into GROUP_RECORD.

    The group's templates become ordered alternatives of one regex, so the first that
    matches the whole message wins, exactly as the Python parser's loop over them. Each
    alternative k ends with a look-behind capturing the message's last k characters; only
    the matching alternative's groups take part in the match, so the length of the
    `branch` slot is k. One regex evaluation per line, whichever template matches.
    """
    branches, slots, group = [], {name: [] for name in GROUP_RECORD}, 0
    for k, t in enumerate(candidates, start=1):
        for name in (n for n in t.fields if n in CAPTURED):
            group += 1
            slots[SLOT.get(name, name)].append(group)
        group += 1
        slots["branch"].append(group)
        branches.append(t.regex[len("(?s)^"):] + f"(?<=(.{{{k}}}))")
    regex = "(?s)^(?:" + "|".join(branches) + ")"
    # Group references are followed by "$" or SEP only, so "$1" is never read as "$12".
    return regex, SEP.join("".join(f"${g}" for g in slots[name]) for name in GROUP_RECORD)
