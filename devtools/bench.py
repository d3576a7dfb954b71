"""`python -m lib bench`: the pipeline's cost curve, beside what users would use instead.

For each requested size N it generates N deterministic synthetic lines (cached), then
measures on that one file, in one Spark Connect server:

* floor      Spark reading the text and writing it as Parquet (Bronze's bare cost);
* bronze     the Bronze stage (line numbers, lineage) into the lake;
* silver     the Silver parse (header, templates, typed fields) and its commit;
* features   the per-source-window aggregation;
* gold       events per hour, top sources and the final CSV;
* train      fitting the model on the lake's source-windows (cost ~ windows, not lines);
* python     the pure-Python parser over the same lines (one core);
* drain3     Drain3 (Loghub's settings) mining templates from the same lines (one core,
             in its own venv: its wheel pins old jsonpickle/cachetools).

Wall time, lines/s and peak resident memory per stage (VmHWM, reset before each stage)
of the JVM (Spark's driver and executors in local mode) and of the Python driver (this
process, the Spark Connect client, which holds the source-windows in pandas) are printed
as a table and written as JSON; the parsers report their own process's peak.
"""
from __future__ import annotations

import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

from devtools.drain3_probe import peak_mb

REPO = Path(__file__).resolve().parent.parent
DRAIN3_VENV = REPO / ".venv-drain3"
SEED = 11
WARM_UP_LINES = 20_000


def _peak_reset(pid: int | str) -> None:
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")  # resets VmHWM to the current RSS (Linux)
    except OSError:
        pass


def _machine() -> dict:
    mem = None
    try:
        mem = int(next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal")).split()[1])
    except (OSError, StopIteration):
        pass
    cpu = next((x.split(":", 1)[1].strip() for x in Path("/proc/cpuinfo").read_text().splitlines()
                if x.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else ""
    return {"cpus": os.cpu_count(), "cpu": cpu, "memory_gb": round(mem / 1024 / 1024, 1) if mem else None,
            "python": platform.python_version(), "platform": platform.platform()}


def dataset(n: int, folder: Path) -> Path:
    """N synthetic lines (seed fixed), generated once per size, in a child process (its memory is not the bench's)."""
    path = folder / f"synthetic-{n}.log"
    if not path.exists():
        subprocess.run([sys.executable, "-m", "lib", "generate", "--out", str(path), "--lines", str(n),
                        "--seed", str(SEED)], cwd=REPO, check=True, stdout=subprocess.DEVNULL)
    return path


def _timed(results: list | None, name: str, n: int, pid: int, fn, repeat: int = 1, **extra):
    """Run `fn` `repeat` times; record the median wall time and the peak memory over the runs of
    the JVM (Spark's driver and executors in local mode) and of this Python process (the client)."""
    _peak_reset(pid)
    _peak_reset("self")
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - t)
    dt = statistics.median(times)
    if results is not None:
        results.append({"stage": name, "lines": n, "seconds": round(dt, 3), "runs": [round(x, 3) for x in times],
                        "lines_per_s": round(n / dt) if dt else None, "jvm_peak_mb": peak_mb(pid),
                        "client_peak_mb": peak_mb("self"), **extra})
    return out


def python_parser_rate(path: Path, year: int) -> dict:
    """Lines/s of `lib.parser` over the file, in a fresh process (its own peak memory)."""
    code = ("import time, json; from lib import parser; from devtools.drain3_probe import peak_mb\n"
            f"t = time.perf_counter(); n = sum(1 for _ in parser.parse_lines(parser.read_lines({str(path)!r}), year={year}))\n"
            "dt = time.perf_counter() - t\n"
            "print(json.dumps({'lines': n, 'seconds': dt, 'peak_mb': peak_mb()}))")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def ensure_drain3() -> Path | None:
    """A venv with Drain3 in it (created once; `make bench` comes here too): its pinned deps would
    break the main venv's `pip check`. A failed install is retried on the next call."""
    python, stamp = DRAIN3_VENV / "bin" / "python", DRAIN3_VENV / ".installed"
    if not stamp.exists():
        if not python.exists():
            subprocess.run([sys.executable, "-m", "venv", str(DRAIN3_VENV)], check=True)
        r = subprocess.run([str(python), "-m", "pip", "install", "-q", "--disable-pip-version-check",
                            "-r", str(REPO / "requirements-drain3.txt")], capture_output=True, text=True)
        if r.returncode != 0:
            print(f"drain3 could not be installed: {r.stderr.strip().splitlines()[-1:]}", file=sys.stderr)
            return None
        stamp.touch()
    return python


def drain3_rate(path: Path) -> dict | None:
    python = ensure_drain3()
    if python is None:
        return None
    out = subprocess.run([str(python), str(Path(__file__).with_name("drain3_probe.py")), str(path)],
                         capture_output=True, text=True, check=True)
    return json.loads(out.stdout)


def run_bench(sizes: list[int], folder: Path, master: str = "local[2]", driver_memory: str = "2g",
              drain3: bool = True, python: bool = True, repeat: int = 3, server=None,
              warm_up_lines: int = WARM_UP_LINES) -> dict:
    """Measure every stage for each size; `server`: a running ConnectServer to use (else one is started and stopped)."""
    from datetime import datetime, timezone

    from pyspark.sql import SparkSession

    from lib import bronze, features, gold, model, silver, synth
    from lib.lake import Lake
    from lib.spark import SESSION_CONF, ConnectServer

    folder.mkdir(parents=True, exist_ok=True)
    own = server is None
    if own:
        server = ConnectServer(master=master, log_path=folder / "spark-connect.log",
                               conf={"spark.driver.memory": driver_memory}).start()
    spark = SparkSession.builder.remote(server.url).create()  # its own session: stopping it leaves others be
    for k, v in SESSION_CONF.items():
        spark.conf.set(k, v)
    pid = server.proc.pid
    jvm = _jvm_child(pid)
    results: list[dict] = []
    year = synth.DEFAULT_START.year

    def stages(n: int, record: list | None, repeat: int) -> Path:
        path = dataset(n, folder)
        lake = Lake.from_params(str(folder / f"lake-{n}"))
        for table in ("bronze", "silver", "quarantine"):
            lake.fs.remove(lake.path(table))
        batch = f"bench{n}"
        _timed(record, "floor", n, jvm, lambda: spark.read.option("lineSep", "\n").text(str(path))
               .write.mode("overwrite").parquet(str(folder / f"floor-{n}")), repeat)
        _timed(record, "bronze", n, jvm, lambda: lake.write_partition(
            bronze.to_bronze(bronze.read_text(spark, [str(path)]), batch, datetime.now(timezone.utc)),
            "bronze", batch), repeat)
        _timed(record, "silver", n, jvm, lambda: lake.write_silver(
            lake.read_table(spark, "bronze", batch), batch, year), repeat)
        events = lake.read_table(spark, "silver")
        _timed(record, "features", n, jvm, lambda: lake.write_table(features.spark_features(events), "features"),
               repeat)
        _timed(record, "gold", n, jvm, lambda: (
            lake.write_table(gold.events_hourly(events), "events_hourly"),
            lake.write_table(gold.top_sources(lake.read_table(spark, "features")), "top_sources"),
            lake.write_csv(gold.final_data(events), "final_data", "openssh_logs_final.csv",
                           order_by=gold.FINAL_ORDER)), repeat)
        rows = _timed(record, "to_pandas", n, jvm, lambda: lake.read_table(spark, "features").toPandas(), repeat)
        _timed(record, "train", n, jvm, lambda: model.fit(rows, contamination=0.1), repeat, windows=len(rows))
        return path

    try:
        stages(warm_up_lines, None, 1)  # JIT and code generation warm before anything is timed
        for n in sizes:
            path = stages(n, results, repeat)
            if python:
                r = python_parser_rate(path, year)
                results.append({"stage": "python_parser", "lines": n, "seconds": round(r["seconds"], 3),
                                "lines_per_s": round(n / r["seconds"]), "process_peak_mb": round(r["peak_mb"])})
            if drain3:
                r = drain3_rate(path)
                if r:
                    results.append({"stage": "drain3", "lines": n, "seconds": round(r["seconds"], 3),
                                    "lines_per_s": round(n / r["seconds"]), "templates": r["templates"],
                                    "process_peak_mb": round(r["peak_mb"])})
            print(_table([r for r in results if r["lines"] == n]), flush=True)
    finally:
        spark.stop()
        if own:
            server.stop()
    report = {"machine": _machine(), "master": server.master,
              "driver_memory": driver_memory if own else None, "repeat": repeat,
              "client_peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024),
              "results": results, "ratios": _ratios(results)}
    return report


def _jvm_child(pid: int) -> int:
    """spark-submit is a shell script that execs java; find the java process under it."""
    try:
        import psutil

        proc = psutil.Process(pid)
        javas = [p for p in [proc, *proc.children(recursive=True)] if "java" in p.name()]
        return javas[0].pid if javas else pid
    except Exception:  # psutil missing or the process vanished: measure what we have
        return pid


def _ratios(results: list[dict]) -> dict:
    out = {}
    for n in sorted({r["lines"] for r in results}):
        by = {r["stage"]: r for r in results if r["lines"] == n}
        if "silver" in by and "floor" in by:
            out[f"{n}: silver / floor (wall)"] = round(by["silver"]["seconds"] / by["floor"]["seconds"], 2)
        if "silver" in by and "drain3" in by:
            out[f"{n}: silver / drain3 (lines/s)"] = round(by["silver"]["lines_per_s"] / by["drain3"]["lines_per_s"], 2)
        if "python_parser" in by and "drain3" in by:
            out[f"{n}: python parser / drain3 (lines/s)"] = round(
                by["python_parser"]["lines_per_s"] / by["drain3"]["lines_per_s"], 2)
    return out


def _table(rows: list[dict]) -> str:
    """JVM MB: Spark's process; client MB: the Python driver, or the parser's own process."""
    head = f"{'lines':>10} {'stage':<14} {'seconds':>9} {'lines/s':>12} {'JVM MB':>8} {'client MB':>9}  notes"
    out = [head, "-" * len(head)]
    for r in rows:
        jvm, client = r.get("jvm_peak_mb"), r.get("client_peak_mb") or r.get("process_peak_mb")
        note = ", ".join(f"{k}={r[k]}" for k in ("windows", "templates") if k in r)
        out.append(f"{r['lines']:>10,} {r['stage']:<14} {r['seconds']:>9.2f} {r['lines_per_s'] or 0:>12,} "
                   f"{f'{jvm:.0f}' if jvm else '-':>8} {f'{client:.0f}' if client else '-':>9}  {note}")
    return "\n".join(out)


def incremental(batches: int, lines: int, folder: Path, master: str = "local[2]") -> dict:
    """`--incremental`: `batches` daily logs of `lines` lines into ONE lake, one `lib run` each,
    timing every run; then one run over all the files into a fresh lake (the full rebuild).

    The runs share one Spark Connect server (as a long-lived job cluster would), so the
    figures are the pipeline's own cost as the lake grows, not JVM start-up.
    """
    from datetime import timedelta

    from lib import synth
    from lib.runner import run
    from lib.spark import ConnectServer

    folder.mkdir(parents=True, exist_ok=True)
    logs = []
    for day in range(batches):
        path = folder / "input" / f"day{day + 1:02d}" / "auth.log"
        if not path.exists():
            synth.write(path, lines=lines, seed=SEED + day, start=synth.DEFAULT_START + timedelta(days=day))
        logs.append(path)
    runs = []
    for old in ("lake-incremental", "lake-full"):  # a lake left by an earlier bench would make every file "already in"
        shutil.rmtree(folder / old, ignore_errors=True)
    with ConnectServer(master=master, log_path=folder / "spark-connect.log") as server:
        lake = folder / "lake-incremental"
        for day, log in enumerate(logs, 1):
            summary = run([str(log)], str(lake), {"year": synth.DEFAULT_START.year}, spark_remote=server.url, html=False)
            runs.append({"run": day, "seconds": summary["seconds"], "notebooks": summary["notebook_seconds"]})
            print(f"  run {day:>3}: {summary['seconds']:7.1f} s  " +
                  "  ".join(f"{k} {v:.1f}" for k, v in summary["notebook_seconds"].items()), flush=True)
        full = run([str(p) for p in logs], str(folder / "lake-full"), {"year": synth.DEFAULT_START.year},
                   spark_remote=server.url, html=False)
    print(f"  full rebuild over {batches} files: {full['seconds']:.1f} s", flush=True)
    return {"machine": _machine(), "batches": batches, "lines_per_batch": lines, "runs": runs,
            "full_rebuild": {"seconds": full["seconds"], "notebooks": full["notebook_seconds"]},
            "last_over_first": round(runs[-1]["seconds"] / runs[0]["seconds"], 2)}


def main(args) -> int:
    folder = Path(args.out)
    if args.incremental:
        report = incremental(args.incremental, args.lines[0], folder / "incremental", master=args.master)
        path = folder / f"incremental-{args.incremental}x{args.lines[0]}.json"
        path.write_text(json.dumps(report, indent=2))
        print(f"run {len(report['runs'])} / run 1: {report['last_over_first']}\nwritten to {path}")
        return 0
    report = run_bench(args.lines, folder, master=args.master, driver_memory=args.driver_memory,
                       drain3=not args.no_drain3, python=not args.no_python, repeat=args.repeat)
    path = folder / f"bench-{'-'.join(str(n) for n in args.lines)}.json"
    path.write_text(json.dumps(report, indent=2))
    print()
    print(_table(report["results"]))
    print()
    for k, v in report["ratios"].items():
        print(f"  {k}: {v}")
    print(f"\nwritten to {path}")
    return 0
