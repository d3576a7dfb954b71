"""The table registry: the other modules' column lists come from it; the schemas a run writes are checked
against it in tests/test_pipeline.py (test_every_table_a_run_writes_is_the_registry_table)."""
import pytest

from lib import tables
from lib.tables import Table


def test_types_split_at_top_level_commas_only():
    t = Table("t", "gold", "t", "gold_load", "a string, b array<string>, c map<string,array<int>>, d bigint",
              partition_by=("a",))
    assert t.types == {"a": "string", "b": "array<string>", "c": "map<string,array<int>>", "d": "bigint"}
    assert t.ddl(without=("a",)) == "b array<string>, c map<string,array<int>>, d bigint"


def test_every_delta_table_declares_its_partition_and_key_columns():
    for t in tables.TABLES.values():
        if t.delta:
            assert set(t.partition_by) <= set(t.columns) and t.key and set(t.key) <= set(t.columns), t.name
        else:
            assert not t.partition_by, t.name


def test_only_batch_partitioned_tables_are_written_by_batch(spark, lake):
    df = spark.createDataFrame([("1.2.3.4",)], "src string")
    with pytest.raises(ValueError, match="top_sources is not partitioned by batch"):
        lake.write_partition(df, "top_sources", "b1")
