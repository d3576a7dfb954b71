"""Write, audit, publish: what readers see moves only when validation has passed.

The notebooks before validation write their tables (new Delta versions), the batch's
final CSV and a registered model, but nothing a reader follows points at them yet:

* the API reads `anomalies` at the version recorded in the `published` table, not the
  newest one; analysts find the same versions there (`lake.read_table(..., version=)`);
* the seed's final CSV (`gold/final_data/openssh_logs_final.csv`) is replaced by the
  batch's only on publishing;
* a model that passed the promotion gate is only *proposed* (a tag on its version); the
  `champion` alias, which the API loads, moves to it on publishing.

`publish` runs in the validation notebook after the gate passed. A failed validation
therefore leaves the published versions, the seed's CSV and the champion as they were.
"""
from __future__ import annotations

import json
from datetime import datetime, timezone

from lib import model, monitoring, registry, tables

PENDING_TAG = "pending_champion"  # on a model version: the batch whose validation promotes it
PUBLISHED_TABLES = ("features", "source_hourly", "events_hourly", "top_sources", "anomalies", "incidents")
PUBLISHED_SCHEMA = tables.table("published").ddl(without=("batch_id",))  # the writer adds batch_id


def propose(client, model_name: str, version: str, batch_id: str) -> None:
    """Mark `version` to become champion when batch `batch_id` passes validation."""
    client.set_model_version_tag(model_name, str(version), PENDING_TAG, batch_id)


def pending(client, model_name: str, batch_id: str):
    """The version proposed for `batch_id` (the newest, if several), or None."""
    try:
        versions = client.search_model_versions(f"name='{model_name}'")
    except Exception:  # no such registered model yet
        return None
    mine = [v for v in versions if (v.tags or {}).get(PENDING_TAG) == batch_id]
    return max(mine, key=lambda v: int(v.version)) if mine else None


def scoring_version(client, model_name: str, batch_id: str):
    """The version that scores the batch: the one proposed for it, else the current champion (or None)."""
    return pending(client, model_name, batch_id) or registry.alias_version(client, model_name, registry.CHAMPION)


def publish(spark, lake, batch_id: str, client, model_name: str) -> dict:
    """Make the batch's outputs the ones readers see: move `champion` to the version proposed for
    the batch, copy its final CSV to the seed's path (when it is the latest batch), and record
    the gold tables' current Delta versions as one row of `published` (the commit point)."""
    proposed = pending(client, model_name, batch_id)
    if proposed is not None:
        client.set_registered_model_alias(model_name, registry.CHAMPION, proposed.version)
        client.delete_model_version_tag(model_name, proposed.version, PENDING_TAG)
    champion = registry.alias_version(client, model_name, registry.CHAMPION)
    final_csv = None
    if batch_id == lake.latest_batch() and lake.fs.exists(lake.batch_csv(batch_id)):
        lake.fs.copy(lake.batch_csv(batch_id), lake.final_csv)
        final_csv = lake.final_csv
    versions = {t: lake.version(spark, t) for t in PUBLISHED_TABLES}
    row = {"published_at": datetime.now(timezone.utc), "model_version": str(champion.version) if champion else None,
           "anomalies_version": versions["anomalies"], "table_versions": json.dumps(versions, sort_keys=True),
           "final_csv": final_csv}
    lake.write_partition(spark.createDataFrame([row], schema=PUBLISHED_SCHEMA), "published", batch_id)
    return {**row, "batch_id": batch_id, "promoted": str(proposed.version) if proposed else None}


def latest(spark, lake) -> dict | None:
    """The last publication (the newest `published_at`), or None before the first."""
    df = lake.read_table(spark, "published")
    if df is None:
        return None
    row = df.orderBy("published_at", ascending=False).limit(1).collect()
    return row[0].asDict() if row else None


def audit(spark, lake, client, model_name: str, batch_id: str, year: int, gate: dict, thresholds: dict):
    """Every quality check of the batch (`lib.quality.run_checks`) against the lake's tables and the
    model that scored it (the version proposed for the batch, else the champion).
    Returns (checks, that model version or None)."""
    from lib import quality

    scored_by = scoring_version(client, model_name, batch_id)
    metrics = registry.run_metrics(client, scored_by) if scored_by else {}
    monitored = lake.read_table(spark, "monitoring", batch_id)
    records = monitored.toPandas().to_dict("records") if monitored is not None else []
    csv = lake.batch_csv(batch_id)
    final_rows = spark.read.option("header", True).option("multiLine", True).csv(csv).count() \
        if lake.fs.exists(csv) else None
    bronze, silver = lake.read_table(spark, "bronze", batch_id), lake.read_table(spark, "silver", batch_id)
    feature_rows = lake.read_table(spark, "features")
    scope = None
    if bronze is not None and silver is not None:  # the lake-wide checks read what the batch can have changed
        window = feature_rows.select("window_minutes").limit(1).collect() if feature_rows is not None else []
        scope = quality.reach(silver, bronze, window[0]["window_minutes"] if window else None)
    checks = quality.run_checks(
        bronze_df=bronze, silver_df=silver, quarantine_df=lake.read_table(spark, "quarantine", batch_id),
        all_silver=quality.within(lake.read_table(spark, "silver"), "timestamp", scope),
        feature_rows=quality.within(feature_rows, "window_start", scope),
        events_hourly=quality.within(lake.read_table(spark, "events_hourly"), "hour", scope),
        final_rows=final_rows, model_metrics=metrics,
        gate_failures=model.gate_failures(metrics, gate) if scored_by else ["no champion model"],
        monitoring=monitoring.monitoring_from_record(records[0]) if records else None,
        ingested_df=lake.read_table(spark, "ingested_files", batch_id),
        all_bronze=quality.same_lines(lake.read_table(spark, "bronze"), scope),
        thresholds=quality.default_thresholds(year, **thresholds))
    return checks, scored_by


def write_reports(lake, checks, batch_id: str, scored_by) -> dict:
    """The quality report as JSON and Markdown beside the quality tables (and `latest.md`)."""
    from lib import quality

    data, summary = quality.report(checks, {"batch_id": batch_id,
                                            "champion_version": scored_by.version if scored_by else None})
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    report_json = lake.write_json("quality_reports", f"{batch_id}_{stamp}.json", data)
    report_md = lake.path("quality_reports", f"{batch_id}_{stamp}.md")
    lake.fs.write_text(report_md, summary)
    lake.fs.write_text(lake.path("quality_reports", "latest.md"), summary)
    return {"report": report_json, "report_md": report_md, "summary": summary}
