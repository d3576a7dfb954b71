"""Incidents: who is attacking us, and did anyone get in.

Silver's events become *attempts* (`spark_attempts` in the pipeline, `python_attempts` in the
API; tests hold them equal): one row per failed or successful authentication and per scan
probe, with its source, time, user and lineage. `detect` reads them as an analyst would and
returns one row per incident, compromises first:

* ``compromise``      a login to an account after failures against it from the same source,
  or after a distributed campaign guessed it (T1078 and the guessing technique);
* ``brute_force``     one source, five or more failures within ten minutes (T1110.001);
* ``password_spraying`` one source, many (mostly invalid) accounts, few guesses each (T1110.003);
* ``credential_stuffing`` one source, many real accounts, one or two guesses each (T1110.004);
* ``low_and_slow``    one source, eight or more failures spread over hours, never five in ten
  minutes (T1110.001);
* ``distributed_campaign`` ten or more sources, a few guesses each, at the same accounts
  within the same two hours (T1110.003);
* ``scanning``        banner grabs and protocol probes, no authentication (T1595).

What keeps ordinary traffic out: a source's failures count only against accounts it has not
logged in to before (a typo or a forgotten password at one's own desk is not an attack); a
success after a few failures is a compromise only when the failures came from an attacker
(five or more on that account, or a campaign); automation and monitoring never fail to
authenticate, and a health check's closed connections are not protocol probes.

A failed attempt (README, "the parser"): a ``Failed <method>`` line (times its repeat count), or,
for a connection that logged none, its end when sshd named the user it was authenticating
(``maximum authentication attempts exceeded``, ``Connection closed by authenticating user ...
[preauth]``): key-only servers log failed keys only at VERBOSE.
"""
from __future__ import annotations

import hashlib
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timezone

from lib import tables

ATTEMPT_COLUMNS = ("src", "t", "outcome", "user", "invalid_user", "weight", "method", "event_id", "source_file",
                   "line_number")
# Scans that speak the protocol wrongly (bad banner, no common algorithms): a scanner's, not a
# health check's (which only opens and closes a connection).
PROTOCOL_PROBES = ("Bad protocol", "banner exchange", "Unable to negotiate", "Protocol major", "probed from",
                   "scanned from", "error: Bad")
ENDERS = ("too_many_failures", "preauth_disconnect")


@dataclass(frozen=True)
class Rules:
    """The thresholds of `detect` (named in each incident's `detectors`)."""
    burst_failures: int = 5          # brute force: this many failures ...
    burst_seconds: int = 600         # ... within this many seconds (fail2ban's maxretry / findtime)
    slow_failures: int = 8           # low and slow: this many failures ...
    slow_span_seconds: int = 3600    # ... spread over at least this long
    spray_users: int = 5             # spraying / stuffing: this many accounts ...
    spray_per_user: float = 3.0      # ... with at most this many guesses each on average
    stuffing_invalid_share: float = 0.5   # below this share of invalid names: stuffing, else spraying
    compromise_failures: int = 10    # failures on the account before a success from the same source
    campaign_sources: int = 10       # campaign: this many sources ...
    campaign_seconds: int = 7200     # ... guessing one account within the same window
    campaign_max_failures: int = 4   # a campaign's sources make at most this many failures each
    probe_burst: int = 5             # health-check-like probes: this many within ...
    probe_seconds: int = 120         # ... this long make a scan
    guess_failures: int = 3          # guessing: this many failures within burst_seconds on 2+ accounts


DEFAULT_RULES = Rules()


# ---------------------------------------------------------------- attempts
def _epoch(ts: datetime) -> float:
    return (ts - datetime(1970, 1, 1, tzinfo=timezone.utc)).total_seconds()


def python_attempts(events: list[dict]) -> list[dict]:
    """Parsed sshd events (`lib.parser` dicts with `source_file`) -> attempt rows (ATTEMPT_COLUMNS), sorted."""
    out, enders, failed = [], {}, set()
    for e in events:
        if e.get("category") != "sshd" or e["timestamp"] is None:
            continue
        src = e.get("src_ip") or e.get("src_host")
        conn = (e.get("source_file"), e["host"], e["pid"])
        row = {"src": src, "t": _epoch(e["timestamp"]), "user": e["user"], "invalid_user": bool(e["invalid_user"]),
               "method": e["auth_method"], "event_id": e["event_id"], "source_file": e.get("source_file"),
               "line_number": e["line_number"]}
        action = e["action"]
        if action == "auth_failure":
            failed.add(conn)
            out.append(dict(row, outcome="failure", weight=e["repeat_count"] or 1))  # capped by Silver (`max_repeat`)
        elif action == "auth_success":
            out.append(dict(row, outcome="success", weight=1))
        elif action == "scan":
            protocol = (e["event_template"] or "").startswith(PROTOCOL_PROBES)
            out.append(dict(row, outcome="protocol_probe" if protocol else "probe", weight=1))
        elif action in ENDERS and e["user"] is not None and "user" not in e["inferred"] and e["pid"] is not None:
            enders.setdefault(conn, dict(row, outcome="failure", weight=1))  # the connection's first such line
    out += [r for conn, r in enders.items() if conn not in failed]
    return sorted((r for r in out if r["src"] is not None),
                  key=lambda r: (r["src"], r["t"], r["source_file"] or "", r["line_number"]))


def _src():
    """An attempt's source (Silver's columns): its peer address, else the host name sshd logged."""
    from pyspark.sql import functions as F

    return F.coalesce("src_ip", "src_host")


def _sshd():
    """The Silver rows attempts come from: sshd's, with a time."""
    from pyspark.sql import functions as F

    return (F.col("category") == "sshd") & F.col("timestamp").isNotNull()


def spark_attempts(silver):
    """`python_attempts` over Silver (sshd rows), as a Spark DataFrame with ATTEMPT_COLUMNS."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    c = F.col
    df = silver.where(_sshd()).drop("outcome") \
        .withColumn("src", _src()) \
        .withColumn("t", F.unix_micros("timestamp") / F.lit(1e6))
    conn = ("source_file", "host", "pid")
    failed = df.where(c("action") == "auth_failure").select(*conn).distinct().withColumn("_failed", F.lit(True))
    ender = (c("action").isin(*ENDERS) & c("user").isNotNull() & ~F.array_contains("inferred", "user")
             & c("pid").isNotNull())
    first_ender = Window.partitionBy(*conn).orderBy("line_number")
    enders = (df.where(ender).withColumn("_n", F.row_number().over(first_ender)).where(c("_n") == 1)
              .join(failed, list(conn), "left").where(c("_failed").isNull())
              .withColumn("outcome", F.lit("failure")).withColumn("weight", F.lit(1)))
    protocol = F.lit(False)
    for p in PROTOCOL_PROBES:
        protocol = protocol | c("event_template").startswith(p)
    direct = df.where(c("action").isin("auth_failure", "auth_success", "scan")).select(
        "*", F.when(c("action") == "auth_failure", "failure").when(c("action") == "auth_success", "success")
        .when(protocol, "protocol_probe").otherwise("probe").alias("outcome"),
        F.when(c("action") == "auth_failure", F.coalesce(c("repeat_count"), F.lit(1))).otherwise(1)
        .alias("weight"))
    cols = [c("src"), c("t"), c("outcome"), c("user"), F.coalesce(c("invalid_user"), F.lit(False)).alias("invalid_user"),
            c("weight").cast("int").alias("weight"), c("auth_method").alias("method"), c("event_id"),
            c("source_file"), c("line_number")]
    return direct.select(*cols).unionByName(enders.select(*cols)).where(c("src").isNotNull())


# ---------------------------------------------------------------- detection periods
# The pipeline detects per period of event time, so that a daily run reads the last week of
# Silver, not its whole history. Periods are `days` long and start at PERIOD_ANCHOR (a Monday,
# 00:00 UTC: 7-day periods are ISO weeks). A period's incidents are those that begin in it,
# found from its attempts and those of the LOOKAHEAD after it (an attack that straddles its end
# is one incident, in the period where it began); (source, user) pairs that logged in before the
# period stay known good. A run detects again the periods its batch's events fall in (or whose
# lookahead they fall in) and keeps the others' incidents as they were, so the incidents table
# equals detection over every period, whatever order the batches came in (`spark_periods` names
# the periods a batch changes, late data included). An attack that goes on into the next period
# is that period's incident too when its part there is an attack on its own: one per period, as
# fail2ban bans a source again.
PERIOD_ANCHOR = datetime(1970, 1, 5, tzinfo=timezone.utc).timestamp()
LOOKAHEAD_SECONDS = 86400


def period_of(t: float, days: int) -> int:
    """The period (an integer) that epoch second `t` falls in."""
    return math.floor((t - PERIOD_ANCHOR) / (days * 86400))


def period_bounds(period: int, days: int) -> tuple[float, float]:
    """[start, end) of `period`, epoch seconds."""
    start = PERIOD_ANCHOR + period * days * 86400
    return start, start + days * 86400


def spark_periods(silver, batch, days: int) -> list[int]:
    """The periods whose incidents a batch (`batch`, its Silver rows, in `silver`) can change: those
    its sshd events fall in, the one before when they fall in its lookahead, and the later periods
    in which a (source, user) pair that logged in in the batch made attempts after that login
    (late data makes the pair known good there)."""
    from pyspark.sql import functions as F

    c, days_s = F.col, days * 86400

    def period(t):
        return F.floor((t - F.lit(int(PERIOD_ANCHOR))) / F.lit(days_s))

    t = F.unix_seconds(c("timestamp"))
    success = c("action") == "auth_success"
    # One pass over the batch: its periods (and those whose lookahead it falls in) and its first login.
    row = batch.where(_sshd()).agg(
        F.collect_set(period(t)).alias("own"), F.collect_set(period(t - F.lit(LOOKAHEAD_SECONDS))).alias("back"),
        F.min(F.when(success, c("timestamp"))).alias("first")).first()
    periods = {int(p) for p in (row["own"] or []) + (row["back"] or [])}
    if row["first"] is not None:
        logins = (batch.where(_sshd() & success).groupBy(_src().alias("src"), "user")
                  .agg(F.min("timestamp").alias("since")))
        later = (silver.where(_sshd() & (c("timestamp") > F.lit(row["first"])))
                 .select(_src().alias("src"), "user", "timestamp")
                 .join(F.broadcast(logins), ["src", "user"]).where(c("timestamp") > c("since"))
                 .select(period(F.unix_seconds(c("timestamp"))).alias("p")).distinct())
        periods |= {int(r["p"]) for r in later.collect()}
    return sorted(periods)


def spark_known_good(silver):
    """The (src, user) pairs with a successful login in `silver` (as `spark_attempts` names them)."""
    from pyspark.sql import functions as F

    c = F.col
    return (silver.where(_sshd() & (c("action") == "auth_success"))
            .select(_src().alias("src"), "user").where(c("src").isNotNull()).distinct())


def detect_periods(silver, periods: list[int] | None, days: int, anomalies=None,
                   rules: Rules = DEFAULT_RULES) -> list[dict]:
    """The incidents that begin in `periods` (see above), unranked; `periods` None (or `days` 0):
    every incident of Silver, as one period. `anomalies`: the model's scores, noted on the
    incidents (the period's own windows: the highest flagged score per source)."""
    from pyspark.sql import functions as F

    if not days or periods is None:
        return detect(_collect(spark_attempts(silver)), rules, model_scores=_scores(anomalies, None, None))
    ts, out = F.col("timestamp"), []
    for period in periods:
        start, end = period_bounds(period, days)
        lo, hi = F.timestamp_seconds(F.lit(int(start))), F.timestamp_seconds(F.lit(int(end + LOOKAHEAD_SECONDS)))
        attempts = _collect(spark_attempts(silver.where((ts >= lo) & (ts < hi))))
        known = {(r["src"], r["user"]) for r in spark_known_good(silver.where(ts < lo)).collect()}
        found = detect(attempts, rules, known_good=known, model_scores=_scores(anomalies, lo, hi))
        out += [i for i in found if start <= _seconds(i["first_seen"]) < end]
    return out


def merge_periods(previous: list[dict], found: list[dict], periods: list[int] | None, days: int) -> list[dict]:
    """The incidents table after detecting `periods` again: `previous`'s incidents of the other
    periods, kept, and `found`; an incident found before keeps when it was first detected
    (`detected_at`, `time_to_detect_s`). Ranked over the whole table."""
    redone = None if not days or periods is None else set(periods)
    before = {i["incident_id"]: i for i in previous}
    kept = [dict(i) for i in previous
            if redone is not None and period_of(_seconds(i["first_seen"]), days) not in redone]
    for inc in found:
        old = before.get(inc["incident_id"])
        if old and old.get("detected_at"):
            inc = dict(inc, detected_at=old["detected_at"], time_to_detect_s=old["time_to_detect_s"])
        kept.append(inc)
    return rank(kept)


def _collect(df) -> list[dict]:
    return [r.asDict() for r in df.collect()]


def _scores(anomalies, lo, hi) -> dict:
    from pyspark.sql import functions as F

    if anomalies is None:
        return {}
    flagged = anomalies.where("is_anomaly")
    if lo is not None:
        flagged = flagged.where((F.col("window_start") >= lo) & (F.col("window_start") < hi))
    return {r["src"]: r["score"] for r in flagged.groupBy("src").agg(F.max("anomaly_score").alias("score")).collect()}


def _seconds(iso: str) -> float:
    return datetime.fromisoformat(iso.replace("Z", "+00:00")).timestamp()


# ---------------------------------------------------------------- detection
def _max_within(times: list[float], weights: list[int], seconds: float) -> int:
    """The most (weighted) failures inside any `seconds`-long window (times sorted)."""
    best, total, j = 0, 0, 0
    for i, t in enumerate(times):
        total += weights[i]
        while t - times[j] > seconds:
            total -= weights[j]
            j += 1
        best = max(best, total)
    return best


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} seconds"
    if seconds < 5400:
        return f"{seconds / 60:.0f} minutes"
    if seconds < 2 * 86400:
        return f"{seconds / 3600:.1f} hours"
    return f"{seconds / 86400:.1f} days"


def _evidence(rows: list[dict]) -> list[str]:
    """Source file and line ranges of rows, as "file:first-last" (one range per file)."""
    spans: dict = {}
    for r in rows:
        lo, hi = spans.get(r["source_file"], (r["line_number"], r["line_number"]))
        spans[r["source_file"]] = (min(lo, r["line_number"]), max(hi, r["line_number"]))
    return [f"{f}:{lo}-{hi}" for f, (lo, hi) in sorted(spans.items(), key=lambda kv: str(kv[0]))]


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).isoformat().replace("+00:00", "Z")


SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3}
TECHNIQUES = {"brute_force": ["T1110.001"], "low_and_slow": ["T1110.001"], "password_spraying": ["T1110.003"],
              "credential_stuffing": ["T1110.004"], "distributed_campaign": ["T1110.003"], "scanning": ["T1595"]}
INCIDENT_COLUMNS = tables.columns("incidents")
# The gold incidents table (business_reports/incidents), in INCIDENT_COLUMNS order.
INCIDENTS_SCHEMA = tables.table("incidents").ddl()


def stamp_detection(found: list[dict], now: datetime | None = None) -> list[dict]:
    """Note when the incidents were found (`detected_at`, the run's clock, not the log's) and, for a
    compromise, how long after the success line that was (`time_to_detect_s`)."""
    now_t = _epoch(now or datetime.now(timezone.utc))
    for inc in found:
        inc["detected_at"] = _iso(now_t)
        inc["time_to_detect_s"] = (round(now_t - _epoch(datetime.fromisoformat(inc["success_at"])), 3)
                                   if inc["success_at"] else None)
    return found


def frame(found: list[dict]):
    """Incidents as a pandas frame with INCIDENT_COLUMNS (empty frame: the columns all the same)."""
    import pandas as pd

    return pd.DataFrame([{"detected_at": None, "time_to_detect_s": None, **i} for i in found],
                        columns=list(INCIDENT_COLUMNS))


def _incident(kind: str, severity: str, sources: list[str], fails: list[dict], wins: list[dict],
              summary: str, detectors: list[str], techniques: list[str] | None = None, **extra) -> dict:
    rows = fails + wins
    users = defaultdict(int)
    for r in fails:
        users[r["user"] if r["user"] is not None else "?"] += r["weight"]
    first = min(r["t"] for r in rows)
    key = f"{kind}|{','.join(sorted(sources))}|{extra.get('account') or ''}|{math.floor(first)}"
    out = {"incident_id": "I" + hashlib.sha1(key.encode()).hexdigest()[:12], "kind": kind, "severity": severity,
           "techniques": techniques or TECHNIQUES[kind], "summary": summary, "sources": sorted(sources),
           "source_count": len(sources), "first_seen": _iso(first), "last_seen": _iso(max(r["t"] for r in rows)),
           "attempts": sum(r["weight"] for r in rows), "failures": sum(r["weight"] for r in fails),
           "successes": len(wins), "distinct_users": len(users),
           "top_users": [u for u, _ in sorted(users.items(), key=lambda kv: (-kv[1], kv[0]))[:5]],
           "invalid_users": len({r["user"] for r in fails if r["invalid_user"]}),
           "account": None, "success_at": None, "success_source": None,
           "evidence": _evidence(rows), "detectors": detectors, "model_score": None}
    out.update(extra)
    return out


def detect(attempts: list[dict], rules: Rules = DEFAULT_RULES, known_good: set | None = None,
           model_scores: dict | None = None) -> list[dict]:
    """Attempt rows (`python_attempts`, or `spark_attempts` collected) -> incidents, ranked.

    `known_good`: (source, user) pairs with a successful login before these attempts (the
    lake's history); successes within `attempts` before a failure count too. `model_scores`:
    source -> the anomaly model's highest score for it, noted on its incidents.
    """
    known = set(known_good or ())
    by_src: dict[str, list[dict]] = defaultdict(list)
    for r in sorted(attempts, key=lambda r: (r["t"], r["source_file"] or "", r["line_number"])):
        by_src[r["src"]].append(r)
    incidents, attacking, campaign_fails = [], {}, []
    for src, rows in sorted(by_src.items()):
        seen_ok: set = set()
        fails, wins, probes = [], [], []
        for r in rows:  # a failure on an account this source has logged in to before is not an attack
            if r["outcome"] == "success":
                wins.append(r)
                seen_ok.add(r["user"])
            elif r["outcome"] == "failure":
                if (src, r["user"]) not in known and r["user"] not in seen_ok:
                    fails.append(r)
            else:
                probes.append(r)
        fails = _unresolved(fails, wins, rules)
        kind, detector = _source_kind(fails, probes, rules)
        if kind:
            attacking[src] = (kind, fails)
            incidents.append(_source_incident(src, kind, detector, fails, rules))
        elif fails:
            campaign_fails += fails
        if not fails and not wins and _scanning(probes, rules):
            incidents.append(_incident("scanning", "low", [src], probes, [],
                                       f"{len(probes)} probes of the SSH service in "
                                       f"{_duration(probes[-1]['t'] - probes[0]['t'])}, no login attempted",
                                       ["probes"]))
    campaigns = _campaigns(campaign_fails, rules)
    for members, fails in campaigns:
        users = {r["user"] for r in fails}
        incidents.append(_incident(
            "distributed_campaign", "high", members, fails, [],
            f"{len(members)} addresses made {sum(r['weight'] for r in fails)} failed logins on "
            f"{', '.join(sorted(users, key=str)[:5])} in {_duration(fails[-1]['t'] - fails[0]['t'])}",
            [f"campaign({rules.campaign_sources} sources / {rules.campaign_seconds // 3600} h)"]))
    incidents += _compromises(by_src, attacking, campaigns, known, rules)
    for inc in incidents:
        scores = [model_scores[s] for s in inc["sources"] if model_scores and s in model_scores]
        if scores:
            inc["model_score"] = max(scores)
            inc["detectors"] = inc["detectors"] + ["isolation_forest"]
    return rank(incidents)


def rank(found: list[dict]) -> list[dict]:
    """`found` in rank order (compromises first, then by severity, failures, time), `rank` set 1..n."""
    found = sorted(found, key=lambda i: (SEVERITY_RANK[i["severity"]], -i["failures"], i["first_seen"],
                                         i["incident_id"]))
    for n, inc in enumerate(found, start=1):
        inc["rank"] = n
    return found


def _unresolved(fails: list[dict], wins: list[dict], rules: Rules) -> list[dict]:
    """Failures less a user's own: fewer than `compromise_failures` on an account that then logs in
    from the same source within `burst_seconds` (a typo, a password remembered at the sixth try)."""
    out, by_user = [], defaultdict(list)
    for r in fails:
        by_user[r["user"]].append(r)
    for user, rows in by_user.items():
        ok = [w["t"] for w in wins if w["user"] == user]
        run: list = []
        for r in rows:
            if run and r["t"] - run[-1]["t"] > rules.burst_seconds:
                out += run if not _resolved(run, ok, rules) else []
                run = []
            run.append(r)
        out += run if run and not _resolved(run, ok, rules) else []
    return sorted(out, key=lambda r: (r["t"], r["source_file"] or "", r["line_number"]))


def _resolved(run: list[dict], ok: list[float], rules: Rules) -> bool:
    end = run[-1]["t"]
    return (sum(r["weight"] for r in run) < rules.compromise_failures and not run[0]["invalid_user"]
            and any(end <= t <= end + rules.burst_seconds for t in ok))


def _source_kind(fails: list[dict], probes: list[dict], rules: Rules) -> tuple[str | None, str | None]:
    """What one source's failures (after `_unresolved`) are, and the rule that says so."""
    if not fails:
        return None, None
    times, weights = [r["t"] for r in fails], [r["weight"] for r in fails]
    total, users = sum(weights), {r["user"] for r in fails}
    burst = _max_within(times, weights, rules.burst_seconds)
    if len(users) >= rules.spray_users and total / len(users) <= rules.spray_per_user:
        invalid = sum(r["weight"] for r in fails if r["invalid_user"]) / total
        return (("credential_stuffing", f"stuffing({rules.spray_users}+ real accounts)")
                if invalid < rules.stuffing_invalid_share else
                ("password_spraying", f"spray({rules.spray_users}+ accounts)"))
    if burst >= rules.burst_failures:
        return "brute_force", f"burst({rules.burst_failures} in {rules.burst_seconds // 60} min)"
    if total >= rules.slow_failures and times[-1] - times[0] >= rules.slow_span_seconds:
        return "low_and_slow", f"slow({rules.slow_failures} over {rules.slow_span_seconds // 3600} h)"
    kind = "password_spraying" if len(users) >= 2 else "brute_force"
    if len(users) >= 2 and burst >= rules.guess_failures:
        return kind, f"guess({rules.guess_failures} in {rules.burst_seconds // 60} min on 2+ accounts)"
    if probes:  # it probed the service, then guessed
        return kind, "probe_then_guess"
    return None, None


def _source_incident(src: str, kind: str, detector: str, fails: list[dict], rules: Rules) -> dict:
    total = sum(r["weight"] for r in fails)
    users = {r["user"] for r in fails}
    invalid = len({r["user"] for r in fails if r["invalid_user"]})
    span = _duration(fails[-1]["t"] - fails[0]["t"])
    burst = _max_within([r["t"] for r in fails], [r["weight"] for r in fails], rules.burst_seconds)
    methods = sorted({r["method"] or "?" for r in fails})
    summary = (f"{total} failed {'/'.join(methods)} {'login' if total == 1 else 'logins'} for {len(users)} "
               f"{'account' if len(users) == 1 else 'accounts'} in {span}"
               + (f", {invalid} of them invalid" if invalid else "")
               + (f"; at most {burst} in {rules.burst_seconds // 60} minutes" if kind != "brute_force" else "")
               + ("; it probed the service first" if detector == "probe_then_guess" else ""))
    small = detector.startswith(("guess", "probe"))
    severity = "low" if small else "high" if total >= 50 or kind == "credential_stuffing" else "medium"
    return _incident(kind, severity, [src], fails, [], summary, [detector])


def _scanning(probes: list[dict], rules: Rules) -> bool:
    if any(r["outcome"] == "protocol_probe" for r in probes):
        return True
    return _max_within([r["t"] for r in probes], [1] * len(probes), rules.probe_seconds) >= rules.probe_burst


def _campaigns(fails: list[dict], rules: Rules) -> list[tuple[list[str], list[dict]]]:
    """Sources with a few failures each, grouped when many of them guess one account in one window."""
    per_src: dict = defaultdict(int)
    for r in fails:
        per_src[r["src"]] += r["weight"]
    small = [r for r in fails if per_src[r["src"]] <= rules.campaign_max_failures]
    cells: dict = defaultdict(set)  # (window, user) -> sources
    for r in small:
        cells[(math.floor(r["t"] / rules.campaign_seconds), r["user"])].add(r["src"])
    hot = {k for k, v in cells.items() if len(v) >= rules.campaign_sources}
    parent: dict = {}

    def find(x):
        while parent.setdefault(x, x) != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for w, user in hot:  # a campaign that crosses a window boundary is one campaign
        if (w - 1, user) in hot:
            parent[find((w, user))] = find((w - 1, user))
    groups: dict = defaultdict(set)
    for k in sorted(hot, key=str):
        groups[find(k)] |= cells[k]
    out = []
    for members in sorted(groups.values(), key=lambda m: sorted(m)):
        rows = [r for r in small if r["src"] in members]
        out.append((sorted(members), rows))
    return out


def _compromises(by_src: dict, attacking: dict, campaigns: list, known: set, rules: Rules) -> list[dict]:
    """A success on an account after an attacker's failures on it: the same source's (five or more,
    or any when the source is an attacker), or a campaign's within `campaign_seconds` before."""
    campaign_hits: dict = defaultdict(list)  # user -> [(time, members, row)] of campaign failures
    for members, rows in campaigns:
        for r in rows:
            campaign_hits[r["user"]].append((r["t"], members, r))
    out = []
    for src, rows in sorted(by_src.items()):
        first_ok: dict = {}   # user -> time of this source's first success
        failed: dict = defaultdict(list)  # user -> this source's failures so far
        for r in rows:
            user = r["user"]
            if r["outcome"] == "failure":
                failed[user].append(r)
                continue
            if r["outcome"] != "success":
                continue
            before, failed[user] = failed[user], []  # the failures since this account's last login from here
            # a known pair: the account logged in from here before (the lake's history, or earlier in these attempts)
            known_pair = (src, user) in known or user in first_ok
            first_ok.setdefault(user, r["t"])
            if known_pair:
                continue
            n_before = sum(b["weight"] for b in before)
            # a campaign guessed passwords: a key login after it is not its success
            hits = [h for h in campaign_hits.get(user, ()) if r["t"] - rules.campaign_seconds <= h[0] <= r["t"]
                    and (r["method"] or "").startswith(("password", "keyboard-interactive"))]
            if (src in attacking and n_before) or n_before >= rules.compromise_failures:
                why = f"after {n_before} failed logins on {user} from this address" + (
                    f" ({attacking[src][0].replace('_', ' ')})" if src in attacking else "")
                detector, evidence = "success_after_failures", before
            elif hits:
                why = f"after a campaign of {len(hits[0][1])} addresses guessed {user}"
                detector, evidence = "success_after_campaign", [h[2] for h in hits]
            else:
                continue
            technique = TECHNIQUES["distributed_campaign" if detector == "success_after_campaign"
                                   else attacking.get(src, ("brute_force",))[0]]
            out.append(_incident(
                "compromise", "critical", sorted({src} | {b["src"] for b in evidence}), evidence, [r],
                f"{user} logged in from {src} at {_iso(r['t'])} {why}", [detector],
                techniques=["T1078", *technique], account=user, success_at=_iso(r["t"]), success_source=src))
            known.add((src, user))  # one incident per source and account
    return out
