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
from functools import cached_property, lru_cache
from pathlib import Path

from lib.config import DEFAULTS

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

# Capture pattern per field; names starting with `_` are wildcards that are not captured.
# The peer is the one value an attacker cannot choose (it comes from the socket), so its
# pattern admits only what an address or a host name can hold: a fake clause inside a user
# name (spaces, quotes, "from ... port ...") can never be taken for it.
ADDR_CHARS = r"[0-9A-Za-z._:%-]"
KEY_TYPE = r"[A-Z][A-Za-z0-9@._-]*"  # sshkey_type(): RSA, ED25519, ECDSA-SK, ED25519-CERT, ...
FINGERPRINT = (r"(?:(?:SHA256|SHA384|SHA512|SHA1):[A-Za-z0-9+/=]+|(?:MD5:)?[0-9a-f]{2}(?::[0-9a-f]{2}){15}"
               r"|\(null\))")
# Why auth.c's allowed_user() refuses a user: server-side text, so a user name that imitates
# "... from X not allowed because ..." cannot end the message.
ALLOW_REASONS = (r"(?:not listed in AllowUsers|listed in DenyUsers|not in any group|a group is listed in DenyGroups"
                 r"|none of user's groups are listed in AllowGroups)")
USER_REASONS = (r"(?:account is locked|shell " + NOT_SPACE + r"+ does not exist|shell " + NOT_SPACE
                + r"+ is not executable|" + NOT_SPACE + r"+ exists)")
# Possessive quantifiers where what follows can never be part of the field (a space, a
# bracket): a failed alternative then gives up at once instead of backtracking through it.
FIELD_PATTERNS = {
    "user": r".*?",
    "known_user": r"(?!(?:invalid|illegal) user ).*?",  # a user name that is not sshd's "invalid user X"
    "src": ADDR_CHARS + "*?",
    "src_host": NOT_SPACE + "+?",
    "port": r"[0-9]{1,5}+",
    "method": r"[^\t\n\x0b\x0c\r \"]++",  # never holds a space or a quote
    "key_type": KEY_TYPE + "+",
    "fingerprint": "(?>" + FINGERPRINT + ")",
    "repeat": r"[0-9]++",
    "_": r".*?",
    "_n": r"[0-9]++",
    "_kt": KEY_TYPE + "+",
    "_fp": "(?>" + FINGERPRINT + ")",
    "_word": NOT_SPACE + "+",
    "_allow": ALLOW_REASONS,
    "_reason": USER_REASONS,
    "_mod": r"[a-z0-9_]++",
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
    "refused",             # policy refused the user or the host (AllowUsers, root login, tcp_wrappers, ...)
    "too_many_failures",   # sshd cut the connection for too many failures
    "preauth_disconnect",  # the client went away before authenticating
    "scan",                # no or bad SSH banner, no common algorithms: scanners
    "break_in",            # reverse DNS mismatch: "POSSIBLE BREAK-IN ATTEMPT!"
    "session",             # session opened/closed, post-auth disconnect
    "penalty",             # the listener dropped or penalised a source (MaxStartups, PerSourcePenalties)
)
SCOPES = ("connection", "daemon")  # daemon: logged by the listener, about no one connection

# The record each template fills, in this order (Spark builds it as one string).
RECORD = ("event_id", "user", "src", "src_host", "port", "method", "key_type",
          "fingerprint", "repeat", "outcome", "action", "invalid_user")

_PLACEHOLDER = re.compile(r"\{(\w+)\}")


PREAUTH_SUFFIX = " [preauth]"  # what sshd's monitor appends to its pre-authentication child's messages
# An auth result whose peer clause is followed by ": " has info (AUTH_WITH_INFO reads it): the
# templates without info then do not apply, however the user name could be stretched to fit.
# Their user name may not hold such a clause (checked per character of the name: names are short).
NO_INFO_USER = r"(?:(?! +port +[0-9]++ +ssh[12]: ).)*?"


@dataclass(frozen=True)
class Template:
    """One sshd message format.

    `pattern` is the message with a ``{field}`` per variable part. Every template also
    matches its message with the ``[preauth]`` suffix sshd's monitor appends to what its
    pre-authentication child logs (a pattern that ends with ``[preauth]`` requires it).
    `scope` is ``daemon`` for lines the listener writes about no one connection (server
    start, signals, MaxStartups and penalty drops): other lines of the same process are not
    of the same connection, so connection stitching leaves them alone.
    """

    event_id: str
    pattern: str
    outcome: str
    action: str | None = None
    method: str | None = None          # auth method when the template fixes it
    invalid_user: bool = False
    user: str | None = None            # user when the template fixes it (ROOT LOGIN REFUSED)
    loghub: str | None = None          # Loghub's template string when it differs from ours
    scope: str = "connection"
    no_info: bool = False              # an auth result without info: not when a clause is followed by ": "
    example: str | None = None         # a message of its own (the source messages have one)
    fields: tuple = field(init=False, default=())

    def __post_init__(self):
        names = tuple(_PLACEHOLDER.findall(self.pattern))
        unknown = set(names) - set(FIELD_PATTERNS)
        if unknown:
            raise ValueError(f"{self.event_id}: unknown fields {sorted(unknown)}")
        captured = [n for n in names if n in CAPTURED]
        if len(captured) != len(set(captured)):
            raise ValueError(f"{self.event_id}: a field is captured twice")
        if self.outcome not in OUTCOMES or (self.action and self.action not in ACTIONS):
            raise ValueError(f"{self.event_id}: bad outcome/action")
        if self.scope not in SCOPES:
            raise ValueError(f"{self.event_id}: bad scope {self.scope!r}")
        object.__setattr__(self, "fields", names)

    @property
    def template(self) -> str:
        """Loghub's `<*>` notation."""
        return self.loghub or _PLACEHOLDER.sub("<*>", self.pattern)

    @property
    def captures_user(self) -> bool:
        return "user" in self.fields or "known_user" in self.fields

    @cached_property
    def regex(self) -> str:
        out, pos, after_user = [], 0, False
        for m in _PLACEHOLDER.finditer(self.pattern):
            name = m.group(1)
            out.append(_literal(self.pattern[pos:m.start()], after_user, name in USER_FIELDS))
            pat = FIELD_PATTERNS[name]
            if self.no_info and name in USER_FIELDS:
                pat = pat.replace(FIELD_PATTERNS["user"], NO_INFO_USER)
            out.append(f"({pat})" if name in CAPTURED else f"(?:{pat})")
            pos, after_user = m.end(), name in USER_FIELDS
        out.append(_literal(self.pattern[pos:], after_user, False))
        suffix = "" if self.pattern.endswith(PREAUTH_SUFFIX.strip()) else f"(?:{_literal(PREAUTH_SUFFIX)})?"
        return "(?s)^" + "".join(out) + suffix + r"[ \t]*" + END

    @cached_property
    def key(self) -> tuple:
        """Leading literal words (at most two) that a message must start with; LEADING when it starts with a field."""
        if self.pattern.startswith("{"):
            return LEADING
        head = self.pattern.split("{", 1)[0]
        words = head.split(" ")
        complete = words[:-1] if "{" in self.pattern else words  # last word may be cut by a field
        return tuple(complete[:2]) or (words[0],)

    def constant(self, name: str) -> str:
        """The value this template fixes for a RECORD slot it does not capture."""
        value = {"event_id": self.event_id, "outcome": self.outcome, "action": self.action,
                 "method": self.method, "user": self.user,
                 "invalid_user": "1" if self.invalid_user else None}.get(name)
        return "" if value is None else value


USER_FIELDS = ("user", "known_user")


def _literal(text: str, exact_head: bool = False, exact_tail: bool = False) -> str:
    """Literal text as regex. Runs of spaces in real logs vary (Loghub's E17 has two before
    `user=`), except next to a user name: "Invalid user  x" names the user " x", kept whole."""
    head = " " if exact_head and text.startswith(" ") else ""
    tail = " " if exact_tail and text.endswith(" ") and len(text) > len(head) else ""
    core = text[len(head):len(text) - len(tail)]
    # sshd prints "for %s%s" with "invalid user " or "": "for  invalid user  from" is a valid user
    # named " invalid user ", so the words before a user name that say it is invalid are exact too.
    exact = next((" " + w for w in ("invalid user", "illegal user") if exact_tail and core.endswith(" " + w)), "")
    core = core[:len(core) - len(exact)]
    return (re.escape(head) + " +".join(re.escape(part) for part in core.split(" ")) + re.escape(exact)
            + re.escape(tail))


T = Template

# ---- authentication results (auth.c auth_log) ----------------------------------------
# "%s %s%s%s for %s%.100s from %.200s port %d ssh2%s%s": verb, method[/submethod], "invalid
# user ", user (the client's text), peer, port, then ": " and the method's info (7.0+: the
# key "TYPE FP", a certificate "TYPE FP ID <key id> (serial N) CA TYPE FP", then ", " and
# e.g. hostbased's `client user "..", client host ".."`). Releases up to 7.3 also spoke
# SSH-1 ("ssh1"). The user and the info are the client's text; the peer is the clause right
# after the user that is followed by the end of the message or by ": " (the info): a fake
# "from X port N ssh2" inside the user name is followed by neither, one inside the info comes
# after the real clause. The templates with info are tried first, so a message with info is
# never read as a user name that swallowed the real clause.
_VERBS = {"Accepted": ("success", "auth_success"), "Failed": ("failure", "auth_failure"),
          "Postponed": ("info", None), "Partial": ("info", None)}  # Postponed: only "... ssh2 [preauth]"
_KEY = ": {key_type} {fingerprint}"
_CERT = ": {key_type} {fingerprint} ID {_} (serial {_n}) CA {_kt} {_fp}"


def _auth(event_id: str, verb: str, tail: str, invalid: bool = False, method: str = "", **kw) -> Template:
    outcome, action = _VERBS[verb]
    who = "invalid user {user}" if invalid else "{known_user}"
    return T(event_id, f"{verb} {method or '{method}'} for {who} from {{src}} port {{port}}{tail}", outcome, action,
             method=method or None, invalid_user=invalid, no_info=":" not in tail, **kw)


AUTH_WITH_INFO = (
    _auth("E101", "Accepted", " ssh2" + _KEY, method="publickey"),
    _auth("E103", "Failed", " ssh2" + _KEY, invalid=True, method="publickey"),
    _auth("E104", "Failed", " ssh2" + _KEY, method="publickey"),
    *(_auth(f"E{base + i}", verb, tail, invalid)
      for base, verb, invalid in ((200, "Accepted", False), (210, "Failed", False), (220, "Failed", True),
                                  (250, "Partial", False))
      for i, tail in enumerate((" ssh2" + _CERT + ", {_}", " ssh2" + _CERT, " ssh2" + _KEY + ", {_}",
                                " ssh2" + _KEY, " ssh2: {_}"))),
)
AUTH_PLAIN = tuple(
    _auth(f"E{base + i}", verb, tail, invalid)
    for base, verb, invalid in ((200, "Accepted", False), (210, "Failed", False), (220, "Failed", True),
                                (250, "Partial", False))
    for i, tail in ((5, " ssh1: {_}"), (6, " ssh1"), (7, "")))

CATALOG: tuple[Template, ...] = (
    # ---- Loghub-2.0 corrected OpenSSH_2k: ids and template strings as published ----
    T("E1", "Accepted password for {user} from {src} port {port} ssh2", "success", "auth_success", method="password",
      no_info=True),
    T("E2", "Connection closed by {src} [preauth]", "disconnect", "preauth_disconnect"),
    T("E3", "Did not receive identification string from {src}", "disconnect", "scan"),
    T("E4", "Disconnecting: Too many authentication failures for {user} [preauth]", "failure", "too_many_failures"),
    T("E6", "error: Received disconnect from {src}: {_n}: com.jcraft.jsch.JSchException: Auth fail [preauth]",
      "disconnect", "preauth_disconnect"),
    T("E7", "error: Received disconnect from {src}: {_n}: No more user authentication methods available. [preauth]",
      "disconnect", "preauth_disconnect"),
    T("E8", "Failed none for invalid user {user} from {src} port {port} ssh2", "failure", "auth_failure",
      method="none", invalid_user=True, no_info=True),
    T("E10", "Failed password for invalid user {user} from {src} port {port} ssh2", "failure", "auth_failure",
      method="password", invalid_user=True, no_info=True),
    T("E9", "Failed password for {known_user} from {src} port {port} ssh2", "failure", "auth_failure",
      method="password", no_info=True),
    T("E11", "fatal: Write failed: Connection reset by peer [preauth]", "disconnect", "preauth_disconnect"),
    T("E12", "input_userauth_request: invalid user {user} [preauth]", "failure", "invalid_user", invalid_user=True),
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
    T("E18", "PAM service(sshd) ignoring max retries; {_n} > {_n}", "failure", "pam_failure"),
    T("E19", "pam_unix(sshd:auth): authentication failure; logname= uid={_n} euid={_n} tty=ssh ruser= rhost={src}",
      "failure", "pam_failure"),
    T("E20", "pam_unix(sshd:auth): authentication failure; logname= uid={_n} euid={_n} tty=ssh ruser= rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E21", "pam_unix(sshd:auth): check pass; user unknown", "failure", "pam_failure", invalid_user=True),
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
    *AUTH_WITH_INFO,

    # ---- Messages of OpenSSH releases 5.x to 10.x (auth*.c, packet.c, sshd*.c, auth-pam.c, srclimit.c) ----
    T("E102", "Accepted {method} for {user} from {src} port {port} ssh2", "success", "auth_success", no_info=True),
    T("E105", "Failed {method} for invalid user {user} from {src} port {port} ssh2", "failure", "auth_failure",
      invalid_user=True, no_info=True),
    T("E106", "Failed {method} for {known_user} from {src} port {port} ssh2", "failure", "auth_failure", no_info=True),
    T("E107", "Postponed {method} for {known_user} from {src} port {port} ssh2 [preauth]", "info", no_info=True),
    T("E260", "Postponed {method} for invalid user {user} from {src} port {port} ssh2", "info", invalid_user=True,
      no_info=True),
    T("E261", "Postponed {method} for {known_user} from {src} port {port} ssh2", "info", no_info=True),
    T("E108", "Partial {method} for {user} from {src} port {port} ssh2", "info", no_info=True),
    *AUTH_PLAIN,
    T("E262", "Failed {method} for illegal user {user} from {src} port {port} ssh2", "failure", "auth_failure",
      invalid_user=True, no_info=True),
    T("E263", "Failed {method} for illegal user {user} from {src} port {port}", "failure", "auth_failure",
      invalid_user=True, no_info=True),
    T("E109", "Invalid user {user} from {src} port {port}", "failure", "invalid_user", invalid_user=True),
    T("E265", "Illegal user {user} from {src}", "failure", "invalid_user", invalid_user=True),
    T("E266", "input_userauth_request: invalid user {user}", "failure", "invalid_user", invalid_user=True),
    T("E110", "error: maximum authentication attempts exceeded for invalid user {user} from {src} port {port} ssh2 [preauth]",
      "failure", "too_many_failures", invalid_user=True),
    T("E111", "error: maximum authentication attempts exceeded for {user} from {src} port {port} ssh2 [preauth]",
      "failure", "too_many_failures"),
    T("E267", "error: maximum authentication attempts exceeded for invalid user {user} from {src} port {port} ssh2",
      "failure", "too_many_failures", invalid_user=True),
    T("E268", "error: maximum authentication attempts exceeded for {user} from {src} port {port} ssh2",
      "failure", "too_many_failures"),
    T("E269", "maximum authentication attempts exceeded for invalid user {user} from {src} port {port} ssh2",
      "failure", "too_many_failures", invalid_user=True),
    T("E270", "maximum authentication attempts exceeded for {user} from {src} port {port} ssh2",
      "failure", "too_many_failures"),
    T("E112", "Disconnecting invalid user {user} {src} port {port}: Too many authentication failures [preauth]",
      "failure", "too_many_failures", invalid_user=True),
    T("E113", "Disconnecting authenticating user {user} {src} port {port}: Too many authentication failures [preauth]",
      "failure", "too_many_failures"),
    T("E271", "Disconnecting: Too many authentication failures for {user}", "failure", "too_many_failures"),
    T("E272", "Disconnecting: Too many authentication failures", "failure", "too_many_failures"),
    T("E273", "Disconnecting invalid user {user} {src} port {port}: Change of username or service not allowed: {_}",
      "failure", "refused", invalid_user=True),
    T("E274", "Disconnecting authenticating user {user} {src} port {port}: Change of username or service not allowed: {_}",
      "failure", "refused"),
    T("E275", "Disconnecting: Change of username or service not allowed: ({user},{_}) -> ({_},{_})", "failure",
      "refused"),
    T("E386", "Disconnecting: Change of username or service not allowed: {_}", "failure", "refused"),
    T("E276", "Disconnecting invalid user {user} {src} port {port}: {_}", "disconnect", "preauth_disconnect",
      invalid_user=True),
    T("E277", "Disconnecting authenticating user {user} {src} port {port}: {_}", "disconnect", "preauth_disconnect"),
    T("E278", "Disconnecting user {user} {src} port {port}: {_}", "disconnect", "session"),
    T("E279", "Disconnecting {src} port {port}: {_}", "disconnect", "preauth_disconnect"),
    T("E335", "Disconnecting: Bad packet length {_n}.", "disconnect", "scan"),
    T("E280", "Disconnecting: {_}", "disconnect", "preauth_disconnect"),
    # Policy refusals (auth.c allowed_user, auth_root_allowed; tcp_wrappers in sshd.c up to 6.6)
    T("E114", "User {user} from {src} not allowed because {_allow}", "failure", "refused"),
    T("E115", "User {user} not allowed because {_reason}", "failure", "refused"),
    T("E281", "User {user} from {src} not allowed because {_}", "failure", "refused"),
    T("E282", "User {user} not allowed because {_}", "failure", "refused"),
    T("E116", "ROOT LOGIN REFUSED FROM {src} port {port}", "failure", "refused", user="root"),
    T("E117", "ROOT LOGIN REFUSED FROM {src}", "failure", "refused", user="root"),
    T("E283", "refused connect from {src_host} ({src})", "failure", "refused"),
    T("E387", "refused connect from {src}", "failure", "refused"),
    T("E284", "Authentication refused: {_}", "failure", "refused"),
    T("E285", "Authentication refused for {user}: {_}", "failure", "refused"),
    T("E388", "error: Authentication key {key_type} {fingerprint} revoked by file {_}", "failure", "refused"),
    # PAM (auth-pam.c: "PAM: %s for %s%.100s from %.100s"; FreeBSD adds " via <server address>")
    T("E118", "error: PAM: Authentication failure for illegal user {user} from {src}", "failure", "pam_failure",
      invalid_user=True),
    T("E119", "error: PAM: Authentication failure for {user} from {src}", "failure", "pam_failure"),
    T("E286", "error: PAM: {_} for illegal user {user} from {src} via {_word}", "failure", "pam_failure",
      invalid_user=True),
    T("E287", "error: PAM: {_} for {user} from {src} via {_word}", "failure", "pam_failure"),
    T("E120", "error: PAM: {_} for illegal user {user} from {src}", "failure", "pam_failure", invalid_user=True),
    T("E121", "error: PAM: {_} for {user} from {src}", "failure", "pam_failure"),
    T("E288", "PAM: {_} for illegal user {user} from {src} via {_word}", "failure", "pam_failure", invalid_user=True),
    T("E289", "PAM: {_} for {user} from {src} via {_word}", "failure", "pam_failure"),
    T("E122", "PAM: {_} for illegal user {user} from {src}", "failure", "pam_failure", invalid_user=True),
    T("E123", "PAM: {_} for {user} from {src}", "failure", "pam_failure"),
    T("E125", "pam_unix(sshd:auth): authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E126", "pam_unix(sshd:auth): authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    T("E290", "PAM {_n} more authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E291", "PAM {_n} more authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    T("E292", "PAM {_n} more authentication failures; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E293", "PAM {_n} more authentication failures; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    T("E294", "PAM service({_word}) ignoring max retries; {_n} > {_n}", "failure", "pam_failure"),
    # Connection life cycle (sshpkt_fmt_connection_id: "[authenticating |invalid ]user U IP port P")
    T("E127", "Connection from {src} port {port} on {_} port {_n} rdomain {_}", "info"),
    T("E128", "Connection from {src} port {port} on {_} port {_n}", "info"),
    T("E295", "Connection from {src} port {port}", "info"),
    T("E296", "Connection from {src}", "info"),
    T("E297", "Connection from authenticating user {user} {src} port {port} timed out", "disconnect", "preauth_disconnect"),
    T("E298", "Connection from invalid user {user} {src} port {port} timed out", "disconnect", "preauth_disconnect",
      invalid_user=True),
    T("E299", "Connection from user {user} {src} port {port} timed out", "disconnect", "session"),
    T("E300", "Connection from {src} port {port} timed out", "disconnect", "preauth_disconnect"),
    T("E129", "Connection closed by authenticating user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E130", "Connection closed by invalid user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect", invalid_user=True),
    T("E131", "Connection closed by {src} port {port} [preauth]", "disconnect", "preauth_disconnect"),
    T("E301", "Connection closed by authenticating user {user} {src} port {port}", "disconnect", "preauth_disconnect"),
    T("E302", "Connection closed by invalid user {user} {src} port {port}", "disconnect", "preauth_disconnect",
      invalid_user=True),
    T("E132", "Connection closed by user {user} {src} port {port}", "disconnect", "session"),
    T("E133", "Connection closed by {src} port {port}", "disconnect", "session"),
    T("E134", "Connection reset by authenticating user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E135", "Connection reset by invalid user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect", invalid_user=True),
    T("E136", "Connection reset by {src} port {port} [preauth]", "disconnect", "preauth_disconnect"),
    T("E303", "Connection reset by authenticating user {user} {src} port {port}", "disconnect", "preauth_disconnect"),
    T("E304", "Connection reset by invalid user {user} {src} port {port}", "disconnect", "preauth_disconnect",
      invalid_user=True),
    T("E305", "Connection reset by user {user} {src} port {port}", "disconnect", "session"),
    T("E137", "Connection reset by {src} port {port}", "disconnect", "session"),
    T("E306", "Connection reset by {src}", "disconnect", "session"),
    T("E138", "Disconnected from invalid user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect", invalid_user=True),
    T("E139", "Disconnected from authenticating user {user} {src} port {port} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E307", "Disconnected from invalid user {user} {src} port {port}", "disconnect", "preauth_disconnect",
      invalid_user=True),
    T("E308", "Disconnected from authenticating user {user} {src} port {port}", "disconnect", "preauth_disconnect"),
    T("E140", "Disconnected from user {user} {src} port {port}", "disconnect", "session"),
    T("E141", "Disconnected from {src} port {port} [preauth]", "disconnect", "preauth_disconnect"),
    T("E142", "Disconnected from {src} port {port}", "disconnect", "session"),
    T("E309", "Disconnected from {src}", "disconnect", "session"),
    T("E143", "Received disconnect from {src} port {port}:{_n}: {_} [preauth]", "disconnect", "preauth_disconnect"),
    T("E144", "Received disconnect from {src} port {port}:{_n}: {_}", "disconnect", "session"),
    T("E310", "Received disconnect from {src} port {port}:{_n}:", "disconnect", "session"),
    T("E145", "Received disconnect from {src}: {_n}: {_} [preauth]", "disconnect", "preauth_disconnect"),
    T("E146", "Received disconnect from {src}: {_n}: {_}", "disconnect", "session"),
    T("E147", "error: Received disconnect from {src} port {port}:{_n}: {_} [preauth]", "disconnect",
      "preauth_disconnect"),
    T("E311", "error: Received disconnect from {src} port {port}:{_n}: {_}", "disconnect", "session"),
    T("E312", "error: Received disconnect from {src}: {_n}: {_}", "disconnect", "session"),
    T("E148", "Timeout before authentication for {src} port {port}", "disconnect", "preauth_disconnect"),
    T("E149", "Timeout before authentication for {src} port {port}, pid = {_}", "disconnect", "preauth_disconnect"),
    T("E313", "Timeout before authentication for {src}", "disconnect", "preauth_disconnect"),
    T("E314", "fatal: Timeout before authentication for {src} port {port}", "disconnect", "preauth_disconnect"),
    T("E150", "fatal: Timeout before authentication for {src}", "disconnect", "preauth_disconnect"),
    T("E151", "fatal: Read from socket failed: Connection reset by peer [preauth]", "disconnect", "preauth_disconnect"),
    T("E315", "fatal: Read from socket failed: {_}", "disconnect", "session"),
    T("E316", "fatal: Write failed: {_}", "disconnect", "session"),
    T("E152", "Read error from remote host {src} port {port}: {_}", "disconnect", "session"),
    T("E317", "Read error from remote host {src}: {_}", "disconnect", "session"),
    T("E153", "Connection closed by {src}", "disconnect", "session"),
    T("E318", "ssh_dispatch_run_fatal: Connection from authenticating user {user} {src} port {port}: {_}",
      "disconnect", "preauth_disconnect"),
    T("E319", "ssh_dispatch_run_fatal: Connection from invalid user {user} {src} port {port}: {_}",
      "disconnect", "preauth_disconnect", invalid_user=True),
    T("E320", "ssh_dispatch_run_fatal: Connection from user {user} {src} port {port}: {_}", "disconnect", "session"),
    T("E321", "ssh_dispatch_run_fatal: Connection from {src} port {port}: {_}", "disconnect", "preauth_disconnect"),
    T("E322", "Timeout, client not responding from user {user} {src} port {port}", "disconnect", "session"),
    T("E323", "Timeout, client not responding.", "disconnect", "session"),
    T("E324", "Timeout, client not responding from {src} port {port}", "disconnect", "session"),
    # Scanners: no banner, bad banner, nothing in common
    T("E154", "Did not receive identification string from {src} port {port}", "disconnect", "scan"),
    T("E155", "Bad protocol version identification '{_}' from {src} port {port}", "disconnect", "scan"),
    T("E156", "Bad protocol version identification '{_}' from {src}", "disconnect", "scan"),
    T("E157", "Unable to negotiate with {src} port {port}: no matching {_} found. Their offer: {_} [preauth]",
      "disconnect", "scan"),
    T("E158", "Unable to negotiate with {src} port {port}: no matching {_} found. Their offer: {_}",
      "disconnect", "scan"),
    T("E325", "fatal: Unable to negotiate with {src} port {port}: no matching {_} found. Their offer: {_}",
      "disconnect", "scan"),
    T("E326", "fatal: Unable to negotiate with {src}: no matching {_} found. Their offer: {_}", "disconnect", "scan"),
    T("E327", "Unable to negotiate with {src}: no matching {_} found. Their offer: {_}", "disconnect", "scan"),
    T("E328", "fatal: Unable to negotiate a {_}", "disconnect", "scan"),
    T("E329", "fatal: no matching {_} found: client {_} server {_}", "disconnect", "scan"),
    T("E330", "no matching {_} found: client {_} server {_}", "disconnect", "scan"),
    T("E159", "banner exchange: Connection from {src} port {port}: {_}", "disconnect", "scan"),
    T("E160", "error: kex_exchange_identification: {_}", "disconnect", "scan"),
    T("E331", "kex_exchange_identification: {_}", "disconnect", "scan"),
    T("E332", "error: kex_protocol_error: {_}", "disconnect", "scan"),
    T("E161", "error: Protocol major versions differ: {_n} vs. {_n}", "disconnect", "scan"),
    T("E389", "Protocol major versions differ for {src} port {port}: {_} vs. {_}", "disconnect", "scan"),
    T("E333", "Protocol major versions differ for {src}: {_} vs. {_}", "disconnect", "scan"),
    T("E390", "probed from {src} port {port} with {_}", "disconnect", "scan"),
    T("E391", "scanned from {src} port {port} with {_}", "disconnect", "scan"),
    T("E392", "probed from {src} with {_}", "disconnect", "scan"),
    T("E393", "scanned from {src} with {_}", "disconnect", "scan"),
    T("E394", "error: Bad remote protocol version identification: '{_}'", "disconnect", "scan"),
    T("E395", "padding error: {_}", "disconnect", "scan"),
    T("E396", "error: Hm, kex protocol error: {_}", "disconnect", "scan"),
    T("E334", "Bad packet length {_n}.", "disconnect", "scan"),
    T("E336", "Corrupted MAC on input.", "disconnect", "scan"),
    T("E337", "fatal: ssh_packet_get_string: {_}", "disconnect", "scan"),
    # Reverse DNS checks (canohost.c; "Address .. maps to .." lost its " - POSSIBLE BREAK-IN ATTEMPT!" in 7.x)
    T("E163", "reverse mapping checking getaddrinfo for {src_host} [{src}] failed.", "info", "break_in"),
    T("E338", "reverse mapping checking getaddrinfo for {src_host} [{src}] failed", "info", "break_in"),
    T("E339", "reverse mapping checking getaddrinfo for {src_host} failed - POSSIBLE BREAK-IN ATTEMPT!", "info",
      "break_in"),
    T("E164", "Address {src} maps to {src_host}, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT!",
      "info", "break_in"),
    T("E340", "Address {src} maps to {src_host}, but this does not map back to the address - POSSIBLE BREAK-IN ATTEMPT",
      "info", "break_in"),
    T("E165", "Address {src} maps to {src_host}, but this does not map back to the address.", "info", "break_in"),
    T("E341", "Address {src} maps to {src_host}, but this does not map back to the address", "info", "break_in"),
    T("E166", "Nasty PTR record \"{src_host}\" is set up for {src}, ignoring", "info", "break_in"),
    # The listener: MaxStartups and PerSourcePenalties (9.8+) drops, penalties (srclimit.c)
    T("E162", "drop connection #{_n} from [{src}]:{port} on [{_}]:{_n} past MaxStartups", "disconnect", "penalty",
      scope="daemon"),
    T("E342", "drop connection #{_n} from [{src}]:{port} on [{_}]:{_n} penalty: {_}", "disconnect", "penalty",
      scope="daemon"),
    T("E343", "drop connection #{_n} from [{src}]:{port} on [{_}]:{_n} {_}", "disconnect", "penalty", scope="daemon"),
    T("E344", "srclimit_penalise: ipv{_n}: new {src}/{_n} {_word} penalty of {_n} seconds for {_}", "disconnect", "penalty",
      scope="daemon"),
    T("E345", "srclimit_penalise: {src}/{_n}: activating ipv{_n} penalty of {_n} seconds for {_}", "disconnect", "penalty",
      scope="daemon"),
    T("E346", "srclimit_penalise: ipv{_n} penalty table full, cannot penalise {src}/{_n} for {_}", "disconnect", "penalty",
      scope="daemon"),
    T("E347", "PerSourcePenalties logging rate-limited: additional {_n} connections dropped", "disconnect", "penalty",
      scope="daemon"),
    T("E348", "Maxstartups logging rate-limited: additional {_n} connections dropped", "disconnect", "penalty",
      scope="daemon"),
    T("E349", "client {src}/{_n} penalty: {_}", "disconnect", "penalty", scope="daemon"),
    # Daemon and session life
    T("E167", "Server listening on {_} port {_n}.", "info", scope="daemon"),
    T("E168", "Received signal {_n}; terminating.", "info", scope="daemon"),
    T("E169", "Received SIGHUP; restarting.", "info", scope="daemon"),
    T("E350", "error: Bind to port {_n} on {_} failed: {_}", "info", scope="daemon"),
    T("E351", "Server will not fork when running in debugging mode.", "info", scope="daemon"),
    T("E170", "Starting session: {_} for {user} from {src} port {port} id {_n}", "info", "session"),
    T("E171", "Close session: user {user} from {src} port {port} id {_n}", "info", "session"),
    T("E364", "subsystem request for {_} by user {user} failed, subsystem not found", "info", "session"),
    T("E172", "subsystem request for {_} by user {user}", "info", "session"),
    T("E353", "subsystem request for {_word}", "info", "session"),
    T("E173", "Accepted key {key_type} {fingerprint} found at {_}", "info"),
    T("E354", "Accepted certificate ID {_} (serial {_n}) signed by {_kt} CA {_fp} via {_}", "info"),
    T("E174", "error: Could not load host key: {_}", "info", scope="daemon"),
    T("E355", "User child is on pid {_n}", "info", "session"),
    T("E356", "Transferred: sent {_n}, received {_n} bytes", "info", "session"),
    T("E357", "Closing connection to {src} port {port}", "disconnect", "session"),
    T("E358", "Authorized to {user}, krb5 principal {_} (krb5_kuserok)", "info"),
    T("E359", "error: connect_to {_} port {_n}: failed.", "info", "session"),
    T("E360", "error: connect_to {_}: unknown host ({_})", "info", "session"),
    T("E361", "Nasty PTR record \"{src_host}\" is set up for {src}", "info", "break_in"),
    # pam_unix lines of old releases, logged as "sshd(pam_unix)[pid]:" without the "pam_unix(...)" prefix
    T("E362", "session opened for user {user}(uid={_n}) by {_}(uid={_n})", "info", "session"),
    T("E175", "session opened for user {user} by (uid={_n})", "info", "session"),
    T("E176", "session closed for user {user}", "info", "session"),
    T("E177", "authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E178", "authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    T("E363", "check pass; user unknown", "failure", "pam_failure", invalid_user=True),
    T("E365", "Timeout before authentication for connection from {src} to {_}, pid = {_n}", "disconnect",
      "preauth_disconnect", scope="daemon"),
    T("E366", "fatal: Access denied for user {user} by PAM account configuration", "failure", "refused"),
    T("E367", "error: Could not get shadow information for {_}", "info"),
    T("E397", "terminating inactive connection from user {user} {src} port {port}", "disconnect", "session"),
    T("E398", "terminating inactive connection from {src} port {port}", "disconnect", "session"),
    T("E399", "Received request from {src} port {port} to connect to host {_} port {_n}, but the request was denied.",
      "info", "session"),
    T("E400", "refused local port forward: originator {_} port {_n}, target {_} port {_n}", "info", "session"),
    T("E401", "error: channel_setup_fwd_listener_tcpip: cannot listen to port: {_n}", "info", "session"),
    T("E402", "Server listening on {_} port {_n} rdomain {_}.", "info", scope="daemon"),
    T("E403", "fatal: Cannot bind any address.", "info", scope="daemon"),
    T("E404", "error: beginning MaxStartups throttling", "disconnect", "penalty", scope="daemon"),
    T("E405", "error: in MaxStartups throttling for {_}, {_n} connections dropped", "disconnect", "penalty",
      scope="daemon"),
    T("E406", "exited MaxStartups throttling after {_}, {_n} connections dropped", "disconnect", "penalty",
      scope="daemon"),
    T("E407", "PAM adding faulty module: {_}", "info"),
    T("E408", "Invalid verification code for {user}", "failure", "pam_failure"),
    # LogLevel DEBUG: classified as debug output, one event per level
    T("E409", "debug1: {_}", "info"),
    T("E410", "debug2: {_}", "info"),
    T("E411", "debug3: {_}", "info"),
    # old pam_unix under "sshd(pam_unix)[pid]:" with the count first (dispatched as LEADING)
    T("E412", "{_n} more authentication failures; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E413", "{_n} more authentication failures; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    T("E414", "{_n} more authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E415", "{_n} more authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    T("E368", "Received request from {src} port {port} denied", "failure", "refused"),
    # Any PAM module's lines under sshd's ident, dispatched on their "pam_" prefix (PREFIX_KEYS)
    T("E369", "pam_{_mod}(sshd:auth): authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src} user={user}",
      "failure", "pam_failure"),
    T("E370", "pam_{_mod}(sshd:auth): authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} rhost={src}",
      "failure", "pam_failure"),
    T("E371", "pam_{_mod}(sshd:auth): authentication failure; logname={_} uid={_n} euid={_n} tty={_} ruser={_} user={user}",
      "failure", "pam_failure"),
    T("E372", "pam_{_mod}(sshd:auth): check pass; user unknown", "failure", "pam_failure", invalid_user=True),
    T("E373", "pam_{_mod}(sshd:auth): received for user {user}: {_n} ({_})", "failure", "pam_failure"),
    T("E374", "pam_{_mod}(sshd:auth): Consecutive login failures for user {user} account temporarily locked",
      "failure", "refused"),
    T("E375", "pam_{_mod}(sshd:auth): user {user} ({_n}) tally {_n}, deny {_n}", "failure", "refused"),
    T("E376", "pam_{_mod}(sshd:auth): requirement \"{_}\" not met by user \"{user}\"", "failure", "refused"),
    T("E416", "pam_{_mod}(sshd:account): requirement \"{_}\" not met by user \"{user}\"", "failure", "refused"),
    T("E417", "pam_{_mod}(sshd:account): Access denied for user {user}: {_n} ({_})", "failure", "refused"),
    T("E377", "pam_{_mod}(sshd:account): account {user} has expired (account expired)", "failure", "refused"),
    T("E378", "pam_{_mod}(sshd:account): expired password for user {user} (password aged)", "failure", "refused"),
    T("E379", "pam_{_mod}(sshd:session): session opened for user {user}(uid={_n}) by {_}(uid={_n})", "info", "session"),
    T("E380", "pam_{_mod}(sshd:session): session opened for user {user} by {_}(uid={_n})", "info", "session"),
    T("E381", "pam_{_mod}(sshd:session): session closed for user {user}", "info", "session"),
    T("E382", "pam_{_mod}(sshd:auth): {_}", "info"),
    T("E383", "pam_{_mod}(sshd:account): {_}", "info"),
    T("E384", "pam_{_mod}(sshd:session): {_}", "info", "session"),
    T("E385", "pam_{_mod}(sshd:password): {_}", "info"),
)
# ---- every other message of OpenSSH's sources (lib/openssh_messages.tsv) ----------------
# The file lists each message sshd writes at INFO, VERBOSE, ERROR or FATAL in releases 5.0 to
# 10.x, read from openssh-portable's sources: its pattern, level, first and last release, source
# function, class and an example. Each pattern that starts with literal text is a template with
# the id in its first column; the templates above come first, so these only name what they miss.
MESSAGES_FILE = Path(__file__).with_name("openssh_messages.tsv")
# class -> (outcome, action, scope) of a source message; auth and connection depend on the text.
_CLASS = {"policy": ("failure", "refused", "connection"), "scan": ("disconnect", "scan", "connection"),
          "penalty": ("disconnect", "penalty", "daemon"), "dns": ("info", "break_in", "connection"),
          "session": ("info", "session", "connection"), "lifecycle": ("info", None, "daemon"),
          "internal": ("info", None, "connection")}
_ENDED = re.compile(r"closed|reset|[Dd]isconnect|timed out|[Tt]imeout|Broken pipe|Read error|Write failed")


def read_messages(path: Path = MESSAGES_FILE) -> list[dict]:
    """The rows of lib/openssh_messages.tsv (tab-separated, no quoting)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    head = lines[0].split("\t")
    return [dict(zip(head, line.split("\t"))) for line in lines[1:] if line]


def _meaning(row: dict) -> tuple:
    pattern, cls = row["pattern"], row["class"]
    if cls == "auth":
        verb = pattern.split(" ", 1)[0]
        if verb in _VERBS and " for {" in pattern:
            return (*_VERBS[verb], "connection")
        if re.match(r"(?:Invalid|Illegal) user|input_userauth_request: invalid user", pattern):
            return "failure", "invalid_user", "connection"
        if "maximum authentication attempts" in pattern or "Too many authentication failures" in pattern:
            return "failure", "too_many_failures", "connection"
        return "info", None, "connection"
    if cls == "connection":
        if row["preauth"] == "yes":
            return "disconnect", "preauth_disconnect", "connection"
        return ("disconnect", "session", "connection") if _ENDED.search(pattern) else ("info", None, "connection")
    return _CLASS[cls]


def _source_template(row: dict) -> Template:
    seen: set = set()

    def once(m):  # a field captured a second time becomes its wildcard
        name = m.group(1)
        if name not in CAPTURED or name not in seen:
            seen.add(name)
            return m.group(0)
        return {"key_type": "{_kt}", "fingerprint": "{_fp}", "port": "{_n}"}.get(name, "{_}")

    pattern = _PLACEHOLDER.sub(once, row["pattern"])
    outcome, action, scope = _meaning(row)
    invalid = "invalid user {user}" in pattern or "illegal user {user}" in pattern
    words = pattern.split(" ")
    method = words[1] if words[0] in _VERBS and len(words) > 2 and words[2] == "for" and "{" not in words[1] else None
    return T(row["event_id"], pattern, outcome, action, method=method, invalid_user=invalid, scope=scope,
             example=row["example"])


def _release(text: str) -> tuple:
    return (99, 0) if text == "current" else tuple(int(x) for x in text.split("."))


def _specific_first(row: dict) -> tuple:
    """More literal text first, then the newer release: a generic message never shadows a specific one."""
    return -len(_PLACEHOLDER.sub("", row["pattern"])), tuple(-x for x in _release(row["last"]))


HAND_CATALOG = CATALOG
# Messages whose example a hand-written template parses (`covered_by`) need no template of their own.
SOURCE_CATALOG: tuple[Template, ...] = tuple(
    {r["event_id"]: _source_template(r) for r in sorted(read_messages(), key=_specific_first)
     if not r["covered_by"]}.values())
CATALOG += SOURCE_CATALOG
del T

BY_ID = {t.event_id: t for t in CATALOG}
if len(BY_ID) != len(CATALOG):
    raise ValueError("duplicate event ids in the catalog")
LOGHUB_IDS = tuple(t.event_id for t in CATALOG if int(t.event_id[1:]) < 100)


# Templates whose first word holds a field ("pam_{_mod}(sshd:auth): ...") are dispatched on
# the literal text before it: a message none of whose leading words has a group of its own.
PREFIX_KEYS = ("pam_",)
LEADING = ("*",)  # the templates that start with a field: tried when no other group can match


@lru_cache(maxsize=1)
def dispatch_table() -> dict[tuple, list[Template]]:
    """Candidate templates per dispatch key, in catalog order (specific before generic).

    A message is tried against the group of the first key of `dispatch_keys(message)` that
    the table has. A group holds its key's templates, the one-word key's for a two-word key,
    and the generic "pam_" ones for a "pam_..." key.
    """
    table: dict[tuple, list[Template]] = {}
    for t in CATALOG:
        prefix = next((p for p in PREFIX_KEYS if t.pattern.startswith(p) and t.key == (p,)), None)
        table.setdefault((prefix, "*") if prefix else t.key, []).append(t)
    order = {t.event_id: i for i, t in enumerate(CATALOG)}
    own = {k: list(v) for k, v in table.items()}
    hand = {t.event_id for t in HAND_CATALOG}
    for k in [k for k in table if len(k) == 2 and k[1] != "*"]:  # (LEADING has one element)
        # Only hand-written one-word templates join their two-word groups, and a source message's
        # where its example has that key: its "error: {_}: ..." would otherwise be copied into
        # ~600 "error: <function>:" groups.
        parent = [t for t in own.get(k[:1], []) if t.event_id in hand
                  or (t.example and tuple(t.example.split(" ", 2)[:2]) == k)]
        table[k] = sorted(table[k] + parent, key=lambda t: order[t.event_id])
    for k in [k for k in table if k[1:] != ("*",) and k != LEADING]:  # a "pam_unix(...)" group also holds the generic "pam_" ones
        generic = [t for p in PREFIX_KEYS if k[0].startswith(p) for t in own.get((p, "*"), [])]
        if generic:
            table[k] = sorted(table[k] + generic, key=lambda t: order[t.event_id])
    return table


@lru_cache(maxsize=1)
def primary_keys() -> frozenset:
    """Dispatch keys looked up before the others: those with a hand-written template of their own,
    and those a lookup would otherwise never reach (a two-word key under a primary one-word key, a
    key under a primary prefix).

    Most lines of a real log have one of these few hundred keys; the ~1,000 keys of messages
    only lib/openssh_messages.tsv knows are looked up only when none of them fits.
    """
    hand = {t.event_id for t in HAND_CATALOG}
    table = dispatch_table()
    own = {k for k, ts in table.items() if any(t.event_id in hand and (t.key == k or k[1:] == ("*",)) for t in ts)}
    prefixes = [p for p in PREFIX_KEYS if (p, "*") in own]
    return frozenset(k for k in table if k in own or (len(k) == 2 and (k[0],) in own)
                     or (k != LEADING and k[1:] != ("*",) and any(k[0].startswith(p) for p in prefixes)))


def dispatch_keys(message: str) -> tuple[list, list]:
    """The keys a message may be dispatched by, in the order they are tried: the first primary
    key, then the first other key, that the table has; else LEADING."""
    words = message.split(" ", 2)  # as Spark's substring_index(message, " ", 2)
    words_keys = ([tuple(words[:2])] if len(words) >= 2 else []) + [(words[0],)]
    return words_keys + [(p, "*") for p in PREFIX_KEYS if message.startswith(p)], words_keys


# ---- "message repeated N times: [ ... ]" (syslog's duplicate suppression) ----
REPEAT_PREFIX = "message repeated "
REPEAT_REGEX = r"(?s)^message repeated ([0-9]++) times: \[ ?(.*)\]" + END
# The count is the logging daemon's claim, and anyone who can write to syslog (`logger -t sshd`)
# can forge it: one line must not stand for a billion failures. A repeated sshd message names
# one connection (its pid and port), and one connection fails at most MaxAuthTries times
# (default 6), so counts are bounded to [1, MAX_REPEAT]; the claim stays in `message`.
MAX_REPEAT = DEFAULTS.max_repeat  # the default of the silver_load parameter `max_repeat`
MAX_REPEAT_RANGE = (1, 1_000_000)


def max_repeat(value) -> int:
    """The `max_repeat` parameter, checked: an integer in MAX_REPEAT_RANGE (a clear ValueError otherwise)."""
    try:
        n = int(str(value).strip())
    except ValueError:
        raise ValueError(f"max_repeat must be an integer, not {value!r}") from None
    lo, hi = MAX_REPEAT_RANGE
    if not lo <= n <= hi:
        raise ValueError(f"max_repeat {n} is outside {lo}..{hi}")
    return n


# ---- what sshd would not have written (Silver's `suspicious`, a list of these) ----
# Counts above the cap are stored capped and flagged. And sshd escapes every byte outside
# printable ASCII before syslog sees it (OpenSSH's log.c: strnvis with VIS_CSTYLE, VIS_NL,
# VIS_TAB and VIS_OCTAL), so a raw control, tab, escape or non-ASCII character in a message
# of an sshd process was written by something else (`logger -t sshd`, a forged journal entry)
# -- except PAM's own messages (`pam_unix(sshd:auth): ...`), which PAM logs unescaped.
SUSPICIOUS_CAPPED = "repeat count above the cap"
SUSPICIOUS_UNESCAPED = "characters sshd escapes"
UNESCAPED_REGEX = r"[^\x20-\x7E]"
PAM_MESSAGE_PREFIX = "pam_"

# ---- syslog headers -------------------------------------------------------
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Written as ranges: Java evaluates `[^\s\x00-\x1f...]` (the same set) about 5x slower.
_HOST = r"[^\x00-\x20\[\]:<]++"  # possessive: what follows (a space, "[", ":") is never part of it
_PROC = r"[^\x00-\x20\[\]:]++"
# The program tag: "sshd[123]", "sshd", "[sshd]"; then Solaris' message id "[ID 800047 auth.info]",
# which is not part of the message.
_TAG = r"(?:(" + _PROC + r")(?:\[([0-9]{1,9}+)\])?|\[(" + _PROC + r")\]): ?(?:\[ID [0-9]++ [a-z0-9]++\.[a-z]++\] )?"
_TAIL = r"(.*)" + END
_FRACTION = r"(\.[0-9]{1,6}+)?[0-9]*+"
_OFFSET = r"[+-][0-9]{2}:?[0-9]{2}"
# After the timestamp: FreeBSD syslogd -v's "<auth.info>" or "<4.6>", then an optional host.
_FACILITY = r"(?:<[0-9a-z]++\.[0-9a-z]++> )?"
_HOST_OPT = r"(?:(" + _HOST + r") +)?"
# Each header regex yields (timestamp, zone, host, process, pid, message) by its replacements
# (process: the bracketed or the plain tag, whichever is there); the timestamp text is
# normalised to "Mmm d HH:MM:SS[.f]" (BSD, no year), "yyyy-MM-ddTHH:MM:SS[.f]" (ISO) or
# "@<epoch seconds>[.f]".
HEADER_FORMATS = {
    # Dec 10 06:55:46 LabSZ sshd[24200]: msg   (RFC 3164, journald short/short-precise; optional <PRI>, host, pid)
    "bsd": (r"(?s)^(?:<[0-9]{1,3}>)?(" + "|".join(MONTHS) + r") {1,2}([0-9]{1,2}) ([0-9]{2}:[0-9]{2}:[0-9]{2})"
            + _FRACTION + " +" + _FACILITY + _HOST_OPT + _TAG + _TAIL,
            "$1 $2 $3$4", "", "$5", "$6$8", "$7", "$9"),
    # 2024-03-01T12:00:00.123456+01:00 host sshd[1]: msg   (rsyslog, journald short-iso[-precise], macOS)
    "iso": (r"(?s)^(?:<[0-9]{1,3}>)?([0-9]{4}-[0-9]{2}-[0-9]{2})[T ]([0-9]{2}:[0-9]{2}:[0-9]{2})" + _FRACTION
            + r"(Z|" + _OFFSET + r")? +" + _FACILITY + _HOST_OPT + _TAG + _TAIL,
            "$1T$2$3", "$4", "$5", "$6$8", "$7", "$9"),
    # Tue 2024-03-05 07:08:09 CET host sshd[1]: msg   (journald short-full)
    "full": (r"(?s)^(?:" + "|".join(_WEEKDAYS) + r") ([0-9]{4}-[0-9]{2}-[0-9]{2}) ([0-9]{2}:[0-9]{2}:[0-9]{2})"
             + _FRACTION + r" ([A-Za-z]{1,6}|" + _OFFSET + r") +" + _HOST_OPT + _TAG + _TAIL,
             "$1T$2$3", "$4", "$5", "$6$8", "$7", "$9"),
    # 1709622489.123456 host sshd[1]: msg   (journald short-unix)
    "unix": (r"(?s)^([0-9]{9,11})" + _FRACTION + " +" + _HOST_OPT + _TAG + _TAIL,
             "@$1$2", "Z", "$3", "$4$6", "$5", "$7"),
    # <38>1 2019-07-08T17:40:16.954167-04:00 host sshd 57915 - - msg   (RFC 5424)
    "rfc5424": (r"(?s)^<[0-9]{1,3}>1 ([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})" + _FRACTION
                + r"(Z|" + _OFFSET + r") (?:-|(" + _HOST + r")) (?:-|(" + _PROC + r")) (?:-|([0-9]{1,9})|[^\x00-\x20]+)"
                r" [^\x00-\x20]+ (?:-|(?:\[(?:[^\]\\]|\\.)*\])+)(?: (?:\ufeff)?(.*))?" + END,
                "$1T$2$3", "$4", "$5", "$6", "$7", "$8"),
}
HEADER_FIELDS = ("ts_text", "zone", "host", "process", "pid", "message")
# Which formats a line may have, by its first character: "<" (a priority), a digit, a letter.
HEADER_ORDER = {"<": ("rfc5424", "bsd", "iso"), "digit": ("iso", "unix"), "letter": ("bsd", "full")}

# Zone abbreviations journald's short-full prints, where one offset is meant; others fall back
# to the `timezone` parameter, as zone-less stamps do.
ZONE_ABBREVIATIONS = {
    "UTC": "+00:00", "GMT": "+00:00", "UT": "+00:00", "Z": "+00:00", "WET": "+00:00", "WEST": "+01:00",
    "BST": "+01:00", "CET": "+01:00", "CEST": "+02:00", "MET": "+01:00", "MEST": "+02:00", "EET": "+02:00",
    "EEST": "+03:00", "MSK": "+03:00", "EST": "-05:00", "EDT": "-04:00", "CDT": "-05:00", "MST": "-07:00",
    "MDT": "-06:00", "PST": "-08:00", "PDT": "-07:00", "AKST": "-09:00", "AKDT": "-08:00", "HST": "-10:00",
    "JST": "+09:00", "KST": "+09:00", "HKT": "+08:00", "SGT": "+08:00", "AWST": "+08:00", "ACST": "+09:30",
    "ACDT": "+10:30", "AEST": "+10:00", "AEDT": "+11:00", "NZST": "+12:00", "NZDT": "+13:00",
}
# Year inference without a `year` parameter: a year-less stamp is in the latest year that does
# not put it after its file's modification time (or now, if earlier) by more than this.
MAX_AHEAD_SECONDS = 14 * 3600  # the widest zone offset: a host clock or zone a little off
YEAR_RANGE = (1990, 1)  # a `year` parameter is refused outside 1990 .. next year

# The first month seen in a file anchors year inference (Dec -> Jan rolls the year).
FIRST_MONTH_REGEX = r"^(?:<[0-9]{1,3}>)?(" + "|".join(MONTHS) + r") "

# sshd's process names: the daemon, OpenSSH 9.8+'s per-session and auth binaries, and the
# "sshd(<pam module>)" ident PAM modules log under on some systems.
SSHD_PROCESSES = ("sshd", "sshd-session", "sshd-auth")
SSHD_PAM_PREFIX = "sshd("


def is_sshd(process: str | None) -> bool:
    return process is not None and (process in SSHD_PROCESSES or process.startswith(SSHD_PAM_PREFIX))

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

# ---- fields of sshd messages no template matches ---------------------------
# A message of a release or a patch the catalog does not know still names its peer: the first
# IP literal in it (IPv4, IPv6 with "::" or all eight groups, "::ffff:" mapped, a "%zone"),
# standing alone as a token, with the port that follows it (" port N" or "]:N"), and the first
# "user X" / "user=X". The server's own address only appears in messages the catalog knows.
_H4 = r"[0-9A-Fa-f]{1,4}"
_V4 = r"[0-9]{1,3}(?:\.[0-9]{1,3}){3}"
_V6 = (r"(?:" + _H4 + r"(?::" + _H4 + r"){7}|(?:" + _H4 + r"(?::" + _H4 + r"){0,6})?::(?:" + _H4 + r"(?::" + _H4
       + r"){0,6})?(?::" + _V4 + r"|(?<=:)" + _V4 + r")?)(?:%[0-9A-Za-z]+)?")
SCAN_PEER_REGEX = r"(?<![0-9A-Za-z.:%_-])(" + _V4 + "|" + _V6 + r")(?![0-9A-Za-z.:%_-])"
SCAN_PORT_REGEX = SCAN_PEER_REGEX[:-len(r"(?![0-9A-Za-z.:%_-])")] + r"(?:\]:| port )([0-9]{1,5})(?![0-9])"
SCAN_USER_REGEX = r"(?:^| )(?:invalid |illegal |authenticating )?user[ =]\"?([^ \"]+)"

# ---- connection stitching ---------------------------------------------------
# Lines of one connection share (file, host, pid). A line that does not name the peer (or the
# user) takes it from the nearest line of its connection that does: the last one before it
# (in the file), within STITCH_SECONDS, or the first of the next STITCH_ROWS lines of the
# process, within STITCH_SECONDS, whichever is nearer in time (the earlier on a tie). The bounds keep a reused
# pid from joining two connections; the listener's lines (scope "daemon") neither give nor take.
STITCH_SECONDS = 600
STITCH_ROWS = 4
STITCHED = ("src_ip", "src_host", "src_port", "user")


# What a dispatch group's rewrite puts in its record (Spark side), in this order; the last
# slot tells which template of the group matched (see `group_rewrite`).
VALUE_SLOTS = ("user", "src", "src_host", "port", "method", "key_type", "fingerprint", "repeat")
GROUP_RECORD = VALUE_SLOTS + ("branch",)


# The rewrite reads a message followed by `branch_pad()`: as many pad characters as the
# largest group has templates (see `group_rewrite`). ETX, which no template's text ends with.
BRANCH_PAD_CHAR = "\x03"


def branch_pad() -> str:
    return BRANCH_PAD_CHAR * max(len(v) for v in dispatch_table().values())


def group_rewrite(candidates: list[Template]) -> tuple[str, str]:
    """One Java regex for a dispatch group, and the replacement that turns a match into GROUP_RECORD.

    The group's templates become ordered alternatives of one regex, so the first that
    matches the whole message wins, exactly as the Python parser's loop over them. The
    regex reads `message + branch_pad()`; alternative k ends by capturing k of the pad's
    characters, and only the matching alternative's groups take part in the match, so the
    length of the `branch` slot is k. (Not the message's own last k characters, which Java
    counts in UTF-16 units; and not a capture in a look-around, which Java does not undo
    when the alternative then fails.) One regex evaluation per line, whichever template matches.
    """
    n, pad = len(branch_pad()), re.escape(BRANCH_PAD_CHAR)
    branches, slots, group = [], {name: [] for name in GROUP_RECORD}, 0
    for k, t in enumerate(candidates, start=1):
        for name in (n_ for n_ in t.fields if n_ in CAPTURED):
            group += 1
            slots[SLOT.get(name, name)].append(group)
        group += 1
        slots["branch"].append(group)
        body = t.regex[len("(?s)^"):-len(END)]
        branches.append(f"{body}({pad}{{{k}}}){pad}{{{n - k}}}" + END)
    regex = "(?s)^(?:" + "|".join(branches) + ")"
    # Group references are followed by "$" or SEP only, so "$1" is never read as "$12".
    return regex, SEP.join("".join(f"${g}" for g in slots[name]) for name in GROUP_RECORD)
