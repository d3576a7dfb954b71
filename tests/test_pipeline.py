"""The whole chain through the runner: outputs, re-runs, new batches, a killed run, bad input.

These are the heavy tests: each run executes the six notebooks (papermill, one kernel
each) against the session's Spark Connect server. Runs share output folders where the
behaviour under test allows it, so the model is trained once per folder and reused.
"""
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pyspark.sql import functions as F

from lib import quality, synth
from lib.lake import Lake
from lib.runner import PipelineError, run
from tests.conftest import REPO

pytestmark = pytest.mark.e2e
NOTEBOOKS = ["mount", "raw_load", "silver_load", "gold_load", "ml_anomaly_detection", "validation"]


def _run(spark_server, output, inputs, **params):
    return run([str(i) for i in inputs], str(output), {"year": 2026, **params},
               spark_remote=spark_server.url, html=True)


def _files(path: Path) -> dict:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def synthetic(spark_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("synthetic")
    log, _ = synth.write(base / "input" / "day1.log", lines=4000, seed=21)
    summary = _run(spark_server, base / "out", [log])
    return base, log, summary


def test_chain_leaves_every_layer_and_artifact(synthetic, spark):
    base, log, summary = synthetic
    lake = Lake.from_params(summary["lake"])
    r = summary["results"]
    assert r["raw_load"]["rows"] == 4000
    assert r["silver_load"]["silver_rows"] + r["silver_load"]["quarantined"] == 4000
    assert r["validation"]["checks_passed"] >= r["validation"]["checks"] - 1  # drift may warn
    assert r["ml_anomaly_detection"]["promoted"] is True and r["ml_anomaly_detection"]["anomalies"] > 0
    for nb in NOTEBOOKS:
        assert (Path(summary["run_folder"]) / f"{nb}.ipynb").exists()
        assert (Path(summary["run_folder"]) / f"{nb}.html").exists()
    silver_sshd = lake.read_table(spark, "silver").where("category = 'sshd'").count()
    with open(lake.final_csv, newline="", encoding="utf-8") as f:  # one file, rows in file order
        rows = list(csv.DictReader(f))
    assert len(rows) == silver_sshd and {"anomaly_score", "is_anomaly"} <= set(rows[0])
    assert rows[0]["timestamp"].endswith("Z")
    order = [(r["source_file"], int(r["line_number"])) for r in rows]
    assert order == sorted(order)
    anomalies = lake.read_table(spark, "anomalies")
    assert anomalies.where("is_anomaly").count() == r["ml_anomaly_detection"]["anomalies"]
    assert json.loads(Path(r["validation"]["report"]).read_text())["passed"] is True


def test_champion_loads_and_scores_a_gold_feature_frame(synthetic, spark):
    import mlflow

    from lib import features, model

    _, _, summary = synthetic
    mlflow.set_tracking_uri(summary["tracking_uri"])
    mlflow.set_registry_uri(summary["tracking_uri"])
    champion = mlflow.pyfunc.load_model("models:/ssh-anomaly-model@champion")
    frame = Lake.from_params(summary["lake"]).read_table(spark, "features").toPandas()
    out = champion.predict(frame[list(features.MODEL_FEATURES)])
    assert len(out) == len(frame) and out["is_anomaly"].sum() == summary["results"]["ml_anomaly_detection"]["anomalies"]
    run = mlflow.MlflowClient().get_run(model.alias_version(mlflow.MlflowClient(), "ssh-anomaly-model", "champion").run_id)
    assert model.gate_failures(run.data.metrics, model.DEFAULT_GATE) == [] and "recall_low_and_slow" in run.data.metrics
    assert run.data.metrics["incident_compromise_recall"] == 1.0
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"score_histogram.png", "per_kind_recall.png", "per_kind_recall.json", "features.json"} <= artifacts


def test_rerunning_a_batch_changes_nothing(synthetic, spark, spark_server):
    import mlflow

    base, log, summary = synthetic
    lake = Lake.from_params(summary["lake"])
    before = quality.lake_checksums(spark, lake)
    again = _run(spark_server, base / "out", [log])
    assert again["batch_id"] == summary["batch_id"]
    assert quality.lake_checksums(spark, lake) == before
    assert again["results"]["ml_anomaly_detection"]["model_version"] == \
        summary["results"]["ml_anomaly_detection"]["model_version"]
    client = mlflow.MlflowClient(summary["tracking_uri"])
    assert len(client.search_model_versions("name='ssh-anomaly-model'")) == 1
    assert lake.read_table(spark, "monitoring").count() == 1


def test_a_new_batch_adds_partitions_and_leaves_the_old_ones(synthetic, spark, spark_server):
    base, _, summary = synthetic
    lake = Lake.from_params(summary["lake"])
    first = f"batch_id={summary['batch_id']}"
    untouched = {t: _files(Path(lake.path(t, first))) for t in ("bronze", "silver", "quarantine")}
    log2, _ = synth.write(base / "input" / "day2.log", lines=3000, seed=22,
                          start=synth.DEFAULT_START.replace(day=9))
    second = _run(spark_server, base / "out", [log2])
    assert second["batch_id"] != summary["batch_id"]
    for t in ("bronze", "silver", "quarantine"):
        assert sorted(lake.partitions(t)) == sorted([first, f"batch_id={second['batch_id']}"])
        assert _files(Path(lake.path(t, first))) == untouched[t]
    silver_events = lake.read_table(spark, "silver").where("category = 'sshd'").agg(F.sum("repeat_count")).first()[0]
    gold_events = lake.read_table(spark, "events_hourly").where("category = 'sshd'").agg(F.sum("events")).first()[0]
    assert gold_events == silver_events
    assert lake.read_table(spark, "bronze").count() == 7000


def test_a_run_killed_during_silver_leaves_the_lake_consistent(synthetic, spark, spark_server):
    base, _, summary = synthetic
    out = base / "out"
    lake = Lake.from_params(summary["lake"])
    log3, _ = synth.write(base / "input" / "day3.log", lines=40_000, seed=23,
                          start=synth.DEFAULT_START.replace(day=20))
    before = {t: quality.table_checksum(lake.read_table(spark, t)) for t in ("silver", "quarantine", "features")}
    cmd = [sys.executable, "-m", "lib", "run", "--input", str(log3), "--output", str(out), "--year", "2026",
           "--spark-remote", spark_server.url, "--no-html"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    staging = Path(lake.path("silver", "_staging"))
    deadline = time.monotonic() + 180
    while not (staging.exists() and any(staging.iterdir())):
        assert proc.poll() is None and time.monotonic() < deadline, "silver never started writing"
        time.sleep(0.02)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # The previous good outputs are there, readable and consistent; the half-written batch is not visible.
    assert {t: quality.table_checksum(lake.read_table(spark, t)) for t in before} == before
    assert len(lake.partitions("silver")) == 2 and len(lake.partitions("bronze")) == 3
    for batch in lake.partitions("silver"):
        b = lake.read_table(spark, "bronze").where(F.col("batch_id") == batch.split("=")[1]).count()
        s = lake.read_table(spark, "silver").where(F.col("batch_id") == batch.split("=")[1]).count()
        q = lake.read_table(spark, "quarantine").where(F.col("batch_id") == batch.split("=")[1]).count()
        assert b == s + q
    # The next run completes and cleans up.
    done = _run(spark_server, out, [log3])
    assert done["results"]["silver_load"]["silver_rows"] + done["results"]["silver_load"]["quarantined"] == 40_000
    assert len(lake.partitions("silver")) == 3 and not (staging.exists() and any(staging.iterdir()))


def test_a_corrupted_silver_table_fails_validation_naming_the_check(synthetic, spark_server, tmp_path):
    import papermill as pm

    _, _, summary = synthetic
    copy = tmp_path / "lake"
    shutil.copytree(summary["lake"], copy)
    part = next((copy / "silver" / "structured_logs" / f"batch_id={summary['batch_id']}").rglob("*.parquet"))
    part.unlink()
    env = dict(os.environ, SPARK_REMOTE=spark_server.url)
    old = os.environ.copy()
    os.environ.update(env)
    try:
        with pytest.raises(pm.PapermillExecutionError) as err:
            pm.execute_notebook(str(REPO / "notebooks" / "validation.ipynb"), str(tmp_path / "v.ipynb"),
                                parameters={"lake_root": str(copy), "batch_id": summary["batch_id"],
                                            "tracking_uri": summary["tracking_uri"], "year": 2026},
                                cwd=str(REPO / "notebooks"), kernel_name="python3", progress_bar=False)
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert err.value.ename == "QualityError"
    assert "every line accounted for: bronze = silver + quarantine: bronze 4000 vs silver" in err.value.evalue


@pytest.fixture(scope="module")
def loghub_run(spark_server, loghub_log, tmp_path_factory):
    out = tmp_path_factory.mktemp("loghub")
    return out, _run(spark_server, out, [loghub_log], year=2024)


def test_loghub_openssh_2k_end_to_end(loghub_run, spark):
    _, summary = loghub_run
    r = summary["results"]
    assert r["raw_load"]["rows"] == 2000
    assert (r["silver_load"]["silver_rows"], r["silver_load"]["quarantined"]) == (2000, 0)
    assert r["silver_load"]["event_types"] == 26
    lake = Lake.from_params(summary["lake"])
    silver = lake.read_table(spark, "silver")
    assert dict(silver.dtypes)["timestamp"] == "timestamp" and silver.where("timestamp is null").count() == 0
    assert silver.agg(F.min("timestamp")).first()[0].year == 2024
    flags = {r.src: r.is_anomaly for r in lake.read_table(spark, "anomalies").collect()}
    assert flags["183.62.140.253"] is True and flags["119.137.62.142"] is False


def test_binary_input_is_quarantined_and_stops_the_gate(loghub_run, spark_server, tmp_path):
    out, _ = loghub_run
    junk = tmp_path / "firmware.bin"
    junk.write_bytes(bytes(range(256)) * 400)
    with pytest.raises(PipelineError, match=r"validation failed: .*quarantined share under threshold"):
        _run(spark_server, out, [junk])


def test_empty_and_missing_input_are_one_line_errors(spark_server, tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    with pytest.raises(PipelineError) as err:
        _run(spark_server, tmp_path / "out", [empty])
    assert str(err.value).startswith("raw_load failed: ValueError: the input has no lines") and "\n" not in str(err.value)
    with pytest.raises(PipelineError, match="^input not found: "):
        _run(spark_server, tmp_path / "out", [tmp_path / "missing.log"])


def test_cli_reports_failure_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lib", "run", "--input", str(tmp_path / "nope.log"),
                        "--output", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == f"error: input not found: {tmp_path / 'nope.log'}"
