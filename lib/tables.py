"""Every table of the lake, once: where it lives, its columns and types, how it is partitioned,
which stage writes it and what identifies its rows.

The column lists of the other modules (`silver.SILVER_COLUMNS`, `gold.FINAL_COLUMNS`,
`quality.SILVER_SCHEMA`, `incidents.INCIDENTS_SCHEMA`, the API's anomalies columns, ...)
are derived from here, and tests/test_pipeline.py compares the schema of every table a
run writes with its entry. Types are Spark's DDL names (``bigint``, ``array<string>``),
as `DataFrame.schema.simpleString()` prints them.
"""
from __future__ import annotations

from dataclasses import dataclass

LINEAGE = ("source_file", "line_number", "batch_id")


@dataclass(frozen=True)
class Table:
    name: str
    layer: str                  # bronze | silver | gold | models: the container (ADLS) or folder
    path: str                   # below the layer
    stage: str                  # the notebook that writes it
    schema: str = ""            # "name type, ..." as stored; "" for folders of files (not Delta tables)
    partition_by: tuple = ()
    key: tuple = ()             # what identifies a row (a re-run replaces rows by it)

    @property
    def delta(self) -> bool:
        return bool(self.schema)

    @property
    def types(self) -> dict[str, str]:
        """Column -> type, in table order."""
        out = {}
        for part in _split(self.schema):
            name, _, kind = part.strip().partition(" ")
            out[name] = kind.strip()
        return out

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(self.types)

    def ddl(self, without: tuple = ()) -> str:
        """The schema as a DDL string (for `createDataFrame`), leaving out `without` (e.g. the partition
        column a writer adds)."""
        return ", ".join(f"{k} {v}" for k, v in self.types.items() if k not in without)


def _split(schema: str) -> list[str]:
    """Top-level comma-separated parts (commas inside <...> belong to a type)."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(schema):
        depth += (ch == "<") - (ch == ">")
        if ch == "," and depth == 0:
            parts.append(schema[start:i])
            start = i + 1
    tail = schema[start:]
    return parts + [tail] if tail.strip() else parts


_EVENT = ("timestamp timestamp, host string, process string, pid int, category string, event_id string, "
          "event_template string, message string, user string, invalid_user boolean, src_ip string, "
          "src_host string, src_port int, auth_method string, key_type string, key_fingerprint string, "
          "outcome string, action string, preauth boolean, repeat_count int, inferred array<string>, "
          "suspicious array<string>")
_WINDOW_FEATURES = ", ".join(f"{c} double" for c in (
    "events", "attempts", "failures", "successes", "failure_ratio", "distinct_users", "invalid_user_attempts",
    "invalid_user_ratio", "root_attempts", "success_after_failure", "failures_without_success",
    "mean_interarrival_s", "std_interarrival_s", "distinct_ports", "preauth_disconnects", "break_in_warnings",
    "too_many_failures", "scan_events", "active_duration_s", "peak_failures_burst"))

TABLES = {t.name: t for t in (
    Table("raw_logs", "bronze", "raw_logs", "raw_load"),  # landed files, as delivered
    Table("bronze", "bronze", "processed", "raw_load",
          "source_file string, file_id string, line_number bigint, line string, raw_bytes binary, "
          "source_modified timestamp, ingest_ts timestamp, batch_id string",
          partition_by=("batch_id",), key=("file_id", "line_number")),
    Table("ingested_files", "bronze", "ingested_files", "raw_load",
          "source_file string, read_path string, file_id string, lines bigint, already_ingested bigint, "
          "new_lines bigint, ingest_ts timestamp, batch_id string",
          partition_by=("batch_id",), key=("batch_id", "file_id")),
    Table("silver", "silver", "structured_logs", "silver_load",
          "source_file string, line_number bigint, batch_id string, " + _EVENT,
          partition_by=("batch_id", "category"), key=LINEAGE),
    Table("quarantine", "silver", "quarantine", "silver_load",
          "source_file string, line_number bigint, batch_id string, line string, reason string",
          partition_by=("batch_id",), key=LINEAGE),
    Table("quality_reports", "silver", "quality_reports", "validation"),  # JSON and Markdown reports
    Table("final_data", "gold", "final_data", "gold_load"),  # the final CSV, per batch and the published one
    Table("source_hourly", "gold", "business_reports/source_hourly", "gold_load",
          "src string, hour timestamp, attempts bigint, failures bigint, successes bigint, distinct_users bigint, "
          "invalid_user_attempts bigint, root_attempts bigint, events bigint, first_seen timestamp, "
          "last_seen timestamp", key=("src", "hour")),
    Table("events_hourly", "gold", "business_reports/events_hourly", "gold_load",
          "hour timestamp, category string, event_id string, event_template string, lines bigint, events bigint",
          key=("hour", "category", "event_id")),
    Table("top_sources", "gold", "business_reports/top_sources", "gold_load",
          "src string, failures bigint, attempts bigint, successes bigint, invalid_user_attempts bigint, "
          "max_distinct_users_per_window bigint, active_windows bigint, first_seen timestamp, last_seen timestamp",
          key=("src",)),
    Table("features", "gold", "business_reports/source_features", "gold_load",
          "src string, window_start timestamp, window_minutes int, " + _WINDOW_FEATURES
          + ", first_seen timestamp, last_seen timestamp", key=("src", "window_start", "window_minutes")),
    Table("anomalies", "gold", "business_reports/anomalies", "ml_anomaly_detection",
          "src string, window_start timestamp, window_minutes int, anomaly_score double, is_anomaly boolean, "
          "explanation string, model_version string", key=("src", "window_start", "window_minutes")),
    Table("incidents", "gold", "business_reports/incidents", "ml_anomaly_detection",
          "incident_id string, rank int, kind string, severity string, techniques array<string>, summary string, "
          "sources array<string>, source_count int, first_seen string, last_seen string, attempts bigint, "
          "failures bigint, successes bigint, distinct_users int, top_users array<string>, invalid_users int, "
          "account string, success_at string, success_source string, evidence array<string>, "
          "detectors array<string>, model_score double, detected_at string, time_to_detect_s double",
          key=("incident_id",)),
    Table("monitoring", "gold", "business_reports/model_monitoring", "ml_anomaly_detection",
          "model_version string, predictions bigint, anomalies bigint, anomaly_rate double, "
          "anomaly_rate_jump double, psi_json string, run_ts timestamp, batch_id string",
          partition_by=("batch_id",), key=("batch_id",)),
    Table("published", "gold", "business_reports/published", "validation",
          "published_at timestamp, model_version string, anomalies_version bigint, table_versions string, "
          "final_csv string, batch_id string", partition_by=("batch_id",), key=("batch_id",)),
    Table("models", "models", "", "ml_anomaly_detection"),  # the local MLflow store's artifacts
)}


def table(name: str) -> Table:
    return TABLES[name]


def columns(name: str) -> tuple[str, ...]:
    return TABLES[name].columns
