"""The catalog itself: Loghub's 26 templates verbatim, well-formed entries, one regex dialect."""
import csv
import re

import pytest

from lib import templates as tp
from tests.corpus.sshd_messages import EXAMPLES


def test_loghub_ids_and_templates_are_loghubs(loghub_dir):
    with open(loghub_dir / "OpenSSH_2k.log_templates_corrected.csv", newline="") as f:
        truth = {r["EventId"]: r["EventTemplate"] for r in csv.DictReader(f)}
    assert len(truth) == 26
    ours = {t.event_id: t.template for t in tp.CATALOG if t.event_id in truth}
    assert ours == truth
    assert set(tp.LOGHUB_IDS) == set(truth)


def test_every_extension_template_has_an_example():
    extensions = {t.event_id for t in tp.CATALOG} - set(tp.LOGHUB_IDS)
    assert extensions == set(EXAMPLES)


def test_regexes_compile_and_anchor_whole_messages():
    for t in tp.CATALOG:
        rx = re.compile(t.regex, re.ASCII)
        assert t.regex.startswith("(?s)^") and t.regex.endswith(tp.END)
        assert rx.groups == len([f for f in t.fields if f in tp.CAPTURED])


def test_dispatch_keys_are_literal_prefixes():
    for key, candidates in tp.dispatch_table().items():
        for t in candidates:
            assert t.pattern.startswith(" ".join(t.key))
            assert key[0] == t.key[0]


def test_group_rewrite_says_which_template_matched():
    candidates = tp.dispatch_table()[("Failed", "password")]
    assert [t.event_id for t in candidates][:2] == ["E10", "E9"]
    regex, repl = tp.group_rewrite(candidates)
    python_repl = re.sub(r"\$(\d+)", r"\\g<\1>", repl)  # Java "$n" -> Python "\g<n>"
    for message, event_id, user in [
        ("Failed password for invalid user bob from 10.0.0.1 port 22 ssh2", "E10", "bob"),
        ("Failed password for root from 10.0.0.1 port 22 ssh2", "E9", "root"),
        ("Failed password for root from 10.0.0.1 port 22 ssh2: RSA SHA256:x", None, None),
    ]:
        out = re.sub(regex, python_repl, message, flags=re.ASCII)
        if event_id is None:
            assert out == message
            continue
        record = dict(zip(tp.GROUP_RECORD, out.split(tp.SEP)))
        assert candidates[len(record["branch"]) - 1].event_id == event_id
        assert (record["user"], record["src"], record["port"]) == (user, "10.0.0.1", "22")


@pytest.mark.parametrize("bad", [
    dict(event_id="X", pattern="{user} first", outcome="info"),
    dict(event_id="X", pattern="x {nope}", outcome="info"),
    dict(event_id="X", pattern="x {user} {user}", outcome="info"),
    dict(event_id="X", pattern="x", outcome="maybe"),
])
def test_malformed_templates_are_rejected(bad):
    with pytest.raises(ValueError):
        tp.Template(**bad)
