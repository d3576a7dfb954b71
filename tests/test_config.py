"""One default per shared parameter: notebooks, the ADF pipeline, lib's signatures and the API agree with lib.config."""
import importlib
import json
import pkgutil
import shutil
import types

import nbformat

import lib
from lib import config, signing
from lib.config import DEFAULTS
from lib.adf import NOTEBOOKS, PIPELINE


def _modules(package):
    return [importlib.import_module(f"{package.__name__}.{m.name}") for m in pkgutil.iter_modules(package.__path__)
            if m.name != "__main__"]


def test_notebooks_the_pipeline_and_the_library_use_the_shared_defaults():
    import api

    assert config.disagreements(NOTEBOOKS, PIPELINE) == []
    assert config.signature_disagreements(_modules(lib) + _modules(api)) == []


def test_the_api_defaults_are_the_shared_ones():
    from api.config import Settings

    key = signing.public_key(signing.new_private_key())
    s = Settings.from_env({"API_TOKEN": "x" * 32, "MODEL_PUBLIC_KEY": key, "MLFLOW_TRACKING_URI": "sqlite:///x.db",
                           "ANOMALIES_PATH": "a", "PUBLISHED_PATH": "p"})
    assert (s.model_name, s.window_minutes, s.burst_minutes) == \
        (DEFAULTS.model_name, DEFAULTS.window_minutes, DEFAULTS.burst_minutes)


def test_the_gate_of_both_notebooks_is_the_library_gate():
    from lib import model
    from lib.params import declared_parameters

    for name in ("ml_anomaly_detection", "validation"):
        declared = declared_parameters(NOTEBOOKS / f"{name}.ipynb")
        assert {k: declared[k] for k in config.GATE} == model.DEFAULT_GATE
    declared = declared_parameters(NOTEBOOKS / "validation.ipynb")
    assert {k: declared[k] for k in config.QUALITY} == DEFAULTS.quality()


def test_a_default_that_drifts_anywhere_is_named(tmp_path):
    notebooks = tmp_path / "notebooks"
    shutil.copytree(NOTEBOOKS, notebooks)
    path = notebooks / "gold_load.ipynb"
    nb = nbformat.read(path, as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source = cell.source.replace("window_minutes = 60", "window_minutes = 30")
    nbformat.write(nb, path)
    pipeline = json.loads(PIPELINE.read_text())
    pipeline["properties"]["parameters"]["max_repeat"]["defaultValue"] = 25
    pipeline["properties"]["activities"][-1]["typeProperties"]["baseParameters"]["model_name"] = {
        "value": "another-model", "type": "Expression"}
    (tmp_path / "pipeline.json").write_text(json.dumps(pipeline))
    found = config.disagreements(notebooks, tmp_path / "pipeline.json")
    assert len(found) == 3, found
    assert any(f.startswith("gold_load.ipynb: window_minutes = 30") for f in found)
    assert any("parameter max_repeat defaults to 25" in f for f in found)
    assert any("passes model_name = 'another-model'" in f for f in found)

    module = types.ModuleType("drifted")
    exec("def score(rows, window_minutes=30, model_name=None, burst_minutes=10):\n    return rows", module.__dict__)
    assert config.signature_disagreements([module]) == [
        f"drifted.score: window_minutes=30, the shared default is {DEFAULTS.window_minutes}"]
