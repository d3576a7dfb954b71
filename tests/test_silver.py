"""Silver on Spark: exact on Loghub, and line for line the same as the Python parser on every corpus."""
import gzip
import os
from datetime import datetime, timezone

import pytest
from hypothesis import given, settings

from lib import silver, synth
from lib import templates as tp
from tests.corpus import adversarial
from tests.corpus.sshd_messages import EXAMPLES, HEADERS
from tests.helpers import bad_input_corpus, disagreements, python_parse, spark_parse
from tests.test_parser import (expected_fields, grouping_accuracy, loghub_truth, parsed_fields, parsing_accuracy,
                               realworld)


def test_exact_on_loghub_through_spark(spark, loghub_log, loghub_dir):
    rows = spark_parse(spark, loghub_log, 2024)
    truth = loghub_truth(loghub_dir)
    templates = [t["EventTemplate"] for t in truth]
    assert grouping_accuracy(templates, [r["event_id"] for r in rows]) == 1.0
    assert parsing_accuracy(templates, [r["event_template"] for r in rows]) == 1.0
    assert disagreements(rows, python_parse(loghub_log, 2024)) == []


def test_agrees_with_python_on_the_synthetic_log(spark, tmp_path):
    log, _ = synth.write(tmp_path / "synthetic.log", lines=5000, seed=3)
    assert disagreements(spark_parse(spark, log, 2026), python_parse(log, 2026)) == []


def test_agrees_with_python_on_every_template_and_header(spark, tmp_path):
    lines = [f"Mar  3 10:00:{i % 60:02d} bastion sshd[{i}]: {m}" for i, (m, _) in enumerate(EXAMPLES.values())]
    lines += [h[0] for h in HEADERS]
    lines += ["Dec 31 23:59:59 h sshd[1]: Connection closed by 10.0.0.1 [preauth]",
              "Jan  1 00:00:01 h sshd[1]: message repeated 3 times: [ Failed password for invalid user x from 1.2.3.4 port 2 ssh2]",
              "Jan  1 00:00:02 h sshd[1]: message repeated 2 times: [ something unheard of 12]",
              "Jan  1 00:00:02 h sshd[1]: message repeated 9999999999 times: [ Failed password for root from 8.8.4.4 port 2 ssh2]",
              "Jan  1 00:00:02 h sshd[1]: message repeated 00000000000007 times: [ something unheard of 12]",
              "Jan  1 00:00:02 h sshd[1]: message repeated 0 times: [ Failed password for invalid user x from 1.2.3.4 port 2 ssh2]",
              "Jan  1 00:00:03 h sshd[1]: Frobnicated 0xdead from 10.1.2.3 after 42 tries [preauth]",
              "Jan  1 00:00:04 h kernel: [12345.678] eth0: link up",
              "Jan  1 00:00:05 h sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
              "Jan  1 00:00:06 h sshd[1]: Failed password for root from fe80::1%eth0 port 22 ssh2",
              "Jan  1 00:00:07 h sshd[1]: \x02Connection closed by 1.2.3.4 [preauth]",
              "0001-01-01T00:00:00+14:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",  # before year 1 in UTC
              "9999-12-31T23:59:59-14:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",
              "Feb 29 10:00:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",  # 2023 has no Feb 29
              "Mar  1 24:00:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",
              "Mar  1 23:59:60 h sshd[1]: Connection closed by 1.2.3.4 [preauth]"]  # leap second: invalid
    f = tmp_path / "examples.log"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = spark_parse(spark, f, 2023, "America/New_York")
    assert disagreements(rows, python_parse(f, 2023, "America/New_York")) == []
    ids = [r["event_id"] for r in rows[:len(EXAMPLES)]]
    assert ids == list(EXAMPLES)
    assert rows[len(EXAMPLES) + len(HEADERS) + 1]["timestamp"].year == 2024  # Dec -> Jan


def test_agrees_with_python_on_bad_bytes(spark, tmp_path):
    for name, path in bad_input_corpus(tmp_path).items():
        if path.is_file():
            assert disagreements(spark_parse(spark, path, 2023), python_parse(path, 2023)) == [], name


def test_every_line_comes_out_once(spark, tmp_path):
    paths = bad_input_corpus(tmp_path)
    from lib import bronze

    raw = bronze.to_bronze(bronze.read_text(spark, [str(p) for p in paths.values()]), "b", "2026-01-01")
    parsed = silver.parse(raw, 2023)
    n_bronze = raw.count()
    assert silver.events(parsed).count() + silver.quarantine(parsed).count() == n_bronze
    reasons = {r["reason"] for r in silver.quarantine(parsed).select("reason").distinct().collect()}
    assert reasons == {"empty line", "unrecognized header", "line too long"}
    held = silver.quarantine(parsed).where("reason = 'line too long'").first()
    assert len(held["line"]) > 1_000_000  # kept verbatim, not lost


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_timestamps_are_stored_in_utc(spark, tmp_path, tz):
    f = tmp_path / "t.log"
    f.write_text("Jul  1 12:00:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]\n")
    (row,) = spark_parse(spark, f, 2024, tz)
    assert row["timestamp"].hour == (12 if tz == "UTC" else 6) and row["timestamp"].minute == (0 if tz == "UTC" else 30)


def test_realworld_corpus_through_spark(spark, tmp_path):
    """The hand-written real-world corpus: what each line says, through Spark, and line for line the Python parse."""
    rows = sorted(realworld(), key=lambda r: not r["line"].startswith("Jan "))  # a January line first: one year
    f = tmp_path / "realworld.log"
    f.write_text("".join(r["line"] + "\n" for r in rows), encoding="utf-8")
    got = spark_parse(spark, f, 2024)
    assert disagreements(got, python_parse(f, 2024)) == []
    untimed = [(r["line"], e) for r, e in zip(rows, got)
               if {**parsed_fields(e), "timestamp": None} != {**expected_fields(r), "timestamp": None}]
    assert untimed == []
    assert sum(e["event_id"] is not None for e in got) / len(got) >= 0.98


def test_attacker_text_through_spark(spark, tmp_path):
    """The adversarial draws of tests/corpus/adversarial.py (10,000), parsed by Spark in one go: peer and user as the format fixes them."""
    cases = []

    @settings(max_examples=10_000, deadline=None, database=None, derandomize=True)
    @given(adversarial.case())
    def collect(case):
        cases.append(case)

    collect()
    f = tmp_path / "adversarial.log"
    with open(f, "w", encoding="utf-8", newline="\n") as out:
        for i, (message, *_) in enumerate(cases):  # one pid per line: no connection stitching between draws
            out.write(f"Mar  3 10:{i // 60 % 60:02d}:{i % 60:02d} bastion sshd[{1000 + i}]: {message}\n")
    got = spark_parse(spark, f, 2024)
    assert len(got) == len(cases)
    wrong = [(c, (e["event_id"], e["user"], e["src_ip"], e["src_port"])) for c, e in zip(cases, got)
             if e["event_id"] is None or (e["user"], e["src_ip"], e["src_port"]) != c[1:]]
    assert wrong == []
    assert disagreements(got, python_parse(f, 2024)) == []


def test_the_cap_and_the_suspicious_flag_agree_with_python(spark, tmp_path):
    f = tmp_path / "forged.log"
    wrap = "message repeated {} times: [ Failed password for invalid user x from 8.8.4.4 port 2 ssh2]"
    lines = [wrap.format(n) for n in ("999", "1000", "1001", "0", "9" * 12, "0000001001")] + [
        "message repeated 5000 times: [ Failed password for root from 8.8.4.4 port 2 ssh2]",
        "Invalid user \x1b[31mroot\x1b[0m from 8.8.4.4 port 22", "Invalid user \\033[31mroot from 8.8.4.4 port 22",
        "pam_unix(sshd:auth): authentication failure; logname= uid=0 euid=0 tty=ssh ruser= rhost=8.8.4.4  user=\u00e9",
        "Invalid user caf\u00e9\tx from 8.8.4.4 port 22"]
    f.write_text("".join(f"Mar  3 10:00:{i:02d} h sshd[{100 + i}]: {m}\n" for i, m in enumerate(lines))
                 + "Mar  3 10:01:00 h cron[1]: message repeated 99999 times: [ \x1b ]\n", encoding="utf-8")
    got = spark_parse(spark, f, 2024, max_repeat=1000)
    assert disagreements(got, python_parse(f, 2024, max_repeat=1000)) == []
    capped, unescaped = [tp.SUSPICIOUS_CAPPED], [tp.SUSPICIOUS_UNESCAPED]
    assert [(e["repeat_count"], e["suspicious"]) for e in got] == [
        (999, []), (1000, []), (1000, capped), (1, []), (1000, capped), (1000, capped), (1000, capped),
        (1, unescaped), (1, []), (1, []), (1, unescaped), (None, [])]


def test_lines_of_a_connection_lend_each_other_peer_and_user(spark, tmp_path):
    lines = [
        # a kex error names no peer: the next line of its process does
        "Mar  3 10:00:00 h sshd[100]: error: kex_exchange_identification: Connection closed by remote host",
        "Mar  3 10:00:00 h sshd[100]: Connection closed by 203.0.113.9 port 50001",
        # PAM lines of an attempt: peer and user from the Invalid user line before them
        "Mar  3 10:00:05 h sshd[101]: Invalid user oracle from 198.51.100.4 port 40000",
        "Mar  3 10:00:05 h sshd[101]: pam_unix(sshd:auth): check pass; user unknown",
        # a session's close names the user, and takes the peer from its login
        "Mar  3 10:00:10 h sshd[102]: Accepted publickey for alice from 10.0.0.8 port 51000 ssh2: ED25519 "
        "SHA256:Qm3xWq9Zp1Lk8Yt5Rv2Nc7Hd4Ja6Sb0Uf3Ge8Ti1Xo",
        "Mar  3 10:00:10 h sshd[102]: pam_unix(sshd:session): session opened for user alice(uid=1000) by (uid=0)",
        # the same pid again an hour later: another connection, nothing to borrow
        "Mar  3 11:00:10 h sshd[102]: pam_unix(sshd:session): session closed for user alice",
        # the listener's lines neither give nor take
        "Mar  3 11:00:11 h sshd[1]: drop connection #3 from [192.0.2.66]:4000 on [10.0.0.1]:22 past MaxStartups",
        "Mar  3 11:00:11 h sshd[1]: Received SIGHUP; restarting.",
        # another host's pid 100: not the same connection
        "Mar  3 10:00:01 other sshd[100]: error: kex_exchange_identification: read: Connection reset by peer",
    ]
    f = tmp_path / "conn.log"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    got = spark_parse(spark, f, 2024)
    assert disagreements(got, python_parse(f, 2024)) == []
    view = [(e["src_ip"], e["src_port"], e["user"], e["inferred"]) for e in got]
    assert view == [
        ("203.0.113.9", 50001, None, ["src_ip", "src_port"]), ("203.0.113.9", 50001, None, []),
        ("198.51.100.4", 40000, "oracle", []), ("198.51.100.4", 40000, "oracle", ["src_ip", "src_port", "user"]),
        ("10.0.0.8", 51000, "alice", []), ("10.0.0.8", 51000, "alice", ["src_ip", "src_port"]),
        (None, None, "alice", []),
        ("192.0.2.66", 4000, None, []), (None, None, None, []),
        (None, None, None, []),
    ]


def test_rotated_logs_across_new_year_without_a_year(spark, tmp_path):
    """auth.log.2.gz (December), auth.log.1 (December into January), auth.log (January), read in January:
    each file's year from its modification time; in rotation order the stamps rise and none is in the future."""
    folder = tmp_path / "rotated"
    folder.mkdir()

    def lines(stamps):
        return "".join(f"{s} h sshd[{i}]: Connection closed by 203.0.113.{i % 250} port {1000 + i} [preauth]\n"
                       for i, s in enumerate(stamps))

    (folder / "auth.log.2.gz").write_bytes(gzip.compress(lines(["Dec 20 08:00:00", "Dec 27 23:59:59"]).encode()))
    (folder / "auth.log.1").write_text(lines(["Dec 28 00:00:00", "Dec 31 23:59:59", "Jan  1 00:00:00",
                                              "Jan  3 06:00:00"]))
    (folder / "auth.log").write_text(lines(["Jan  3 06:00:01", "Jan  9 12:00:00"]))
    now = datetime.now(timezone.utc)
    year = now.year if now.month > 1 or now.day > 10 else now.year - 1  # a January that has passed
    for name, stamp in (("auth.log.2.gz", f"{year - 1}-12-28T00:00:00"), ("auth.log.1", f"{year}-01-03T06:00:00"),
                        ("auth.log", f"{year}-01-09T12:00:00")):
        t = datetime.fromisoformat(stamp + "+00:00").timestamp()
        os.utime(folder / name, (t, t))
    order = ["auth.log.2.gz", "auth.log.1", "auth.log"]
    python = [e["timestamp"] for name in order for e in python_parse(folder / name, None)]
    spark_ts = [e["timestamp"] for name in order for e in spark_parse(spark, folder / name, None)]
    assert spark_ts == python
    assert python == sorted(python) and python[0].year == year - 1 and python[-1].year == year
    assert all(t <= now for t in python)
