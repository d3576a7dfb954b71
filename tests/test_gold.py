"""Gold's final CSV: what an analyst opens in a spreadsheet holds no formula and no terminal escape from the logs."""
from lib import bronze, gold, silver, tables

LINES = [
    "Mar  3 10:00:00 h sshd[1]: Invalid user =HYPERLINK(\"http://x.example/\",\"y\") from 203.0.113.1 port 1",
    "Mar  3 10:00:01 h sshd[2]: Invalid user @SUM(1+1)|cmd from 203.0.113.2 port 2",
    "Mar  3 10:00:02 h sshd[3]: Invalid user +1-2 from 203.0.113.3 port 3",
    "Mar  3 10:00:03 h sshd[4]: Invalid user \x1b[31mred\x1b[0m from 203.0.113.4 port 4",
    "Mar  3 10:00:04 h sshd[5]: Invalid user alice-admin from 203.0.113.5 port 5",
]


def test_the_final_csv_neutralises_formulas_and_escapes_but_silver_keeps_them(spark, tmp_path):
    log = tmp_path / "auth.log"
    log.write_text("\n".join(LINES) + "\n", encoding="utf-8")
    raw = bronze.to_bronze(bronze.read_text(spark, [str(log)]), "b", "2026-01-01 00:00:00")
    events = silver.events(silver.parse(raw, 2026))
    kept = [r.user for r in events.orderBy("line_number").collect()]
    assert kept == ['=HYPERLINK("http://x.example/","y")', "@SUM(1+1)|cmd", "+1-2", "\x1b[31mred\x1b[0m", "alice-admin"]
    rows = gold.final_data(events).orderBy("line_number").collect()
    assert [r.user for r in rows] == ["'" + kept[0], "'" + kept[1], "'+1-2", "\ufffd[31mred\ufffd[0m", "alice-admin"]
    assert [r.src_ip for r in rows] == [f"203.0.113.{i}" for i in range(1, 6)]  # attribution untouched
    assert rows[3].message == "Invalid user \ufffd[31mred\ufffd[0m from 203.0.113.4 port 4"
    assert not any(str(v).startswith(tuple(gold.FORMULA_STARTS)) for r in rows for v in r.asDict().values())


def test_incremental_gold_equals_a_full_recompute_with_late_overlapping_data(spark, tmp_path):
    """Three batches into two lakes: one refreshed incrementally, one recomputed in full after each.
    The third batch is late: its lines fall into hours (and source-windows) the first already filled."""
    from datetime import timedelta

    from lib import quality, synth
    from lib.lake import Lake

    inc, full = Lake.from_params(str(tmp_path / "inc")), Lake.from_params(str(tmp_path / "full"))
    start = synth.DEFAULT_START
    days = {"b1": (11, start), "b2": (12, start + timedelta(days=1)), "b3": (13, start + timedelta(minutes=20))}
    modes = []
    for batch, (seed, t0) in days.items():
        log, _ = synth.write(tmp_path / batch / "auth.log", lines=400, seed=seed, start=t0)
        raw = bronze.to_bronze(bronze.read_text(spark, [str(log)]), batch, "2026-01-01 00:00:00")
        for lake in (inc, full):
            lake.write_silver(raw, batch, start.year)
        modes.append(gold.refresh(spark, inc, batch))
        gold.refresh(spark, full, batch, full=True)
        for t in ("features", "source_hourly", "events_hourly", "top_sources"):
            assert quality.table_checksum(inc.read_table(spark, t)) == quality.table_checksum(full.read_table(spark, t)), \
                (batch, t)
    assert [m["mode"] for m in modes] == ["full", "incremental", "incremental"]
    windows = full.read_table(spark, "features").select("window_start").distinct().count()
    assert 0 < modes[2]["windows"] < windows  # the late batch recomputed only what it touched
    assert "window_start IN (timestamp_seconds(" in inc.history(spark, "features")[0]["operationParameters"]["predicate"]


def test_incremental_scoring_equals_scoring_the_whole_lake_and_a_new_model_rescores_all(spark, tmp_path):
    """Two lakes get the same batches (the third late, the fourth without an sshd line); one scores
    only what each batch touched, the other every window each time. Their anomalies tables are
    equal after every batch; a different model version makes the incremental lake score all again."""
    from datetime import timedelta

    from lib import model, quality, scoring, synth
    from lib.lake import Lake

    inc, full = Lake.from_params(str(tmp_path / "inc")), Lake.from_params(str(tmp_path / "full"))
    start = synth.DEFAULT_START
    train, _, _ = model.synthetic_windows(3000, 5, 60, 10)
    scorer = model.fit(train, contamination=0.1, n_estimators=20)
    cron = tmp_path / "b4" / "cron.log"
    cron.parent.mkdir()
    cron.write_text("".join(f"{start:%b} {start.day:2d} 0{h}:17:01 host CRON[{100 + h}]: pam_unix(cron:session): "
                            "session opened for user root(uid=0) by (uid=0)\n" for h in range(8)))
    days = {"b1": (11, start), "b2": (12, start + timedelta(days=1)), "b3": (13, start + timedelta(minutes=20)),
            "b4": (None, None)}
    replaced, scored = [], []
    for batch, (seed, t0) in days.items():
        log = synth.write(tmp_path / batch / "auth.log", lines=400, seed=seed, start=t0)[0] if seed else cron
        raw = bronze.to_bronze(bronze.read_text(spark, [str(log)]), batch, "2026-01-01 00:00:00")
        for lake in (inc, full):
            lake.write_silver(raw, batch, start.year)
            gold.refresh(spark, lake, batch)
        touched = gold.touched(inc.read_table(spark, "silver", batch))["windows"]
        _, got, windows = scoring.refresh(spark, inc, scorer, "1", touched)
        replaced.append(windows)
        scored.append(len(got))
        scoring.refresh(spark, full, scorer, "1", touched, full=True)
        assert quality.table_checksum(inc.read_table(spark, "anomalies")) == \
            quality.table_checksum(full.read_table(spark, "anomalies")), batch
    windows = full.read_table(spark, "features").count()
    assert replaced[0] is None and 0 < len(replaced[2]) < windows and replaced[3] == [] and scored[3] == 0
    assert inc.read_table(spark, "anomalies").count() == windows
    _, got, again = scoring.refresh(spark, inc, scorer, "2", touched)
    assert again is None and len(got) == windows
    assert {r.model_version for r in inc.read_table(spark, "anomalies").select("model_version").collect()} == {"2"}
    assert tuple(got.columns) == tables.columns("anomalies")
