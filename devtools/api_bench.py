"""`python -m devtools.api_bench`: /score latency and throughput with 1,000-line requests.

One client sends requests one after another (each a different slice of a generated log,
with attacks) as text/plain and as JSON, and reports p50/p95 latency and lines scored per
second. Without --url it starts what it needs (`devtools.devstack`: an MLflow server, a demo
champion, one uvicorn process) in a temporary folder and stops it afterwards.

    python -m devtools.api_bench [--requests 50] [--lines 1000] [--url URL --token TOKEN]
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import statistics
import sys
import tempfile
import time
from contextlib import contextmanager
from pathlib import Path

import httpx

from lib import synth

DISTINCT_BODIES = 10  # requests cycle through this many slices of the log, so no two in a row are equal


@contextmanager
def local_service(lines: int):
    """(url, token) of an API on a fresh local stack, stopped on exit."""
    from devtools import devstack

    with tempfile.TemporaryDirectory(prefix="api-bench-") as tmp:
        work = Path(tmp)
        tracking = devstack.start_mlflow(work)
        token = secrets.token_urlsafe(32)
        api = devstack.start_api(work, {"API_TOKEN": token, "MLFLOW_TRACKING_URI": tracking.url,
                                        "MODEL_PUBLIC_KEY": devstack.signing_key(work),
                                        "MAX_LINES": str(max(lines, 10_000)), "LOG_LEVEL": "WARNING"})
        try:
            tracking.wait()
            devstack.register_demo_models(tracking.url, work, count=1)
            api.wait("/ready")
            yield api.url, token
        finally:
            api.stop()
            tracking.stop()


def measure(url: str, token: str, requests: int = 50, lines: int = 1000, warmup: int = 3) -> list[dict]:
    """Latency and throughput of /score, one row per body format."""
    log, _ = synth.generate(lines * DISTINCT_BODIES, seed=7)
    slices = [log[i * lines:(i + 1) * lines] for i in range(DISTINCT_BODIES)]
    formats = {"text/plain": lambda s: {"content": ("\n".join(s) + "\n").encode(),
                                        "headers": {"Content-Type": "text/plain"}},
               "application/json": lambda s: {"json": {"lines": s}}}
    results = []
    with httpx.Client(base_url=url, headers={"Authorization": f"Bearer {token}"}, timeout=120) as client:
        for name, body in formats.items():
            bodies = [body(s) for s in slices]
            for i in range(warmup):
                client.post("/score", **bodies[i % len(bodies)]).raise_for_status()
            latencies = []
            started = time.perf_counter()
            for i in range(requests):
                t = time.perf_counter()
                client.post("/score", **bodies[i % len(bodies)]).raise_for_status()
                latencies.append(time.perf_counter() - t)
            elapsed = time.perf_counter() - started
            results.append({"format": name, "requests": requests, "lines_per_request": lines,
                            "p50_ms": round(statistics.median(latencies) * 1000, 1),
                            "p95_ms": round(statistics.quantiles(latencies, n=20)[18] * 1000, 1),
                            "lines_per_s": round(requests * lines / elapsed)})
    return results


def table(results: list[dict]) -> str:
    head = f"{'format':<18}{'requests':>9}{'lines/req':>10}{'p50 ms':>9}{'p95 ms':>9}{'lines/s':>10}"
    rows = [f"{r['format']:<18}{r['requests']:>9}{r['lines_per_request']:>10}{r['p50_ms']:>9.1f}"
            f"{r['p95_ms']:>9.1f}{r['lines_per_s']:>10}" for r in results]
    return "\n".join([head, *rows])


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m devtools.api_bench", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--url", help="a running API (default: start a local stack)")
    ap.add_argument("--token", default=os.environ.get("API_TOKEN"), help="its API_TOKEN (default: $API_TOKEN)")
    ap.add_argument("--requests", type=int, default=50, help="timed requests per format")
    ap.add_argument("--lines", type=int, default=1000, help="log lines per request")
    args = ap.parse_args(argv)
    if args.requests < 2:
        ap.error("--requests must be at least 2 (a p95 needs a few)")
    if args.url:
        if not args.token:
            ap.error("--url needs --token or $API_TOKEN")
        results = measure(args.url, args.token, args.requests, args.lines)
    else:
        with local_service(args.lines) as (url, token):
            results = measure(url, token, args.requests, args.lines)
    print(table(results))
    print(json.dumps(results))
    return 0


if __name__ == "__main__":
    sys.exit(main())
