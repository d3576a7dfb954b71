"""The pure-Python parser: exact on Loghub, every header and template, bad bytes, the CLI."""
import csv
import gzip
import json
import subprocess
import sys
from collections import defaultdict
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings

from lib import parser
from lib import templates as tp
from lib.templates import MAX_REPEAT
from tests.conftest import CORPUS, REPO
from tests.corpus import adversarial
from tests.corpus.sshd_messages import EXAMPLES, HEADERS


def grouping_accuracy(truth: list, predicted: list) -> float:
    """GA (Zhu et al., ICSE-SEIP 2019): share of lines whose predicted group is exactly their true group."""
    t_groups, p_groups = defaultdict(set), defaultdict(set)
    for i, (t, p) in enumerate(zip(truth, predicted)):
        t_groups[t].add(i)
        p_groups[p].add(i)
    return sum(len(lines) for lines in p_groups.values()
               if t_groups[truth[next(iter(lines))]] == lines) / len(truth)


def parsing_accuracy(truth: list, predicted: list) -> float:
    """PA (Loghub-2.0): share of lines whose template is exactly the true template."""
    return sum(t == p for t, p in zip(truth, predicted)) / len(truth)


def loghub_truth(loghub_dir):
    with open(loghub_dir / "OpenSSH_2k.log_structured_corrected.csv", newline="") as f:
        return list(csv.DictReader(f))


def test_accuracy_metrics_on_a_known_case():
    assert grouping_accuracy(["a", "a", "b"], [1, 1, 2]) == 1.0
    assert grouping_accuracy(["a", "a", "b"], [1, 1, 1]) == 0.0
    assert grouping_accuracy(["a", "a", "b"], [1, 2, 3]) == pytest.approx(1 / 3)
    assert parsing_accuracy(["x", "y"], ["x", "z"]) == 0.5


def test_exact_on_loghub_openssh_2k_as_shipped(loghub_log, loghub_dir):
    raw = loghub_log.read_bytes()
    assert b"\r\n" in raw  # the CRLF file as published
    events = list(parser.parse_lines(parser.read_lines(loghub_log), year=2024))
    truth = loghub_truth(loghub_dir)
    assert len(events) == len(truth) == 2000
    ga = grouping_accuracy([t["EventTemplate"] for t in truth], [e["event_id"] for e in events])
    pa = parsing_accuracy([t["EventTemplate"] for t in truth], [e["event_template"] for e in events])
    assert (ga, pa) == (1.0, 1.0)
    assert [e["event_id"] for e in events] == [t["EventId"] for t in truth]
    assert all(e["timestamp"].year == 2024 and e["category"] == "sshd" for e in events)
    assert events[0]["message"] == truth[0]["Content"]


@pytest.mark.parametrize("event_id", sorted(EXAMPLES, key=lambda e: int(e[1:])))
def test_each_extension_template(event_id):
    message, fields = EXAMPLES[event_id]
    e = parser.parse_line(f"Mar  3 10:00:00 bastion sshd[1]: {message}", year=2024)
    assert e["event_id"] == event_id, e["event_template"]
    assert {k: e[k] for k in fields} == fields


@pytest.mark.parametrize("line,host,process,pid,iso", HEADERS)
def test_header_formats(line, host, process, pid, iso):
    e = parser.to_json_record(parser.parse_line(line, year=2023))
    assert (e["host"], e["process"], e["pid"], e["timestamp"], e["category"]) == (host, process, pid, iso, "sshd")
    assert e["event_id"] is not None


def test_year_rolls_over_from_december_to_january():
    lines = ["Dec 31 23:59:59 h sshd[1]: Connection closed by 10.0.0.1 [preauth]",
             "Jan  1 00:00:01 h sshd[1]: Connection closed by 10.0.0.1 [preauth]",
             "Dec 31 23:59:58 h sshd[1]: Connection closed by 10.0.0.1 [preauth]"]
    years = [e["timestamp"].year for e in parser.parse_lines(lines, year=2023)]
    assert years == [2023, 2024, 2023]


def test_zone_less_timestamps_take_the_timezone_parameter():
    e = parser.parse_line("Jul  1 12:00:00 h sshd[1]: Connection closed by 10.0.0.1 [preauth]", year=2024,
                          tz="Europe/Paris")
    assert e["timestamp"] == datetime(2024, 7, 1, 10, 0, tzinfo=timezone.utc)


def test_ipv6_mapped_ipv4_and_hostnames():
    p = parser.parse_message
    assert p("Failed password for root from ::ffff:203.0.113.9 port 22 ssh2")["src_ip"] == "203.0.113.9"
    assert p("Failed password for root from fe80::1%eth0 port 22 ssh2")["src_host"] == "fe80::1%eth0"
    v6 = p("Failed password for root from 2001:db8:0:1::7 port 22 ssh2")
    assert (v6["src_ip"], v6["src_host"]) == ("2001:db8:0:1::7", None)
    host = p("pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=mail.example.com")
    assert (host["src_ip"], host["src_host"]) == (None, "mail.example.com")
    assert p("Failed password for root from 999.1.1.1 port 22 ssh2")["src_ip"] is None


def test_message_repeated_counts_n_events():
    e14 = parser.parse_message("message repeated 5 times: [ Failed password for root from 1.2.3.4 port 22 ssh2]")
    assert (e14["event_id"], e14["repeat_count"], e14["user"]) == ("E14", 5, "root")
    wrapped = parser.parse_message(
        "message repeated 3 times: [ Failed password for invalid user bob from 1.2.3.4 port 22 ssh2]")
    assert (wrapped["event_id"], wrapped["repeat_count"], wrapped["invalid_user"]) == ("E10", 3, True)
    unknown = parser.parse_message("message repeated 2 times: [ something new happened 42]")
    assert (unknown["event_id"], unknown["repeat_count"]) == (None, 2)


def test_a_forged_repeat_count_cannot_stand_for_more_than_a_connection_could_log():
    """`logger -t sshd 'message repeated 999999999 times: [ Failed password for root from 8.8.4.4 ...]'`
    must not add a billion failures to 8.8.4.4: counts are bounded, 10+ digits unwrapped too."""
    for claimed in ("999999999", "9999999999", "0000000000000000000000042", "9" * 5000):
        e = parser.parse_message(f"message repeated {claimed} times: [ Failed password for root from 8.8.4.4 port 22 ssh2]")
        assert (e["event_id"], e["src_ip"], e["repeat_count"]) == ("E14", "8.8.4.4", MAX_REPEAT), claimed
        w = parser.parse_message(f"message repeated {claimed} times: [ Failed password for invalid user x from 8.8.4.4 "
                                 "port 22 ssh2]")
        assert (w["event_id"], w["src_ip"], w["repeat_count"]) == ("E10", "8.8.4.4", MAX_REPEAT), claimed
    assert parser.parse_message("message repeated 0 times: [ Failed password for root from 8.8.4.4 port 2 ssh2]")[
        "repeat_count"] == 1


def test_the_cap_is_a_parameter_and_capped_or_forged_lines_are_flagged():
    """`max_repeat` sets the cap; a count above it, or a character sshd would have escaped (its log.c
    passes every message through strnvis), marks the line `suspicious`; PAM's own messages are not sshd's."""
    line = "Mar  3 10:00:00 h sshd[7]: message repeated {} times: [ Failed password for invalid user x from 8.8.4.4 port 2 ssh2]"
    at = parser.parse_lines([line.format(999)], year=2024, max_repeat=1000)[0]
    assert (at["repeat_count"], at["suspicious"]) == (999, [])
    above = parser.parse_lines([line.format(1001)], year=2024, max_repeat=1000)[0]
    assert (above["repeat_count"], above["suspicious"]) == (1000, [tp.SUSPICIOUS_CAPPED])
    assert parser.parse_lines([line.format(5)], year=2024, max_repeat=3)[0]["repeat_count"] == 3
    e14 = parser.parse_message("message repeated 40 times: [ Failed password for root from 8.8.4.4 port 2 ssh2]",
                               max_repeat=5)
    assert (e14["repeat_count"], e14["suspicious"]) == (5, [tp.SUSPICIOUS_CAPPED])
    forged = parser.parse_message("Invalid user \x1b[2Jadmin from 8.8.4.4 port 22")
    assert (forged["user"], forged["src_ip"], forged["suspicious"]) == ("\x1b[2Jadmin", "8.8.4.4", [tp.SUSPICIOUS_UNESCAPED])
    assert parser.parse_message("Invalid user j\u00f6rg from 8.8.4.4 port 22")["suspicious"] == [tp.SUSPICIOUS_UNESCAPED]
    # What sshd itself writes for those bytes: octal escapes, plain ASCII.
    assert parser.parse_message("Invalid user \\033[2Jadmin from 8.8.4.4 port 22")["suspicious"] == []
    assert parser.parse_message("pam_unix(sshd:auth): check pass; user unknown j\u00f6rg")["suspicious"] == []
    quiet = parser.parse_lines(["Mar  3 10:00:00 h cron[1]: message repeated 99999 times: [ x\x1b ]"], year=2024)[0]
    assert (quiet["category"], quiet["suspicious"]) == ("other", [])
    for bad in (0, -1, "ten", 10**7):
        with pytest.raises(ValueError, match="max_repeat"):
            tp.max_repeat(bad)


def test_unknown_sshd_messages_group_by_masked_template():
    a = parser.parse_message("Frobnicated key 0xdeadbeef from 10.1.2.3 after 42 tries")
    b = parser.parse_message("Frobnicated key 0xcafe from 10.9.8.7 after 7 tries")
    assert a["event_id"] is None and a["event_template"] == b["event_template"] == "Frobnicated key <*> from <*> after <*> tries"
    assert parser.mask("quoted 'value here' and \"x\" at 2001:db8::1") == "quoted '<*>' and \"<*>\" at <*>"


def test_other_programs_are_their_own_category():
    e = parser.parse_line("Mar  3 10:00:00 h CRON[99]: pam_unix(cron:session): session opened for user root(uid=0)",
                          year=2024)
    assert (e["category"], e["process"], e["event_id"], e["reason"]) == ("other", "CRON", None, None)
    assert e["timestamp"] is not None and "<*>" in e["event_template"]


@pytest.mark.parametrize("raw,reason", [
    (b"", "empty line"),
    (b"   \t", "empty line"),
    (b"\x00\x01\x02 binary \xff\xfe", "unrecognized header"),
    (b"Mar  3 10:00", "unrecognized header"),  # truncated
    (b"Feb 30 10:00:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]", "invalid timestamp"),
    (b"0001-01-01T00:00:00+14:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]", "invalid timestamp"),
    (b"Mar  3 10:00:00 h sshd[1]: " + b"A" * 1_000_000, "line too long"),
])
def test_bad_lines_are_quarantined_with_a_reason(raw, reason):
    e = parser.parse_line(raw, year=2023)
    assert (e["category"], e["reason"]) == ("quarantined", reason)


def test_non_utf8_and_nul_bytes_in_a_good_line_are_kept():
    e = parser.parse_line(b"Mar  3 10:00:00 h sshd[1]: Invalid user \xff\x00x from 1.2.3.4", year=2023)
    assert e["event_id"] == "E13" and e["user"] == "\ufffd\ufffdx"


def test_read_lines_splits_like_bronze(tmp_path):
    f = tmp_path / "mixed.log"
    data = b"a\r\nb\nc\r\r\nd\re\n\nlast"
    f.write_bytes(data)
    assert list(parser.read_lines(f)) == parser.split_lines(data) == [b"a", b"b", b"c\r", b"d\re", b"", b"last"]
    assert parser.split_lines(b"x\n") == [b"x"] and parser.split_lines(b"") == []
    g = tmp_path / "x.log.gz"
    g.write_bytes(gzip.compress(b"one\ntwo\n"))
    assert list(parser.read_lines(g)) == [b"one", b"two"]


def test_cli_prints_one_json_object_per_line(tmp_path):
    f = tmp_path / "auth.log"
    f.write_bytes(b"Dec 31 23:59:59 h sshd[1]: Accepted password for bob from 10.0.0.2 port 2222 ssh2\n"
                  b"garbage\nJan  1 00:00:00 h CRON[2]: job\n")
    out = subprocess.run([sys.executable, "-m", "lib", "parse", str(f), "--year", "2023"], cwd=REPO,
                         capture_output=True, text=True, check=True).stdout.splitlines()
    rows = [json.loads(x) for x in out]
    assert [r["line_number"] for r in rows] == [1, 2, 3]
    assert rows[0] | {"timestamp": "2023-12-31T23:59:59Z", "event_id": "E1", "user": "bob", "src_ip": "10.0.0.2",
                      "src_port": 2222, "outcome": "success", "category": "sshd"} == rows[0]
    assert rows[1]["category"] == "quarantined" and rows[1]["event_id"] is None
    assert (rows[2]["category"], rows[2]["timestamp"]) == ("other", "2024-01-01T00:00:00Z")
    assert {"line_number", "timestamp", "host", "process", "pid", "event_id", "event_template", "user", "src_ip",
            "src_host", "src_port", "outcome", "category"} <= set(rows[0])


def test_cli_missing_file_is_a_one_line_error(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lib", "parse", str(tmp_path / "nope.log")], cwd=REPO,
                       capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip().count("\n") == 0 and "no such file" in r.stderr


# ---- real-world corpus and attacker-controlled text ---------------------------------------
def realworld() -> list[dict]:
    """tests/corpus/realworld.jsonl: sshd lines of OpenSSH 5.x-10.x and other platforms, with what they say."""
    return [json.loads(x) for x in (CORPUS / "realworld.jsonl").read_text(encoding="utf-8").splitlines()]


def expected_fields(row: dict) -> dict:
    """A corpus row's expectations, in the parser's terms."""
    return {"host": row["host"], "process": row["process"], "pid": row["pid"], "user": row["user"],
            "src": row["src"], "src_port": row["port"], "outcome": row["outcome"], "action": row["event"],
            "auth_method": row["method"],
            "timestamp": datetime.fromisoformat(row["timestamp"].replace("Z", "+00:00"))}


def parsed_fields(e: dict) -> dict:
    return {"host": e["host"], "process": e["process"], "pid": e["pid"], "user": e["user"],
            "src": e["src_ip"] or e["src_host"], "src_port": e["src_port"], "outcome": e["outcome"],
            "action": e["action"] or "info", "auth_method": e["auth_method"], "timestamp": e["timestamp"]}


def test_realworld_corpus_every_field_as_written_by_hand():
    rows = realworld()
    assert len(rows) >= 300 and len({r["line"] for r in rows}) == len(rows)
    events = [parser.parse_line(r["line"], year=2024) for r in rows]  # each a file of its own: no Dec -> Jan
    wrong = [(r["line"], {k: (v, got[k]) for k, v in expected_fields(r).items() if got[k] != v})
             for r, e in zip(rows, events) if (got := parsed_fields(e)) != expected_fields(r)]
    assert wrong == []
    with_peer = [e for r, e in zip(rows, events) if r["src"]]
    assert all(e["src_ip"] or e["src_host"] for e in with_peer)
    known = sum(e["event_id"] is not None for e in events)
    assert known / len(events) >= 0.98, [r["line"] for r, e in zip(rows, events) if e["event_id"] is None]


def test_a_valid_user_named_invalid_user_is_not_an_invalid_user():
    """sshd prints "for %s%s" with "invalid user " or "": two spaces after "for" mean a valid user
    whose name starts with a space (a case Hypothesis drew in CI)."""
    e = parser.parse_message("Failed password for  invalid user  from 203.0.113.7 port 1 ssh2")
    assert (e["event_id"], e["user"], e["invalid_user"], e["src_ip"]) == ("E9", " invalid user ", False, "203.0.113.7")
    e = parser.parse_message("Failed password for invalid user  from 203.0.113.7 port 1 ssh2")
    assert (e["event_id"], e["user"], e["invalid_user"]) == ("E10", "", True)


@settings(max_examples=10_000, deadline=None, database=None, derandomize=True)
@given(adversarial.case())
def test_attacker_text_never_moves_the_peer_or_cuts_the_user(case):
    message, user, addr, port = case
    e = parser.parse_line(f"Mar  3 10:00:00 bastion sshd[1]: {message}", year=2024)
    assert e["event_id"] is not None, message
    assert (e["user"], e["src_ip"], e["src_port"]) == (user, addr, port)


@pytest.mark.parametrize("args,said", [(["--timezone", "Berlin"], "unknown timezone 'Berlin'"),
                                        (["--year", "1850"], "year 1850 is outside 1990.."),
                                        (["--year", "3000"], "year 3000 is outside 1990..")])
def test_a_wrong_year_or_zone_is_one_line_before_anything_starts(tmp_path, args, said):
    f = tmp_path / "auth.log"
    f.write_text("Mar  3 10:00:00 h sshd[1]: Connection closed by 10.0.0.1 port 2 [preauth]\n")
    for command in (["parse", str(f)], ["run", "--input", str(f), "--output", str(tmp_path / "out")]):
        r = subprocess.run([sys.executable, "-m", "lib", *command, *args], cwd=REPO, capture_output=True, text=True,
                           timeout=60)
        assert r.returncode == 2 and r.stdout == "" and said in r.stderr and r.stderr.strip().count("\n") == 0
    assert not (tmp_path / "out").exists()  # refused before a run folder, a venv or a Spark server


def test_years_without_a_year_parameter_follow_the_files_modification_time(tmp_path):
    f = tmp_path / "auth.log"
    f.write_text("Dec 30 23:00:00 h sshd[1]: Connection closed by 10.0.0.1 port 2 [preauth]\n"
                 "Jan  2 01:00:00 h sshd[1]: Connection closed by 10.0.0.1 port 3 [preauth]\n")
    anchor = datetime(2021, 1, 2, 6, 0, tzinfo=timezone.utc)
    got = [e["timestamp"] for e in parser.parse_lines(parser.read_lines(f), anchor=anchor)]
    assert got == [datetime(2020, 12, 30, 23, tzinfo=timezone.utc), datetime(2021, 1, 2, 1, tzinfo=timezone.utc)]
    late = parser.parse_line("Jan  2 19:59:59 h sshd[1]: x", anchor=anchor)["timestamp"]  # 14 h ahead: this year
    later = parser.parse_line("Jan  2 20:00:01 h sshd[1]: x", anchor=anchor)["timestamp"]  # more: last year's
    assert (late.year, later.year) == (2021, 2020)
