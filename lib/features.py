"""Per-source behaviour features: one definition, two executions.

`FEATURES` declares each feature once, as data. `spark_features` turns the
declarations into one Spark aggregation over Silver (the pipeline: cost grows
with source-windows, not lines, once aggregated); `python_features` evaluates
the same declarations over parsed events in plain Python (the API, no Spark).
`tests/test_features.py` checks that both give the same values, value for value.

The unit is a *source-window*: one peer (IP address, or host name when only a
name is known) during one tumbling window of `window_minutes`. Lines of the form
``message repeated N times`` count N times everywhere.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone

ATTEMPT = ("auth_failure", "auth_success")

# A predicate is a tuple of clauses, all of which must hold: (column, values).
Pred = tuple


@dataclass(frozen=True)
class Feature:
    name: str
    kind: str            # count | distinct | ratio | unless | after | gap_mean | gap_std | span | peak
    where: Pred = ()     # which events count
    column: str = ""     # for distinct
    num: str = ""        # for ratio and unless: feature names (unless: num when den is 0, else 0)
    den: str = ""
    doc: str = ""


FEATURES: tuple[Feature, ...] = (
    Feature("events", "count", doc="all lines of the source, repeats counted"),
    Feature("attempts", "count", (("action", ATTEMPT),), doc="password/key attempts, failed or not"),
    Feature("failures", "count", (("action", ("auth_failure",)),)),
    Feature("successes", "count", (("action", ("auth_success",)),)),
    Feature("failure_ratio", "ratio", num="failures", den="attempts"),
    Feature("distinct_users", "distinct", (("action", ATTEMPT + ("invalid_user", "refused")),), column="user"),
    Feature("invalid_user_attempts", "count", (("action", ATTEMPT), ("invalid_user", (True,)))),
    Feature("invalid_user_ratio", "ratio", num="invalid_user_attempts", den="attempts"),
    Feature("root_attempts", "count", (("action", ATTEMPT), ("user", ("root",)))),
    Feature("success_after_failure", "after", doc="1 when a login succeeded after a failure in the window"),
    Feature("failures_without_success", "unless", num="failures", den="successes",
            doc="failures of a source that never logged in during the window"),
    Feature("mean_interarrival_s", "gap_mean", (("action", ("auth_failure",)),), doc="between failures"),
    Feature("std_interarrival_s", "gap_std", (("action", ("auth_failure",)),)),
    Feature("distinct_ports", "distinct", column="src_port"),
    Feature("preauth_disconnects", "count", (("action", ("preauth_disconnect",)),)),
    Feature("break_in_warnings", "count", (("action", ("break_in",)),)),
    Feature("too_many_failures", "count", (("action", ("too_many_failures",)),)),
    Feature("scan_events", "count", (("action", ("scan",)),)),
    Feature("active_duration_s", "span"),
    Feature("peak_failures_burst", "peak", (("action", ("auth_failure",)),),
            doc="most failures in one burst window (default 10 min)"),
)
NAMES = tuple(f.name for f in FEATURES)
# What the model sees: counts, not their helper numerators.
MODEL_FEATURES = tuple(n for n in NAMES if n != "invalid_user_attempts")
KEYS = ("src", "window_start")


# Timestamps a repeated line stands for, at most (a forged "repeated 10^9 times" stays cheap).
MAX_EXPANSION = 10_000


# ---------------------------------------------------------------- Spark
def session_sources(silver):
    """The source a line counts for: its peer address, else the host name sshd or PAM printed.

    Silver already gave lines without a peer their connection's (`lib.silver.stitch`).
    """
    from pyspark.sql import functions as F

    return silver.withColumn("src", F.coalesce(F.col("src_ip"), F.col("src_host")))


def _spark_pred(where: Pred):
    from pyspark.sql import functions as F

    cond = F.lit(True)
    for column, values in where:
        cond = cond & F.col(column).isin(list(values))
    return cond


def spark_features(silver, window_minutes: int = 60, burst_minutes: int = 10):
    """Silver (sshd events) -> one row per source-window with KEYS + NAMES.

    A single groupBy: counts and distincts are conditional aggregates; the
    inter-arrival and burst features fold the window's sorted attempt times with
    Spark's higher-order functions.
    """
    from pyspark.sql import functions as F

    w = F.col("repeat_count")
    df = (session_sources(silver.where(F.col("category") == "sshd"))
          .where(F.col("src").isNotNull() & F.col("timestamp").isNotNull())
          .withColumn("_t", F.unix_micros("timestamp") / F.lit(1e6)))
    size = window_minutes * 60
    df = df.withColumn("window_start", F.timestamp_seconds(F.floor(F.col("_t") / size) * size))
    aggs, post, times = [], {}, {}
    for f in FEATURES:
        cond = _spark_pred(f.where)
        if f.kind == "count":
            aggs.append(F.sum(F.when(cond, w).otherwise(0)).cast("double").alias(f.name))
        elif f.kind == "distinct":  # a set per group: count_distinct would make Spark expand every row
            aggs.append(F.size(F.collect_set(F.when(cond, F.col(f.column)))).cast("double").alias(f.name))
        elif f.kind == "span":
            aggs.append((F.max("_t") - F.min("_t")).alias(f.name))
        elif f.kind == "after":
            last_ok = F.max(F.when(F.col("action") == "auth_success", F.col("_t")))
            first_fail = F.min(F.when(F.col("action") == "auth_failure", F.col("_t")))
            aggs.append(F.coalesce((last_ok > first_fail).cast("double"), F.lit(0.0)).alias(f.name))
        elif f.kind in ("gap_mean", "gap_std", "peak"):
            if f.where not in times:  # one sorted list per predicate, shared by its features
                times[f.where] = f"_times{len(times)}"
                repeated = F.array_repeat(F.col("_t"), F.least(w, F.lit(MAX_EXPANSION)))
                aggs.append(F.array_sort(F.flatten(F.collect_list(F.when(cond, repeated)))).alias(times[f.where]))
            post[f.name] = f
        elif f.kind in ("ratio", "unless"):
            post[f.name] = f
    out = df.groupBy(*KEYS).agg(*aggs, F.min("timestamp").alias("first_seen"), F.max("timestamp").alias("last_seen"))
    for name, f in post.items():
        if f.kind == "ratio":
            expr = F.when(F.col(f.den) > 0, F.col(f.num) / F.col(f.den)).otherwise(0.0)
        elif f.kind == "unless":
            expr = F.when(F.col(f.den) == 0, F.col(f.num)).otherwise(0.0)
        elif f.kind == "peak":
            expr = _spark_peak(F.col(times[f.where]), burst_minutes * 60)
        else:
            expr = _spark_gaps(F.col(times[f.where]), f.kind)
        out = out.withColumn(name, expr.cast("double"))
    return out.select(*KEYS, F.lit(window_minutes).alias("window_minutes"), *NAMES, "first_seen", "last_seen")


def _spark_gaps(times, kind: str):
    from pyspark.sql import functions as F

    n = F.size(times)
    # The gaps of sorted times sum to last - first. `mean` is also evaluated once per element
    # inside the lambda below (Spark does not hoist it), so it must be O(1): a sum of the gaps
    # there made the stage quadratic in a window's failures (measured: features 8.0 -> 2.4 s at 1M).
    mean = (F.element_at(times, -1) - F.element_at(times, 1)) / (n - 1)
    if kind == "gap_mean":
        return F.when(n >= 2, mean).otherwise(0.0)
    gaps = F.zip_with(F.slice(times, 2, F.greatest(n - 1, F.lit(1))), F.slice(times, 1, F.greatest(n - 1, F.lit(1))),
                      lambda later, earlier: later - earlier)
    sq = F.aggregate(gaps, F.lit(0.0), lambda acc, x: acc + (x - mean) * (x - mean))
    return F.when(n >= 2, F.sqrt(sq / (n - 1))).otherwise(0.0)


def _spark_peak(times, size: int):
    from pyspark.sql import functions as F

    start = F.struct(F.lit(-1).cast("long").alias("b"), F.lit(0).alias("n"), F.lit(0).alias("best"))

    def step(s, t):
        b = F.floor(t / size)
        n = F.when(b == s["b"], s["n"] + 1).otherwise(1)
        return F.struct(b.alias("b"), n.alias("n"), F.greatest(s["best"], n).alias("best"))

    return F.aggregate(times, start, step, lambda s: s["best"])


# ---------------------------------------------------------------- Python
def _micros(ts: datetime) -> int:
    delta = ts - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86400 + delta.seconds) * 1_000_000 + delta.microseconds


def _holds(e: dict, where: Pred) -> bool:
    return all(e.get(column) in values for column, values in where)


def python_sources(events: list[dict]) -> list[dict]:
    """`session_sources` in Python."""
    return [dict(e, src=e.get("src_ip") or e.get("src_host")) for e in events]


def _gaps(times: list[float]) -> list[float]:
    return [b - a for a, b in zip(times, times[1:])]


def _fold(values: list[float], start: float, fn) -> float:
    acc = start
    for v in values:
        acc = fn(acc, v)
    return acc


def python_features(events: list[dict], window_minutes: int = 60, burst_minutes: int = 10) -> list[dict]:
    """Parsed events (dicts as from `lib.parser`) -> the rows `spark_features` computes."""
    size = window_minutes * 60
    groups: dict[tuple, list[dict]] = {}
    for e in python_sources([e for e in events if e.get("category") == "sshd"]):
        if e["src"] is None or e["timestamp"] is None:
            continue
        t = _micros(e["timestamp"]) / 1e6
        start = math.floor(t / size) * size
        groups.setdefault((e["src"], start), []).append(dict(e, _t=t))
    rows = []
    for (src, start), evs in groups.items():
        row = {"src": src, "window_start": datetime.fromtimestamp(start, timezone.utc),
               "window_minutes": window_minutes}
        for f in FEATURES:
            sel = [e for e in evs if _holds(e, f.where)]
            if f.kind == "count":
                row[f.name] = float(sum(e["repeat_count"] for e in sel))
            elif f.kind == "distinct":
                row[f.name] = float(len({e[f.column] for e in sel if e[f.column] is not None}))
            elif f.kind == "ratio":
                row[f.name] = row[f.num] / row[f.den] if row[f.den] > 0 else 0.0
            elif f.kind == "unless":
                row[f.name] = row[f.num] if row[f.den] == 0 else 0.0
            elif f.kind == "span":
                ts = [e["_t"] for e in evs]
                row[f.name] = max(ts) - min(ts)
            elif f.kind == "after":
                ok = [e["_t"] for e in evs if e["action"] == "auth_success"]
                bad = [e["_t"] for e in evs if e["action"] == "auth_failure"]
                row[f.name] = 1.0 if ok and bad and max(ok) > min(bad) else 0.0
            else:
                times = sorted(e["_t"] for e in sel for _ in range(min(e["repeat_count"], MAX_EXPANSION)))
                row[f.name] = _python_times(f.kind, times, burst_minutes * 60)
        row["first_seen"] = min(e["timestamp"] for e in evs)
        row["last_seen"] = max(e["timestamp"] for e in evs)
        rows.append(row)
    return sorted(rows, key=lambda r: (r["src"], r["window_start"]))


def _python_times(kind: str, times: list[float], burst: int) -> float:
    if kind == "peak":
        best, prev, n = 0, None, 0
        for t in times:
            b = math.floor(t / burst)
            n = n + 1 if b == prev else 1
            prev, best = b, max(best, n)
        return float(best)
    if len(times) < 2:
        return 0.0
    mean = (times[-1] - times[0]) / (len(times) - 1)  # the gaps' sum, as in `_spark_gaps`
    if kind == "gap_mean":
        return mean
    return math.sqrt(_fold(_gaps(times), 0.0, lambda acc, x: acc + (x - mean) * (x - mean)) / (len(times) - 1))
