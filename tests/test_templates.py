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


def test_replacement_record_has_one_slot_per_field():
    t = tp.BY_ID["E10"]
    parts = tp.replacement(t).split(tp.SEP)
    assert len(parts) == len(tp.RECORD)
    rec = dict(zip(tp.RECORD, parts))
    assert rec == {**rec, "event_id": "E10", "user": "$1", "src": "$2", "port": "$3", "method": "password",
                   "outcome": "failure", "action": "auth_failure", "invalid_user": "1", "preauth": ""}


def test_constants_with_replacement_metacharacters_are_escaped():
    t = tp.Template("X1", "odd {user}", "info", method="a$b\\c")
    assert "a\\$b\\\\c" in tp.replacement(t)


@pytest.mark.parametrize("bad", [
    dict(event_id="X", pattern="{user} first", outcome="info"),
    dict(event_id="X", pattern="x {nope}", outcome="info"),
    dict(event_id="X", pattern="x {user} {user}", outcome="info"),
    dict(event_id="X", pattern="x", outcome="maybe"),
])
def test_malformed_templates_are_rejected(bad):
    with pytest.raises(ValueError):
        tp.Template(**bad)
