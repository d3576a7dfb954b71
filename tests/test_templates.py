"""The catalog itself: Loghub's 26 templates verbatim, OpenSSH's own messages, well-formed entries, one regex dialect."""
import csv
import json
import re

import pytest

from lib import parser
from lib import templates as tp
from tests.conftest import CORPUS
from tests.corpus.sshd_messages import EXAMPLES
from tests.tools.message_coverage import coverage


def test_loghub_ids_and_templates_are_loghubs(loghub_dir):
    with open(loghub_dir / "OpenSSH_2k.log_templates_corrected.csv", newline="") as f:
        truth = {r["EventId"]: r["EventTemplate"] for r in csv.DictReader(f)}
    assert len(truth) == 26
    ours = {t.event_id: t.template for t in tp.CATALOG if t.event_id in truth}
    assert ours == truth
    assert set(tp.LOGHUB_IDS) == set(truth)


def test_every_hand_written_template_parses_a_message_of_its_own():
    """Each has an example (tests/corpus), a line of the real-world corpus or a source message it is the template of."""
    corpus = [json.loads(x)["line"] for x in (CORPUS / "realworld.jsonl").read_text(encoding="utf-8").splitlines()]
    exercised = {parser.parse_line(line, year=2024)["event_id"] for line in corpus}
    exercised |= {r["covered_by"] for r in tp.read_messages()} | set(EXAMPLES)
    hand = {t.event_id for t in tp.HAND_CATALOG} - set(tp.LOGHUB_IDS)
    assert hand - exercised == set()
    assert set(EXAMPLES) <= hand


def _literal_text(pattern: str) -> str:
    """A pattern's literal text; runs of fields count as one ("{key_type} {fingerprint}" ~ "{_}")."""
    return re.sub(r"\{\w+\}(?: \{\w+\})*", "{}", pattern)


def test_every_source_message_is_an_event():
    """Every message of OpenSSH 5.0-10.x in lib/openssh_messages.tsv parses to its own template or to the
    hand-written one recorded as covering it; an example that another message's template also fits
    (two releases spelling it alike, or a more specific message) may take that one."""
    rows = tp.read_messages()
    assert len(rows) > 3000 and {r["class"] for r in rows} <= {
        "auth", "policy", "connection", "scan", "penalty", "dns", "session", "lifecycle", "internal"}
    stale = [(r["event_id"], r["covered_by"], now) for r, now in zip(rows, coverage(rows)) if r["covered_by"] != now]
    assert stale == [], "covered_by is stale: run python -m tests.tools.message_coverage"
    for r in rows:
        got = parser.parse_message(r["example"])["event_id"]
        assert got is not None, r["pattern"]
        if got != (r["covered_by"] or r["event_id"]):
            other, mine = _literal_text(tp.BY_ID[got].pattern), _literal_text(r["pattern"])
            assert other == mine or len(tp._PLACEHOLDER.sub("", other)) > len(tp._PLACEHOLDER.sub("", mine)), \
                (r["pattern"], got)


def test_source_messages_have_release_ranges():
    def release(text):
        return (99,) if text == "current" else tuple(int(x) for x in text.split("."))
    for r in tp.read_messages():
        assert (5, 0) <= release(r["first"]) <= release(r["last"]), r
        assert r["level"] in ("INFO", "VERBOSE", "ERROR", "FATAL") and r["preauth"] in ("yes", "no", "maybe")


def test_regexes_compile_and_anchor_whole_messages():
    for t in tp.CATALOG:
        rx = re.compile(t.regex, re.ASCII)
        assert t.regex.startswith("(?s)^") and t.regex.endswith(tp.END)
        assert rx.groups == len([f for f in t.fields if f in tp.CAPTURED])


def test_dispatch_keys_are_literal_prefixes():
    for key, candidates in tp.dispatch_table().items():
        for t in candidates:
            if key == tp.LEADING:
                assert t.pattern.startswith("{")
            elif key[1:] == ("*",) or t.key[1:] == ("*",) or t.key[0] in tp.PREFIX_KEYS:
                assert t.pattern.startswith(key[0][:len(tp.PREFIX_KEYS[0])])
            else:
                assert t.pattern.startswith(" ".join(t.key)) and key[0] == t.key[0]


def test_group_rewrite_says_which_template_matched():
    candidates = tp.dispatch_table()[("Failed", "password")]
    assert [t.event_id for t in candidates][:2] == ["E10", "E9"]
    regex, repl = tp.group_rewrite(candidates)
    python_repl = re.sub(r"\$(\d+)", r"\\g<\1>", repl)  # Java "$n" -> Python "\g<n>"
    for message, event_id, user in [
        ("Failed password for invalid user bob from 10.0.0.1 port 22 ssh2", "E10", "bob"),
        ("Failed password for root from 10.0.0.1 port 22 ssh2", "E9", "root"),
        ("Failed password for root from 10.0.0.1 port 22 ssh3", None, None),
    ]:
        padded = message + tp.branch_pad()
        out = re.sub(regex, python_repl, padded, flags=re.ASCII)
        if event_id is None:
            assert out == padded
            continue
        record = dict(zip(tp.GROUP_RECORD, out.split(tp.SEP)))
        assert candidates[len(record["branch"]) - 1].event_id == event_id
        assert (record["user"], record["src"], record["port"]) == (user, "10.0.0.1", "22")


@pytest.mark.parametrize("bad", [
    dict(event_id="X", pattern="x {user}", outcome="info", scope="listener"),
    dict(event_id="X", pattern="x {nope}", outcome="info"),
    dict(event_id="X", pattern="x {user} {user}", outcome="info"),
    dict(event_id="X", pattern="x", outcome="maybe"),
])
def test_malformed_templates_are_rejected(bad):
    with pytest.raises(ValueError):
        tp.Template(**bad)
