"""Shared fixtures: ONE Spark Connect server for the whole test session, real and local.

Unit tests get a Spark session connected to it; notebook and runner tests pass its
URL on (``SPARK_REMOTE`` / ``--spark-remote``), so no test pays for a second JVM.
The server is started and stopped by process id.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
LOGHUB = REPO.parent / "shared" / "data" / "loghub"
CORPUS = Path(__file__).resolve().parent / "corpus"

os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")


@pytest.fixture(scope="session")
def spark_server(tmp_path_factory):
    from lib.spark import ConnectServer

    log = tmp_path_factory.mktemp("spark") / "spark-connect.log"
    server = ConnectServer(master="local[2]", log_path=log).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def spark(spark_server):
    from pyspark.sql import SparkSession

    from lib.spark import SESSION_CONF

    session = SparkSession.builder.remote(spark_server.url).getOrCreate()
    for k, v in SESSION_CONF.items():
        session.conf.set(k, v)
    yield session
    session.stop()  # before the server goes away: a client left connected waits on it at exit


@pytest.fixture(scope="session")
def loghub_dir() -> Path:
    """Loghub's OpenSSH_2k and its corrected labels (../shared/data/loghub)."""
    if not (LOGHUB / "OpenSSH_2k.log").exists():
        if os.environ.get("CI"):
            pytest.fail(f"CI is set but the Loghub sample is missing: {LOGHUB}")
        pytest.skip(f"Loghub sample not found at {LOGHUB} (it lives in ../shared/data/loghub beside the repo)")
    return LOGHUB


@pytest.fixture(scope="session")
def loghub_log(loghub_dir) -> Path:
    return loghub_dir / "OpenSSH_2k.log"


@pytest.fixture()
def lake(tmp_path):
    from lib.lake import Lake

    return Lake.from_params(str(tmp_path / "lake"))
