"""Offline checks of the Data Factory definitions in adf/.

Each file validates against a JSON Schema in tests/schemas/ (the subset of the ADF
model this project uses), and the pipeline is checked against the notebooks it runs:
every activity's notebook exists, every ``baseParameters`` key is a parameter of that
notebook (same type as the pipeline parameter feeding it), every notebook parameter
without a usable default is supplied, every expression refers to something that
exists upstream, and the DAG is acyclic and the one ``lib.runner`` executes.
Each check also runs on a planted defect, to prove it can fail.
"""
from __future__ import annotations

import ast
import copy
import graphlib
import json
import re
from datetime import timedelta
from pathlib import Path

import nbformat
import pytest
from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from lib import adf, runner

REPO = Path(__file__).resolve().parent.parent
ADF = REPO / "adf"
NOTEBOOKS = REPO / "notebooks"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
FILES = {  # adf file -> schema
    "pipeline.json": "adf_pipeline.schema.json",
    "linked_service_databricks.json": "adf_linked_service.schema.json",
    "trigger_daily.json": "adf_trigger.schema.json",
}
CHAIN = ["mount", "raw_load", "silver_load", "gold_load", "ml_anomaly_detection", "validation"]
ADF_TYPES = {"String": str, "Int": int, "Float": float, "Bool": bool}
# Parameters that must reach every notebook declaring them: without storage_account a
# notebook on Databricks would write its lake to the driver's local disk.
REQUIRED_ON_AZURE = {"storage_account", "uc_catalog", "uc_schema"}
MAX_TIMEOUT = timedelta(days=7)  # ADF's default activity timeout, which the pipeline must undercut


# ------------------------------------------------------------------ helpers
def load(name: str) -> dict:
    return json.loads((ADF / name).read_text(encoding="utf-8"))


def schema_errors(document: dict, schema_name: str) -> list[str]:
    """Validation errors of `document` against tests/schemas/<schema_name> (with its $refs)."""
    registry = Registry().with_resources(
        (p.name, Resource.from_contents(json.loads(p.read_text()))) for p in SCHEMAS.glob("*.json"))
    validator = Draft202012Validator(json.loads((SCHEMAS / schema_name).read_text()), registry=registry)
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(document)]


def notebook_parameters(path: Path) -> dict[str, object]:
    """The assignments of the notebook's `parameters` cell; `...` (Ellipsis) for a value with no literal default."""
    nb = nbformat.read(path, as_version=4)
    cells = [c for c in nb.cells if "parameters" in c.metadata.get("tags", [])]
    if len(cells) != 1:
        raise AssertionError(f"{path.name}: expected one cell tagged 'parameters', found {len(cells)}")
    params = {}
    for node in ast.parse(cells[0].source).body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                value = ...
            params[node.targets[0].id] = ... if value is None else value
    return params


def _timeout(text: str) -> timedelta:
    days, rest = text.split(".", 1)
    h, m, s = map(int, rest.split(":"))
    return timedelta(days=int(days), hours=h, minutes=m, seconds=s)


def _upstream(activities: list[dict]) -> dict[str, set[str]]:
    """Every activity's transitive dependencies."""
    deps = {a["name"]: {d["activity"] for d in a.get("dependsOn", [])} for a in activities}
    order = graphlib.TopologicalSorter(deps).static_order()  # raises CycleError on a cycle
    closure: dict[str, set[str]] = {}
    for name in order:
        direct = deps.get(name, set())
        closure[name] = direct.union(*(closure[d] for d in direct))
    return closure


def pipeline_problems(pipeline: dict, notebooks: Path = NOTEBOOKS, linked_service: dict | None = None) -> list[str]:
    """What is wrong between the pipeline and the notebooks it runs (empty when nothing is)."""
    props = pipeline["properties"]
    declared = props.get("parameters", {})
    activities = props["activities"]
    upstream = _upstream(activities)
    problems = []
    for act in activities:
        name = act["name"]
        if _timeout(act["policy"]["timeout"]) >= MAX_TIMEOUT:
            problems.append(f"{name}: timeout {act['policy']['timeout']} is not under 7 days")
        nb_name = adf.notebook_name(act)
        path = notebooks / f"{nb_name}.ipynb"
        if not path.exists():
            problems.append(f"{name}: notebook notebooks/{nb_name}.ipynb does not exist")
            continue
        params = notebook_parameters(path)
        given = act["typeProperties"].get("baseParameters", {})
        for key, value in given.items():
            if key not in params:
                problems.append(f"{name}: baseParameters key {key!r} is not a parameter of {nb_name}")
                continue
            text = value["value"] if isinstance(value, dict) else str(value)
            for ref in re.findall(r"pipeline\(\)\.parameters\.(\w+)", text):
                if ref not in declared:
                    problems.append(f"{name}: {key} uses undeclared pipeline parameter {ref!r}")
                elif text.strip() == f"@pipeline().parameters.{ref}" and params[key] is not ...:
                    want = ADF_TYPES.get(declared[ref]["type"])
                    if want is not None and type(params[key]) is not want:
                        problems.append(f"{name}: {key} is {type(params[key]).__name__} in {nb_name} "
                                        f"but pipeline parameter {ref!r} is {declared[ref]['type']}")
            for ref in re.findall(r"activity\('([^']+)'\)", text):
                if ref not in upstream.get(name, set()):
                    problems.append(f"{name}: {key} reads the output of {ref!r}, which does not run before it")
        for key, default in params.items():
            if key not in given and (default is ... or key in REQUIRED_ON_AZURE):
                problems.append(f"{name}: notebook parameter {key!r} of {nb_name} is not supplied")
        if linked_service is not None:
            ref = act["linkedServiceName"]
            if ref["referenceName"] != linked_service["name"]:
                problems.append(f"{name}: linked service {ref['referenceName']!r} is not defined in adf/")
            wanted = set(linked_service["properties"].get("parameters", {}))
            if set(ref.get("parameters", {})) != wanted:
                problems.append(f"{name}: passes linked-service parameters {sorted(ref.get('parameters', {}))}, "
                                f"the linked service declares {sorted(wanted)}")
    return problems


# ------------------------------------------------------------------ the real files
@pytest.mark.parametrize("name", sorted(FILES))
def test_adf_files_validate_against_their_schemas(name):
    assert schema_errors(load(name), FILES[name]) == []


def test_every_adf_file_has_a_schema():
    assert sorted(p.name for p in ADF.glob("*.json")) == sorted(FILES)


def test_pipeline_matches_the_notebooks_and_linked_service():
    assert pipeline_problems(load("pipeline.json"), linked_service=load("linked_service_databricks.json")) == []


def test_dag_is_acyclic_and_the_one_the_runner_executes():
    activities = load("pipeline.json")["properties"]["activities"]
    deps = {a["name"]: {d["activity"] for d in a.get("dependsOn", [])} for a in activities}
    graphlib.TopologicalSorter(deps).prepare()  # raises CycleError
    order = [a["name"] for a in adf.notebook_activities(adf.load_pipeline())]
    assert order == CHAIN
    assert all(deps[name] == ({order[i - 1]} if i else set()) for i, name in enumerate(order))
    assert [adf.notebook_name(a) for a in adf.notebook_activities(adf.load_pipeline())] == CHAIN


def test_trigger_runs_the_pipeline_daily():
    trigger, pipeline = load("trigger_daily.json"), load("pipeline.json")
    recurrence = trigger["properties"]["typeProperties"]["recurrence"]
    assert (recurrence["frequency"], recurrence["interval"]) == ("Day", 1)
    assert [p["pipelineReference"]["referenceName"] for p in trigger["properties"]["pipelines"]] == [pipeline["name"]]
    for p in trigger["properties"]["pipelines"]:
        assert set(p.get("parameters", {})) <= set(pipeline["properties"]["parameters"])
    # A manual run while the daily one writes would replace tables under it: ADF queues it instead.
    assert pipeline["properties"]["concurrency"] == 1


def test_linked_service_uses_the_managed_identity_and_the_pipelines_cluster():
    props = load("linked_service_databricks.json")["properties"]
    assert props["typeProperties"]["authentication"] == "MSI"
    assert "accessToken" not in props["typeProperties"]
    assert props["typeProperties"]["existingClusterId"] == "@{linkedService().cluster_id}"


def test_notebook_paths_live_under_the_repos_folder_parameter():
    pipeline = load("pipeline.json")
    assert pipeline["properties"]["parameters"]["repo_path"]["defaultValue"].startswith("/Repos/")
    for act in pipeline["properties"]["activities"]:
        path = act["typeProperties"]["notebookPath"]["value"]
        assert path == f"@concat(pipeline().parameters.repo_path, '/notebooks/{act['name']}')"
        assert adf.resolve(act["typeProperties"]["notebookPath"], {"repo_path": "/Repos/x/y"}, {}) \
            == f"/Repos/x/y/notebooks/{act['name']}"


# ------------------------------------------------------------------ planted defects
def _activity(pipeline: dict, name: str) -> dict:
    return next(a for a in pipeline["properties"]["activities"] if a["name"] == name)


def test_schema_rejects_a_misspelt_activity_type_and_a_bad_timeout():
    broken = load("pipeline.json")
    _activity(broken, "gold_load")["type"] = "DatabricksNotbook"
    _activity(broken, "mount")["policy"]["timeout"] = "15 minutes"
    errors = schema_errors(broken, FILES["pipeline.json"])
    assert any(e.startswith("properties/activities/3/type:") for e in errors)
    assert any(e.startswith("properties/activities/0/policy/timeout:") and "15 minutes" in e for e in errors)


def test_schema_rejects_a_linked_service_with_a_token():
    broken = load("linked_service_databricks.json")
    broken["properties"]["typeProperties"]["accessToken"] = {"type": "SecureString", "value": "dapi-planted"}
    assert schema_errors(broken, FILES["linked_service_databricks.json"]) != []


def test_schema_rejects_a_trigger_without_a_pipeline():
    broken = load("trigger_daily.json")
    broken["properties"]["pipelines"] = []
    assert schema_errors(broken, FILES["trigger_daily.json"]) != []


def test_a_missing_notebook_is_reported():
    broken = load("pipeline.json")
    _activity(broken, "gold_load")["typeProperties"]["notebookPath"]["value"] = \
        "@concat(pipeline().parameters.repo_path, '/notebooks/gold_lod')"
    assert pipeline_problems(broken) == ["gold_load: notebook notebooks/gold_lod.ipynb does not exist"]


def test_an_unknown_base_parameter_is_reported():
    broken = load("pipeline.json")
    _activity(broken, "gold_load")["typeProperties"]["baseParameters"]["windowminutes"] = "60"
    assert pipeline_problems(broken) == ["gold_load: baseParameters key 'windowminutes' is not a parameter of gold_load"]


def test_a_type_mismatch_and_an_undeclared_parameter_are_reported():
    broken = load("pipeline.json")
    broken["properties"]["parameters"]["year"]["type"] = "String"
    _activity(broken, "raw_load")["typeProperties"]["baseParameters"]["input_path"]["value"] = \
        "@pipeline().parameters.inputs"
    problems = pipeline_problems(broken)
    assert "silver_load: year is int in silver_load but pipeline parameter 'year' is String" in problems
    assert "raw_load: input_path uses undeclared pipeline parameter 'inputs'" in problems


def test_reading_the_output_of_a_later_activity_is_reported():
    broken = load("pipeline.json")
    _activity(broken, "silver_load")["typeProperties"]["baseParameters"]["batch_id"]["value"] = \
        "@activity('gold_load').output.runOutput.batch_id"
    assert pipeline_problems(broken) == \
        ["silver_load: batch_id reads the output of 'gold_load', which does not run before it"]


def test_a_required_notebook_parameter_left_out_is_reported(tmp_path):
    for nb in NOTEBOOKS.glob("*.ipynb"):
        (tmp_path / nb.name).write_bytes(nb.read_bytes())
    nb = nbformat.read(tmp_path / "gold_load.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    cell.source += "\nreport_owner = None\n"
    nbformat.write(nb, tmp_path / "gold_load.ipynb")
    broken = load("pipeline.json")
    del _activity(broken, "validation")["typeProperties"]["baseParameters"]["storage_account"]
    assert pipeline_problems(broken, tmp_path) == [
        "gold_load: notebook parameter 'report_owner' of gold_load is not supplied",
        "validation: notebook parameter 'storage_account' of validation is not supplied",
    ]


def test_a_wrong_linked_service_reference_is_reported():
    broken = load("pipeline.json")
    _activity(broken, "mount")["linkedServiceName"]["referenceName"] = "Databricks"
    del _activity(broken, "raw_load")["linkedServiceName"]["parameters"]
    problems = pipeline_problems(broken, linked_service=load("linked_service_databricks.json"))
    assert problems == ["mount: linked service 'Databricks' is not defined in adf/",
                        "raw_load: passes linked-service parameters [], the linked service declares ['cluster_id']"]


def test_a_cycle_is_refused_by_the_check_and_by_the_runner():
    broken = copy.deepcopy(load("pipeline.json"))
    _activity(broken, "mount")["dependsOn"] = [{"activity": "validation", "dependencyConditions": ["Succeeded"]}]
    with pytest.raises(graphlib.CycleError):
        pipeline_problems(broken)
    with pytest.raises(runner.PipelineError, match="cycle"):
        adf.notebook_activities(broken)
