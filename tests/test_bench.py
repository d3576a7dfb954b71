"""`python -m lib bench` on a small size, against the session's Spark Connect server.

What is checked is that every stage runs and reports consistent figures, not how fast
(speed belongs to the benchmark itself: see BENCHMARKS.md).
"""
from __future__ import annotations

import json

from devtools import bench
from lib.lake import Lake

STAGES = ("floor", "bronze", "silver", "features", "gold", "to_pandas", "train", "python_parser")


def test_bench_measures_every_stage_and_reports_ratios(spark_server, spark, tmp_path, capsys):
    report = bench.run_bench([3000], tmp_path, drain3=False, repeat=1, server=spark_server, warm_up_lines=500)
    by = {r["stage"]: r for r in report["results"]}
    assert set(STAGES) <= set(by)
    for name in STAGES:
        assert by[name]["lines"] == 3000 and by[name]["seconds"] > 0, name
    # memory is read from the JVM and the processes that did the work, not assumed
    assert by["silver"]["jvm_peak_mb"] > 100 and by["python_parser"]["process_peak_mb"] > 10
    assert 0 < by["train"]["windows"] < 3000  # the model trains on source-windows, far fewer than lines
    assert "3000: silver / floor (wall)" in report["ratios"]
    assert report["master"] == spark_server.master
    json.dumps(report)  # the report is what `bench` writes as JSON
    # the lake the stages wrote is complete: every generated line is in bronze and parsed once
    lake = Lake.from_params(str(tmp_path / "lake-3000"))
    assert lake.read_table(spark, "bronze").count() == 3000
    assert lake.read_table(spark, "silver").count() + lake.read_table(spark, "quarantine").count() == 3000
    assert "silver" in capsys.readouterr().out  # the table is printed as sizes finish
