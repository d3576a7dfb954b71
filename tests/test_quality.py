"""The quality gate: green on a clean batch, and every broken invariant named with its numbers."""
import pytest
from pyspark.sql import functions as F

from lib import bronze, features, gold, quality, silver


@pytest.fixture(scope="module")
def tables(spark, tmp_path_factory):
    f = tmp_path_factory.mktemp("q") / "auth.log"
    f.write_text("Mar  3 10:00:00 h sshd[1]: Failed password for root from 203.0.113.5 port 2222 ssh2\n"
                 "Mar  3 10:00:01 h sshd[1]: message repeated 2 times: [ Failed password for root from 203.0.113.5 port 2222 ssh2]\n"
                 "garbage line\n"
                 "Mar  3 10:00:02 h CRON[5]: job ran\n")
    b = bronze.to_bronze(bronze.read_text(spark, [str(f)]), "b1", "2026-01-01").cache()
    parsed = silver.parse(b, 2024).cache()
    s, q = silver.events(parsed), silver.quarantine(parsed)
    return b, s, q, features.spark_features(s), gold.events_hourly(s)


def _checks(tables, **overrides):
    b, s, q, feats, eh = tables
    args = dict(bronze_df=b, silver_df=s, quarantine_df=q, all_silver=s, feature_rows=feats, events_hourly=eh,
                final_rows=2, model_metrics={"pr_auc": 0.95, "recall_brute_force": 1.0}, gate_failures=[],
                monitoring={"anomaly_rate": 0.1, "anomaly_rate_jump": 0.0, "psi": {"failures": 0.01}},
                thresholds=quality.default_thresholds(2024, max_quarantine_ratio=0.5))
    args.update(overrides)
    return quality.run_checks(**args)


def _failed(checks):
    return {c.name: c.detail for c in checks if c.failed}


def test_a_clean_batch_passes(tables):
    checks = _checks(tables)
    assert _failed(checks) == {}
    quality.enforce(checks)
    data, md = quality.report(checks, {"batch_id": "b1"})
    assert data["passed"] and "PASSED" in md and "every line accounted for" in md


def test_a_lost_silver_row_is_named(tables):
    b, s, q, feats, eh = tables
    checks = _checks(tables, silver_df=s.where(F.col("line_number") != 1), final_rows=1)
    assert _failed(checks) == {"every line accounted for: bronze = silver + quarantine":
                               "bronze 4 vs silver 2 + quarantine 1 = 3"}
    with pytest.raises(quality.QualityError, match="every line accounted for"):
        quality.enforce(checks)


def test_duplicates_nulls_and_wrong_gold_are_named(tables):
    b, s, q, feats, eh = tables
    broken = s.unionByName(s.where("line_number = 1")).withColumn(
        "timestamp", F.when(F.col("line_number") == 4, None).otherwise(F.col("timestamp")))
    failed = _failed(_checks(tables, silver_df=broken, all_silver=broken, final_rows=7))
    assert set(failed) == {"every line accounted for: bronze = silver + quarantine",
                           "silver + quarantine (source_file, line_number) is unique",
                           "silver timestamps are not null",
                           "gold events_hourly = silver events (repeats counted)",
                           "gold source features = silver events with a source",
                           "the batch's final CSV rows = its silver sshd rows"}
    assert failed["the batch's final CSV rows = its silver sshd rows"] == "CSV 7 vs silver 3"


def test_thresholds_model_gate_and_drift(tables):
    failed = _failed(_checks(tables, thresholds=quality.default_thresholds(2024, max_quarantine_ratio=0.1),
                             gate_failures=["PR-AUC 0.500 < 0.9"]))
    assert set(failed) == {"quarantined share under threshold", "champion model passes the promotion gate"}
    drift = {"anomaly_rate": 0.5, "anomaly_rate_jump": 0.4, "psi": {"failures": 2.0}}
    warned = _checks(tables, monitoring=drift)
    assert _failed(warned) == {} and {c.name for c in warned if not c.passed} == {"anomaly rate stable",
                                                                                  "feature drift under threshold"}
    strict = quality.default_thresholds(2024, max_quarantine_ratio=0.5, fail_on_drift=True)
    assert set(_failed(_checks(tables, monitoring=drift, thresholds=strict))) == {
        "anomaly rate stable", "feature drift under threshold"}


def test_schema_drift_is_named(tables):
    b, s, q, feats, eh = tables
    failed = _failed(_checks(tables, silver_df=s.withColumn("pid", F.col("pid").cast("string"))))
    assert failed["schema: silver"] == "pid is string not int"


def test_the_lake_wide_checks_read_only_what_the_batch_can_have_changed(spark, tables, tmp_path):
    b, s, q, feats, eh = tables
    old = tmp_path / "old.log"  # an earlier batch, a month before, of another file
    old.write_text("Feb  1 08:00:00 h sshd[9]: Failed password for admin from 198.51.100.1 port 1 ssh2\n")
    b0 = bronze.to_bronze(bronze.read_text(spark, [str(old)]), "b0", "2026-01-01")
    b0.write.parquet(str(tmp_path / "b0"))
    silver.events(silver.parse(b0, 2024)).write.parquet(str(tmp_path / "s0"))
    b0, s0 = spark.read.parquet(str(tmp_path / "b0")), spark.read.parquet(str(tmp_path / "s0"))
    scope = quality.reach(s, b, 60)
    assert (scope["lo"], scope["hi"]) == (1709460000, 1709463600)  # 2024-03-03 10:00 .. 11:00 UTC, whole hours
    assert scope["file_ids"] == [b.first()["file_id"]]

    def scoped(**tables_):
        return {k: (quality.same_lines(v, scope) if k == "all_bronze" else
                    quality.within(v, {"all_silver": "timestamp", "feature_rows": "window_start",
                                       "events_hourly": "hour"}[k], scope)) for k, v in tables_.items()}

    lake = dict(all_silver=s.unionByName(s0), feature_rows=feats, events_hourly=eh, all_bronze=b.unionByName(b0))
    assert _failed(_checks(tables, **scoped(**lake))) == {}  # February is not in gold here, and not this batch's to check
    assert set(_failed(_checks(tables, **lake))) == {"gold events_hourly = silver events (repeats counted)",
                                                     "gold source features = silver events with a source"}
    again = dict(lake, all_bronze=lake["all_bronze"].unionByName(b.where("line_number = 2").withColumn(
        "batch_id", F.lit("b9"))))  # one of the batch's lines is in the lake twice
    assert _failed(_checks(tables, **scoped(**again))) == {
        "every line of a file is in bronze once (file_id, line_number)": "1 lines loaded more than once (2 rows)"}
    short = dict(lake, events_hourly=eh.where("category != 'sshd'"))  # gold lost the batch's own hour
    assert "gold events_hourly = silver events (repeats counted)" in _failed(_checks(tables, **scoped(**short)))
