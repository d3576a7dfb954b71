"""Features: known answers on hand-made events, and Spark = Python value for value."""
from datetime import datetime, timedelta, timezone

import pytest

from lib import features, parser, synth

T0 = datetime(2024, 5, 1, 10, 0, tzinfo=timezone.utc)
IP = "203.0.113.7"


def _lines():
    """A hand-made hour of one attacker and one user, as syslog lines (a reader can count them)."""
    def at(sec, pid, msg):
        ts = T0 + timedelta(seconds=sec)
        return f"{ts:%b} {ts.day:2d} {ts:%H:%M:%S} h sshd[{pid}]: {msg}"
    return [
        at(0, 1, f"Invalid user admin from {IP} port 1000"),
        at(1, 1, f"Failed password for invalid user admin from {IP} port 1000 ssh2"),
        at(11, 1, f"Failed password for root from {IP} port 1000 ssh2"),
        at(31, 1, f"message repeated 3 times: [ Failed password for root from {IP} port 1000 ssh2]"),
        at(32, 1, "Disconnecting: Too many authentication failures for root [preauth]"),  # no IP: pid 1's
        at(33, 1, f"Received disconnect from {IP} port 1000:11: Bye Bye [preauth]"),
        at(700, 2, f"Failed password for oracle from {IP} port 1001 ssh2"),
        at(900, 3, f"Accepted password for oracle from {IP} port 1002 ssh2"),
        at(60, 9, "Accepted publickey for alice from 10.0.0.2 port 5000 ssh2: ED25519 SHA256:abc"),
    ]


def _python_rows():
    events = [dict(e, source_file="f") for e in parser.parse_lines(_lines(), year=2024)]
    return {r["src"]: r for r in features.python_features(events, window_minutes=60, burst_minutes=10)}


def test_known_answers():
    r = _python_rows()[IP]
    # failures: 1 + 1 + 3 (repeated) + 1 = 6; attempts add the success: 7
    assert (r["failures"], r["successes"], r["attempts"]) == (6, 1, 7)
    assert r["failure_ratio"] == pytest.approx(6 / 7)
    assert r["distinct_users"] == 3            # admin, root, oracle
    assert r["invalid_user_attempts"] == 1 and r["root_attempts"] == 4
    assert r["success_after_failure"] == 1 and r["failures_without_success"] == 0
    assert r["too_many_failures"] == 1         # attributed through pid 1
    assert r["preauth_disconnects"] == 1 and r["distinct_ports"] == 3
    assert r["peak_failures_burst"] == 5       # 10:00-10:10 holds 5 failures, 10:10-10:20 one
    # failure times 1, 11, 31, 31, 31, 700: gaps 10, 20, 0, 0, 669
    assert r["mean_interarrival_s"] == pytest.approx(699 / 5)
    assert r["active_duration_s"] == 900
    assert r["window_start"] == T0 and r["events"] == 10  # 8 lines, the repeated one counts 3


def test_benign_user_profile():
    r = _python_rows()["10.0.0.2"]
    assert (r["attempts"], r["failures"], r["successes"], r["success_after_failure"]) == (1, 0, 1, 0)
    assert r["mean_interarrival_s"] == 0 and r["peak_failures_burst"] == 0


def test_windows_split_sources_in_time():
    events = [dict(e, source_file="f") for e in parser.parse_lines(_lines(), year=2024)]
    rows = features.python_features(events, window_minutes=10)
    starts = sorted(r["window_start"] for r in rows if r["src"] == IP)
    assert starts == [T0, T0 + timedelta(minutes=10)]


def _compare(spark, path, year):
    from lib import bronze, silver

    raw = bronze.to_bronze(bronze.read_text(spark, [str(path)]), "b", "2026-01-01")
    sdf = features.spark_features(silver.events(silver.parse(raw, year)), 60, 10).toPandas()
    srows = sorted(sdf.to_dict("records"), key=lambda r: (r["src"], r["window_start"]))
    events = [dict(e, source_file="file:" + str(path)) for e in parser.parse_lines(parser.read_lines(path), year=year)]
    prows = features.python_features(events, 60, 10)
    assert len(srows) == len(prows) > 0
    for s, p in zip(srows, prows):
        assert (s["src"], s["window_start"].replace(tzinfo=timezone.utc)) == (p["src"], p["window_start"])
        assert {k: s[k] for k in features.NAMES} == {k: p[k] for k in features.NAMES}, s["src"]


def test_spark_equals_python_on_hand_made_lines(spark, tmp_path):
    f = tmp_path / "hand.log"
    f.write_text("\n".join(_lines()) + "\n")
    _compare(spark, f, 2024)


def test_spark_equals_python_on_synthetic_log(spark, tmp_path):
    log, _ = synth.write(tmp_path / "s.log", lines=8000, seed=5)
    _compare(spark, log, synth.DEFAULT_START.year)


def test_spark_equals_python_on_loghub(spark, loghub_log):
    _compare(spark, loghub_log, 2024)
