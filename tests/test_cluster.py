"""The same chain on a standalone Spark cluster (master + two workers on 127.0.0.1) gives the local outputs."""
import shutil

import pytest

from lib import quality, synth
from lib.lake import Lake
from lib.runner import run
from lib.spark import StandaloneCluster

pytestmark = pytest.mark.e2e


def test_chain_on_a_standalone_cluster_matches_local_mode(spark, spark_server, tmp_path):
    log, _ = synth.write(tmp_path / "input" / "auth.log", lines=3000, seed=31)
    out = tmp_path / "out"
    local = run([str(log)], str(out), {"year": 2026}, spark_remote=spark_server.url, html=False)
    expected = quality.lake_checksums(spark, Lake.from_params(local["lake"]))
    shutil.rmtree(out)  # the same paths again, so that lineage columns agree

    with StandaloneCluster(workers=2, log_dir=tmp_path / "cluster") as cluster:
        remote = run([str(log)], str(out), {"year": 2026}, spark_master=cluster.url, html=False)
        # the work ran in executors on both workers (the run's driver, its Connect server, was the one app)
        apps = cluster.applications()
        executors = [sorted(p.relative_to(d).parts[0] for p in d.glob("app-*/*")) for d in cluster.work_dirs]
    assert [a["state"] for a in apps] == ["FINISHED"], apps
    assert all(executors) and {e[0] for e in executors} == {apps[0]["id"]}, executors
    assert remote["batch_id"] == local["batch_id"]
    got = quality.lake_checksums(spark, Lake.from_params(remote["lake"]))
    assert set(got) >= {"bronze", "silver", "quarantine", "features", "anomalies", "final_csv"}
    assert got == expected
