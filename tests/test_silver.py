"""Silver on Spark: exact on Loghub, and line for line the same as the Python parser on every corpus."""
import pytest

from lib import silver, synth
from tests.corpus.sshd_messages import EXAMPLES, HEADERS
from tests.helpers import bad_input_corpus, disagreements, python_parse, spark_parse
from tests.test_parser import grouping_accuracy, loghub_truth, parsing_accuracy


def test_exact_on_loghub_through_spark(spark, loghub_log, loghub_dir):
    rows = spark_parse(spark, loghub_log, 2024)
    truth = loghub_truth(loghub_dir)
    templates = [t["EventTemplate"] for t in truth]
    assert grouping_accuracy(templates, [r["event_id"] for r in rows]) == 1.0
    assert parsing_accuracy(templates, [r["event_template"] for r in rows]) == 1.0
    assert disagreements(rows, python_parse(loghub_log, 2024)) == []


def test_agrees_with_python_on_the_synthetic_log(spark, tmp_path):
    log, _ = synth.write(tmp_path / "synthetic.log", lines=5000, seed=3)
    assert disagreements(spark_parse(spark, log, 2026), python_parse(log, 2026)) == []


def test_agrees_with_python_on_every_template_and_header(spark, tmp_path):
    lines = [f"Mar  3 10:00:{i % 60:02d} bastion sshd[{i}]: {m}" for i, (m, _) in enumerate(EXAMPLES.values())]
    lines += [h[0] for h in HEADERS]
    lines += ["Dec 31 23:59:59 h sshd[1]: Connection closed by 10.0.0.1 [preauth]",
              "Jan  1 00:00:01 h sshd[1]: message repeated 3 times: [ Failed password for invalid user x from 1.2.3.4 port 2 ssh2]",
              "Jan  1 00:00:02 h sshd[1]: message repeated 2 times: [ something unheard of 12]",
              "Jan  1 00:00:03 h sshd[1]: Frobnicated 0xdead from 10.1.2.3 after 42 tries [preauth]",
              "Jan  1 00:00:04 h kernel: [12345.678] eth0: link up",
              "Jan  1 00:00:05 h sudo:    alice : TTY=pts/0 ; PWD=/home/alice ; USER=root ; COMMAND=/bin/ls",
              "Jan  1 00:00:06 h sshd[1]: Failed password for root from fe80::1%eth0 port 22 ssh2",
              "Jan  1 00:00:07 h sshd[1]: \x02Connection closed by 1.2.3.4 [preauth]",
              "0001-01-01T00:00:00+14:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",  # before year 1 in UTC
              "9999-12-31T23:59:59-14:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",
              "Feb 29 10:00:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",  # 2023 has no Feb 29
              "Mar  1 24:00:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]",
              "Mar  1 23:59:60 h sshd[1]: Connection closed by 1.2.3.4 [preauth]"]  # leap second: invalid
    f = tmp_path / "examples.log"
    f.write_text("\n".join(lines) + "\n", encoding="utf-8")
    rows = spark_parse(spark, f, 2023, "America/New_York")
    assert disagreements(rows, python_parse(f, 2023, "America/New_York")) == []
    ids = [r["event_id"] for r in rows[:len(EXAMPLES)]]
    assert ids == list(EXAMPLES)
    assert rows[len(EXAMPLES) + len(HEADERS) + 1]["timestamp"].year == 2024  # Dec -> Jan


def test_agrees_with_python_on_bad_bytes(spark, tmp_path):
    for name, path in bad_input_corpus(tmp_path).items():
        if path.is_file():
            assert disagreements(spark_parse(spark, path, 2023), python_parse(path, 2023)) == [], name


def test_every_line_comes_out_once(spark, tmp_path):
    paths = bad_input_corpus(tmp_path)
    from lib import bronze

    raw = bronze.to_bronze(bronze.read_text(spark, [str(p) for p in paths.values()]), "b", "2026-01-01")
    parsed = silver.parse(raw, 2023)
    n_bronze = raw.count()
    assert silver.events(parsed).count() + silver.quarantine(parsed).count() == n_bronze
    reasons = {r["reason"] for r in silver.quarantine(parsed).select("reason").distinct().collect()}
    assert reasons == {"empty line", "unrecognized header", "line too long"}
    held = silver.quarantine(parsed).where("reason = 'line too long'").first()
    assert len(held["line"]) > 1_000_000  # kept verbatim, not lost


@pytest.mark.parametrize("tz", ["UTC", "Asia/Kolkata"])
def test_timestamps_are_stored_in_utc(spark, tmp_path, tz):
    f = tmp_path / "t.log"
    f.write_text("Jul  1 12:00:00 h sshd[1]: Connection closed by 1.2.3.4 [preauth]\n")
    (row,) = spark_parse(spark, f, 2024, tz)
    assert row["timestamp"].hour == (12 if tz == "UTC" else 6) and row["timestamp"].minute == (0 if tz == "UTC" else 30)
