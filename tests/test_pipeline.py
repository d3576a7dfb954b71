"""The whole chain through the runner: outputs, re-runs, new batches, a killed run, bad input.

These are the heavy tests: each run executes the six notebooks (papermill, one kernel
each) against the session's Spark Connect server. Runs share output folders where the
behaviour under test allows it, so the model is trained once per folder and reused.
"""
import csv
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from pyspark.sql import functions as F

from lib import publish, quality, registry, synth
from lib.lake import TABLES, Lake
from lib.runner import PipelineError, run
from tests.conftest import REPO

pytestmark = pytest.mark.e2e
NOTEBOOKS = ["mount", "raw_load", "silver_load", "gold_load", "ml_anomaly_detection", "validation"]


def _run(spark_server, output, inputs, **params):
    return run([str(i) for i in inputs], str(output), {"year": 2026, **params},
               spark_remote=spark_server.url, html=True)


def _files(path: Path) -> dict:
    return {str(p.relative_to(path)): p.stat().st_mtime_ns for p in path.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def synthetic(spark_server, tmp_path_factory):
    base = tmp_path_factory.mktemp("synthetic")
    log, _ = synth.write(base / "input" / "day1.log", lines=4000, seed=21)
    summary = _run(spark_server, base / "out", [log])
    return base, log, summary


def test_chain_leaves_every_layer_and_artifact(synthetic, spark):
    base, log, summary = synthetic
    lake = Lake.from_params(summary["lake"])
    r = summary["results"]
    assert r["raw_load"]["rows"] == 4000
    assert r["silver_load"]["silver_rows"] + r["silver_load"]["quarantined"] == 4000
    assert r["validation"]["checks_passed"] >= r["validation"]["checks"] - 1  # drift may warn
    assert r["ml_anomaly_detection"]["promoted"] is True and r["ml_anomaly_detection"]["anomalies"] > 0
    # the run's answers are the incidents table's: who got in, and the top incidents in rank order
    found = lake.read_table(spark, "incidents").toPandas()
    got_in = found[found["kind"] == "compromise"].sort_values("rank")
    assert [c["account"] for c in r["ml_anomaly_detection"]["compromised"]] == list(got_in["account"])
    top = found.sort_values("rank").head(len(r["ml_anomaly_detection"]["top_incidents"]))
    assert [i["summary"] for i in r["ml_anomaly_detection"]["top_incidents"]] == list(top["summary"])
    for nb in NOTEBOOKS:
        assert (Path(summary["run_folder"]) / f"{nb}.ipynb").exists()
        assert (Path(summary["run_folder"]) / f"{nb}.html").exists()
    # the executed notebooks read as reports: no warnings or progress bars in them, the ML one with its charts
    import nbformat

    for nb in NOTEBOOKS:
        cells = nbformat.read(Path(summary["run_folder"]) / f"{nb}.ipynb", as_version=4).cells
        noise = [o.text[:200] for c in cells if c.cell_type == "code" for o in c.outputs
                 if o.output_type == "stream" and o.name == "stderr"
                 and any(w in o.text for w in ("Warning", "WARNING", "it/s]"))]
        assert noise == [], (nb, noise)
        if nb == "ml_anomaly_detection":
            assert sum("image/png" in o.get("data", {}) for c in cells if c.cell_type == "code"
                       for o in c.outputs) >= 2
        # the exported page: setup cells' code hidden, content kept, no warning box
        page = (Path(summary["run_folder"]) / f"{nb}.html").read_text(encoding="utf-8")
        assert "lib.notebook" not in page and "finish</span>" in page and "Warning" not in page, nb
        if nb in ("ml_anomaly_detection", "gold_load", "silver_load"):
            assert page.count('src="data:image/png;base64,') >= (2 if nb == "ml_anomaly_detection" else 1), nb
    silver_sshd = lake.read_table(spark, "silver").where("category = 'sshd'").count()
    with open(lake.final_csv, newline="", encoding="utf-8") as f:  # one file, rows in file order
        rows = list(csv.DictReader(f))
    assert len(rows) == silver_sshd and {"anomaly_score", "is_anomaly"} <= set(rows[0])
    assert rows[0]["timestamp"].endswith("Z")
    order = [(r["source_file"], int(r["line_number"])) for r in rows]
    assert order == sorted(order)
    anomalies = lake.read_table(spark, "anomalies")
    assert anomalies.where("is_anomaly").count() == r["ml_anomaly_detection"]["anomalies"]
    assert json.loads(Path(r["validation"]["report"]).read_text())["passed"] is True
    # Published once validation passed: the versions readers see, the seed's CSV = the batch's, the champion.
    published = publish.latest(spark, lake)
    assert published["anomalies_version"] == lake.version(spark, "anomalies")
    assert Path(lake.final_csv).read_bytes() == Path(lake.batch_csv(summary["batch_id"])).read_bytes()
    assert published["model_version"] == str(r["ml_anomaly_detection"]["model_version"]) == \
        str(r["validation"]["published"]["promoted"])
    # Every lake table is a Delta table with a history, and nothing else sits beside them.
    tables = [t for t, (layer, sub) in TABLES.items() if sub and t not in ("raw_logs", "quality_reports", "final_data")]
    for t in tables:
        assert lake.history(spark, t), t
    assert {p.name for p in Path(lake.path("anomalies")).parent.iterdir()} == \
        {Path(lake.path(t)).name for t in tables if TABLES[t][1].startswith("business_reports/")}


BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
VIEWPORTS = {"laptop": (1280, 800), "small-laptop": (1024, 768)}


def _browser() -> str:
    found = [shutil.which(b) for b in BROWSERS if shutil.which(b)]
    if not found:
        pytest.fail(f"no Chromium on PATH ({', '.join(BROWSERS)}): `make chromium` installs Debian's")
    return found[0]


def test_the_report_reads_right_in_a_real_browser(synthetic):
    """Headless Chromium shows the run's report.html as a person would: the compromises first, with the
    run's answer in them, every chart loaded, nothing wider than a laptop screen, no console error.
    Screenshots go to the run folder (CI keeps them)."""
    from playwright.sync_api import sync_playwright

    _, _, summary = synthetic
    page_path = Path(summary["report"])
    assert page_path == Path(summary["run_folder"]) / "report.html" and page_path.exists()
    assert Path(summary["results"]["validation"]["report_html"]).read_bytes() == page_path.read_bytes()
    compromised = [c["account"] for c in summary["results"]["ml_anomaly_detection"]["compromised"]]
    assert compromised, "the synthetic log holds compromises"
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=_browser(), args=[
            "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
            "--disable-sync", "--no-first-run"])
        try:
            for name, (width, height) in VIEWPORTS.items():
                page = browser.new_page(viewport={"width": width, "height": height})
                errors = []
                page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.on("requestfailed", lambda r: errors.append(f"request failed: {r.url[:80]}"))
                page.goto(page_path.as_uri(), wait_until="load")
                seen = page.evaluate("""() => ({
                    sections: [...document.querySelectorAll('main > section, main > div > section')].map(s => s.id),
                    firstText: document.querySelector('main section').innerText,
                    images: [...document.images].map(i => i.complete && i.naturalWidth > 0),
                    scrollWidth: document.documentElement.scrollWidth,
                    overflowing: [...document.querySelectorAll('main *')].filter(
                        e => e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName),
                })""")
                page.screenshot(path=str(page_path.with_name(f"report-{name}.png")), full_page=True)
                page.close()
                assert seen["sections"][0] == "compromises", name
                assert all(a in seen["firstText"] for a in compromised), (name, seen["firstText"][:300])
                assert len(seen["images"]) >= 4 and all(seen["images"]), (name, seen["images"])
                assert seen["scrollWidth"] <= width and seen["overflowing"] == [], (name, seen["overflowing"][:10])
                assert errors == [], (name, errors)
        finally:
            browser.close()
    assert all(page_path.with_name(f"report-{n}.png").stat().st_size > 10_000 for n in VIEWPORTS)


def test_every_dashboard_query_runs_on_the_runs_gold_tables(synthetic, spark):
    """Each dataset of dashboards/*.lvdash.json, its ADLS gold path pointed at the run's lake, runs on
    local Spark; so does each widget's query over it (fields and aggregates, grouped as the dashboard
    groups them); and the compromises the dashboard shows are the run's answer."""
    _, _, summary = synthetic
    lake = Lake.from_params(summary["lake"])
    boards = sorted((REPO / "dashboards").glob("*.lvdash.json"))
    assert boards
    aggregate = re.compile(r"^(SUM|COUNT|AVG|MIN|MAX)\(", re.I)
    for board in boards:
        spec = json.loads(board.read_text())
        gold = "abfss://gold@${STORAGE_ACCOUNT}.dfs.core.windows.net"
        results = {}
        for ds in spec["datasets"]:
            sql = "".join(ds["queryLines"])
            assert gold in sql, ds["name"]
            results[ds["name"]] = spark.sql(sql.replace(gold, lake.layer("gold")))
            results[ds["name"]].toPandas()
        widgets = [item["widget"] for p in spec["pages"] for item in p["layout"] if "queries" in item["widget"]]
        assert {q["query"]["datasetName"] for w in widgets for q in w["queries"]} == set(results), board.name
        for w in widgets:
            for q in w["queries"]:
                fields = q["query"]["fields"]
                df = results[q["query"]["datasetName"]]
                exprs = [F.expr(f["expression"].replace("`*`", "*")).alias(f["name"]) for f in fields]
                keys = [F.expr(f["expression"]).alias(f["name"]) for f in fields if not aggregate.match(f["expression"])]
                out = df.select(*exprs) if q["query"]["disaggregated"] or len(keys) == len(fields) \
                    else df.groupBy(*keys).agg(*[e for e, f in zip(exprs, fields) if aggregate.match(f["expression"])])
                assert out.toPandas() is not None, w["name"]
                encoded = w["spec"]["encodings"]
                names = [c["fieldName"] for c in encoded.get("columns", [])] + \
                    [v["fieldName"] for k, v in encoded.items() if k != "columns"]
                assert set(names) <= {f["name"] for f in fields}, w["name"]
        if "compromises" in results:
            shown = [r["account"] for r in results["compromises"].collect()]
            assert shown == [c["account"] for c in summary["results"]["ml_anomaly_detection"]["compromised"]]


def test_every_table_a_run_writes_is_the_registry_table(synthetic, spark):
    """Columns, their order and types, and partition columns as `lib.tables` declares them."""
    from lib import tables

    lake = Lake.from_params(synthetic[2]["lake"])
    for name, table in tables.TABLES.items():
        assert lake.is_delta(name) == table.delta, name
        if not table.delta:
            continue
        written = lake.read_table(spark, name).schema
        assert [(f.name, f.dataType.simpleString()) for f in written.fields] == list(table.types.items()), name
        detail = spark.sql(f"DESCRIBE DETAIL delta.`{lake.path(name)}`").select("partitionColumns").first()[0]
        assert tuple(detail) == table.partition_by, name


def test_champion_loads_and_scores_a_gold_feature_frame(synthetic, spark):
    import mlflow

    from lib import features, model

    _, _, summary = synthetic
    mlflow.set_tracking_uri(summary["tracking_uri"])
    mlflow.set_registry_uri(summary["tracking_uri"])
    champion = mlflow.pyfunc.load_model("models:/ssh-anomaly-model@champion")
    frame = Lake.from_params(summary["lake"]).read_table(spark, "features").toPandas()
    out = champion.predict(frame[list(features.MODEL_FEATURES)])
    assert len(out) == len(frame) and out["is_anomaly"].sum() == summary["results"]["ml_anomaly_detection"]["anomalies"]
    run = mlflow.MlflowClient().get_run(registry.alias_version(mlflow.MlflowClient(), "ssh-anomaly-model", "champion").run_id)
    assert model.gate_failures(run.data.metrics, model.DEFAULT_GATE) == [] and "recall_low_and_slow" in run.data.metrics
    assert run.data.metrics["incident_compromise_recall"] == 1.0
    artifacts = {a.path for a in mlflow.MlflowClient().list_artifacts(run.info.run_id)}
    assert {"score_histogram.png", "per_kind_recall.png", "per_kind_recall.json", "features.json"} <= artifacts


def test_rerunning_a_batch_changes_nothing(synthetic, spark, spark_server):
    import mlflow

    base, log, summary = synthetic
    lake = Lake.from_params(summary["lake"])
    before = quality.lake_checksums(spark, lake)
    again = _run(spark_server, base / "out", [log])
    assert again["batch_id"] == summary["batch_id"]
    assert quality.lake_checksums(spark, lake) == before
    for t in ("bronze", "silver"):  # the re-run replaced its batch: a WRITE over that batch, no append
        last = lake.history(spark, t)[0]
        assert (last["operation"], last["operationParameters"]["mode"]) == ("WRITE", "Overwrite")
        assert summary["batch_id"] in last["operationParameters"]["predicate"]
    assert again["results"]["ml_anomaly_detection"]["model_version"] == \
        summary["results"]["ml_anomaly_detection"]["model_version"]
    client = mlflow.MlflowClient(summary["tracking_uri"])
    assert len(client.search_model_versions("name='ssh-anomaly-model'")) == 1
    assert lake.read_table(spark, "monitoring").count() == 1


def test_a_new_batch_adds_partitions_and_leaves_the_old_ones(synthetic, spark, spark_server):
    base, _, summary = synthetic
    lake = Lake.from_params(summary["lake"])
    first = f"batch_id={summary['batch_id']}"
    untouched = {t: _files(Path(lake.path(t, first))) for t in ("bronze", "silver", "quarantine")}
    log2, _ = synth.write(base / "input" / "day2.log", lines=3000, seed=22,
                          start=synth.DEFAULT_START.replace(day=9))
    second = _run(spark_server, base / "out", [log2])
    assert second["batch_id"] != summary["batch_id"]
    for t in ("bronze", "silver", "quarantine"):
        assert _files(Path(lake.path(t, first))) == untouched[t]
        if t == "quarantine":  # this batch has no quarantined lines, so no quarantine rows
            continue
        assert lake.batches(spark, t) == sorted([summary["batch_id"], second["batch_id"]])
        # The second batch was written as a replace of that batch alone, not of the table.
        last = lake.history(spark, t)[0]
        assert last["operation"] == "WRITE" and second["batch_id"] in last["operationParameters"]["predicate"], t
    silver_events = lake.read_table(spark, "silver").where("category = 'sshd'").agg(F.sum("repeat_count")).first()[0]
    gold_events = lake.read_table(spark, "events_hourly").where("category = 'sshd'").agg(F.sum("events")).first()[0]
    assert gold_events == silver_events
    assert lake.read_table(spark, "bronze").count() == 7000


def test_a_run_killed_during_silver_leaves_the_lake_consistent(synthetic, spark, spark_server):
    base, _, summary = synthetic
    out = base / "out"
    lake = Lake.from_params(summary["lake"])
    log3, _ = synth.write(base / "input" / "day3.log", lines=40_000, seed=23,
                          start=synth.DEFAULT_START.replace(day=20))
    before = {t: quality.table_checksum(lake.read_table(spark, t)) for t in ("silver", "quarantine", "features")}
    # The run starts its own Spark Connect server (as `make run` does): killing the run must kill it too,
    # or the server would finish, and commit, the killed run's write.
    cmd = [sys.executable, "-m", "lib", "run", "--input", str(log3), "--output", str(out), "--year", "2026",
           "--no-html"]
    proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    known = set(os.listdir(lake.path("silver")))
    deadline = time.monotonic() + 240
    while not set(os.listdir(lake.path("silver"))) - known:  # the new batch's first data files
        assert proc.poll() is None and time.monotonic() < deadline, "silver never started writing"
        time.sleep(0.02)
    started = psutil.Process(proc.pid).children(recursive=True)
    assert any("SparkConnectServer" in " ".join(c.cmdline()) for c in started if c.is_running())
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    _, alive = psutil.wait_procs(started, timeout=30)
    assert not alive, f"left running after the run was killed: {[c.cmdline()[:3] for c in alive]}"
    # The previous version is there, readable and consistent; the half-written batch is not visible.
    assert {t: quality.table_checksum(lake.read_table(spark, t)) for t in before} == before
    assert len(lake.batches(spark, "silver")) == 2 and len(lake.batches(spark, "bronze")) == 3
    for batch in lake.batches(spark, "silver"):
        b = lake.read_table(spark, "bronze", batch).count()
        s = lake.read_table(spark, "silver", batch).count()
        q = lake.read_table(spark, "quarantine", batch).count()
        assert b == s + q
    # The next run completes.
    done = _run(spark_server, out, [log3])
    assert done["results"]["silver_load"]["silver_rows"] + done["results"]["silver_load"]["quarantined"] == 40_000
    assert len(lake.batches(spark, "silver")) == 3


def _accounted(spark, lake) -> dict:
    """Per batch in Bronze: its lines, and its Silver + quarantine rows (0 before silver_load committed)."""
    out = {}
    for batch in lake.batches(spark, "bronze"):
        parsed = sum(lake.read_table(spark, t, batch).count() for t in ("silver", "quarantine")
                     if lake.read_table(spark, t) is not None)
        out[batch] = (lake.read_table(spark, "bronze", batch).count(), parsed)
    return out


def _published(spark, lake, client) -> tuple:
    row = publish.latest(spark, lake)
    champion = registry.alias_version(client, "ssh-anomaly-model", registry.CHAMPION)
    return (row and {k: row[k] for k in ("batch_id", "anomalies_version", "model_version", "table_versions")},
            Path(lake.final_csv).read_bytes(), champion and champion.version)


def test_a_run_killed_at_every_stage_boundary_publishes_nothing_and_the_next_run_completes(synthetic, spark,
                                                                                         spark_server, tmp_path):
    """SIGKILL of the runner right after each notebook in turn (each time a new run of the same new batch):
    readers keep the previous publication, no batch is half-parsed, and the run after the last kill
    publishes the new batch with every line accounted for once."""
    import mlflow

    base, _, summary = synthetic
    out = tmp_path / "out"
    shutil.copytree(base / "out", out, ignore=shutil.ignore_patterns("runs"))  # lake, registry, signing key
    lake = Lake.from_params(str(out / "lake"))
    client = mlflow.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    log, _ = synth.write(tmp_path / "day5.log", lines=2000, seed=25, start=synth.DEFAULT_START.replace(day=25))
    before = _published(spark, lake, client)
    assert before[0] is not None and before[2] is not None
    cmd = [sys.executable, "-m", "lib", "run", "--input", str(log), "--output", str(out), "--year", "2026",
           "--no-html", "--spark-remote", spark_server.url]
    for stage in NOTEBOOKS[:-1]:
        proc = subprocess.Popen(cmd, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        seen = []
        for line in proc.stdout:
            seen.append(line)
            if line.strip().startswith(f"✓ {stage} "):
                os.killpg(proc.pid, signal.SIGKILL)
                break
        proc.wait()
        assert proc.returncode == -signal.SIGKILL, f"{stage} never finished: {''.join(seen)[-2000:]}"
        assert _published(spark, lake, client) == before, f"published after {stage}"
        counts = _accounted(spark, lake)
        assert all(parsed in (0, lines) for lines, parsed in counts.values()), (stage, counts)
    done = _run(spark_server, out, [log])
    after = _published(spark, lake, client)
    assert after[0]["batch_id"] == done["batch_id"] != before[0]["batch_id"]
    assert after[0]["model_version"] == str(after[2])  # the champion is the model the publication names
    assert after[1] == Path(lake.batch_csv(done["batch_id"])).read_bytes()
    counts = _accounted(spark, lake)
    assert counts[done["batch_id"]] == (2000, 2000)
    assert all(lines == parsed for lines, parsed in counts.values()), counts
    assert lake.read_table(spark, "bronze").count() == sum(lines for lines, _ in counts.values())


@pytest.fixture
def small_disk(tmp_path):
    """A tmpfs (it fills up for real: ENOSPC from the kernel), unmounted afterwards."""
    where = tmp_path / "disk"
    where.mkdir()
    proc = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64m", "tmpfs", str(where)], capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({proc.stderr.strip()}): needs root or CAP_SYS_ADMIN")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=True)


def test_a_full_disk_fails_the_run_loudly_and_the_run_after_it_completes(synthetic, spark, spark_server, small_disk,
                                                                         tmp_path):
    import mlflow

    base, _, _ = synthetic
    out = small_disk / "out"
    shutil.copytree(base / "out", out, ignore=shutil.ignore_patterns("runs"))
    lake = Lake.from_params(str(out / "lake"))
    client = mlflow.MlflowClient(f"sqlite:///{out / 'mlflow.db'}")
    log, _ = synth.write(tmp_path / "day6.log", lines=30_000, seed=26, start=synth.DEFAULT_START.replace(day=27))
    before = _published(spark, lake, client)
    old_batches = lake.batches(spark, "bronze")
    tables = {t: quality.table_checksum(lake.read_table(spark, t)) for t in ("bronze", "silver", "quarantine")}
    used = shutil.disk_usage(small_disk).used
    # Room for the landed copy of the input and a little more: the lake's writes run out of space.
    room = used + log.stat().st_size + (1 << 20)
    subprocess.run(["mount", "-o", f"remount,size={room // 4096 * 4096 + 4096}", str(small_disk)], check=True)
    with pytest.raises(PipelineError) as err:
        _run(spark_server, out, [log])
    assert str(err.value).split(" failed: ")[0] in NOTEBOOKS, err.value
    assert _published(spark, lake, client) == before
    for t, checksum in tables.items():  # the earlier batches: all there, unchanged
        assert quality.table_checksum(lake.read_table(spark, t).where(F.col("batch_id").isin(old_batches))) == checksum
    assert all(parsed in (0, lines) for lines, parsed in _accounted(spark, lake).values())
    subprocess.run(["mount", "-o", "remount,size=256m", str(small_disk)], check=True)
    done = _run(spark_server, out, [log])
    counts = _accounted(spark, lake)
    assert counts[done["batch_id"]] == (30_000, 30_000)
    assert all(lines == parsed for lines, parsed in counts.values()), counts
    assert _published(spark, lake, client)[0]["batch_id"] == done["batch_id"]


def test_a_corrupted_silver_table_fails_validation_naming_the_check(synthetic, spark, spark_server, tmp_path):
    import papermill as pm

    import mlflow

    _, _, summary = synthetic
    copy = tmp_path / "lake"
    shutil.copytree(summary["lake"], copy)
    lake = Lake.from_params(str(copy))
    store = f"sqlite:///{tmp_path / 'mlflow.db'}"
    shutil.copy(summary["tracking_uri"].removeprefix("sqlite:///"), tmp_path / "mlflow.db")
    # MLflow's registry looks the logged model up through the global tracking URI, whatever the client's.
    mlflow.set_tracking_uri(store)
    mlflow.set_registry_uri(store)
    client = mlflow.MlflowClient(store, store)
    champion = registry.alias_version(client, "ssh-anomaly-model", registry.CHAMPION)
    # A new version proposed for champion by this batch's ML run ...
    proposed = client.create_model_version("ssh-anomaly-model", champion.source, champion.run_id,
                                           model_id=champion.model_id or champion.source.removeprefix("models:/"))
    publish.propose(client, "ssh-anomaly-model", proposed.version, summary["batch_id"])
    before = (publish.latest(spark, lake), Path(lake.final_csv).read_bytes())
    # ... and someone deletes Silver rows behind the pipeline's back (a valid Delta commit).
    spark.sql(f"DELETE FROM delta.`{lake.path('silver')}` WHERE batch_id = '{summary['batch_id']}' AND line_number % 7 = 0")
    env = dict(os.environ, SPARK_REMOTE=spark_server.url)
    old = os.environ.copy()
    os.environ.update(env)
    try:
        with pytest.raises(pm.PapermillExecutionError) as err:
            pm.execute_notebook(str(REPO / "notebooks" / "validation.ipynb"), str(tmp_path / "v.ipynb"),
                                parameters={"lake_root": str(copy), "batch_id": summary["batch_id"],
                                            "tracking_uri": store, "year": 2026},
                                cwd=str(REPO / "notebooks"), kernel_name="python3", progress_bar=False)
    finally:
        os.environ.clear()
        os.environ.update(old)
    assert err.value.ename == "QualityError"
    assert "every line accounted for: bronze = silver + quarantine: bronze 4000 vs silver" in err.value.evalue
    # Nothing was published: readers see the previous versions, the previous CSV and the previous champion.
    assert (publish.latest(spark, lake), Path(lake.final_csv).read_bytes()) == before
    assert registry.alias_version(client, "ssh-anomaly-model", registry.CHAMPION).version == champion.version
    assert publish.pending(client, "ssh-anomaly-model", summary["batch_id"]).version == proposed.version


@pytest.fixture(scope="module")
def loghub_run(spark_server, loghub_log, tmp_path_factory):
    out = tmp_path_factory.mktemp("loghub")
    return out, _run(spark_server, out, [loghub_log], year=2024)


def test_loghub_openssh_2k_end_to_end(loghub_run, spark):
    _, summary = loghub_run
    r = summary["results"]
    assert r["raw_load"]["rows"] == 2000
    assert (r["silver_load"]["silver_rows"], r["silver_load"]["quarantined"]) == (2000, 0)
    assert r["silver_load"]["event_types"] == 26
    lake = Lake.from_params(summary["lake"])
    silver = lake.read_table(spark, "silver")
    assert dict(silver.dtypes)["timestamp"] == "timestamp" and silver.where("timestamp is null").count() == 0
    assert silver.agg(F.min("timestamp")).first()[0].year == 2024
    flags = {r.src: r.is_anomaly for r in lake.read_table(spark, "anomalies").collect()}
    assert flags["183.62.140.253"] is True and flags["119.137.62.142"] is False


def test_binary_input_is_quarantined_and_stops_the_gate(loghub_run, spark_server, tmp_path):
    out, _ = loghub_run
    junk = tmp_path / "firmware.bin"
    junk.write_bytes(bytes(range(256)) * 400)
    with pytest.raises(PipelineError, match=r"validation failed: .*quarantined share under threshold") as failed:
        _run(spark_server, out, [junk])
    # the failed batch has its analyst's report too, saying why the gate closed
    report = Path(re.search(r"the analyst's report: (\S+report\.html)", str(failed.value))[1])
    health = report.read_text(encoding="utf-8").split('<section id="health"')[1]
    assert "FAILED" in health and "quarantined share under threshold" in health


def test_a_day_without_sshd_lines_and_a_day_with_nothing_new_run_to_the_end(loghub_run, spark, spark_server,
                                                                           tmp_path):
    """Quiet days are normal: a log of cron lines only, then the same bytes landed again under
    another name (nothing new), each run through validation and is published."""
    out, _ = loghub_run
    cron = tmp_path / "cron.log"
    cron.write_text("".join(f"Mar  4 {h:02d}:{m:02d}:01 web1 CRON[{1000 + 60 * h + m}]: pam_unix(cron:session): "
                            "session opened for user root(uid=0) by (uid=0)\n" for h in range(24) for m in range(0, 60, 5)))
    quiet = _run(spark_server, out, [cron], year=2024)
    r = quiet["results"]
    assert (r["raw_load"]["rows"], r["silver_load"]["sshd_rows"], r["silver_load"]["other_rows"]) == (288, 0, 288)
    assert (r["ml_anomaly_detection"]["scored"], r["gold_load"]["final_rows"]) == (0, 0)
    lake = Lake.from_params(quiet["lake"])
    assert quiet["batch_id"] in lake.batches(spark, "published")
    assert publish.latest(spark, lake)["anomalies_version"] == lake.version(spark, "anomalies")
    again = tmp_path / "cron.log.1"
    shutil.copy2(cron, again)
    nothing = _run(spark_server, out, [again], year=2024, batch_id="cron-again")  # same bytes: a new batch by name
    n = nothing["results"]
    assert (n["raw_load"]["rows"], n["raw_load"]["lines_read"], n["raw_load"]["already_ingested"]) == (0, 288, 288)
    assert n["validation"]["checks_passed"] >= n["validation"]["checks"] - 1  # drift may warn
    assert publish.latest(spark, lake)["anomalies_version"] == lake.version(spark, "anomalies")


def test_empty_and_missing_input_are_one_line_errors(spark_server, tmp_path):
    empty = tmp_path / "empty.log"
    empty.write_bytes(b"")
    with pytest.raises(PipelineError) as err:
        _run(spark_server, tmp_path / "out", [empty])
    assert str(err.value).startswith("raw_load failed: ValueError: the input has no lines") and "\n" not in str(err.value)
    with pytest.raises(PipelineError, match="^input not found: "):
        _run(spark_server, tmp_path / "out", [tmp_path / "missing.log"])


def test_cli_reports_failure_in_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "lib", "run", "--input", str(tmp_path / "nope.log"),
                        "--output", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True)
    assert r.returncode == 1 and r.stderr.strip() == f"error: input not found: {tmp_path / 'nope.log'}"


def test_a_grown_log_adds_only_its_new_lines_and_gold_equals_one_batch(spark, spark_server, tmp_path):
    """The user's case: a log file run, then run again after it grew. The second run loads the
    new lines only, and every gold table equals what one run over the grown file gives."""
    lines, _ = synth.generate(300, seed=31, start=synth.DEFAULT_START)
    log = tmp_path / "input" / "auth.log"
    log.parent.mkdir(parents=True)
    log.write_text("\n".join(lines[:280]) + "\n")
    first = _run(spark_server, tmp_path / "grown", [log])
    log.write_text("\n".join(lines) + "\n")
    second = _run(spark_server, tmp_path / "grown", [log])
    r = second["results"]["raw_load"]
    assert (r["rows"], r["lines_read"], r["already_ingested"]) == (20, 300, 280)
    assert first["results"]["raw_load"]["rows"] == 280
    once = _run(spark_server, tmp_path / "once", [log])
    grown, single = Lake.from_params(second["lake"]), Lake.from_params(once["lake"])
    content = lambda lk: sorted(tuple(x) for x in lk.read_table(spark, "bronze")  # noqa: E731
                                .select("source_file", "file_id", "line_number", "line").collect())
    assert content(grown) == content(single) and len(content(grown)) == 300
    assert {r.source_file for r in grown.read_table(spark, "bronze").collect()} == {str(log.resolve())}
    for t in ("features", "source_hourly", "events_hourly", "top_sources"):
        assert quality.table_checksum(grown.read_table(spark, t)) == quality.table_checksum(single.read_table(spark, t)), t
    with open(grown.final_csv, encoding="utf-8") as f:  # the latest batch's: the 20 new lines' sshd rows
        assert sum(1 for _ in csv.DictReader(f)) == \
            grown.read_table(spark, "silver", second["batch_id"]).where("category = 'sshd'").count() > 0
