"""A local stack for tests and the benchmark: an MLflow tracking server, demo champions and the API.

Every part is a real process on 127.0.0.1, started on a free port and stopped by its
process id. Registering runs in a child process because MLflow's fluent API keeps
process-wide state (tracking URI, and the active experiment in MLFLOW_EXPERIMENT_ID)
that must not leak into the caller, a test session in particular.
"""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from lib.spark import free_port

REPO = Path(__file__).resolve().parent.parent


@dataclass
class Service:
    """A process serving HTTP at `url`, its output in `log`."""

    proc: subprocess.Popen
    url: str
    log: Path

    def wait(self, path: str = "/health", timeout: float = 90) -> "Service":
        """Until `path` answers 200; fails early, with the log's tail, if the process dies."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.url}: process exited with {self.proc.returncode}:\n{self.tail()}")
            try:
                if httpx.get(self.url + path, timeout=2).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"{self.url}{path} not answering 200 after {timeout:.0f} s:\n{self.tail()}")

    def tail(self, lines: int = 30) -> str:
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])

    def stop(self) -> None:
        """SIGTERM to the process (MLflow's server and uvicorn stop their children), SIGKILL its group if stuck."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)  # its own session: the group id is its pid
                self.proc.wait()


def _launch(cmd: list[str], log: Path, env: dict | None = None) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, cwd=REPO, start_new_session=True,
                                env={**os.environ, **(env or {})})


def start_mlflow(workdir: Path) -> Service:
    """An MLflow tracking server on a sqlite store in `workdir` (up in ~12 s)."""
    port = free_port()
    cmd = [sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{workdir / 'mlflow.db'}",
           "--default-artifact-root", str(workdir / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
           "--workers", "1"]
    # Job execution would start extra worker processes a test does not need.
    proc = _launch(cmd, workdir / "mlflow-server.log", {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"})
    return Service(proc, f"http://127.0.0.1:{port}", workdir / "mlflow-server.log")


def start_api(workdir: Path, env: dict) -> Service:
    """`uvicorn api.main:app` on a free port, configured by `env` (API_TOKEN, MLFLOW_TRACKING_URI, ...)."""
    port = free_port()
    cmd = [sys.executable, "-m", "uvicorn", "api.main:app", "--host", "127.0.0.1", "--port", str(port)]
    return Service(_launch(cmd, workdir / "api.log", env), f"http://127.0.0.1:{port}", workdir / "api.log")


def signing_key(workdir: Path) -> str:
    """The public key (MODEL_PUBLIC_KEY) of the signing key kept in `workdir`, made on first use."""
    from lib import signing

    return signing.public_key(signing.local_key(workdir))


def register_demo_models(tracking_uri: str, workdir: Path, count: int = 2, lines: int = 3000) -> list[str]:
    """Train `count` small models on generated logs, register them signed with `workdir`'s key
    (`signing_key`) and alias the first as champion.

    Returns the registered version numbers, in order.
    """
    out = subprocess.run([sys.executable, "-m", "devtools.devstack", tracking_uri, str(count), str(lines), str(workdir)],
                         cwd=REPO, capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"registering demo models failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _register(tracking_uri: str, count: int, lines: int, workdir: str) -> list[str]:
    import mlflow

    from lib import model, registry, signing

    client = registry.setup_mlflow(tracking_uri, None)
    versions = []
    for i in range(count):
        train, _, _ = model.synthetic_windows(lines, seed=100 + i)
        detector = model.fit(train, contamination=0.1, n_estimators=50, seed=i)
        evaluation, eval_events, _ = model.synthetic_windows(lines, seed=200 + i)
        metrics = model.evaluate(evaluation, detector.predict(evaluation), model.fail2ban_units(eval_events, 60), 60)
        with mlflow.start_run(run_name=f"demo-{i + 1}"):
            mlflow.log_params({"window_minutes": 60, "train_lines": lines, "seed": i})
            mlflow.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
            info = registry.log_model(detector, train, model.MODEL_NAME)
        versions.append(str(info.registered_model_version))
        signing.sign_version(client, model.MODEL_NAME, versions[-1], signing.local_key(workdir))
    client.set_registered_model_alias(model.MODEL_NAME, registry.CHAMPION, versions[0])
    return versions


if __name__ == "__main__":
    print(json.dumps(_register(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
