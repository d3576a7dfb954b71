"""Incidents: what an analyst acts on, from hand-made lines whose answer can be read off; Spark = Python."""
from datetime import datetime, timedelta, timezone

import pytest

from lib import bronze, incidents, parser, peers, silver, synth

T0 = datetime(2026, 3, 3, 9, 0, tzinfo=timezone.utc)


def stamp(seconds: float) -> str:
    t = T0 + timedelta(seconds=seconds)
    return f"{t:%b} {t.day:2d} {t:%H:%M:%S}"


def scenario() -> list[str]:
    """One host's morning: every line names its time, process and what happened."""
    lines, pid = [], [1000]

    def add(sec, msg, new_pid=True):
        pid[0] += new_pid
        lines.append((sec, f"{stamp(sec)} bastion sshd[{pid[0]}]: {msg}"))

    for i in range(12):  # a brute force on deploy that then gets in: a compromise
        add(i * 4, f"Failed password for deploy from 203.0.113.9 port {4000 + i} ssh2")
    add(60, "Accepted password for deploy from 203.0.113.9 port 4100 ssh2")
    for i in range(6):  # brute force on root, no success
        add(100 + i * 5, f"Failed password for root from 198.51.100.77 port {5000 + i} ssh2")
    add(200, "Failed password for alice from 10.0.0.5 port 6000 ssh2")  # a typo, then in
    add(205, "Failed password for alice from 10.0.0.5 port 6001 ssh2")
    add(210, "Accepted password for alice from 10.0.0.5 port 6002 ssh2")
    add(300, "Accepted publickey for bob from 10.0.0.6 port 7000 ssh2: ED25519 SHA256:abc")  # bob, at his desk ...
    for i in range(7):  # ... later forgets his password there
        add(3600 + i * 20, f"Failed password for bob from 10.0.0.6 port {7001 + i} ssh2")
    add(3800, "Accepted password for bob from 10.0.0.6 port 7010 ssh2")
    for i in range(12):  # a campaign: twelve addresses, one guess each at carol
        add(4000 + i * 60, f"Failed password for carol from 192.0.2.{10 + i} port {8000 + i} ssh2")
    add(4800, "Accepted password for carol from 192.0.2.250 port 8100 ssh2")  # ... and someone gets in
    for i in range(40):  # a CI bot and a monitoring check: never an incident
        add(5000 + i * 120, f"Accepted publickey for ci from 10.9.0.12 port {9000 + i} ssh2: ED25519 SHA256:ci")
        add(5000 + i * 60, "error: kex_exchange_identification: Connection closed by remote host")
        add(5000 + i * 60, f"Connection closed by 10.9.0.2 port {9500 + i}", new_pid=False)
    add(9000, "Bad protocol version identification 'GET / HTTP/1.1' from 203.0.113.200 port 1")  # a scanner
    add(9001, "Did not receive identification string from 203.0.113.200 port 2")
    return [line for _, line in sorted(lines, key=lambda x: x[0])]


def found(lines: list[str]) -> list[dict]:
    events = [dict(e, source_file="auth.log") for e in parser.parse_lines(lines, year=2026)]
    return incidents.detect(incidents.python_attempts(events))


def test_an_analysts_morning():
    got = found(scenario())
    view = [(i["kind"], i["severity"], i["sources"] if i["source_count"] < 5 else i["source_count"], i["account"])
            for i in got]
    assert view == [
        ("compromise", "critical", ["203.0.113.9"], "deploy"),
        ("compromise", "critical", 13, "carol"),  # the one who got in, and the twelve who guessed
        ("distributed_campaign", "high", 12, None),
        ("brute_force", "medium", ["203.0.113.9"], None),
        ("brute_force", "medium", ["198.51.100.77"], None),
        ("scanning", "low", ["203.0.113.200"], None),
    ]
    deploy = got[0]
    assert deploy["success_source"] == "203.0.113.9" and deploy["failures"] == 12 and deploy["successes"] == 1
    assert "T1078" in deploy["techniques"] and "deploy logged in from 203.0.113.9" in deploy["summary"]
    assert deploy["evidence"] == ["auth.log:1-13"]
    assert got[2]["summary"].startswith("12 addresses made 12 failed logins on carol")
    assert "6 failed password logins for 1 account" in got[4]["summary"]


def test_ids_are_stable_and_do_not_depend_on_line_order():
    lines = scenario()
    a, b = found(lines), found(lines)
    assert [i["incident_id"] for i in a] == [i["incident_id"] for i in b]
    shuffled = lines[1::2] + lines[::2]  # another file order, the same events
    assert sorted(i["incident_id"] for i in found(shuffled)) == sorted(i["incident_id"] for i in a)


def test_time_to_detect_counts_from_the_success_line():
    got = incidents.stamp_detection(found(scenario()), now=T0 + timedelta(hours=3))
    deploy, carol = got[0], got[1]
    assert deploy["detected_at"] == "2026-03-03T12:00:00Z" and deploy["time_to_detect_s"] == 3 * 3600 - 60
    assert carol["time_to_detect_s"] == 3 * 3600 - 4800
    assert all(i["time_to_detect_s"] is None for i in got[2:])
    assert list(incidents.frame(got).columns) == list(incidents.INCIDENT_COLUMNS)


def test_a_known_good_pair_from_history_is_not_an_attack():
    lines = [f"{stamp(i * 10)} h sshd[{i}]: Failed password for erin from 10.0.0.7 port {i} ssh2" for i in range(12)]
    lines.append(f"{stamp(200)} h sshd[99]: Accepted password for erin from 10.0.0.7 port 99 ssh2")
    events = [dict(e, source_file="f") for e in parser.parse_lines(lines, year=2026)]
    attempts = incidents.python_attempts(events)
    assert [i["kind"] for i in incidents.detect(attempts)] == ["compromise", "brute_force"]
    assert incidents.detect(attempts, known_good={("10.0.0.7", "erin")}) == []


def test_a_connection_that_ends_naming_its_user_is_a_failed_attempt():
    """Key-only servers log failed keys at VERBOSE: the connection's end is the evidence."""
    lines = [f"{stamp(i)} h sshd[{100 + i}]: Connection closed by authenticating user root 203.0.113.4 port {i} "
             "[preauth]" for i in range(6)]
    lines.append(f"{stamp(7)} h sshd[200]: Failed password for root from 203.0.113.5 port 1 ssh2")
    lines.append(f"{stamp(8)} h sshd[200]: Connection closed by authenticating user root 203.0.113.5 port 1 [preauth]")
    events = [dict(e, source_file="f") for e in parser.parse_lines(lines, year=2026)]
    attempts = incidents.python_attempts(events)
    per_src = {}
    for a in attempts:
        per_src[a["src"]] = per_src.get(a["src"], 0) + a["weight"]
    assert per_src == {"203.0.113.4": 6, "203.0.113.5": 1}  # the second connection logged its failure itself
    assert [i["sources"] for i in incidents.detect(attempts)] == [["203.0.113.4"]]


def _spark_attempts(spark, path) -> list[dict]:
    raw = bronze.to_bronze(bronze.read_text(spark, [str(path)]), "b", "2026-01-01 00:00:00")
    rows = incidents.spark_attempts(silver.events(silver.parse(raw, 2026))).collect()
    return sorted((r.asDict() for r in rows), key=lambda r: (r["src"], r["t"], r["line_number"]))


def test_spark_and_python_find_the_same_incidents(spark, tmp_path):
    log = tmp_path / "auth.log"
    lines = scenario() + synth.generate(8000, 4)[0]
    log.write_text("\n".join(lines) + "\n", encoding="utf-8")
    spark_rows = _spark_attempts(spark, log)
    python = incidents.python_attempts([dict(e, source_file=spark_rows[0]["source_file"]) for e in
                                        parser.parse_lines(parser.read_lines(log), year=2026)])
    assert len(spark_rows) == len(python) > 1000
    assert [{**r, "t": round(r["t"], 6)} for r in spark_rows] == [{**r, "t": round(r["t"], 6)} for r in python]
    assert incidents.detect(spark_rows) == incidents.detect(python)


@pytest.fixture(scope="module")
def peer_tools():
    return peers.ensure()


def test_loghub_every_source_fail2ban_bans_is_an_incident(loghub_log, peer_tools):
    events = [dict(e, source_file="OpenSSH_2k.log") for e in parser.parse_lines(parser.read_lines(loghub_log),
                                                                                year=2024)]
    attempts = incidents.python_attempts(events)
    got = incidents.detect(attempts)
    banned = peers.fail2ban_bans(peers.fail2ban_failures(loghub_log, peer_tools))
    in_incidents = {s for i in got for s in i["sources"]}
    assert banned and banned <= in_incidents
    only_logins = {a["src"] for a in attempts if a["outcome"] == "success"} - {
        a["src"] for a in attempts if a["outcome"] != "success"}
    assert only_logins and not only_logins & in_incidents


def _silver(spark, path, batch_id: str):
    """The file's Silver rows, as a table (as the pipeline reads them: the parse's plan is not repeated)."""
    raw = bronze.to_bronze(bronze.read_text(spark, [str(path)]), batch_id, "2026-01-01 00:00:00")
    out = str(path) + ".silver"
    silver.events(silver.parse(raw, 2026)).write.parquet(out)
    return spark.read.parquet(out)


def _week_lines() -> list[tuple[datetime, str]]:
    """Two ISO weeks of one host (week B begins Monday 2026-03-09, 00:00 UTC)."""
    mon, out = datetime(2026, 3, 9, tzinfo=timezone.utc), []

    def add(t, msg):
        out.append((t, f"{t:%b} {t.day:2d} {t:%H:%M:%S} h sshd[{100 + len(out)}]: {msg}"))

    add(mon - timedelta(days=5, hours=-9), "Accepted password for erin from 10.0.0.7 port 1 ssh2")  # at her desk
    for i in range(6):  # week A: a brute force on root ...
        add(mon - timedelta(days=5, hours=-10) + timedelta(seconds=10 * i),
            f"Failed password for root from 192.0.2.5 port {10 + i} ssh2")
    for i in range(10):  # ... one across Sunday midnight, five failures before and five after ...
        add(mon + timedelta(seconds=30 * i - 150), f"Failed password for admin from 198.51.100.7 port {20 + i} ssh2")
    for i in range(6):  # ... the first source again in week B ...
        add(mon + timedelta(days=1, hours=10, seconds=10 * i), f"Failed password for root from 192.0.2.5 port {40 + i} ssh2")
    for i in range(12):  # ... and erin, who forgot her password: no incident, she logged in from there before
        add(mon + timedelta(days=1, hours=12, seconds=10 * i), f"Failed password for erin from 10.0.0.7 port {60 + i} ssh2")
    add(mon + timedelta(days=1, hours=13), "Accepted password for erin from 10.0.0.7 port 99 ssh2")
    return sorted(out)


def _table(found: list[dict]) -> list[tuple]:
    return [(i["rank"], i["kind"], i["sources"], i["failures"], i["first_seen"][:10]) for i in found]


def test_incidents_per_week_are_the_same_whatever_order_the_batches_come_in(spark, tmp_path):
    lines = _week_lines()
    mon = datetime(2026, 3, 9, tzinfo=timezone.utc)
    late, first = tmp_path / "week_a.log", tmp_path / "week_b.log"  # week B is loaded first, week A a day late
    late.write_text("".join(line + "\n" for t, line in lines if t < mon), encoding="utf-8")
    first.write_text("".join(line + "\n" for t, line in lines if t >= mon), encoding="utf-8")
    b1 = _silver(spark, first, "b1")
    b2 = _silver(spark, late, "b2")
    lake = b1.unionByName(b2)

    whole = incidents.detect_periods(lake, None, 0)  # the whole lake as one period: one incident a source
    assert [(i["kind"], i["sources"], i["failures"]) for i in whole] == [
        ("brute_force", ["192.0.2.5"], 12), ("brute_force", ["198.51.100.7"], 10)]
    every = incidents.spark_periods(lake, lake, 7)
    full = incidents.merge_periods([], incidents.stamp_detection(incidents.detect_periods(lake, every, 7)), every, 7)
    assert _table(full) == [  # per ISO week: the midnight attack in the week it began, and its own part in the next
        (1, "brute_force", ["198.51.100.7"], 10, "2026-03-08"), (2, "brute_force", ["192.0.2.5"], 6, "2026-03-04"),
        (3, "brute_force", ["192.0.2.5"], 6, "2026-03-10"), (4, "brute_force", ["198.51.100.7"], 5, "2026-03-09")]

    p1 = incidents.spark_periods(b1, b1, 7)
    t1 = incidents.merge_periods([], incidents.stamp_detection(incidents.detect_periods(b1, p1, 7)), p1, 7)
    assert ("compromise", "erin") in {(i["kind"], i["account"]) for i in t1}  # without week A, erin looks broken into
    p2 = incidents.spark_periods(lake, b2, 7)
    assert p2 == every  # week A's login makes erin known good in week B: the late batch changes week B too
    t2 = incidents.merge_periods(t1, incidents.stamp_detection(incidents.detect_periods(lake, p2, 7)), p2, 7)
    assert _table(t2) == _table(full)
    assert [{k: v for k, v in i.items() if k not in ("detected_at", "time_to_detect_s")} for i in t2] == \
        [{k: v for k, v in i.items() if k not in ("detected_at", "time_to_detect_s")} for i in full]

    later = incidents.stamp_detection(incidents.detect_periods(lake, p2, 7), now=mon + timedelta(days=30))
    again = incidents.merge_periods(t2, later, p2, 7)  # the same batch again, a month on
    assert [(i["incident_id"], i["detected_at"]) for i in again] == [(i["incident_id"], i["detected_at"]) for i in t2]
