"""Attacker-controlled text where sshd puts it: user names, certificate key IDs, hostbased client names.

`cases()` draws (line, expected user, expected peer, expected port): a real sshd message of one
of FORMATS with adversarial text in its free fields — spaces, quotes, unicode, escapes, the words
sshd itself uses, whole fake "from <addr> port <n> ssh2" clauses, kilobytes of it. The parse must
keep the user whole and take the peer from the clause the format fixes. tests/test_parser.py and
tests/test_silver.py check both parsers on the same draws.
"""
from __future__ import annotations

import re

from hypothesis import strategies as st

FP = "SHA256:Qm3xWq9Zp1Lk8Yt5Rv2Nc7Hd4Ja6Sb0Uf3Ge8Ti1Xo"
# (format, whether the user comes from an invalid-user form); {u} user, {a} peer, {p} port, {t} other free text
FORMATS = (
    ("Failed password for {u} from {a} port {p} ssh2", False),
    ("Failed password for invalid user {u} from {a} port {p} ssh2", True),
    ("Accepted password for {u} from {a} port {p} ssh2", False),
    ("Failed keyboard-interactive/pam for invalid user {u} from {a} port {p} ssh2", True),
    ("Accepted publickey for {u} from {a} port {p} ssh2: ED25519 " + FP, False),
    ("Failed publickey for {u} from {a} port {p} ssh2: ED25519-CERT " + FP + " ID {t} (serial 3) CA ED25519 " + FP,
     False),
    ("Failed hostbased for {u} from {a} port {p} ssh2: RSA " + FP + ', client user "{t}", client host "{t}"', False),
    ("Invalid user {u} from {a} port {p}", True),
    ("Connection closed by authenticating user {u} {a} port {p} [preauth]", False),
    ("Connection closed by invalid user {u} {a} port {p} [preauth]", True),
    ("Disconnected from authenticating user {u} {a} port {p} [preauth]", False),
    ("error: maximum authentication attempts exceeded for {u} from {a} port {p} ssh2 [preauth]", False),
    ("User {u} from {a} not allowed because not listed in AllowUsers", False),
    ("Disconnecting invalid user {u} {a} port {p}: Too many authentication failures [preauth]", True),
)

_ADDRS = st.sampled_from(("203.0.113.7", "198.51.100.23", "192.0.2.200", "2001:db8::7", "2001:db8:1:2::99",
                          "10.11.12.13"))
_FRAGMENTS = st.sampled_from((
    " from ", " port ", " ssh2", " ssh1", "invalid user ", "for ", "[preauth]", '"', "'", "\\033[31m", "\x1b[0m",
    "ü", "用户", "\u202e", "\t", "  ", ":", ": ", "root", "admin", "%s", "$(id)", "\\", "]", "[", ";",
))


@st.composite
def _fake_clause(draw):
    return f" from {draw(_ADDRS)} port {draw(st.integers(1, 65535))} {draw(st.sampled_from(('ssh2', 'ssh1', '')))}"


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\n\r\x00\x01"), max_size=12)
_PIECE = st.one_of(_TEXT, _FRAGMENTS, _fake_clause(), _ADDRS)
# One draw in twenty is kilobytes long (sshd cuts a user name at 100 bytes; a forged line need not).
_FREE = st.integers(0, 19).flatmap(lambda i: st.lists(_PIECE, min_size=150, max_size=300) if i == 0
                                   else st.lists(_PIECE, max_size=8)).map("".join)
# A fake clause followed by ": " is where sshd writes an auth result's info (a key, a certificate):
# a user name holding one reads the same as a real clause with info after it (README, "Attribution").
_INFO_LOOKALIKE = re.compile(r" +port +[0-9]+ +ssh[12]: ")  # with the parser's tolerance for runs of spaces


def _plausible_user(user: str, invalid_form: bool) -> bool:
    if _INFO_LOOKALIKE.search(user + " "):  # the format puts " from" after it
        return False
    # sshd's own prefixes: a valid user's name that starts with them reads as the invalid-user form
    return invalid_form or not user.startswith(("invalid user ", "illegal user ", "user ", "authenticating user "))


@st.composite
def case(draw):
    fmt, invalid_form = draw(st.sampled_from(FORMATS))
    user = draw(_FREE.filter(lambda u: _plausible_user(u, invalid_form)))
    text = draw(_FREE) if "{t}" in fmt else ""
    addr, port = draw(_ADDRS), draw(st.integers(1, 65535))
    values = {"u": user, "a": addr, "p": str(port), "t": text}
    message = re.sub(r"\{([uapt])\}", lambda m: values[m.group(1)], fmt)
    return message, user, addr, (port if "{p}" in fmt else None)
