"""The runner follows adf/pipeline.json: its DAG, its parameters, its expressions."""
import copy

import pytest

from lib import adf, runner


def test_the_dag_is_the_adf_pipeline():
    order = [adf.notebook_name(a) for a in adf.notebook_activities(adf.load_pipeline())]
    assert order == ["mount", "raw_load", "silver_load", "gold_load", "ml_anomaly_detection", "validation"]


def test_dependency_order_not_file_order():
    p = adf.load_pipeline()
    shuffled = copy.deepcopy(p)
    shuffled["properties"]["activities"].reverse()
    assert [a["name"] for a in adf.notebook_activities(shuffled)] == \
        [a["name"] for a in adf.notebook_activities(p)]


def test_a_cycle_is_refused():
    p = copy.deepcopy(adf.load_pipeline())
    acts = p["properties"]["activities"]
    acts[0]["dependsOn"] = [{"activity": acts[-1]["name"], "dependencyConditions": ["Succeeded"]}]
    with pytest.raises(runner.PipelineError, match="cycle"):
        adf.notebook_activities(p)


@pytest.mark.parametrize("value,expected", [
    ("literal", "literal"),
    (7, 7),
    ({"value": "@pipeline().parameters.year", "type": "Expression"}, 2024),
    ("@activity('raw_load').output.runOutput.batch_id", "b42"),
    ("@concat(pipeline().parameters.repo_path, '/notebooks/x')", "/Repos/r/notebooks/x"),
    ("prefix-@{pipeline().parameters.year}-suffix", "prefix-2024-suffix"),
    ("@@not an expression", "@not an expression"),
    ("@string(pipeline().parameters.year)", "2024"),
])
def test_expressions(value, expected):
    params = {"year": 2024, "repo_path": "/Repos/r"}
    assert adf.resolve(value, params, {"raw_load": {"batch_id": "b42"}}) == expected


@pytest.mark.parametrize("bad", ["@utcnow()", "@pipeline().parameters.nope", "@activity('later').output.runOutput.x",
                                 "@concat('a'"])
def test_unsupported_or_missing_is_a_clear_error(bad):
    with pytest.raises(runner.PipelineError):
        adf.resolve(bad, {"year": 1}, {})


def test_inputs(tmp_path):
    with pytest.raises(runner.PipelineError, match="input not found"):
        runner.input_files([str(tmp_path / "missing.log")])
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "a.log").write_text("x")
    (tmp_path / "d" / ".hidden").write_text("x")
    assert [p.name for p in runner.input_files([str(tmp_path / "d")])] == ["a.log"]
    same = runner.fingerprint([tmp_path / "d" / "a.log"])
    (tmp_path / "d" / "a.log").write_text("y")
    assert runner.fingerprint([tmp_path / "d" / "a.log"]) != same


def test_parameters_are_cast_to_the_notebooks_types():
    from lib.params import cast_like, declared_parameters

    declared = declared_parameters(runner.NOTEBOOKS / "silver_load.ipynb")
    assert declared == {"lake_root": "", "storage_account": "", "uc_catalog": "", "uc_schema": "openssh",
                        "batch_id": "", "year": 0, "timezone": "UTC", "max_repeat": 10}
    assert cast_like("2024", declared["year"]) == 2024 and cast_like(2024, declared["year"]) == 2024
    assert cast_like("false", False) is False and cast_like("True", False) is True
    assert cast_like(0.5, 0.1) == 0.5 and cast_like("", 3) == 3 and cast_like(7, "") == "7"
    with pytest.raises(ValueError):
        cast_like("maybe", False)


def test_a_second_run_into_the_same_output_fails_at_once_naming_the_first(tmp_path):
    """Two runs into one lake would replace tables under each other: the second is refused while
    the first holds the output, and the lock goes with its process, however that ends."""
    import signal
    import subprocess
    import sys

    from tests.conftest import REPO

    out = tmp_path / "out"
    log = tmp_path / "a.log"
    log.write_text("Mar  3 10:00:00 h sshd[1]: Connection closed by 10.0.0.1 port 22 [preauth]\n")
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from pathlib import Path; from lib import runner\n"
                               "with runner.writer_lock(Path(sys.argv[1])):\n    print('held', flush=True); time.sleep(600)",
                               str(out)], cwd=REPO, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = subprocess.run([sys.executable, "-m", "lib", "run", "--input", str(log), "--output", str(out)],
                                cwd=REPO, capture_output=True, text=True, timeout=120)
        assert second.returncode == 1
        assert f"another run is writing to {out}: pid {holder.pid} since" in second.stderr
        assert not (out / "runs").exists()  # refused before it made a run folder or started Spark
    finally:
        holder.send_signal(signal.SIGKILL)
        holder.wait()
    with runner.writer_lock(out):  # a killed holder leaves no stale lock
        assert (out / runner.LOCK_FILE).read_text().startswith("pid ")
    ids = [runner._run_dir(out)[0] for _ in range(3)]  # runs started within one second get folders of their own
    assert len(set(ids)) == 3 and all((out / "runs" / i).is_dir() for i in ids)


def test_the_summary_ends_with_who_got_in_and_the_top_incidents_with_log_text_escaped():
    ml = {"compromised": [{"account": "deploy\x1b[2J", "source": "203.0.113.9", "at": "2026-03-01T10:00:00Z"}],
          "top_incidents": [{"rank": 1, "severity": "critical", "kind": "compromise",
                             "summary": "login as deploy\x1b[2J\nafter 40 failures"}]}
    got = runner.answers(ml)
    assert got[0] == "Compromised accounts: deploy\\x1b[2J from 203.0.113.9 at 2026-03-01T10:00:00Z"
    assert got[1:] == ["Top incidents:", "  1. [critical] compromise: login as deploy\\x1b[2J\\nafter 40 failures"]
    assert "\x1b" not in "".join(got)
    assert runner.answers({"compromised": [], "top_incidents": []}) == ["Compromised accounts: none",
                                                                         "Top incidents: none"]
