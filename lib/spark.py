"""Where the Spark session comes from, on Databricks and here.

* On Databricks (``DATABRICKS_RUNTIME_VERSION`` is set) the runtime's session.
* With ``SPARK_REMOTE`` set (``sc://host:port``) a Spark Connect session: the local
  runner and the tests start ONE Connect server and every notebook connects to it.
* Otherwise a classic local session on ``SPARK_MASTER`` (default ``local[2]``).

The code stays within the DataFrame API (no RDDs, no ``sparkContext``), so the
same notebooks run on classic clusters, shared clusters, serverless and Connect.
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

# Session settings the pipeline relies on, for every kind of session.
SESSION_CONF = {
    "spark.sql.session.timeZone": "UTC",       # timestamps are stored and shown in UTC
    "spark.sql.adaptive.enabled": "true",
    "spark.sql.adaptive.coalescePartitions.enabled": "true",
    "spark.sql.sources.partitionColumnTypeInference.enabled": "false",  # batch ids stay strings
    # Partitioned writes (silver by category) keep a writer per partition open instead of
    # sorting every task's rows by the partition column first.
    "spark.sql.maxConcurrentOutputFileWriters": "4",
}
# Settings for the local JVM (server or classic session) only.
LOCAL_CONF = {
    "spark.ui.enabled": "false",
    "spark.sql.shuffle.partitions": "8",
    "spark.driver.memory": "2g",
    # The parse's generated code has methods over the JIT's 8 kB default limit: compile them
    # anyway (measured: Silver ~1.8x faster).
    "spark.driver.extraJavaOptions": "-Dlog4j2.level=WARN -XX:-DontCompileHugeMethods",
    "spark.executor.extraJavaOptions": "-XX:-DontCompileHugeMethods",
}


# Delta Lake's jars for the local JVMs (on Databricks Delta is native): exactly the release of
# the installed `delta-spark` wheel, whose one pin is in requirements.txt (built for Spark 4.2
# like the pinned pyspark: Delta breaks on other Spark releases). delta-spark's POM also lists
# delta-kernel-*; the path-based tables used here do not load them.
DELTA_ARTIFACTS = ("io.delta:delta-spark_2.13", "io.delta:delta-storage")


def delta_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("delta-spark")
    except PackageNotFoundError:
        raise RuntimeError("delta-spark is not installed: `make venv` installs requirements.txt") from None
MAVEN = os.environ.get("MAVEN_REPOSITORY", "https://repo1.maven.org/maven2")
JARS_DIR = Path(__file__).resolve().parent.parent / ".venv-jars"
DELTA_CONF = {
    "spark.sql.extensions": "io.delta.sql.DeltaSparkSessionExtension",
    "spark.sql.catalog.spark_catalog": "org.apache.spark.sql.delta.catalog.DeltaCatalog",
    # Tables are replaced by the batch (replaceWhere) or merged; a full-table overwrite of a
    # changed schema is the pipeline's own choice, never a silent evolution on append.
    "spark.databricks.delta.schema.autoMerge.enabled": "false",
}


def delta_jars(folder: Path = JARS_DIR) -> list[str]:
    """The Delta jars, downloaded once from Maven Central into `folder` and checked against its SHA-1.

    A direct download of two exact files rather than Spark's ``--packages``: Ivy resolves
    on every JVM start (and races when several JVMs share its cache), and needs the network
    each time; these files are fetched on first use and then read from disk.
    """
    import hashlib

    paths = []
    for coordinate in (f"{a}:{delta_version()}" for a in DELTA_ARTIFACTS):
        group, artifact, version = coordinate.split(":")
        name = f"{artifact}-{version}.jar"
        target = folder / name
        if not target.exists():
            folder.mkdir(parents=True, exist_ok=True)
            url = f"{MAVEN}/{group.replace('.', '/')}/{artifact}/{version}/{name}"
            try:
                with urllib.request.urlopen(url, timeout=120) as r:
                    data = r.read()
                with urllib.request.urlopen(url + ".sha1", timeout=60) as r:
                    expected = r.read().decode().split()[0].strip()
            except OSError as exc:
                raise RuntimeError(f"could not download {coordinate} from {url}: {exc}") from exc
            if hashlib.sha1(data).hexdigest() != expected:
                raise RuntimeError(f"{url}: SHA-1 mismatch (got {hashlib.sha1(data).hexdigest()}, "
                                   f"Maven Central says {expected})")
            tmp = target.with_suffix(f".{os.getpid()}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, target)
        paths.append(str(target))
    return paths


def delta_conf() -> dict:
    """What a local JVM needs for Delta: the jars and Delta's SQL extension and catalog."""
    return {"spark.jars": ",".join(delta_jars()), **DELTA_CONF}


def on_databricks() -> bool:
    return "DATABRICKS_RUNTIME_VERSION" in os.environ


def get_spark(app_name: str = "openssh-lakehouse"):
    from pyspark.sql import SparkSession

    if on_databricks():
        spark = SparkSession.getActiveSession() or SparkSession.builder.getOrCreate()
    elif os.environ.get("SPARK_REMOTE"):
        spark = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
    else:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        builder = SparkSession.builder.appName(app_name).master(os.environ.get("SPARK_MASTER", "local[2]"))
        for k, v in {**LOCAL_CONF, **delta_conf()}.items():
            builder = builder.config(k, v)
        spark = builder.getOrCreate()
    for k, v in SESSION_CONF.items():
        try:
            spark.conf.set(k, v)
        except Exception as exc:  # serverless compute allows only some settings; the rest are its defaults
            if not on_databricks():
                raise
            print(f"note: could not set {k} on this compute ({type(exc).__name__}); using its default")
    return spark


def spark_home() -> str:
    import pyspark

    return os.environ.get("SPARK_HOME") or str(Path(pyspark.__file__).parent)


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers the tests and tools start)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _die_with_parent() -> None:
    """In the child before exec (Linux): get SIGKILL when the process that started it dies, so a
    server never outlives a runner killed with SIGKILL (it would go on running, and committing,
    the killed run's work). Kept across exec (spark-submit ends in an exec of java)."""
    import ctypes

    PR_SET_PDEATHSIG = 1
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _java_env() -> dict:
    env = dict(os.environ, SPARK_HOME=spark_home(), SPARK_LOCAL_IP="127.0.0.1",
               PYSPARK_PYTHON=sys.executable)
    env.pop("SPARK_REMOTE", None)
    bin_dir = str(Path(sys.executable).parent)
    env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    if not shutil.which("java", path=env["PATH"]) and not env.get("JAVA_HOME"):
        raise RuntimeError("Java 17 is required: no `java` on PATH and JAVA_HOME is not set")
    return env


class ConnectServer:
    """A Spark Connect server on 127.0.0.1, started and stopped by process id."""

    def __init__(self, master: str = "local[2]", log_path: str | os.PathLike | None = None,
                 port: int | None = None, conf: dict | None = None):
        self.master = master
        self.port = port or free_port()
        self.log_path = Path(log_path) if log_path else None
        self.conf = {**LOCAL_CONF, **SESSION_CONF, **delta_conf(), **(conf or {})}
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"sc://127.0.0.1:{self.port}"

    def start(self, timeout: float = 120) -> "ConnectServer":
        cmd = [os.path.join(spark_home(), "bin", "spark-submit"), "--master", self.master,
               "--driver-memory", self.conf.pop("spark.driver.memory", "2g"),
               "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
               "--conf", f"spark.connect.grpc.binding.port={self.port}",
               "--conf", "spark.connect.grpc.binding.address=127.0.0.1"]
        for k, v in self.conf.items():
            cmd += ["--conf", f"{k}={v}"]
        cmd.append("spark-internal")
        out = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_java_env(),
                                     start_new_session=True,
                                     preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"Spark Connect server exited with code {self.proc.returncode}"
                                   + (f"; see {self.log_path}" if self.log_path else ""))
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                    return self
            except OSError:
                time.sleep(0.25)
        self.stop()
        raise RuntimeError(f"Spark Connect server did not listen on port {self.port} within {timeout:.0f} s")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class StandaloneCluster:
    """A Spark standalone cluster on 127.0.0.1: a master and workers from pyspark's own `spark-class`.

    For proving the pipeline does not depend on local mode: the Connect server (the driver)
    runs with ``--master spark://...`` and the work happens in executor JVMs on the workers.
    Every process is started in its own session and stopped by process id.
    """

    def __init__(self, workers: int = 2, cores: int = 1, memory: str = "1g", log_dir: str | os.PathLike | None = None):
        self.workers, self.cores, self.memory = workers, cores, memory
        self.log_dir = Path(log_dir) if log_dir else None
        self.port, self.ui_port = free_port(), free_port()
        self.procs: list[subprocess.Popen] = []
        self.work_dirs: list[Path] = []  # one per worker: an app-*/<executor>/ folder for each executor it ran

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def _spawn(self, name: str, *args: str) -> None:
        out = open(self.log_dir / f"{name}.log", "ab") if self.log_dir else subprocess.DEVNULL
        cmd = [os.path.join(spark_home(), "bin", "spark-class"), *args]
        self.procs.append(subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=_java_env(),
                                           start_new_session=True,
                                           preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None))

    def _status(self) -> dict:
        import json
        import urllib.request

        with urllib.request.urlopen(f"http://127.0.0.1:{self.ui_port}/json/", timeout=2) as r:
            return json.load(r)

    def alive_workers(self) -> int:
        return len([w for w in self._status().get("workers", []) if w.get("state") == "ALIVE"])

    def applications(self) -> list[dict]:
        """The applications the master has run or runs (its JSON status: name, cores, state)."""
        status = self._status()
        return status.get("completedapps", []) + status.get("activeapps", [])

    def start(self, timeout: float = 120) -> "StandaloneCluster":
        if self.log_dir:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        self._spawn("master", "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                    "--port", str(self.port), "--webui-port", str(self.ui_port))
        for i in range(self.workers):
            self.work_dirs.append(Path(tempfile.mkdtemp(prefix="spark-worker-")))
            self._spawn(f"worker-{i}", "org.apache.spark.deploy.worker.Worker", self.url, "--host", "127.0.0.1",
                        "--cores", str(self.cores), "--memory", self.memory, "--webui-port", str(free_port()),
                        "--work-dir", str(self.work_dirs[-1]))
        deadline, last = time.monotonic() + timeout, None
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.procs):
                self.stop()
                raise RuntimeError("a Spark master or worker exited during start"
                                   + (f"; see {self.log_dir}" if self.log_dir else ""))
            try:
                alive, last = self.alive_workers(), None
                if alive == self.workers:
                    return self
            except (OSError, ValueError) as exc:  # not up yet: while starting, the master's UI can answer HTML
                last = exc
            time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"{self.workers} workers did not register with {self.url} within {timeout:.0f} s"
                           + (f" (the master's UI at port {self.ui_port}: {type(last).__name__}: {last})" if last else ""))

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
