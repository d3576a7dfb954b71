"""The notebooks run with their own defaults (`pytest --nbval-lax`), in pipeline order, on local Spark."""
import os
import subprocess
import sys

from lib.adf import load_pipeline, notebook_activities, notebook_name
from tests.conftest import REPO


def test_notebooks_pass_nbval_with_their_defaults(spark_server, spark, tmp_path):
    """Run one after another with nothing but their defaults (as a new user opening them would), they
    build the whole lake on the embedded sample and publish it."""
    import csv

    from lib import publish
    from lib.lake import Lake

    order = [f"notebooks/{notebook_name(a)}.ipynb" for a in notebook_activities(load_pipeline())]
    env = dict(os.environ, SPARK_REMOTE=spark_server.url, LAKEHOUSE_OUTPUT=str(tmp_path))
    r = subprocess.run([sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q",
                        "--rootdir", str(tmp_path), *order], cwd=REPO, env=env, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    lake = Lake.from_params(str(tmp_path / "lake"))
    lines = lake.read_table(spark, "bronze").count()
    assert lines > 0 and lines == lake.read_table(spark, "silver").count() + lake.read_table(spark, "quarantine").count()
    published = publish.latest(spark, lake)
    assert published is not None and published["final_csv"] == lake.final_csv
    with open(lake.final_csv, newline="", encoding="utf-8") as f:
        rows = sum(1 for _ in csv.DictReader(f))
    assert rows == lake.read_table(spark, "silver").where("category = 'sshd'").count()


def test_notebooks_are_committed_without_outputs():
    import nbformat

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        tagged = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
        assert len(tagged) == 1 and nb.cells.index(tagged[0]) == 1, path.name
        assert all(not c.get("outputs") and not c.get("execution_count") for c in nb.cells if c.cell_type == "code")
        assert nb.metadata["kernelspec"]["name"] == "python3"


def test_silver_load_refuses_a_wrong_zone_before_spark(tmp_path):
    """As `run` and `parse` do: one line, from the cell before the Spark session (no SPARK_REMOTE here)."""
    env = {k: v for k, v in os.environ.items() if k != "SPARK_REMOTE"}
    out = tmp_path / "silver_load.ipynb"
    code = ("import papermill as pm, sys\n"
            "try:\n"
            f"    pm.execute_notebook({str(REPO / 'notebooks' / 'silver_load.ipynb')!r}, {str(out)!r}, "
            "parameters={'timezone': 'Berlin'}, kernel_name='python3', progress_bar=False,"
            f" cwd={str(REPO / 'notebooks')!r})\n"
            "except pm.PapermillExecutionError as e:\n"
            "    print(e.ename, e.evalue); sys.exit(3)\n")
    r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert r.returncode == 3 and "ValueError unknown timezone 'Berlin'" in r.stdout, r.stdout + r.stderr[-2000:]


def _logic(cell) -> list[str]:
    return [line for line in cell.source.splitlines() if line.strip() and not line.strip().startswith("#")]


def test_notebooks_open_with_one_context_call_and_hold_no_long_cells():
    """Each notebook: parameters, then `start(globals())`; no code cell beyond ~15 lines; no path hacks."""
    import nbformat

    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        code = [c for c in nb.cells if c.cell_type == "code"]
        assert "p, spark, lake = start(globals())" in code[1].source, path.name
        assert "finish(" in code[-1].source, path.name
        assert "sys.path" not in "".join(c.source for c in code), path.name
        long = {i: len(_logic(c)) for i, c in enumerate(code[1:], 1) if len(_logic(c)) > 15}
        assert long == {}, f"{path.name}: cells with more than 15 lines of logic: {long}"
