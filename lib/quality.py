"""The quality gate: expectations over the lake for one batch, and the report.

Each check is a named comparison with the numbers behind it. `run_checks` returns
all of them (it never stops at the first failure); `QualityError` lists every
failed check when the gate is closed. Checks of severity ``warn`` are reported but
do not close the gate (drift against a synthetic training set is expected on
real logs; make it an error with ``fail_on_drift``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta, timezone

from pyspark.sql import DataFrame
from pyspark.sql import functions as F

from lib import tables, templates
from lib.config import DEFAULTS


@dataclass
class Check:
    name: str
    passed: bool
    detail: str
    severity: str = "error"

    @property
    def failed(self) -> bool:
        return not self.passed and self.severity == "error"


class QualityError(RuntimeError):
    def __init__(self, failed: list[Check]):
        self.failed = failed
        super().__init__("validation failed: " + "; ".join(f"{c.name}: {c.detail}" for c in failed))


def _count_if(cond):
    return F.count(F.when(cond, 1))


def _schema_check(name: str, df: DataFrame | None, expected: dict) -> Check:
    if df is None:
        return Check(f"schema: {name}", False, "table is missing")
    actual = {f.name: f.dataType.simpleString() for f in df.schema.fields}
    wrong = {c: (actual.get(c), t) for c, t in expected.items() if actual.get(c) != t}
    return Check(f"schema: {name}", not wrong,
                 "as expected" if not wrong else ", ".join(f"{c} is {a} not {t}" for c, (a, t) in wrong.items()))


BRONZE_SCHEMA = tables.table("bronze").types
SILVER_SCHEMA = tables.table("silver").types
QUARANTINE_SCHEMA = tables.table("quarantine").types


def reach(batch_silver: DataFrame, batch_bronze: DataFrame, window_minutes: int | None) -> dict:
    """What of the lake a batch can have changed, for the whole-lake checks to read only that:
    the span of event time its Silver rows cover, widened to whole hours and source-windows
    (`lo`..`hi`, epoch seconds; None when no row has a time), and the lines of its files
    (`file_ids`, `min_line`..`max_line`). A line loaded twice, or gold that no longer sums to
    Silver, is found by the batch that caused it; the lake's other rows were checked when
    they were loaded."""
    ts = batch_silver.agg(F.unix_seconds(F.min("timestamp")).alias("lo"),
                          F.unix_seconds(F.max("timestamp")).alias("hi")).first()
    lines = batch_bronze.agg(F.collect_set("file_id").alias("ids"), F.min("line_number").alias("lo"),
                             F.max("line_number").alias("hi")).first()
    out = {"file_ids": sorted(lines["ids"] or []), "min_line": lines["lo"], "max_line": lines["hi"],
           "lo": None, "hi": None}
    if ts["lo"] is not None:
        step = math.lcm(3600, int(window_minutes or 60) * 60)  # both an hour's and a window's edge
        out["lo"], out["hi"] = ts["lo"] // step * step, ts["hi"] // step * step + step
    return out


def within(df: DataFrame | None, column: str, scope: dict | None) -> DataFrame | None:
    """`df`'s rows whose `column` (a timestamp) lies in `scope`'s span (`reach`); all of it without a scope."""
    if df is None or scope is None:
        return df
    if scope["lo"] is None:
        return df.limit(0)
    c = F.col(column)
    return df.where((c >= F.timestamp_seconds(F.lit(scope["lo"]))) & (c < F.timestamp_seconds(F.lit(scope["hi"]))))


def same_lines(bronze: DataFrame | None, scope: dict | None) -> DataFrame | None:
    """Bronze rows that can share (file_id, line_number) with the batch's (`reach`); all of it without a scope."""
    if bronze is None or scope is None:
        return bronze
    if not scope["file_ids"]:
        return bronze.limit(0)
    c = F.col("line_number")
    return bronze.where(F.col("file_id").isin(scope["file_ids"]) & (c >= scope["min_line"]) & (c <= scope["max_line"]))


def run_checks(*, bronze_df: DataFrame | None, silver_df: DataFrame | None, quarantine_df: DataFrame | None,
               all_silver: DataFrame | None, feature_rows: DataFrame | None, events_hourly: DataFrame | None,
               final_rows: int | None, model_metrics: dict | None, gate_failures: list[str] | None,
               monitoring: dict | None, thresholds: dict, ingested_df: DataFrame | None = None,
               all_bronze: DataFrame | None = None) -> list[Check]:
    """All checks for one batch. `*_df` are the batch's rows (`ingested_df`: its ingestion
    record, one row per input file); `all_silver`/`all_bronze`, `feature_rows` and
    `events_hourly` the lake's tables, whole or as far as the batch reaches (`reach`, `within`,
    `same_lines`: the pipeline's validation reads only that); `final_rows` the rows of the
    batch's final CSV."""
    checks = [_schema_check("bronze", bronze_df, BRONZE_SCHEMA),
              _schema_check("silver", silver_df, SILVER_SCHEMA),
              _schema_check("quarantine", quarantine_df, QUARANTINE_SCHEMA)]
    if bronze_df is None or silver_df is None or quarantine_df is None:
        return checks

    keys = ("source_file", "line_number")
    b = bronze_df.agg(F.count(F.lit(1)).alias("n"),
                      F.count_distinct(*keys).alias("distinct"),
                      _count_if(F.col("source_file").isNull() | F.col("line_number").isNull()).alias("null_keys")).first()
    s = silver_df.agg(
        F.count(F.lit(1)).alias("n"),
        _count_if(F.col("timestamp").isNull()).alias("null_ts"),
        F.min("timestamp").alias("min_ts"), F.max("timestamp").alias("max_ts"),
        _count_if((F.col("category") == "sshd") & F.col("event_id").isNull()).alias("unknown"),
        F.count_distinct(F.when((F.col("category") == "sshd") & F.col("event_id").isNull(),
                                F.col("event_template"))).alias("unknown_templates"),
        _count_if(F.col("event_id").isNotNull()
                     & ~F.col("event_id").isin(list(templates.BY_ID))).alias("bad_ids"),
        _count_if(F.col("event_template").isNull()).alias("null_templates"),
        _count_if(F.col("category") == "sshd").alias("sshd"),
    ).first()
    q = quarantine_df.agg(F.count(F.lit(1)).alias("n"),
                          _count_if(F.col("reason").isNull()).alias("no_reason")).first()
    both = silver_df.select(*keys).unionByName(quarantine_df.select(*keys))
    dup = both.groupBy(*keys).count().where(F.col("count") > 1).count()

    if ingested_df is not None:  # a file's lines already in the lake are not loaded again
        i = ingested_df.agg(F.sum("lines").alias("read"), F.sum("new_lines").alias("new"),
                            F.sum("already_ingested").alias("known")).first()
        read, new, known = (int(i[k] or 0) for k in ("read", "new", "known"))
        checks += [Check("the input is not empty", read > 0, f"{read} lines read"),
                   Check("bronze = the input's lines not already in the lake", b["n"] == new and read == new + known,
                         f"bronze {b['n']}; read {read} = new {new} + already ingested {known}")]
    else:
        checks.append(Check("bronze is not empty", b["n"] > 0, f"{b['n']} rows"))
    if all_bronze is not None:
        twice = (all_bronze.groupBy("file_id", "line_number").count().where(F.col("count") > 1)
                 .agg(F.count(F.lit(1)).alias("keys"), F.sum("count").alias("rows")).first())
        checks.append(Check("every line of a file is in bronze once (file_id, line_number)", not twice["keys"],
                            f"{twice['keys'] or 0} lines loaded more than once ({twice['rows'] or 0} rows)"))
    checks += [
        Check("bronze keys are not null", b["null_keys"] == 0, f"{b['null_keys']} rows without source_file/line_number"),
        Check("bronze (source_file, line_number) is unique", b["distinct"] == b["n"],
              f"{b['n'] - b['distinct']} duplicates"),
        Check("every line accounted for: bronze = silver + quarantine", b["n"] == s["n"] + q["n"],
              f"bronze {b['n']} vs silver {s['n']} + quarantine {q['n']} = {s['n'] + q['n']}"),
        Check("silver + quarantine (source_file, line_number) is unique", dup == 0, f"{dup} duplicated keys"),
        Check("silver is not empty", s["n"] > 0 or b["n"] == 0, f"{s['n']} rows"),
        Check("silver timestamps are not null", s["null_ts"] == 0, f"{s['null_ts']} rows without timestamp"),
        Check("quarantined lines have a reason", q["no_reason"] == 0, f"{q['no_reason']} without reason"),
        Check("event ids are in the catalog", s["bad_ids"] == 0, f"{s['bad_ids']} unknown ids"),
        Check("unmatched lines carry a masked template", s["null_templates"] == 0,
              f"{s['null_templates']} rows without template"),
    ]
    if final_rows is not None:
        checks.append(Check("the batch's final CSV rows = its silver sshd rows", final_rows == s["sshd"],
                            f"CSV {final_rows} vs silver {s['sshd']}"))
    lo, hi = thresholds["min_timestamp"], thresholds["max_timestamp"]
    in_range = s["min_ts"] is None or (s["min_ts"] >= lo and s["max_ts"] <= hi)
    checks.append(Check("timestamps in plausible range", in_range,
                        f"{s['min_ts']} .. {s['max_ts']} within {lo:%Y-%m-%d} .. {hi:%Y-%m-%d}"))
    ratio = q["n"] / b["n"] if b["n"] else 0.0
    checks.append(Check("quarantined share under threshold", ratio <= thresholds["max_quarantine_ratio"],
                        f"{q['n']} of {b['n']} lines ({ratio:.2%}) > allowed {thresholds['max_quarantine_ratio']:.2%}"
                        if ratio > thresholds["max_quarantine_ratio"] else f"{q['n']} of {b['n']} lines ({ratio:.2%})"))
    checks.append(Check("distinct unknown sshd templates under threshold",
                        s["unknown_templates"] <= thresholds["max_unknown_templates"],
                        f"{s['unknown_templates']} distinct ({s['unknown']} lines); allowed "
                        f"{thresholds['max_unknown_templates']}"))

    if all_silver is not None:
        sshd = all_silver.where(F.col("category") == "sshd")
        tot = sshd.agg(F.count(F.lit(1)).alias("lines"), F.sum("repeat_count").alias("events")).first()
        tot_events = tot["events"] or 0
        if events_hourly is not None:
            eh = events_hourly.where(F.col("category") == "sshd").agg(F.sum("events").alias("e")).first()["e"] or 0
            checks.append(Check("gold events_hourly = silver events (repeats counted)", eh == tot_events,
                                f"gold {eh} vs silver {tot_events}"))
        if feature_rows is not None:
            from lib.features import session_sources

            with_src = session_sources(sshd).where(F.col("src").isNotNull())
            expected = with_src.agg(F.sum("repeat_count")).first()[0] or 0
            got = feature_rows.agg(F.sum("events")).first()[0] or 0
            checks.append(Check("gold source features = silver events with a source", int(got) == expected,
                                f"gold {int(got)} vs silver {expected}"))

    if model_metrics is not None:
        checks.append(Check("champion model passes the promotion gate", not gate_failures,
                            "; ".join(gate_failures) if gate_failures else
                            f"PR-AUC {model_metrics.get('pr_auc', float('nan')):.3f}, brute-force recall "
                            f"{model_metrics.get('recall_brute_force', float('nan')):.3f}"))
    if monitoring:
        sev = "error" if thresholds.get("fail_on_drift") else "warn"
        jump = monitoring.get("anomaly_rate_jump")
        if jump is not None:
            checks.append(Check("anomaly rate stable", jump <= thresholds["max_anomaly_rate_jump"],
                                f"rate {monitoring['anomaly_rate']:.3f}, change {jump:+.3f} (allowed "
                                f"±{thresholds['max_anomaly_rate_jump']})", sev))
        drifted = {k: v for k, v in monitoring.get("psi", {}).items() if v > thresholds["max_psi"]}
        checks.append(Check("feature drift under threshold", not drifted,
                            ("PSI " + ", ".join(f"{k}={v:.2f}" for k, v in sorted(drifted.items()))
                             + f" > {thresholds['max_psi']}") if drifted else "all PSI within bounds", sev))
    return checks


def default_thresholds(year: int, **overrides) -> dict:
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    return {"min_timestamp": datetime(min(year, now.year) - 30, 1, 1),
            "max_timestamp": max(datetime(year + 2, 1, 1), now + timedelta(days=1)),
            **DEFAULTS.quality(), **overrides}


def report(checks: list[Check], context: dict) -> tuple[dict, str]:
    """(JSON report, Markdown summary)."""
    data = {"context": context, "passed": not any(c.failed for c in checks),
            "checks": [asdict(c) for c in checks]}
    lines = [f"# Quality report — batch `{context.get('batch_id')}`", "",
             f"**{'PASSED' if data['passed'] else 'FAILED'}** — "
             f"{sum(c.passed for c in checks)} of {len(checks)} checks passed "
             f"({datetime.now(timezone.utc):%Y-%m-%d %H:%M UTC})", "",
             "| | check | detail |", "|---|---|---|"]
    for c in checks:
        mark = "✅" if c.passed else ("⚠️" if c.severity == "warn" else "❌")
        lines.append(f"| {mark} | {c.name} | {c.detail.replace('|', '/')} |")
    return data, "\n".join(lines) + "\n"


def enforce(checks: list[Check]) -> None:
    failed = [c for c in checks if c.failed]
    if failed:
        raise QualityError(failed)


# Columns that say when a row was loaded, not what it holds: left out of content checksums.
LOAD_TIME_COLUMNS = ("ingest_ts", "run_ts", "detected_at", "time_to_detect_s")
CHECKSUM_TABLES = ("bronze", "ingested_files", "silver", "quarantine", "features", "source_hourly", "events_hourly",
                   "top_sources", "anomalies", "incidents")


def table_checksum(df: DataFrame) -> dict:
    """Row count and an order-independent content checksum (sum of per-row xxhash64)."""
    cols = sorted(c for c in df.columns if c not in LOAD_TIME_COLUMNS)
    row = df.agg(F.count(F.lit(1)).alias("rows"),
                 F.sum(F.xxhash64(*cols).cast("decimal(38,0)")).cast("string").alias("checksum")).first()
    return {"rows": row["rows"], "checksum": row["checksum"] or "0"}


def lake_checksums(spark, lake) -> dict:
    """`table_checksum` of every lake table, plus the final CSV's bytes."""
    import hashlib

    out = {t: table_checksum(df) for t in CHECKSUM_TABLES if (df := lake.read_table(spark, t)) is not None}
    if lake.fs.exists(lake.final_csv):
        text = lake.fs.read_text(lake.final_csv)
        out["final_csv"] = {"rows": text.count("\n") - 1, "checksum": hashlib.sha256(text.encode()).hexdigest()}
    return out
