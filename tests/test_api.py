"""The pipeline API over real HTTP: a real MLflow tracking server, a real uvicorn process.

One MLflow server and one API process serve the whole module; both are started on
free ports of 127.0.0.1 and stopped by process id (`devtools.devstack`). Two small models
are trained and registered here; the first is champion until the reload test moves
the alias. No Spark: the API's path has none.
"""
from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import pandas as pd
import pyarrow as pa
import pytest

from devtools import devstack
from api.config import ConfigError, Settings
from api.schemas import ParsedLine
from lib import features, model, parser, registry, synth
from lib.templates import MAX_REPEAT

MAX_LINES = 2000
MAX_BODY = 1_000_000
MAX_EVENTS = 10_000  # below MAX_LINES x MAX_REPEAT: reachable
YEAR = synth.DEFAULT_START.year
PROTECTED = (("POST", "/score"), ("GET", "/anomalies"), ("GET", "/model"), ("POST", "/model/reload"),
             ("GET", "/openapi.json"))

# The gold anomalies table: small enough to check the answers by eye.
ANOMALIES = pd.DataFrame({
    "src": ["10.0.0.1", "10.0.0.2", "10.0.0.1", "10.0.0.3", "ns.example.com"],
    "window_start": pd.to_datetime(["2026-03-02T01:00", "2026-03-02T01:00", "2026-03-02T02:00",
                                    "2026-03-02T02:00", "2026-03-02T03:00"]),
    "window_minutes": pd.array([60] * 5, dtype="int32"),
    "anomaly_score": [0.70, 0.40, 0.80, 0.65, 0.75],
    "is_anomaly": [True, False, True, True, True],
    "explanation": ["failures=40 (typical 0, +9.1σ)", "no feature above the benign profile",
                    "failures=95 (typical 0, +11.0σ)", "distinct_users=12 (typical 1, +6.0σ)",
                    "scan_events=30 (typical 0, +7.5σ)"],
    "model_version": ["1"] * 5,
})


def write_table(path: Path, frame: pd.DataFrame, publish: bool = True) -> None:
    """Commit `frame` as the table's next Delta version (a full overwrite, as the ML notebook does),
    leaving behind, as a killed Spark writer would, a data file no commit references; then, as the
    validation notebook does once a batch passed, record that version in the `published` table."""
    from deltalake import DeltaTable, write_deltalake

    frame = frame.assign(window_start=pd.to_datetime(frame["window_start"], utc=True))
    if path.exists():
        (path / f"part-00009-{secrets.token_hex(4)}.snappy.parquet").write_bytes(b"not parquet: never committed")
    write_deltalake(str(path), pa.Table.from_pandas(frame, preserve_index=False), mode="overwrite")
    if publish:
        row = pa.table({"published_at": pa.array([pd.Timestamp.now(tz="UTC")], pa.timestamp("us", tz="UTC")),
                        "anomalies_version": pa.array([DeltaTable(str(path)).version()], pa.int64())})
        write_deltalake(str(path.parent / "published"), row, mode="append")


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    work = tmp_path_factory.mktemp("api")
    table = work / "lake" / "gold" / "business_reports" / "anomalies"
    table.parent.mkdir(parents=True)
    write_table(table, ANOMALIES)
    token = secrets.token_urlsafe(32)
    tracking = devstack.start_mlflow(work)
    # Started at once: it answers /health while it waits for the registry, and loads the champion when there is one.
    api = devstack.start_api(work, {
        "API_TOKEN": token, "MLFLOW_TRACKING_URI": tracking.url, "ANOMALIES_PATH": str(table),
        "MODEL_PUBLIC_KEY": devstack.signing_key(work),
        "PUBLISHED_PATH": str(table.parent / "published"),
        "MODEL_POLL_SECONDS": "1", "MAX_LINES": str(MAX_LINES), "MAX_BODY_BYTES": str(MAX_BODY),
        "MAX_EVENTS": str(MAX_EVENTS)})
    try:
        tracking.wait()
        versions = devstack.register_demo_models(tracking.url, work)
        api.wait("/ready")
        yield SimpleNamespace(url=api.url, token=token, versions=versions, tracking_uri=tracking.url,
                              api=api, table=table, work=work)
    finally:
        api.stop()
        tracking.stop()


@pytest.fixture(scope="module")
def client(stack):
    with httpx.Client(base_url=stack.url, headers={"Authorization": f"Bearer {stack.token}"}, timeout=60) as c:
        yield c


@pytest.fixture(scope="module")
def mlflow_client(stack):
    import mlflow

    return mlflow.MlflowClient(stack.tracking_uri, stack.tracking_uri)


def text_body(lines: list[str]) -> bytes:
    return ("\n".join(lines) + "\n").encode()


def assert_error(response: httpx.Response, status: int, says: str) -> None:
    assert response.status_code == status, response.text
    body = response.json()
    assert says in body["detail"], body
    assert "Traceback" not in response.text


# ------------------------------------------------------------ configuration
def test_schema_has_one_field_per_parser_field():
    assert tuple(ParsedLine.model_fields) == parser.FIELDS


KEY = "11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="  # a public key (any 32 bytes, base64)


@pytest.mark.parametrize("env, says", [
    ({}, "API_TOKEN"),
    ({"API_TOKEN": "short"}, "API_TOKEN"),
    ({"API_TOKEN": "x" * 32, "MODEL_PUBLIC_KEY": KEY, "MAX_LINES": "many"}, "MAX_LINES"),
    ({"API_TOKEN": "x" * 32, "MODEL_PUBLIC_KEY": KEY, "WINDOW_MINUTES": "0"}, "WINDOW_MINUTES"),
    ({"API_TOKEN": "x" * 32, "MODEL_PUBLIC_KEY": KEY, "LOG_LEVEL": "chatty"}, "LOG_LEVEL"),
    ({"API_TOKEN": "x" * 32, "MODEL_PUBLIC_KEY": "not a key"}, "MODEL_PUBLIC_KEY is not an Ed25519 public key"),
    ({"API_TOKEN": "x" * 32, "MODEL_PUBLIC_KEY": KEY[:20] + "=="}, "MODEL_PUBLIC_KEY is not an Ed25519 public key"),
])
def test_settings_refuse_bad_environment(env, says):
    with pytest.raises(ConfigError, match=says):
        Settings.from_env(env)


def test_service_refuses_to_start_without_a_token(tmp_path):
    api = devstack.start_api(tmp_path, {"API_TOKEN": ""})
    try:
        assert api.proc.wait(timeout=60) != 0
    finally:
        api.stop()
    assert "API_TOKEN must be set" in api.log.read_text()


# ------------------------------------------------------------------- auth
def test_probes_need_no_token(stack):
    assert httpx.get(stack.url + "/health").json() == {"status": "ok"}
    ready = httpx.get(stack.url + "/ready")
    assert ready.status_code == 200
    assert ready.json()["ready"] is True and ready.json()["model_version"] in stack.versions


def test_not_ready_without_a_model_or_table(stack, tmp_path):
    """A second service whose model has no champion and whose table is not written: alive, not ready, 503s."""
    token = secrets.token_urlsafe(32)
    api = devstack.start_api(tmp_path, {"API_TOKEN": token, "MLFLOW_TRACKING_URI": stack.tracking_uri,
                                        "MODEL_PUBLIC_KEY": devstack.signing_key(stack.work),
                                        "MODEL_NAME": "no-such-model", "ANOMALIES_PATH": str(tmp_path / "none"),
                                        "PUBLISHED_PATH": str(tmp_path / "none-published")})
    try:
        api.wait("/health")
        auth = {"Authorization": f"Bearer {token}"}
        deadline = time.monotonic() + 60  # the first look-up in the registry answers within seconds
        while httpx.get(api.url + "/ready").json()["detail"] == "loading the model" and time.monotonic() < deadline:
            time.sleep(0.25)
        assert_error(httpx.get(api.url + "/ready"), 503, "alias 'champion' of model 'no-such-model' is not set")
        assert_error(httpx.post(api.url + "/score", headers=auth, content=b"x\n"), 503, "no model loaded yet")
        assert_error(httpx.get(api.url + "/model", headers=auth), 503, "no model loaded yet")
        assert_error(httpx.post(api.url + "/model/reload", headers=auth), 503, "not reloaded")
        assert_error(httpx.get(api.url + "/anomalies", headers=auth), 503, "no anomalies table published")
    finally:
        api.stop()


@pytest.mark.parametrize("method, path", PROTECTED)
def test_every_other_endpoint_needs_the_token(stack, method, path):
    for headers in ({}, {"Authorization": f"Bearer {secrets.token_urlsafe(32)}"},
                    {"Authorization": f"Bearer {stack.token}x"}, {"Authorization": f"Bearer {stack.token[:-1]}"},
                    {"Authorization": f"Basic {stack.token}"}, {"Authorization": stack.token}):
        response = httpx.request(method, stack.url + path, headers=headers, content=b"x")
        assert_error(response, 401, "bearer token")
        assert response.headers["www-authenticate"] == "Bearer"


# ------------------------------------------------------------------ score
def test_score_parses_every_line_and_flags_the_attackers(stack, client):
    lines, attacks = synth.generate(1500, seed=11)  # a log with attacks, and its attack sessions
    response = client.post("/score", content=text_body(lines), params={"year": YEAR},
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    body = response.json()
    expected = [parser.to_json_record(e) for e in parser.parse_lines(lines, year=YEAR)]
    assert body["events"] == expected
    categories = [e["category"] for e in expected]
    windows = body["windows"]
    assert body["summary"] == {"lines": 1500, "sshd": categories.count("sshd"), "other": categories.count("other"),
                               "quarantined": categories.count("quarantined"), "windows": len(windows),
                               "anomalies": sum(w["is_anomaly"] for w in windows)}
    assert body["model_version"] in stack.versions
    scores = [w["anomaly_score"] for w in windows]
    assert scores == sorted(scores, reverse=True)
    top = windows[0]
    assert top["is_anomaly"] and top["src"] in {a["src_ip"] for a in attacks}
    assert "typical" in top["explanation"]


def test_score_returns_the_posted_lines_incidents_compromises_first(client):
    lines = [f"Mar  3 09:00:{i:02d} h sshd[{100 + i}]: Failed password for deploy from 203.0.113.9 port {4000 + i} ssh2"
             for i in range(12)]  # past `Rules.compromise_failures`: no typo
    lines.append("Mar  3 09:01:00 h sshd[200]: Accepted password for deploy from 203.0.113.9 port 4100 ssh2")
    lines += [f"Mar  3 09:02:{i:02d} h sshd[{300 + i}]: Failed password for root from 198.51.100.7 port {i} ssh2"
              for i in range(6)]
    response = client.post("/score", json={"lines": lines, "year": YEAR})
    assert response.status_code == 200, response.text
    found = response.json()["incidents"]
    assert [(i["kind"], i["severity"], i["sources"]) for i in found][:2] == [
        ("compromise", "critical", ["203.0.113.9"]), ("brute_force", "medium", ["203.0.113.9"])]
    assert found[0]["account"] == "deploy" and found[0]["failures"] == 12 and found[0]["time_to_detect_s"] > 0
    assert ["198.51.100.7"] in [i["sources"] for i in found]
    quiet = client.post("/score", json={"lines": lines[-1:], "year": YEAR})
    assert quiet.json()["incidents"] == []


def test_features_equal_the_pipeline_definition(client):
    """Per source-window, the features the API returns are `lib.features.python_features`'s, value for value
    (tests/test_features.py holds those equal to the Spark execution)."""
    lines, _ = synth.generate(1800, seed=12)
    as_json = client.post("/score", json={"lines": lines, "year": YEAR, "timezone": "Europe/Paris"})
    as_text = client.post("/score", content=text_body(lines), params={"year": YEAR, "timezone": "Europe/Paris"},
                          headers={"Content-Type": "text/plain; charset=utf-8"})
    assert as_json.status_code == 200, as_json.text

    def content(body):  # less when each request found its incidents
        return dict(body, incidents=[{k: v for k, v in i.items() if k not in ("detected_at", "time_to_detect_s")}
                                     for i in body["incidents"]])
    assert as_json.json()["incidents"] and content(as_json.json()) == content(as_text.json())

    events = [dict(e, source_file="request") for e in parser.parse_lines(lines, year=YEAR, tz="Europe/Paris")]
    expected = {(r["src"], r["window_start"]): r for r in features.python_features(events)}
    got = {(w["src"], pd.Timestamp(w["window_start"]).to_pydatetime()): w for w in as_json.json()["windows"]}
    assert got.keys() == expected.keys() and len(got) > 20
    for key, window in got.items():
        assert window["features"] == {name: expected[key][name] for name in features.NAMES}, key
        assert pd.Timestamp(window["first_seen"]) == expected[key]["first_seen"]
        assert pd.Timestamp(window["last_seen"]) == expected[key]["last_seen"]
        assert window["window_minutes"] == 60


def test_score_limits(client):
    line = b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n"
    big = line * (MAX_BODY // len(line) + 1)
    assert_error(client.post("/score", content=big, headers={"Content-Type": "text/plain"}),
                 413, f"request body over {MAX_BODY} bytes")

    def chunks():  # no Content-Length: the limit holds while the body streams in
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]
    assert_error(client.post("/score", content=chunks(), headers={"Content-Type": "text/plain"}),
                 413, f"request body over {MAX_BODY} bytes")

    short = b"x\n"
    assert_error(client.post("/score", content=short * (MAX_LINES + 1), headers={"Content-Type": "text/plain"}),
                 413, f"{MAX_LINES + 1} lines: at most {MAX_LINES} per request")
    assert_error(client.post("/score", json={"lines": ["x"] * (MAX_LINES + 1)}), 413, f"at most {MAX_LINES}")
    at_limit = client.post("/score", content=short * MAX_LINES, headers={"Content-Type": "text/plain"})
    assert at_limit.status_code == 200 and at_limit.json()["summary"]["quarantined"] == MAX_LINES
    repeated = (b"Dec 10 06:55:46 LabSZ sshd[24200]: message repeated %d times: [ Failed password for invalid user x "
                b"from 173.234.31.186 port 22 ssh2]\n" % MAX_REPEAT)
    over = MAX_EVENTS // MAX_REPEAT + 1
    assert_error(client.post("/score", content=repeated * over, headers={"Content-Type": "text/plain"}),
                 413, f"the lines stand for {over * MAX_REPEAT} events (repeats counted): at most {MAX_EVENTS}")
    assert client.post("/score", content=repeated * (over - 1), headers={"Content-Type": "text/plain"}).status_code == 200

    # A repeated message counts as the events it stands for, but its count is a claim anyone who can
    # write to syslog can forge: 9999 claimed repeats count as at most templates.MAX_REPEAT.
    repeated = "Dec 10 06:55:{:02d} LabSZ sshd[24200]: message repeated 9999 times: [ Failed password for root " \
               "from 173.234.31.186 port 38926 ssh2]"
    forged = client.post("/score", json={"lines": [repeated.format(s) for s in range(10)]})
    assert forged.status_code == 200 and forged.json()["windows"][0]["features"]["failures"] == 10 * MAX_REPEAT


OUT_OF_RANGE = "0001-01-01T00:00:00+14:00 host sshd[1]: Failed password for root from 10.1.1.1 port 22 ssh2"


def test_a_line_out_of_the_datetime_range_is_quarantined_not_an_error(client):
    response = client.post("/score", content=f"{synth.generate(1, 1)[0][0]}\n{OUT_OF_RANGE}\n".encode(),
                           headers={"Content-Type": "text/plain"})
    assert response.status_code == 200, response.text
    held = response.json()["events"][1]
    assert (held["category"], held["reason"], held["line_number"]) == ("quarantined", "invalid timestamp", 2)


@pytest.mark.parametrize("content_type, body, params, says", [
    ("application/json", b"{not json", {}, "Invalid JSON"),
    ("application/json", b'{"lines": []}', {}, "lines: List should have at least 1 item"),
    ("application/json", b'{"lines": "one line"}', {}, "lines: Input should be a valid array"),
    ("application/json", b'{"lines": ["x"], "colour": "red"}', {}, "colour: Extra inputs are not permitted"),
    ("application/json", b'{"lines": ["x\\ny"]}', {}, "lines.0: Value error, contains a line break"),
    ("application/json", b'{"lines": ["x"], "timezone": "Mars/Olympus"}', {}, "unknown timezone 'Mars/Olympus'"),
    ("application/json", b'{"lines": ["x"], "year": true}', {}, "year: Input should be a valid integer"),
    ("text/plain", b"", {}, "the request has no log lines"),
    ("text/plain", b"x\n", {"timezone": "Mars/Olympus"}, "query.timezone: Value error, unknown timezone"),
    ("text/plain", b"x\n", {"year": "0"}, "query.year: Input should be greater than or equal to 1"),
])
def test_malformed_input_is_422_with_a_clear_message(client, content_type, body, params, says):
    assert_error(client.post("/score", content=body, params=params, headers={"Content-Type": content_type}),
                 422, says)


def test_other_media_types_are_415(client):
    assert_error(client.post("/score", content=b"<lines/>", headers={"Content-Type": "application/xml"}),
                 415, "send text/plain")


# -------------------------------------------------------------- anomalies
def items(client, **params) -> list[tuple]:
    response = client.get("/anomalies", params=params)
    assert response.status_code == 200, response.text
    return [(i["src"], i["window_start"][11:16]) for i in response.json()["items"]]


def test_anomalies_newest_first_filtered_and_paged(client):
    assert items(client) == [("ns.example.com", "03:00"), ("10.0.0.1", "02:00"), ("10.0.0.3", "02:00"),
                             ("10.0.0.1", "01:00")]
    assert ("10.0.0.2", "01:00") in items(client, include_normal="true")
    assert items(client, src="10.0.0.1") == [("10.0.0.1", "02:00"), ("10.0.0.1", "01:00")]
    assert items(client, since="2026-03-02T02:00:00Z", until="2026-03-02T03:00:00Z") == [
        ("10.0.0.1", "02:00"), ("10.0.0.3", "02:00")]
    assert len(items(client, since="2026-03-02T03:00:00+01:00")) == 3  # 02:00 UTC
    assert items(client, since="2026-03-02T03:00:00") == [("ns.example.com", "03:00")]  # zone-less: UTC

    first = client.get("/anomalies", params={"limit": 3}).json()
    assert (first["total"], len(first["items"]), first["next_offset"]) == (4, 3, 3)
    rest = client.get("/anomalies", params={"limit": 3, "offset": 3}).json()
    assert (len(rest["items"]), rest["next_offset"]) == (1, None)
    row = rest["items"][0]
    assert row == {"src": "10.0.0.1", "window_start": "2026-03-02T01:00:00Z", "window_minutes": 60,
                   "anomaly_score": 0.70, "is_anomaly": True, "explanation": "failures=40 (typical 0, +9.1σ)",
                   "model_version": "1"}


@pytest.mark.parametrize("params, says", [
    ({"limit": 0}, "query.limit: Input should be greater than or equal to 1"),
    ({"limit": 1001}, "query.limit: Input should be less than or equal to 1000"),
    ({"offset": -1}, "query.offset"),
    ({"since": "yesterday"}, "query.since: Value error, Invalid isoformat string"),
    ({"until": "0.5"}, "query.until"),
])
def test_anomalies_reject_bad_queries(client, params, says):
    assert_error(client.get("/anomalies", params=params), 422, says)


def test_anomalies_are_the_last_published_version_not_the_newest(stack, client):
    try:
        write_table(stack.table, ANOMALIES.iloc[[0]].assign(model_version="3"), publish=False)
        assert client.get("/anomalies").json()["total"] == 4  # written, its batch not validated: not served
        write_table(stack.table, ANOMALIES.iloc[[0]].assign(model_version="2"))
        assert client.get("/anomalies").json()["items"][0]["model_version"] == "2"
    finally:
        write_table(stack.table, ANOMALIES)
    assert client.get("/anomalies").json()["total"] == 4


def test_a_table_deleted_under_the_reader_keeps_the_published_rows_or_is_a_503(stack, client):
    """The version already read stays served (it is what was published); a newer publication whose
    table has gone is a 503 naming it, never a 500 or a partial read; back once the table is."""
    from deltalake import DeltaTable, write_deltalake

    served = client.get("/anomalies").json()
    moved = stack.table.with_name("anomalies-moved")
    published = stack.table.parent / "published"
    stack.table.rename(moved)
    try:
        assert client.get("/anomalies").json() == served
        row = pa.table({"published_at": pa.array([pd.Timestamp.now(tz="UTC")], pa.timestamp("us", tz="UTC")),
                        "anomalies_version": pa.array([DeltaTable(str(moved)).version() + 1], pa.int64())})
        write_deltalake(str(published), row, mode="append")  # a publication the reader has not read yet
        assert_error(client.get("/anomalies"), 503, "is gone")
    finally:
        moved.rename(stack.table)
        write_table(stack.table, ANOMALIES)
    assert client.get("/anomalies").json()["total"] == served["total"]


def test_a_broken_table_is_a_generic_500_logged_with_its_request_id(stack, client):
    from deltalake import DeltaTable

    write_table(stack.table, ANOMALIES)  # a version the API has not read yet, whose data file then breaks
    for uri in DeltaTable(str(stack.table)).file_uris():
        Path(uri.removeprefix("file://")).write_bytes(b"PAR1 truncated")
    try:
        response = client.get("/anomalies")
    finally:
        write_table(stack.table, ANOMALIES)
    assert response.status_code == 500
    request_id = response.json()["request_id"]
    assert response.json() == {"detail": "internal server error", "request_id": request_id}
    assert response.headers["x-request-id"] == request_id
    logged = [line for line in stack.api.log.read_text().splitlines() if request_id in line and "exception" in line]
    assert logged and "Traceback" in logged[0]


# ------------------------------------------------------------------ model
def test_model_reports_the_champion_and_its_training_run(stack, client, mlflow_client):
    champion = mlflow_client.get_model_version_by_alias(model.MODEL_NAME, registry.CHAMPION)
    info = client.get("/model").json()
    assert (info["name"], info["alias"], info["version"]) == (model.MODEL_NAME, registry.CHAMPION, champion.version)
    assert info["run_id"] == champion.run_id
    assert info["metrics"] == mlflow_client.get_run(champion.run_id).data.metrics
    assert 0 < info["metrics"]["pr_auc"] <= 1 and info["params"]["window_minutes"] == "60"


def test_reload_follows_the_alias(stack, client, mlflow_client):
    first, second = stack.versions
    mlflow_client.set_registered_model_alias(model.MODEL_NAME, registry.CHAMPION, second)
    reload = client.post("/model/reload")
    assert reload.status_code == 200 and reload.json()["version"] == second
    assert client.get("/model").json()["version"] == second
    assert client.post("/score", json={"lines": synth.generate(50, seed=13)[0]}).json()["model_version"] == second

    mlflow_client.delete_registered_model_alias(model.MODEL_NAME, registry.CHAMPION)
    assert_error(client.post("/model/reload"), 503, "alias 'champion' of model 'ssh-anomaly-model' is not set")
    assert client.get("/model").json()["version"] == second  # the loaded version keeps serving

    mlflow_client.set_registered_model_alias(model.MODEL_NAME, registry.CHAMPION, first)
    deadline = time.monotonic() + 60  # without /model/reload: the service polls the alias every second
    while client.get("/model").json()["version"] != first and time.monotonic() < deadline:
        time.sleep(0.5)
    assert client.get("/model").json()["version"] == first


def test_a_version_not_signed_by_the_pipeline_is_never_loaded(stack, client, mlflow_client):
    """Whoever can move the alias cannot choose the code the API runs: an unsigned version, one
    signed with another key and one whose signed artifacts were swapped are refused; the loaded
    version keeps serving."""
    import mlflow

    from lib import signing

    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    mlflow.set_tracking_uri(stack.tracking_uri)  # where sign_version downloads from (as lib.registry.setup_mlflow sets)
    mlflow.set_registry_uri(stack.tracking_uri)
    first = stack.versions[0]
    source = mlflow_client.get_model_version(model.MODEL_NAME, first)
    forged = signing.new_private_key()
    cases = {"the version is not signed": {},
             "does not verify with the configured public key": None,
             "is not the one signed": {signing.DIGEST_TAG: "0" * 64,
                                       signing.SIGNATURE_TAG: signing.sign("0" * 64, signing.local_key(stack.work))}}
    try:
        for says, tags in cases.items():
            version = mlflow_client.create_model_version(model.MODEL_NAME, source.source, source.run_id,
                                                    model_id=source.model_id or source.source.removeprefix("models:/")).version
            if tags is None:
                signing.sign_version(mlflow_client, model.MODEL_NAME, version, forged)
            for k, v in (tags or {}).items():
                mlflow_client.set_model_version_tag(model.MODEL_NAME, version, k, v)
            mlflow_client.set_registered_model_alias(model.MODEL_NAME, registry.CHAMPION, version)
            assert_error(client.post("/model/reload"), 503, f"version {version} refused: ")
            assert says in client.post("/model/reload").json()["detail"]
            assert client.get("/model").json()["version"] == first
    finally:
        mlflow_client.set_registered_model_alias(model.MODEL_NAME, registry.CHAMPION, first)
        mlflow.set_tracking_uri(before[0])
        mlflow.set_registry_uri(before[1])
    assert client.post("/model/reload").status_code == 200


# ------------------------------------------------------------ logs, schema
def test_access_log_is_json_and_never_holds_the_token(stack, client):
    client.get("/health", params={"note": stack.token})
    httpx.get(stack.url + "/model", headers={"Authorization": "Bearer wrong-token-of-some-length"})
    text = stack.api.log.read_text()
    assert stack.token not in text
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    access = [r for r in records if r["logger"] == "api.access"]
    assert {"request_id", "method", "path", "query", "status", "duration_ms", "client"} <= access[-1].keys()
    assert any(r["path"] == "/health" and r["query"] == "note=***" for r in access)
    assert any(r["path"] == "/model" and r["status"] == 401 for r in access)


def test_openapi_schema_documents_both_bodies_with_examples(stack, client):
    assert httpx.get(stack.url + "/docs").status_code == 404  # a browser page could not send the token
    schema = client.get("/openapi.json").json()
    assert set(schema["paths"]) == {"/health", "/ready", "/score", "/anomalies", "/model", "/model/reload"}
    body = schema["paths"]["/score"]["post"]["requestBody"]["content"]
    assert "sshd[" in body["text/plain"]["example"]
    assert body["application/json"]["schema"]["examples"][0]["lines"]
    assert schema["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    for name in ("ParsedLine", "ScoredWindow", "AnomalyPage", "ModelInfo"):
        assert schema["components"]["schemas"][name]["examples"], name


def test_fuzzing_the_schema_finds_no_server_error(stack, tmp_path):
    """Schemathesis generates valid and invalid requests from the OpenAPI schema: no 5xx, responses as
    documented, invalid input rejected, valid input accepted, auth enforced (`--checks all`)."""
    st = Path(sys.executable).with_name("st")
    run = subprocess.run([str(st), "run", f"{stack.url}/openapi.json", "--checks", "all", "--max-examples", "100",
                          "--seed", "1", "--workers", "2", "-H", f"Authorization: Bearer {stack.token}"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=110)
    assert run.returncode == 0, run.stdout[-6000:]
    assert "No issues found" in run.stdout
