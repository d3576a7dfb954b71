"""The library as a package: a wheel that installs into a clean venv, and notebooks that import it with no path set up."""
import json
import os
import shutil
import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

from tests.conftest import REPO


def _site_packages(env_dir: Path) -> Path:
    return Path(sysconfig.get_path("purelib", vars={"base": str(env_dir), "platbase": str(env_dir)}))


CHAIN = ("mount", "raw_load", "silver_load", "gold_load", "ml_anomaly_detection", "validation")


def test_the_wheel_installs_into_a_clean_venv_and_the_notebooks_run_from_it(spark_server, tmp_path):
    # Built from a copy of what the wheel is made of: setuptools builds in the source tree (build/, *.egg-info).
    source = tmp_path / "source"
    shutil.copytree(REPO / "lib", source / "lib", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source / name)
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(source)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stdout + built.stderr
    wheel = next(dist.glob("openssh_lakehouse-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "lib/silver.py" in names and "lib/openssh_messages.tsv" in names
    assert not [n for n in names if n.startswith(("tests/", "notebooks/", "api/"))]

    env_dir = tmp_path / "clean"
    venv.create(env_dir, with_pip=True)
    python = env_dir / "bin" / "python"
    # The pinned third-party set comes from the project's venv (a path, so its own .pth files,
    # the editable install of this repository among them, are not read); `lib` only from the wheel.
    deps = Path(sysconfig.get_path("purelib"))
    (_site_packages(env_dir) / "project_deps.pth").write_text(f"{deps}\n")
    installed = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "-q", str(wheel)],
                               capture_output=True, text=True)
    assert installed.returncode == 0, installed.stdout + installed.stderr
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    exit_file = tmp_path / "exit.json"
    env.update(SPARK_REMOTE=spark_server.url, LAKEHOUSE_OUTPUT=str(tmp_path / "run"), NOTEBOOK_EXIT_FILE=str(exit_file))
    where = subprocess.run([str(python), "-c", "import lib; print(lib.__file__)"], cwd=tmp_path, env=env,
                           capture_output=True, text=True)
    assert where.stdout.strip() == str(_site_packages(env_dir) / "lib" / "__init__.py"), where.stdout + where.stderr

    # The six notebooks in the pipeline's order, each in a kernel of the clean venv, on a small log.
    from lib import synth

    log, _ = synth.write(tmp_path / "input" / "small.log", lines=1500, seed=5)
    params = {"raw_load": {"input_path": str(log)}, "silver_load": {"year": 2026}}
    results = {}
    for name in CHAIN:
        exit_file.unlink(missing_ok=True)
        args = [a for k, v in params.get(name, {}).items() for a in ("-p", k, str(v))]
        run = subprocess.run([str(python), "-m", "papermill", str(REPO / "notebooks" / f"{name}.ipynb"),
                              str(tmp_path / f"{name}.ipynb"), "--cwd", str(REPO / "notebooks"), "-k", "python3",
                              "--no-progress-bar", *args], env=env, capture_output=True, text=True, timeout=900)
        assert run.returncode == 0, (name, run.stdout[-2000:] + run.stderr[-3000:])
        results[name] = json.loads(exit_file.read_text())
    assert results["mount"]["lake"] == str(tmp_path / "run" / "lake")
    assert results["raw_load"]["rows"] == 1500
    assert results["silver_load"]["silver_rows"] + results["silver_load"]["quarantined"] == 1500
    assert results["validation"]["checks_passed"] >= results["validation"]["checks"] - 1  # drift may warn
    assert Path(results["validation"]["report_html"]).exists()


def test_no_notebook_touches_sys_path():
    for path in sorted((REPO / "notebooks").glob("*.ipynb")):
        code = "".join("".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code")
        assert "sys.path" not in code, path.name
