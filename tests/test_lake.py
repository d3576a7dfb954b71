"""The lake's paths and its commit-by-rename: a killed writer never leaves a half-written table."""
import json

import pytest

from lib.lake import Lake


def test_layout_follows_the_seed_guide(lake):
    paths = lake.ensure()
    root = lake.root
    assert paths["raw_logs"] == f"{root}/bronze/raw_logs"
    assert paths["bronze"] == f"{root}/bronze/processed"
    assert paths["silver"] == f"{root}/silver/structured_logs"
    assert paths["quality_reports"] == f"{root}/silver/quality_reports"
    assert lake.final_csv == f"{root}/gold/final_data/openssh_logs_final.csv"
    assert paths["top_sources"] == f"{root}/gold/business_reports/top_sources"
    assert Lake.from_params(storage_account="acct").path("silver") == \
        "abfss://silver@acct.dfs.core.windows.net/structured_logs"


def _put(path, text):
    import os

    os.makedirs(path, exist_ok=True)
    with open(f"{path}/part-0.parquet", "w") as f:
        f.write(text)


def _read(lake, table, name=""):
    with open(f"{lake.path(table, name) if name else lake.path(table)}/part-0.parquet") as f:
        return f.read()


def test_commit_replaces_a_partition(lake):
    for version in ("v1", "v2"):
        staged = lake.staging("bronze", "batch_id=b1")
        _put(staged, version)
        lake.commit("bronze", staged, "batch_id=b1")
    assert _read(lake, "bronze", "batch_id=b1") == "v2"
    assert lake.partitions("bronze") == ["batch_id=b1"]


def test_writer_killed_before_the_swap_leaves_the_old_version(lake):
    staged = lake.staging("bronze", "batch_id=b1")
    _put(staged, "good")
    lake.commit("bronze", staged, "batch_id=b1")
    _put(lake.staging("bronze", "batch_id=b1"), "half written")  # then killed
    assert _read(lake, "bronze", "batch_id=b1") == "good"
    assert lake.partitions("bronze") == ["batch_id=b1"]  # staging is invisible (leading underscore)
    assert any("dropped" in m for m in lake.recover("bronze"))
    assert lake.fs.listdir(lake.path("bronze")) == ["batch_id=b1"]


def test_writer_killed_between_the_two_renames_is_rolled_back(lake):
    staged = lake.staging("top_sources")
    _put(staged, "good")
    lake.commit("top_sources", staged)
    # Simulate a kill after "move current away" and before "move new in".
    lake.fs.move(lake.path("top_sources"), lake._private("top_sources", "old", ""))
    assert lake.recover("top_sources") == [f"restored {lake.path('top_sources')}"]
    assert _read(lake, "top_sources") == "good"


def test_latest_batch_and_inputs(lake, tmp_path):
    lake.ensure()
    with pytest.raises(FileNotFoundError, match="run raw_load first"):
        lake.latest_batch()
    lake.set_latest_batch("b9")
    assert lake.latest_batch() == "b9"
    assert json.loads(lake.fs.read_text(lake.path("bronze", "_latest_batch.json")))["batch_id"] == "b9"
    with pytest.raises(FileNotFoundError, match="input not found"):
        lake.input_paths(str(tmp_path / "missing.log"))
    (tmp_path / "a.log").write_text("x")
    assert lake.input_paths(f"{tmp_path}/a.log, {tmp_path}/*.log") == [f"{tmp_path}/a.log", f"{tmp_path}/*.log"]
    assert lake.input_paths("raw_logs/2026-01-01/*.log") == [lake.path("raw_logs", "2026-01-01/*.log")]


def test_write_csv_is_spark_csv_in_order(spark, lake, tmp_path):
    """One file: a header, then the rows sorted by `order_by`, encoded exactly as Spark's
    own CSV writer encodes them (quotes, commas, line breaks, nulls, numbers)."""
    import glob

    rows = [("b.log", 2, 'say "hi", then\nleave', 1.5, True), ("a.log", 10, None, None, False),
            ("a.log", 9, "plain", -2.0, None), ("b.log", 1, " padded ", 0.1, True)]
    df = spark.createDataFrame(rows, "source_file string, line_number long, message string, score double, flag boolean")
    target = lake.write_csv(df.repartition(3), "final_data", "out.csv", order_by=("source_file", "line_number"))

    df.orderBy("source_file", "line_number").coalesce(1).write.option("header", True) \
        .option("escape", '"').csv(str(tmp_path / "reference"))
    with open(glob.glob(str(tmp_path / "reference" / "part-*.csv"))[0], "rb") as f:
        reference = f.read()
    with open(target, "rb") as f:
        written = f.read()
    assert written == reference
    assert written.startswith(b"source_file,line_number,message,score,flag\na.log,9,plain,")

    empty = lake.write_csv(df.where("false"), "final_data", "empty.csv", order_by=("line_number",))
    with open(empty) as f:
        assert f.read() == "source_file,line_number,message,score,flag\n"
