"""Gold: the analyst tables and the line-level final data, from Silver.

All functions are DataFrame -> DataFrame except `refresh`, which reads and writes the gold
tables through `lib.lake` (the only module that knows where they are).
Counts honour ``message repeated N times`` lines (they stand for N events).
"""
from __future__ import annotations

from pyspark.sql import Column, DataFrame
from pyspark.sql import functions as F

from lib import features, tables

# the final CSV: Silver's sshd rows, event columns first, lineage last
FINAL_COLUMNS = tuple(c for c in tables.columns("silver") if c not in tables.LINEAGE + ("category",)) + tables.LINEAGE
FINAL_ORDER = ("source_file", "line_number")  # the final CSV's rows: file order
SOURCE_HOURLY = tables.columns("source_hourly")


def iso_utc(ts) -> F.Column:
    """ISO 8601 in UTC, with microseconds only when there are any (as Python's isoformat)."""
    whole = F.date_format(ts, "yyyy-MM-dd'T'HH:mm:ss")
    frac = F.date_format(ts, ".SSSSSS")
    return F.when(ts.isNull(), None).otherwise(
        F.concat(whole, F.when(F.unix_micros(ts) % 1_000_000 != 0, frac).otherwise(""), F.lit("Z")))


def sshd_events(silver: DataFrame) -> DataFrame:
    return silver.where(F.col("category") == "sshd")


# A spreadsheet runs a cell that starts with one of these as a formula (OWASP's CSV injection list).
FORMULA_STARTS = "=+-@\t\r"
# What a terminal or a spreadsheet would act on: C0 controls other than tab, DEL, and C1 (ANSI's CSI).
CONTROL_REGEX = "[\\x00-\\x08\\x0a-\\x1f\\x7f-\\x9f]"


def spreadsheet_safe(text: Column) -> Column:
    """Log text as a CSV cell an analyst can open: controls (ANSI escapes) shown as U+FFFD, and a
    leading formula character quoted with `'`, as spreadsheets expect. Silver keeps the text verbatim."""
    clean = F.regexp_replace(text, F.lit(CONTROL_REGEX), F.lit("\ufffd"))
    starts = F.lit(False)
    for ch in FORMULA_STARTS:
        starts = starts | clean.startswith(ch)
    return F.when(starts, F.concat(F.lit("'"), clean)).otherwise(clean)


def final_data(silver: DataFrame, anomalies: DataFrame | None = None, window_minutes: int = 60) -> DataFrame:
    """One row per sshd line, timestamps as ISO strings (unsorted: the final CSV sorts by FINAL_ORDER).

    Text columns are `spreadsheet_safe`. With `anomalies` (source-window scores), each line
    also gets the score and flag of its source's window.
    """
    df = sshd_events(silver)
    text = {f.name for f in df.schema.fields if f.dataType.typeName() == "string"}
    # The arrays (field names; `templates.SUSPICIOUS_*` reasons) comma- or semicolon-separated: CSV has none.
    joined = {"inferred": ",", "suspicious": "; "}
    cols = [iso_utc(F.col("timestamp")).alias("timestamp")] + [
        F.array_join(c, joined[c]).alias(c) if c in joined else
        spreadsheet_safe(F.col(c)).alias(c) if c in text else F.col(c) for c in FINAL_COLUMNS[1:]]
    if anomalies is not None:
        size = window_minutes * 60
        keyed = features.session_sources(df).withColumn(
            "window_start", F.timestamp_seconds(F.floor(F.unix_seconds("timestamp") / size) * size))
        scores = anomalies.select("src", "window_start", "anomaly_score", "is_anomaly")
        df = keyed.join(scores, ["src", "window_start"], "left")
        cols += [F.col("anomaly_score"), F.coalesce(F.col("is_anomaly"), F.lit(False)).alias("is_anomaly")]
    return df.select(*cols)


def source_hourly(feature_rows: DataFrame) -> DataFrame:
    """Per source per hour: the counts an analyst asks for first (from hourly features)."""
    return (feature_rows.withColumnRenamed("window_start", "hour")
            .select(*[F.col(c).cast("long") if c in features.NAMES else F.col(c) for c in SOURCE_HOURLY]))


def events_hourly(silver: DataFrame) -> DataFrame:
    """Per hour and event type: lines and the events they stand for."""
    return (silver.where(F.col("timestamp").isNotNull())
            .groupBy(F.date_trunc("hour", "timestamp").alias("hour"), "category", "event_id", "event_template")
            .agg(F.count(F.lit(1)).alias("lines"),
                 F.sum(F.coalesce(F.col("repeat_count"), F.lit(1))).alias("events")))


def bucket(ts: Column, seconds: int) -> Column:
    """The epoch second of the `seconds`-long bucket `ts` falls in (UTC): a window's or an hour's start."""
    return F.floor(F.unix_seconds(ts) / seconds) * seconds


def in_buckets(ts: Column, starts: list[int], seconds: int) -> Column:
    """`ts` falls in one of the `seconds`-long buckets beginning at `starts` (epoch seconds). Said
    also as a range of `ts` itself, which Delta's file statistics skip on: a batch's recompute
    reads the files of its own days, not the lake's history."""
    if not starts:
        return F.lit(False)
    lo, hi = F.timestamp_seconds(F.lit(int(min(starts)))), F.timestamp_seconds(F.lit(int(max(starts)) + seconds))
    return (ts >= lo) & (ts < hi) & bucket(ts, seconds).isin([int(s) for s in starts])


def touched(batch_events: DataFrame, window_minutes: int = 60) -> dict[str, list[int]]:
    """What a batch changes in gold: the feature windows of its sshd events and the hours of all its
    events (epoch seconds). Everything else in gold is untouched by it."""
    ts = F.col("timestamp")
    sshd = (F.col("category") == "sshd") & ts.isNotNull()
    row = batch_events.where(ts.isNotNull()).agg(
        F.collect_set(F.when(sshd, bucket(ts, window_minutes * 60))).alias("windows"),
        F.collect_set(F.when(sshd, bucket(ts, 3600))).alias("sshd_hours"),
        F.collect_set(bucket(ts, 3600)).alias("hours")).first()
    return {k: sorted(int(v) for v in (row[k] or [])) for k in ("windows", "sshd_hours", "hours")}


def refresh(spark, lake, batch_id: str | None, window_minutes: int = 60, burst_minutes: int = 10,
            top_n: int = 50, full: bool = False) -> dict:
    """Bring the gold tables up to date with Silver after batch `batch_id` was loaded.

    Incrementally: only the source-windows and hours the batch's events fall into are
    recomputed, from every Silver batch's events in them (so a late batch that overlaps
    earlier hours gives what a full recompute gives), and replaced (`Lake.replace_keys`);
    `top_sources` is re-ranked from the feature table. `full` (or a gold table that does not
    exist yet) recomputes everything from Silver.
    """
    events = lake.read_table(spark, "silver")
    tables = ("features", "source_hourly", "events_hourly")
    if full or batch_id is None or not all(lake.is_delta(t, spark) for t in tables):
        feats = features.spark_features(events, window_minutes, burst_minutes)
        lake.write_table(feats, "features")
        hourly = lake.read_table(spark, "features") if window_minutes == 60 else \
            features.spark_features(events, 60, burst_minutes)
        lake.write_table(source_hourly(hourly), "source_hourly")
        lake.write_table(events_hourly(events), "events_hourly")
        keys = None
    else:
        keys = touched(events.where(F.col("batch_id") == batch_id), window_minutes)
        ts = F.col("timestamp")
        in_windows = in_buckets(ts, keys["windows"], window_minutes * 60)
        feats = features.spark_features(events.where(in_windows), window_minutes, burst_minutes)
        lake.replace_keys(feats, "features", "window_start", keys["windows"])
        hourly = feats if window_minutes == 60 else \
            features.spark_features(events.where(in_buckets(ts, keys["sshd_hours"], 3600)), 60, burst_minutes)
        lake.replace_keys(source_hourly(hourly), "source_hourly", "hour",
                          keys["windows"] if window_minutes == 60 else keys["sshd_hours"])
        lake.replace_keys(events_hourly(events.where(in_buckets(ts, keys["hours"], 3600))), "events_hourly",
                          "hour", keys["hours"])
    lake.write_table(top_sources(lake.read_table(spark, "features"), top_n), "top_sources")
    return {"mode": "full" if keys is None else "incremental",
            "windows": None if keys is None else len(keys["windows"]),
            "hours": None if keys is None else len(keys["hours"])}


def top_sources(feature_rows: DataFrame, top_n: int = 50) -> DataFrame:
    """Sources ranked by failed logins over the whole lake."""
    totals = (feature_rows.groupBy("src")
              .agg(F.sum("failures").cast("long").alias("failures"),
                   F.sum("attempts").cast("long").alias("attempts"),
                   F.sum("successes").cast("long").alias("successes"),
                   F.sum("invalid_user_attempts").cast("long").alias("invalid_user_attempts"),
                   F.max("distinct_users").cast("long").alias("max_distinct_users_per_window"),
                   F.count(F.lit(1)).alias("active_windows"),
                   F.min("first_seen").alias("first_seen"), F.max("last_seen").alias("last_seen")))
    return totals.orderBy(F.desc("failures"), F.desc("attempts"), "src").limit(top_n)
