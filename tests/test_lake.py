"""The lake's paths and its Delta tables: a batch is replaced, not appended; schemas are enforced."""
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


def _rows(df):
    return sorted(tuple(r) for r in df.select("id", "v", "batch_id").collect())


def test_a_batch_is_replaced_not_appended_and_the_others_are_untouched(spark, lake):
    one = spark.createDataFrame([(1, "a"), (2, "b")], "id long, v string")
    lake.write_partition(one, "bronze", "b1")
    lake.write_partition(spark.createDataFrame([(3, "c")], "id long, v string"), "bronze", "b2")
    lake.write_partition(spark.createDataFrame([(1, "A")], "id long, v string"), "bronze", "b1")  # the re-run
    assert _rows(lake.read_table(spark, "bronze")) == [(1, "A", "b1"), (3, "c", "b2")]
    assert lake.batches(spark, "bronze") == ["b1", "b2"]
    history = lake.history(spark, "bronze")
    assert [h["operation"] for h in history] == ["WRITE"] * 3
    assert history[0]["operationParameters"]["mode"] == "Overwrite"
    assert "b1" in history[0]["operationParameters"]["predicate"]
    # Time travel: the first version is still there to read.
    assert _rows(lake.read_table(spark, "bronze", version=0)) == [(1, "a", "b1"), (2, "b", "b1")]
    assert lake.version(spark, "bronze") == 2


def test_the_table_schema_is_enforced(spark, lake):
    from pyspark.errors import AnalysisException

    lake.write_partition(spark.createDataFrame([(1, "a")], "id long, v string"), "bronze", "b1")
    with pytest.raises(AnalysisException):
        lake.write_partition(spark.createDataFrame([(1, 2.5)], "id long, v double"), "bronze", "b2")
    assert lake.batches(spark, "bronze") == ["b1"]


def test_a_silver_table_of_an_earlier_release_gains_the_new_column(spark, lake, tmp_path):
    from lib import bronze, silver

    log = tmp_path / "auth.log"
    log.write_text("Mar  3 10:00:00 h sshd[1]: message repeated 99 times: [ Failed password for root from 8.8.4.4 "
                   "port 2 ssh2]\n")
    rows = bronze.to_bronze(bronze.read_text(spark, [str(log)]), "b2", "2026-01-01 00:00:00")
    old = silver.events(silver.parse(rows, 2026)).drop("suspicious")  # Silver as it was written before the column
    lake.write_partition(old, "silver", "b1")
    lake.write_silver(rows, "b2", 2026)
    got = {r["batch_id"]: r["suspicious"] for r in lake.read_table(spark, "silver").collect()}
    assert got == {"b1": None, "b2": ["repeat count above the cap"]}
    assert lake.add_columns(spark, "silver", silver.SILVER_SCHEMA_ADDITIONS) == []


@pytest.mark.parametrize("bad", ["b1' OR '1'='1", "", "a b", "x" * 200, "../b1"])
def test_a_batch_id_is_never_pasted_into_sql_unchecked(spark, lake, bad):
    with pytest.raises(ValueError, match="invalid batch id"):
        lake.write_partition(spark.createDataFrame([(1, "a")], "id long, v string"), "bronze", bad)
    assert lake.read_table(spark, "bronze") is None


def test_a_whole_table_replace_is_one_overwrite(spark, lake):
    assert lake.version(spark, "top_sources") is None
    lake.write_table(spark.createDataFrame([(1, "a")], "id long, v string"), "top_sources")
    lake.write_table(spark.createDataFrame([(2, "b"), (3, "c")], "id long, v string"), "top_sources")
    assert sorted(tuple(r) for r in lake.read_table(spark, "top_sources").collect()) == [(2, "b"), (3, "c")]
    assert [(h["version"], h["operation"]) for h in lake.history(spark, "top_sources")] == [(1, "WRITE"), (0, "WRITE")]


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


def test_unity_catalog_names_hold_the_same_tables_as_paths(spark, tmp_path):
    """With `uc_catalog`/`uc_schema`, every Delta table is a catalog table `<catalog>.<schema>.<layer>_<table>`
    (here the session catalog: the same code path as Unity Catalog's three-level names). Silver and
    incremental gold, a re-run and a late batch, give the tables that the path layout gives."""
    from datetime import timedelta

    from lib import bronze, gold, quality, synth

    spark.sql(f"CREATE SCHEMA IF NOT EXISTS spark_catalog.uc_lake LOCATION '{tmp_path / 'warehouse'}'")
    named = Lake.from_params(str(tmp_path / "files"), uc_catalog="spark_catalog", uc_schema="uc_lake")
    by_path = Lake.from_params(str(tmp_path / "paths"))
    assert named.table_name("silver") == "spark_catalog.uc_lake.silver_structured_logs"
    assert named.table_name("features") == "spark_catalog.uc_lake.gold_source_features"
    start = synth.DEFAULT_START
    for batch, seed, t0 in (("b1", 21, start), ("b2", 22, start + timedelta(minutes=30))):  # b2 is late
        log, _ = synth.write(tmp_path / batch / "auth.log", lines=150, seed=seed, start=t0)
        raw = bronze.to_bronze(bronze.read_text(spark, [str(log)]), batch, "2026-01-01 00:00:00")
        for lake in (named, by_path):
            lake.write_silver(raw, batch, start.year)
            gold.refresh(spark, lake, batch)
    named.write_silver(raw, "b2", start.year)  # a re-run of b2
    for t in ("silver", "quarantine", "features", "source_hourly", "events_hourly", "top_sources"):
        assert spark.catalog.tableExists(named.table_name(t)), t
        assert quality.table_checksum(spark.table(named.table_name(t))) == \
            quality.table_checksum(by_path.read_table(spark, t)), t
    assert not (tmp_path / "files" / "silver").exists()  # the tables live in the catalog, not under the files
    history = named.history(spark, "silver")
    assert len(history) == 3 and "b2" in history[0]["operationParameters"]["predicate"]  # the re-run replaced b2
    assert named.read_table(spark, "silver", version=0).select("batch_id").distinct().count() == 1


def test_unity_catalog_files_live_in_the_schemas_volume_and_names_are_checked():
    lake = Lake.from_params(uc_catalog="main", uc_schema="openssh")
    assert lake.path("raw_logs") == "/Volumes/main/openssh/lake/bronze/raw_logs"
    assert lake.final_csv == "/Volumes/main/openssh/lake/gold/final_data/openssh_logs_final.csv"
    assert lake.sql_name("incidents") == "main.openssh.gold_incidents"
    with pytest.raises(ValueError, match="not a table"):
        lake.table_name("raw_logs")
    for catalog, schema in (("main; DROP TABLE x", "openssh"), ("main", "a.b"), ("main", ""), ("1main", "s")):
        with pytest.raises(ValueError, match="invalid (catalog|schema) name"):
            Lake.from_params(uc_catalog=catalog, uc_schema=schema)
    assert Lake.from_params("/tmp/x", uc_schema="openssh").table_name("silver") is None  # no catalog: paths
