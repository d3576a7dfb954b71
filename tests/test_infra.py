"""Offline checks of the Azure deployment assets: Terraform, Kubernetes, Dockerfiles, workflows.

Real validators, run as the Makefile installed them: checkov (its own venv,
.venv-checkov, since it and python-hcl2 both ship a module `hcl2`),
kubernetes-validate --strict, hadolint, check-jsonschema's GitHub workflow schema,
and python-hcl2 for the wiring between the Terraform files, the manifests, the ADF
definitions, lib/ and the deploy workflow. Every checker is also run on a planted
defect, to prove it fails when it should.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import hcl2
import pytest
import yaml
from hcl2 import SerializationOptions
from jsonschema import Draft202012Validator

from lib.lake import LAYERS, VOLUME
from lib.spark import SESSION_CONF

REPO = Path(__file__).resolve().parent.parent
INFRA = REPO / "infrastructure"
K8S = REPO / "kubernetes"
WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
DEPLOY = REPO / ".github" / "workflows" / "deploy.yml"
DOCKERFILES = [REPO / "Dockerfile", K8S / "mlflow.Dockerfile"]
MANIFESTS = sorted(K8S.glob("*.yaml"))
SECRET_TEMPLATE = K8S / "secrets.template.yaml"
SCHEMAS = Path(__file__).resolve().parent / "schemas"
CHECKOV = REPO / ".venv-checkov" / "bin" / "checkov"
BIN = Path(sys.executable).parent
# Kinds kubernetes-validate has no schema for (CRDs), validated against tests/schemas/ instead.
CRD_SCHEMAS = {"SecretProviderClass": "secret_provider_class.schema.json"}
K8S_VERSIONS = ("1.30.0", "1.37.0")  # the oldest supported here and the newest kubernetes-validate ships


def _tool(path: Path) -> str:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `make test` (it installs the validators)")
    return str(path)


def _run(*cmd, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True)


# ------------------------------------------------------------------ checkov
def checkov(*targets: str, frameworks: tuple[str, ...], cwd: Path = REPO) -> dict[str, dict]:
    """checkov's JSON report per framework (offline: --skip-download)."""
    proc = _run(_tool(CHECKOV), *targets, "--framework", *frameworks, "--skip-download",
                "--output", "json", cwd=cwd)
    if proc.returncode not in (0, 1):  # 1: checks failed; anything else: checkov itself failed
        pytest.fail(f"checkov exited with {proc.returncode}: {proc.stderr[-2000:]}")
    merged: dict[str, dict] = {}
    for report in _json_documents(proc.stdout):  # one document per framework
        mine = merged.setdefault(report["check_type"], {"results": {}})
        for key, checks in report.get("results", {}).items():
            mine["results"].setdefault(key, []).extend(checks)
    return merged


def _json_documents(text: str) -> list[dict]:
    """The reports in checkov's output: JSON documents one after another, each an object or a list."""
    decoder, docs, i = json.JSONDecoder(), [], 0
    while i < len(text):
        if text[i].isspace():
            i += 1
            continue
        doc, i = decoder.raw_decode(text, i)
        docs += doc if isinstance(doc, list) else [doc]
    return docs


@pytest.fixture(scope="module")
def checkov_reports():
    # One run over the repository (3-4 s); the folders that hold no deployment asset are
    # left out, so are pytest's temporary folders under reports/ in CI (planted defects).
    skip = [a for p in ("tests", "notebooks", "output", "reports", "lib", "api", "docs") for a in ("--skip-path", p)]
    return checkov("-d", ".", *skip, frameworks=("terraform", "kubernetes", "dockerfile", "github_actions"))


def test_checkov_scans_every_asset_and_finds_nothing(checkov_reports):
    assert set(checkov_reports) == {"terraform", "kubernetes", "dockerfile", "github_actions"}
    for kind, report in checkov_reports.items():
        failed = [f"{c['check_id']} {c['resource']} ({c['file_path']})" for c in report["results"]["failed_checks"]]
        assert failed == [], kind
    scanned = {c["file_path"].lstrip("/") for r in checkov_reports.values() for c in r["results"]["passed_checks"]}
    expected = {"Dockerfile", "kubernetes/mlflow.Dockerfile", "infrastructure/storage.tf", "infrastructure/aks.tf",
                "kubernetes/services-deployment.yaml", "kubernetes/mlflow-deployment.yaml", "kubernetes/network.yaml",
                *(str(w.relative_to(REPO)) for w in WORKFLOWS)}
    assert expected <= scanned


def test_every_checkov_skip_says_why(checkov_reports):
    skipped = [c for r in checkov_reports.values() for c in r["results"]["skipped_checks"]]
    assert skipped, "the report should list the deliberate skips"
    for c in skipped:
        reason = c["check_result"].get("suppress_comment") or ""
        assert len(reason) >= 40, f"{c['check_id']} on {c['resource']} has no real reason"


def test_checkov_fails_planted_defects(tmp_path):
    (tmp_path / "main.tf").write_text('''
resource "azurerm_storage_account" "lake" {
  name                            = "planted"
  resource_group_name             = "rg"
  location                        = "westeurope"
  account_tier                    = "Standard"
  account_replication_type        = "GRS"
  min_tls_version                 = "TLS1_0"
  allow_nested_items_to_be_public = true
}
''')
    (tmp_path / "pod.yaml").write_text('''
apiVersion: v1
kind: Pod
metadata:
  name: planted
spec:
  containers:
    - name: c
      image: busybox
      securityContext:
        privileged: true
''')
    reports = checkov("-d", str(tmp_path), frameworks=("terraform", "kubernetes"), cwd=tmp_path)
    failed = {c["check_id"] for r in reports.values() for c in r["results"]["failed_checks"]}
    assert {"CKV_AZURE_44", "CKV_AZURE_190", "CKV_K8S_16"} <= failed


# ------------------------------------------------------------------ Kubernetes
def kubernetes_problems(files: list[Path], version: str) -> list[str]:
    """kubernetes-validate --strict findings, plus our schemas for the CRD kinds it does not know."""
    proc = _run(_tool(BIN / "kubernetes-validate"), "--strict", "--quiet", "-k", version, *files)
    problems = [line for line in (proc.stdout + proc.stderr).splitlines()
                if line.strip() and not re.search(r"Couldn't find schema for kind (\w+)", line)]
    unknown = set(re.findall(r"Couldn't find schema for kind (\w+)", proc.stdout + proc.stderr))
    problems += [f"no schema for kind {k}" for k in unknown - set(CRD_SCHEMAS)]
    for path in files:
        for doc in yaml.safe_load_all(path.read_text()):
            if doc and doc.get("kind") in CRD_SCHEMAS:
                schema = json.loads((SCHEMAS / CRD_SCHEMAS[doc["kind"]]).read_text())
                problems += [f"{path.name}: {e.message}" for e in Draft202012Validator(schema).iter_errors(doc)]
    if proc.returncode and not problems:
        problems.append(f"kubernetes-validate exited with {proc.returncode}")
    return problems


@pytest.mark.parametrize("version", K8S_VERSIONS)
def test_manifests_are_valid_kubernetes(version):
    assert kubernetes_problems(MANIFESTS, version) == []


def test_kubernetes_validate_fails_planted_defects(tmp_path):
    deployment = yaml.safe_load_all((K8S / "services-deployment.yaml").read_text())
    doc = next(d for d in deployment if d["kind"] == "Deployment")
    doc["spec"]["replicas"] = "2"
    (tmp_path / "replicas.yaml").write_text(yaml.safe_dump(doc))
    doc["spec"]["replicas"] = 2
    doc["spec"]["template"]["spec"]["containers"][0]["readinessprobe"] = {}
    (tmp_path / "typo.yaml").write_text(yaml.safe_dump(doc))
    spc = yaml.safe_load((K8S / "secret-provider.yaml").read_text())
    del spc["spec"]["provider"]
    (tmp_path / "spc.yaml").write_text(yaml.safe_dump(spc))
    for name in ("replicas.yaml", "typo.yaml", "spc.yaml"):
        assert kubernetes_problems([tmp_path / name], "1.30.0") != [], name


def _docs(path: Path) -> list[dict]:
    return [d for d in yaml.safe_load_all(path.read_text()) if d]


def test_workloads_are_locked_down():
    for path in (K8S / "mlflow-deployment.yaml", K8S / "services-deployment.yaml"):
        for doc in (d for d in _docs(path) if d["kind"] == "Deployment"):
            pod = doc["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for c in pod["containers"]:
                assert c["securityContext"]["readOnlyRootFilesystem"] is True
                assert c["securityContext"]["allowPrivilegeEscalation"] is False
                assert {"requests", "limits"} <= set(c["resources"])
                assert "readinessProbe" in c and "livenessProbe" in c
                assert "@" in c["image"], "images are pinned by digest"
    services = [d for p in MANIFESTS for d in _docs(p) if d["kind"] == "Service"]
    assert {s["spec"].get("type", "ClusterIP") for s in services} == {"ClusterIP"}  # no public LoadBalancer
    for ingress in (d for p in MANIFESTS for d in _docs(p) if d["kind"] == "Ingress"):
        hosts = {r["host"] for r in ingress["spec"]["rules"]}
        assert hosts <= {h for t in ingress["spec"]["tls"] for h in t["hosts"]}, "every host is served with TLS"


def test_api_token_comes_from_a_secret():
    api = next(d for d in _docs(K8S / "services-deployment.yaml") if d["kind"] == "Deployment")
    env = {e["name"]: e for e in api["spec"]["template"]["spec"]["containers"][0]["env"]}
    assert env["API_TOKEN"]["valueFrom"]["secretKeyRef"] == {"name": "pipeline-api-secrets", "key": "API_TOKEN"}
    spc = yaml.safe_load((K8S / "secret-provider.yaml").read_text())
    assert [s["secretName"] for s in spc["spec"]["secretObjects"]] == ["pipeline-api-secrets"]
    for doc in _docs(SECRET_TEMPLATE):
        assert set(doc["stringData"].values()) == {""}, "the template carries no values"


# ------------------------------------------------------------------ Dockerfiles
def test_dockerfiles_pass_hadolint():
    proc = _run(_tool(BIN / "hadolint"), *DOCKERFILES)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_hadolint_fails_a_planted_defect(tmp_path):
    planted = tmp_path / "Dockerfile"
    planted.write_text("FROM python:latest\nRUN cd /app && apt-get install -y curl\n")
    proc = _run(_tool(BIN / "hadolint"), planted)
    assert proc.returncode != 0
    assert "DL3007" in proc.stdout and "DL3003" in proc.stdout


def test_the_api_image_runs_as_non_root_with_a_healthcheck():
    text = (REPO / "Dockerfile").read_text()
    final = text[text.rindex("\nFROM "):]
    assert "USER 10001" in final and "HEALTHCHECK" in final
    assert "api/requirements.txt" in text and "COPY lib/ lib/" in final and "COPY api/ api/" in final
    assert "api.main:app" in final and "8080" in final


# ------------------------------------------------------------------ pins
USES = re.compile(r"^\s*(?:-\s*)?uses:\s*(\S+)", re.M)
FROM = re.compile(r"^FROM\s+(?:--platform=\S+\s+)?(\S+)(?:\s+AS\s+(\S+))?", re.M | re.I)


def _unpinned(text: str) -> list[str]:
    """Actions not at a commit SHA and base images not at a digest (earlier build stages excepted)."""
    bad = [u for u in USES.findall(text) if not re.fullmatch(r"[\w.-]+/[\w./-]+@[0-9a-f]{40}", u)]
    stages = set()
    for image, stage in FROM.findall(text):
        if image not in stages and not re.fullmatch(r"[\w./:-]+@sha256:[0-9a-f]{64}", image):
            bad.append(image)
        stages.add(stage)
    return bad


def test_actions_and_base_images_are_pinned_and_dependabot_moves_the_pins():
    for path in [*WORKFLOWS, *DOCKERFILES]:
        assert _unpinned(path.read_text()) == [], path.name
    assert _unpinned("steps:\n  - uses: actions/checkout@v4\n") == ["actions/checkout@v4"]
    assert _unpinned("FROM python:3.11-slim AS build\nFROM build\n") == ["python:3.11-slim"]
    config = REPO / ".github" / "dependabot.yml"
    proc = _run(_tool(BIN / "check-jsonschema"), "--builtin-schema", "vendor.dependabot", config)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    updates = {u["package-ecosystem"]: u for u in yaml.safe_load(config.read_text())["updates"]}
    folders = {"/" + d.parent.relative_to(REPO).as_posix().removeprefix(".") for d in DOCKERFILES}
    assert folders == {"/", "/kubernetes"} and folders <= set(updates["docker"]["directories"])
    assert updates["github-actions"]["directory"] == "/"


# ------------------------------------------------------------------ workflows
HIDDEN_FAILURE = re.compile(r"\|\|\s*(true|echo|:)\b|continue-on-error|set \+e|\|\|\s*exit 0")


def test_workflows_match_the_github_schema():
    proc = _run(_tool(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", *WORKFLOWS)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_check_jsonschema_fails_a_planted_workflow(tmp_path):
    planted = tmp_path / "broken.yml"
    planted.write_text("name: broken\non: push\njobs:\n  test:\n    runs-on: ubuntu-24.04\n    step:\n      - run: make\n")
    proc = _run(_tool(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows", planted)
    assert proc.returncode != 0


def test_no_workflow_step_hides_a_failure():
    for wf in WORKFLOWS:
        assert HIDDEN_FAILURE.findall(wf.read_text()) == [], wf.name
        doc = yaml.safe_load(wf.read_text())
        assert doc["defaults"]["run"]["shell"] == "bash", "bash -eo pipefail"
    assert HIDDEN_FAILURE.search("az acr build . || true") and HIDDEN_FAILURE.search("      continue-on-error: true")


def test_ci_runs_make_test_and_keeps_the_reports():
    ci = yaml.safe_load((REPO / ".github" / "workflows" / "ci.yml").read_text())
    steps = ci["jobs"]["test"]["steps"]
    assert any(s.get("run", "").startswith("make test") for s in steps)
    upload = next(s for s in steps if s.get("uses", "").startswith("actions/upload-artifact"))
    assert "*.ipynb" in upload["with"]["path"] and "junit.xml" in upload["with"]["path"]
    assert {"pull_request", "push"} <= set(ci[True])  # PyYAML reads the key `on` as True


PLAN_ID, DEPLOY_ID = "${{ vars.AZURE_PLAN_CLIENT_ID }}", "${{ vars.AZURE_CLIENT_ID }}"


def identities(workflow: dict, pull_request: bool) -> set[str]:
    """The Azure client ids that jobs which can (or cannot) run on a pull request sign in with:
    azure/login's client-id and, where the job can get an OIDC token, ARM_CLIENT_ID (Terraform's)."""
    found = set()
    for job in workflow["jobs"].values():
        if ("pull_request" in str(job.get("if", "pull_request"))) != pull_request:
            continue
        perms = job.get("permissions", workflow.get("permissions", {}))
        if perms == "write-all" or isinstance(perms, dict) and perms.get("id-token") == "write":
            found.add({**workflow.get("env", {}), **job.get("env", {})}.get("ARM_CLIENT_ID"))
        found |= {step.get("with", {}).get("client-id") for step in job.get("steps", [])
                  if "azure/login" in step.get("uses", "")}
    return found


def test_pull_requests_sign_in_only_as_the_read_only_plan_identity():
    deploy = yaml.safe_load(DEPLOY.read_text())
    assert identities(deploy, pull_request=True) == {PLAN_ID}
    assert identities(deploy, pull_request=False) == {DEPLOY_ID}
    assert deploy["jobs"]["deploy"]["environment"] == "production"
    assert deploy["jobs"]["plan"]["if"] == "github.event_name == 'pull_request'"
    assert "terraform plan -lock=false" in DEPLOY.read_text()  # the plan identity may not take the state's lease
    # Planted: a pull-request job that logs in as the deploy identity, or inherits its token.
    job = deploy["jobs"]["plan"]
    steps = [{**st, "with": {**st["with"], "client-id": DEPLOY_ID}} if "azure/login" in st.get("uses", "") else st
             for st in job["steps"]]
    assert identities({**deploy, "jobs": {"plan": {**job, "steps": steps}}}, pull_request=True) == {PLAN_ID, DEPLOY_ID}
    # A job without permissions of its own gets the workflow's token and Terraform the workflow's ARM_CLIENT_ID.
    bare = {"if": job["if"], "runs-on": job["runs-on"], "steps": []}
    assert identities({**deploy, "permissions": {"id-token": "write"}, "jobs": {"plan": bare}},
                      pull_request=True) == {DEPLOY_ID}


def test_deploy_uses_oidc_and_an_approved_environment():
    deploy = yaml.safe_load(DEPLOY.read_text())
    assert deploy["jobs"]["deploy"]["environment"] == "production"
    assert deploy["jobs"]["deploy"]["permissions"]["id-token"] == "write"
    text = DEPLOY.read_text()
    assert "client-secret" not in text and "creds:" not in text
    for step in ("terraform plan", "terraform apply", "databricks repos update", "linkedservices/AzureDatabricks",
                 "az acr build", "az aks command invoke"):
        assert step in text, step


# ------------------------------------------------------------------ Terraform wiring (python-hcl2)
def load_terraform(folder: Path = INFRA) -> dict:
    """All .tf files of `folder` merged: {"resource": {type: {name: body}}, "variable": {...}, ...}."""
    options = SerializationOptions(strip_string_quotes=True, with_comments=False)
    merged: dict = {"resource": {}, "data": {}, "variable": {}, "output": {}, "locals": {}}
    for tf in sorted(folder.glob("*.tf")):
        parsed = hcl2.loads(tf.read_text(), serialization_options=options)
        for kind in ("resource", "data"):
            for block in parsed.get(kind, []):
                for rtype, named in block.items():
                    merged[kind].setdefault(rtype, {}).update(named)
        for kind in ("variable", "output"):
            for block in parsed.get(kind, []):
                merged[kind].update(block)
        for block in parsed.get("locals", []):
            merged["locals"].update(block)
    return merged


def _text(folder: Path = INFRA) -> str:
    return "\n".join(p.read_text() for p in sorted(folder.glob("*.tf")))


EXPECTED_ROLES = {  # role assignment -> (scope, role, principal)
    "connector_lake": ("${azurerm_storage_account.lake.id}", "Storage Blob Data Contributor",
                       "${azurerm_databricks_access_connector.this.identity[0].principal_id}"),
    "adf_databricks": ("${azurerm_databricks_workspace.this.id}", "Contributor",
                       "${azurerm_data_factory.this.identity[0].principal_id}"),
    "aks_acr_pull": ("${azurerm_container_registry.this.id}", "AcrPull",
                     "${azurerm_kubernetes_cluster.this.kubelet_identity[0].object_id}"),
    "api_gold_reader": ('${azurerm_storage_container.lake["gold"].resource_manager_id}', "Storage Blob Data Reader",
                        "${azurerm_user_assigned_identity.api.principal_id}"),
    "api_secrets": ("${azurerm_key_vault.this.id}", "Key Vault Secrets User",
                    "${azurerm_user_assigned_identity.api.principal_id}"),
    "databricks_secrets": ("${azurerm_key_vault.this.id}", "Key Vault Secrets User",
                           "${data.azuread_service_principal.azure_databricks.object_id}"),
    "deployer_acr_push": ("${azurerm_container_registry.this.id}", "AcrPush",
                          "${data.azurerm_client_config.current.object_id}"),
    "deployer_aks": ("${azurerm_kubernetes_cluster.this.id}", "Azure Kubernetes Service RBAC Cluster Admin",
                     "${data.azurerm_client_config.current.object_id}"),
}


def role_assignments(tf: dict) -> dict[str, tuple[str, str, str]]:
    return {name: (r["scope"], r["role_definition_name"], r["principal_id"])
            for name, r in tf["resource"].get("azurerm_role_assignment", {}).items()}


def variable_problems(folder: Path = INFRA) -> list[str]:
    used = set(re.findall(r"\bvar\.(\w+)", _text(folder)))
    declared = set(load_terraform(folder)["variable"])
    return [f"var.{v} is used but not declared" for v in sorted(used - declared)] + \
           [f"variable {v} is declared but never used" for v in sorted(declared - used)]


@pytest.fixture(scope="module")
def tf():
    return load_terraform()


def _default(tf: dict, name: str):
    return tf["variable"][name]["default"]


def test_every_terraform_file_parses_and_variables_match(tf):
    assert {p.name for p in INFRA.glob("*.tf")} >= {"versions.tf", "variables.tf", "main.tf", "outputs.tf"}
    assert variable_problems() == []
    example = hcl2.loads((INFRA / "terraform.tfvars.example").read_text(),
                         serialization_options=SerializationOptions(strip_string_quotes=True, with_comments=False))
    required = {n for n, v in tf["variable"].items() if "default" not in v}
    assert required <= set(example), "the example sets every variable without a default"
    assert set(example) <= set(tf["variable"])


def test_role_assignments_target_the_right_scopes(tf):
    assert role_assignments(tf) == EXPECTED_ROLES


def test_a_retargeted_role_and_an_undeclared_variable_are_caught(tmp_path):
    for p in INFRA.glob("*.tf"):
        (tmp_path / p.name).write_text(p.read_text())
    storage = tmp_path / "storage.tf"
    storage.write_text(storage.read_text().replace(
        "scope                = azurerm_storage_account.lake.id", "scope                = azurerm_resource_group.this.id"))
    monitoring = tmp_path / "monitoring.tf"
    monitoring.write_text(monitoring.read_text().replace("var.log_retention_days", "var.retention_days"))
    assert role_assignments(load_terraform(tmp_path))["connector_lake"][0] == "${azurerm_resource_group.this.id}"
    assert variable_problems(tmp_path) == ["var.retention_days is used but not declared",
                                           "variable log_retention_days is declared but never used"]


def test_the_lake_is_locked_down_and_has_every_layer(tf):
    sa = tf["resource"]["azurerm_storage_account"]["lake"]
    assert (sa["is_hns_enabled"], sa["min_tls_version"], sa["allow_nested_items_to_be_public"],
            sa["shared_access_key_enabled"], sa["https_traffic_only_enabled"]) == (True, "TLS1_2", False, False, True)
    assert sa["network_rules"][0]["default_action"] == "Deny"
    assert _default(tf, "lake_containers") == list(LAYERS)  # lib/lake.py's layers, one filesystem each
    container = tf["resource"]["azurerm_storage_container"]["lake"]
    assert container["storage_account_id"] == "${azurerm_storage_account.lake.id}"


def test_key_vault_registry_and_cluster_settings(tf):
    kv = tf["resource"]["azurerm_key_vault"]["this"]
    assert (kv["rbac_authorization_enabled"], kv["purge_protection_enabled"]) == (True, True)
    assert kv["soft_delete_retention_days"] >= 7
    acr = tf["resource"]["azurerm_container_registry"]["this"]
    assert (acr["admin_enabled"], acr["anonymous_pull_enabled"]) == (False, False)
    aks = tf["resource"]["azurerm_kubernetes_cluster"]["this"]
    assert aks["identity"][0]["type"] == "SystemAssigned"
    assert aks["role_based_access_control_enabled"] is True and aks["local_account_disabled"] is True
    assert aks["network_profile"][0]["network_policy"] in ("azure", "calico", "cilium")
    pool = tf["resource"]["azurerm_kubernetes_cluster_node_pool"]["apps"]
    assert pool["auto_scaling_enabled"] is True and pool["kubernetes_cluster_id"] == "${azurerm_kubernetes_cluster.this.id}"
    adf = tf["resource"]["azurerm_data_factory"]["this"]
    assert adf["identity"][0]["type"] == "SystemAssigned"
    diagnosed = set(re.findall(r"azurerm_(\w+)\.", json.dumps(tf["locals"]["diagnostics"])))
    assert {"storage_account", "databricks_workspace", "data_factory", "key_vault", "container_registry",
            "kubernetes_cluster"} <= diagnosed


def test_the_databricks_cluster_is_the_seeds(tf):
    cluster = tf["resource"]["databricks_cluster"]["pipeline"]
    assert cluster["spark_version"] == "${data.databricks_spark_version.lts.id}"
    assert tf["data"]["databricks_spark_version"]["lts"]["long_term_support"] is True
    assert (_default(tf, "cluster_node_type"), _default(tf, "cluster_workers"),
            _default(tf, "cluster_autotermination_minutes")) == ("Standard_DS3_v2", 2, 30)
    assert cluster["node_type_id"] == cluster["driver_node_type_id"] == "${var.cluster_node_type}"
    assert cluster["spark_conf"] == {k: v for k, v in SESSION_CONF.items() if k.startswith("spark.sql.adaptive")}
    pins = {line.strip() for line in (REPO / "requirements.txt").read_text().splitlines()}
    assert set(_default(tf, "cluster_pypi_packages")) <= pins, "the cluster installs the project's pins"


def test_terraform_agrees_with_adf_and_the_manifests(tf):
    pipeline = json.loads((REPO / "adf" / "pipeline.json").read_text())["properties"]["parameters"]
    assert _default(tf, "repo_path") == pipeline["repo_path"]["defaultValue"]
    assert _default(tf, "secret_scope") == pipeline["secret_scope"]["defaultValue"]
    assert _default(tf, "uc_schema") == pipeline["uc_schema"]["defaultValue"]
    assert tf["resource"]["databricks_volume"]["lake"]["name"] == VOLUME
    assert tf["resource"]["databricks_repo"]["project"]["path"] == "${var.repo_path}"
    namespaces = {d["metadata"].get("namespace", d["metadata"]["name"]) for p in MANIFESTS for d in _docs(p)}
    assert namespaces == {_default(tf, "api_namespace")}
    accounts = {d["metadata"]["name"] for p in MANIFESTS for d in _docs(p) if d["kind"] == "ServiceAccount"}
    assert accounts == {_default(tf, "api_service_account")}


# ------------------------------------------------------------------ what the deploy workflow reads
def test_the_deploy_workflow_reads_only_defined_outputs(tf):
    wanted = re.findall(r"^\s*out \w+ (\w+)$", DEPLOY.read_text(), flags=re.M)
    assert wanted, "the workflow reads Terraform outputs with `out ENV output_name`"
    assert set(wanted) <= set(tf["output"])


def test_every_placeholder_is_filled_by_the_deploy_workflow():
    env = yaml.safe_load(DEPLOY.read_text())["env"]
    adf_vars = set(re.findall(r"\$\{(\w+)\}", env["ADF_VARS"]))
    dashboard_vars = set(re.findall(r"\$\{(\w+)\}", env["DASHBOARD_VARS"]))
    used_dashboards = {v for p in (REPO / "dashboards").glob("*.lvdash.json")
                       for v in re.findall(r"\$\{(\w+)\}", p.read_text())}
    assert used_dashboards == dashboard_vars != set()
    manifest_vars = set(re.findall(r"\$\{(\w+)\}", env["MANIFEST_VARS"]))
    used_adf = {v for p in (REPO / "adf").glob("*.json") for v in re.findall(r"\$\{(\w+)\}", p.read_text())}
    applied = [K8S / f"{n}.yaml" for n in re.search(r"for file in ([\w -]+); do", DEPLOY.read_text())[1].split()]
    used_k8s = {v for p in applied for v in re.findall(r"\$\{(\w+)\}", p.read_text())}
    assert used_adf == adf_vars and used_k8s == manifest_vars
    assert sorted(applied) == sorted(set(MANIFESTS) - {SECRET_TEMPLATE}), "every manifest but the template is applied"
    text = DEPLOY.read_text()
    set_by_workflow = set(re.findall(r"^\s*out (\w+) \w+$", text, flags=re.M)) \
        | set(re.findall(r"^\s*build (\w+) ", text, flags=re.M)) \
        | set(re.findall(r'echo "(\w+)=', text)) | set(re.findall(r"^\s+(\w+): \$\{\{ vars\.", text, flags=re.M))
    assert adf_vars | manifest_vars | dashboard_vars <= set_by_workflow


SECRET_LIKE = re.compile(r"AccountKey=[A-Za-z0-9+/=]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY|dapi[0-9a-f]{32}"
                         r"|client_secret\s*=\s*\"[^\"$]+\"|password\s*[:=]\s*[\"']?(?!\{\{secrets/)[^\s\"'$]{6,}", re.I)


def test_no_secret_in_any_deployment_file():
    files = [*(p for p in INFRA.rglob("*") if p.is_file() and ".terraform" not in p.parts), *MANIFESTS, *DOCKERFILES,
             *WORKFLOWS, *(REPO / "adf").glob("*.json")]
    assert {p.name: SECRET_LIKE.findall(p.read_text()) for p in files if SECRET_LIKE.search(p.read_text())} == {}
    assert SECRET_LIKE.search('  client_secret = "s3cr3t-planted"')


def test_the_two_deploy_identities_trust_one_subject_each_and_hold_least_privilege(tf):
    boot = load_terraform(INFRA / "bootstrap")
    subjects = {name: (c["application_id"], c["subject"])
                for name, c in boot["resource"]["azuread_application_federated_identity_credential"].items()}
    assert subjects == {
        "plan_pull_request": ("${azuread_application.plan.id}", "repo:${var.github_repository}:pull_request"),
        "deploy_production": ("${azuread_application.deploy.id}", "repo:${var.github_repository}:environment:production")}
    roles = {name: (r["role_definition_name"], r["scope"], r["principal_id"].split(".")[1])
             for name, r in boot["resource"]["azurerm_role_assignment"].items()}
    state, sub = "${var.tfstate_storage_account_id}", "${data.azurerm_subscription.this.id}"
    assert sorted(v for v in roles.values() if v[2] == "plan") == [
        ("Reader", sub, "plan"), ("Storage Blob Data Reader", state, "plan")]
    assert sorted(v for v in roles.values() if v[2] == "deploy") == [
        ("Contributor", sub, "deploy"), ("Role Based Access Control Administrator", sub, "deploy"),
        ("Storage Blob Data Contributor", state, "deploy")]
    # The right to assign roles is limited to those the deployment assigns, for writes and deletes.
    admin = boot["resource"]["azurerm_role_assignment"]["deploy_assign_roles"]
    assert admin["condition_version"] == "2.0" and admin["condition"] == "${local.assign_condition}"
    assert set(boot["locals"]["assignable_roles"]) == {role for _, role, _ in role_assignments(tf).values()}
    assert variable_problems(INFRA / "bootstrap") == []
