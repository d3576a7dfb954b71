"""The local runner: the ADF pipeline's DAG, executed with papermill against local Spark.

`adf/pipeline.json` is the one definition of the chain. The runner reads its
DatabricksNotebook activities, orders them by `dependsOn`, resolves each
activity's `baseParameters` (the subset of ADF expressions the pipeline uses:
``@pipeline().parameters.X``, ``@activity('A').output.runOutput.K``, ``@concat``)
and executes ``notebooks/<name>.ipynb`` with those parameters. One Spark Connect
server serves every notebook. Each executed notebook is kept, with an HTML export,
in the run folder.
"""
from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path

from lib.adf import NOTEBOOKS, REPO, PipelineError, load_pipeline, notebook_activities, notebook_name, resolve
from lib.text import shown


# ------------------------------------------------------------ the run
def fingerprint(paths: list[Path]) -> str:
    """A batch id from the input's names and content (`lib.lake.batch_id_of`): the same files give the
    same batch, here and in raw_load on Databricks (`lib.bronze.batch_fingerprint`)."""
    from lib.lake import batch_id_of

    digests = []
    for p in paths:
        h = hashlib.sha256()
        with open(p, "rb") as f:
            for chunk in iter(lambda: f.read(1 << 20), b""):
                h.update(chunk)
        digests.append((p.name, h.hexdigest()))
    return batch_id_of(digests)


def input_files(inputs: list[str]) -> list[Path]:
    """The files behind the --input arguments (files, directories, globs); a clear error if none."""
    import glob

    files: list[Path] = []
    for item in inputs:
        matches = [Path(m) for m in sorted(glob.glob(item))] or ([Path(item)] if Path(item).exists() else [])
        if not matches:
            raise PipelineError(f"input not found: {item}")
        for m in matches:
            files += sorted(p for p in m.rglob("*") if p.is_file() and not p.name.startswith(".")) if m.is_dir() else [m]
    if not files:
        raise PipelineError(f"no input files in: {', '.join(inputs)}")
    return files


def land(files: list[Path], raw_dir: Path) -> Path:
    """Copy the input into the lake's landing folder (what `python -m lib upload` does on Azure),
    with `_sources.json` naming each copy's original, which Bronze keeps as `source_file`."""
    from lib.lake import SOURCES_MANIFEST

    raw_dir.mkdir(parents=True, exist_ok=True)
    names: dict[str, str] = {}
    for f in files:
        name, k = f.name, 1
        while name in names:  # the same file name from two folders (never a leading `_`: Spark skips those)
            k += 1
            name = f"{k}-{f.name}"
        names[name] = str(f.resolve())
        target = raw_dir / name
        if not (target.exists() and target.stat().st_size == f.stat().st_size):
            shutil.copy2(f, target)  # keeps the modification time: year inference anchors to it
    (raw_dir / SOURCES_MANIFEST).write_text(json.dumps(names, indent=2, sort_keys=True), encoding="utf-8")
    return raw_dir


LOCK_FILE = ".writer.lock"


@contextlib.contextmanager
def writer_lock(out: Path):
    """One run writes into an output folder (its lake and MLflow store) at a time.

    An exclusive `flock` on `<out>/.writer.lock`, held for the run and released by the kernel
    when the process ends, however it ends (a SIGKILLed run leaves no stale lock). A second run
    fails at once, naming the one that holds the lake, instead of replacing tables under it.
    """
    out.mkdir(parents=True, exist_ok=True)
    f = open(out / LOCK_FILE, "a+", encoding="utf-8")
    try:
        try:
            fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            f.seek(0)
            holder = f.read().strip() or "another process"
            raise PipelineError(f"another run is writing to {out}: {holder}; wait for it to end or use "
                                f"another --output") from None
        f.seek(0)
        f.truncate()
        f.write(f"pid {os.getpid()} since {datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ}\n")
        f.flush()
        yield
    finally:
        f.close()  # releases the lock


def _run_dir(out: Path) -> tuple[str, Path]:
    """A run folder of its own: the UTC second, suffixed when that second already has one."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ")
    for k in range(1, 1000):
        run_id = stamp if k == 1 else f"{stamp}-{k}"
        try:
            (out / "runs" / run_id).mkdir(parents=True)
            return run_id, out / "runs" / run_id
        except FileExistsError:
            continue
    raise PipelineError(f"no free run folder under {out / 'runs'} for {stamp}")


def _say(msg: str) -> None:
    print(msg, flush=True)


def run(inputs: list[str], output: str = "output", params: dict | None = None, spark_master: str = "local[2]",
        spark_remote: str | None = None, html: bool = True) -> dict:
    """Run the whole pipeline locally. Returns the summary; raises PipelineError on failure
    (also when another run holds the output folder: `writer_lock`)."""
    from lib.params import time_params

    try:  # before anything starts: a wrong year or zone would fail 25 s later, in silver_load
        time_params((params or {}).get("year", 0), (params or {}).get("timezone", "UTC"))
    except ValueError as exc:
        raise PipelineError(str(exc)) from None
    out = Path(output).resolve()
    with writer_lock(out):
        return _run(inputs, out, params, spark_master, spark_remote, html)


def _run(inputs: list[str], out: Path, params: dict | None, spark_master: str, spark_remote: str | None,
         html: bool) -> dict:
    import papermill as pm

    from lib.lake import Lake
    from lib.params import cast_like, declared_parameters
    from lib.spark import ConnectServer

    started = time.monotonic()
    run_id, run_dir = _run_dir(out)
    lake = Lake.from_params(str(out / "lake"))

    pipeline = load_pipeline()
    values = {k: v.get("defaultValue") for k, v in pipeline["properties"].get("parameters", {}).items()}
    values.update(lake_root=lake.root, storage_account="", tracking_uri=f"sqlite:///{out / 'mlflow.db'}",
                  repo_path=str(REPO))
    values.update(params or {})
    files = input_files(inputs)
    batch_id = values.get("batch_id") or fingerprint(files)
    values["batch_id"] = batch_id
    try:
        values["input_path"] = str(land(files, Path(lake.path("raw_logs", batch_id))))
    except OSError as exc:  # a full disk, a read-only folder: one line, not a traceback
        raise PipelineError(f"could not land the input in {lake.path('raw_logs', batch_id)}: {exc}") from None
    _say(f"run {run_id}: {len(files)} input file(s), batch {batch_id}, output {out}")

    server = None
    if not spark_remote:
        t = time.monotonic()
        server = ConnectServer(master=spark_master, log_path=run_dir / "spark-connect.log").start()
        spark_remote = server.url
        _say(f"  spark connect server on {spark_remote} ({spark_master}) up in {time.monotonic() - t:.1f} s")
    env_before = dict(os.environ)
    exit_file = run_dir / "notebook-exit.json"  # kernels start ahead of time: one path for all of them
    os.environ.update(NOTEBOOK_EXIT_FILE=str(exit_file), SPARK_REMOTE=spark_remote, PYTHONPATH=os.pathsep.join(
        [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    outputs: dict = {}
    timings: dict = {}
    pool = ThreadPoolExecutor(max_workers=1)
    activities = notebook_activities(pipeline)
    sockets = tempfile.mkdtemp(prefix="nbk")
    next_km = pool.submit(_started_kernel, sockets)
    name = "the runner"
    try:
        for i, activity in enumerate(activities):
            name = notebook_name(activity)
            declared = declared_parameters(NOTEBOOKS / f"{name}.ipynb")
            nb_params = {k: cast_like(resolve(v, values, outputs), declared[k]) if k in declared else
                         resolve(v, values, outputs)
                         for k, v in activity["typeProperties"].get("baseParameters", {}).items()}
            exit_file.unlink(missing_ok=True)
            executed = run_dir / f"{name}.ipynb"
            t = time.monotonic()
            km = next_km.result()
            # Start the next notebook's kernel while this one runs: kernels start in ~1-2 s.
            next_km = pool.submit(_started_kernel, sockets) if i + 1 < len(activities) else None
            try:
                pm.execute_notebook(str(NOTEBOOKS / f"{name}.ipynb"), str(executed), parameters=nb_params,
                                    cwd=str(NOTEBOOKS), kernel_name="python3", progress_bar=False,
                                    log_output=False, request_save_on_cell_execute=False,
                                    km=km)
            except pm.PapermillExecutionError as exc:
                timings[name] = time.monotonic() - t
                if html:
                    with contextlib.suppress(OSError):
                        _export_html(executed)
                report = _keep_report(lake.path("quality_reports", f"{batch_id}_report.html"), run_dir, started)
                raise PipelineError(f"{name} failed: {exc.ename}: {_first_line(exc.evalue)} "
                                    f"(see {executed}" + (f"; the analyst's report: {report}" if report else "")
                                    + ")") from None
            finally:
                _shutdown(km)
            timings[name] = time.monotonic() - t
            outputs[activity["name"]] = json.loads(exit_file.read_text()) if exit_file.exists() else {}
            exit_file.unlink(missing_ok=True)
            if html:
                _export_html(executed)
            _say(f"  ✓ {name:<22} {timings[name]:5.1f} s  {_brief(outputs[activity['name']])}")
    except OSError as exc:  # the run folder's own writes (executed notebooks, HTML): a full disk, say
        raise PipelineError(f"{name} failed: {exc.strerror or exc} writing {exc.filename or run_dir}") from None
    finally:
        if next_km is not None:
            _shutdown(next_km.result())
        pool.shutdown(wait=True)
        shutil.rmtree(sockets, ignore_errors=True)
        os.environ.clear()
        os.environ.update(env_before)
        if server:
            server.stop()
    report = _keep_report(outputs.get("validation", {}).get("report_html"), run_dir, started)
    summary = {"run_id": run_id, "batch_id": batch_id, "output": str(out), "run_folder": str(run_dir),
               "report": str(report) if report else None,
               "lake": lake.root, "tracking_uri": values["tracking_uri"], "seconds": round(time.monotonic() - started, 1),
               "notebook_seconds": {k: round(v, 1) for k, v in timings.items()}, "results": outputs}
    (run_dir / "summary.json").write_text(json.dumps(summary, indent=2, default=str))
    return summary


def _keep_report(path: str | None, run_dir: Path, since: float) -> Path | None:
    """The analyst's report the validation notebook wrote in the lake during this run, copied to
    ``<run folder>/report.html`` (None when this run wrote none)."""
    wall_start = time.time() - (time.monotonic() - since)
    if not path or not os.path.exists(path) or os.path.getmtime(path) < wall_start:
        return None
    target = run_dir / "report.html"
    shutil.copyfile(path, target)
    return target


def _started_kernel(socket_dir: str):
    """A started kernel on IPC sockets: local-only, no TCP ports, no plain-text warning.

    Started here rather than by papermill so that it can start while the previous notebook
    runs. `socket_dir` is short: Unix socket paths are limited to ~100 characters.
    """
    from jupyter_client.manager import KernelManager

    km = KernelManager(kernel_name="python3", transport="ipc", ip=f"{socket_dir}/k{time.monotonic_ns() % 10**9}")
    km.start_kernel(cwd=str(NOTEBOOKS))
    return km


def _shutdown(km) -> None:
    if km is not None and km.has_kernel:
        km.shutdown_kernel(now=True)


def _first_line(text: str) -> str:
    text = (text or "").strip()
    return text.splitlines()[0] if text else ""


def _brief(result: dict) -> str:
    keys = ("rows", "silver_rows", "quarantined", "feature_windows", "anomalies", "model_version",
            "promoted", "checks_passed")
    return ", ".join(f"{k}={result[k]}" for k in keys if k in result)


def _export_html(executed: Path) -> None:
    if not executed.exists():
        return
    import nbformat

    body, _ = _exporter().from_notebook_node(nbformat.read(executed, as_version=4))
    executed.with_suffix(".html").write_text(body, encoding="utf-8")


def _exporter():
    """nbconvert's HTML exporter, without the code of cells tagged ``remove-input`` (setup, not content:
    the reader sees their output, if any), as Jupyter Book and nbconvert's TagRemovePreprocessor do."""
    from nbconvert import HTMLExporter
    from traitlets.config import Config

    config = Config()
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove-input"}
    return HTMLExporter(config=config)


def print_summary(summary: dict, out=sys.stdout) -> None:
    r = summary["results"]
    raw, sil, gold, ml, val = (r.get(k, {}) for k in ("raw_load", "silver_load", "gold_load",
                                                        "ml_anomaly_detection", "validation"))
    published = val.get("published") or {}
    lines = [
        "",
        f"Done in {summary['seconds']} s — batch {summary['batch_id']}",
        f"  bronze      {raw.get('rows', '?')} lines",
        f"  silver      {sil.get('silver_rows', '?')} events ({sil.get('sshd_rows', '?')} sshd, "
        f"{sil.get('other_rows', '?')} other), {sil.get('quarantined', '?')} quarantined, "
        f"{sil.get('event_types', '?')} event types, {sil.get('suspicious', '?')} suspicious",
        f"  gold        {gold.get('final_rows', '?')} rows in the batch's openssh_logs_final.csv, "
        f"{gold.get('feature_windows', '?')} source-windows",
        f"  model       {ml.get('model_name', '?')} v{ml.get('model_version', '?')} "
        f"({'promoted to champion' if published.get('promoted') else 'challenger only'}), "
        f"champion v{published.get('model_version', ml.get('champion_version', '?'))}: "
        f"{ml.get('anomalies', '?')} anomalous source-windows",
        f"  validation  {val.get('checks_passed', '?')}/{val.get('checks', '?')} checks passed"
        + (f", warnings: {', '.join(val['warnings'])}" if val.get("warnings") else "") + f" — {val.get('report_md', '')}",
        f"  lake        {summary['lake']}",
        f"  final CSV   {ml.get('final_csv', gold.get('final_csv', '?'))}",
        f"  MLflow      {summary['tracking_uri']}",
        f"  notebooks   {summary['run_folder']} (executed .ipynb and .html)",
        f"  report      {summary.get('report') or 'none written'}",
        "",
        *answers(ml),
    ]
    print("\n".join(lines), file=out)


def answers(ml: dict) -> list[str]:
    """The two questions an analyst asks first: did anyone get in, and what are the worst incidents."""
    if "compromised" not in ml:
        return []
    got_in = [f"{shown(c['account'])} from {shown(c['source'])} at {shown(c['at'])}" for c in ml["compromised"]]
    lines = ["Compromised accounts: " + ("; ".join(got_in) if got_in else "none")]
    top = ml.get("top_incidents") or []
    lines.append("Top incidents:" + ("" if top else " none"))
    lines += [f"  {i['rank']}. [{i['severity']}] {i['kind']}: {shown(i['summary'])}" for i in top]
    return lines
