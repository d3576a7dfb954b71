"""Request and response bodies: what the OpenAPI schema shows, with examples.

`ParsedLine` has one field per `lib.parser.FIELDS` and `ScoredWindow.features` one
key per `lib.features.NAMES`; tests/test_api.py holds them together.
"""
from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal
from zoneinfo import available_timezones

from annotated_types import Interval
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema

EXAMPLE_LINES = [
    "Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186",
    "Dec 10 06:55:48 LabSZ sshd[24200]: Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
    "Dec 10 06:55:52 LabSZ sshd[24202]: Failed password for root from 173.234.31.186 port 38951 ssh2",
    "Dec 10 06:55:58 LabSZ sshd[24202]: Connection closed by 173.234.31.186 [preauth]",
]
TIMEZONES = frozenset(available_timezones() | {"UTC"})


def _known_zone(name: str) -> str:
    if name not in TIMEZONES:
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as 'UTC' or 'Europe/Paris'")
    return name


def _one_line(text: str) -> str:
    if "\n" in text:
        raise ValueError("contains a line break: send one log line per item")
    return text


# Input types kept in line with their JSON schema (the schemathesis test sends both valid and invalid input).
# A zone the parser can read; the schema lists them all.
Timezone = Annotated[str, AfterValidator(_known_zone), WithJsonSchema({"type": "string", "enum": sorted(TIMEZONES)})]
LogLine = Annotated[str, AfterValidator(_one_line), WithJsonSchema({"type": "string", "pattern": "^[^\\n]*$"})]
# ISO 8601 only: pydantic alone would also read "0.5" as a Unix time.
Instant = Annotated[datetime, BeforeValidator(lambda v: datetime.fromisoformat(v) if isinstance(v, str) else v)]
# JSON Schema counts 2024.0 as an integer, strict pydantic would not.
Year = Annotated[int, Interval(ge=1, le=9999),
                 BeforeValidator(lambda v: int(v) if isinstance(v, float) and v.is_integer() else v)]


class Out(BaseModel):
    # Run metrics and Parquet columns can hold NaN, which JSON cannot: it is sent as null.
    model_config = ConfigDict(ser_json_inf_nan="null")


class Error(Out):
    detail: str = Field(examples=["missing or invalid bearer token"])
    request_id: str | None = Field(None, description="quote it when reporting a server error")


class ScoreRequest(BaseModel):
    """Log lines as JSON. The same can be sent as text/plain, one line per line."""

    # Strict: `"year": true` is a mistake to report, not the year 1.
    model_config = ConfigDict(extra="forbid", strict=True, json_schema_extra={"examples": [
        {"lines": EXAMPLE_LINES, "year": 2024, "timezone": "UTC"}]})

    lines: list[LogLine] = Field(min_length=1, description="raw syslog lines, one per item")
    year: Year | None = Field(None, description="year of the first line without one (BSD syslog); default: this year")
    timezone: Timezone = Field("UTC", description="IANA zone of timestamps written without one")


class ParsedLine(Out):
    """One request line as the pipeline's parser reads it (`category` says whether it is sshd's)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "line_number": 2, "timestamp": "2024-12-10T06:55:48Z", "host": "LabSZ", "process": "sshd", "pid": 24200,
        "category": "sshd", "event_id": "E10",
        "event_template": "Failed password for invalid user <*> from <*> port <*> ssh2",
        "message": "Failed password for invalid user webmaster from 173.234.31.186 port 38926 ssh2",
        "user": "webmaster", "invalid_user": True, "src_ip": "173.234.31.186", "src_host": None, "src_port": 38926,
        "auth_method": "password", "key_type": None, "key_fingerprint": None, "outcome": "failure",
        "action": "auth_failure", "preauth": False, "repeat_count": 1, "inferred": [], "suspicious": [],
        "reason": None}]})

    line_number: int
    timestamp: str | None = Field(description="ISO 8601, UTC")
    host: str | None
    process: str | None
    pid: int | None
    category: Literal["sshd", "other", "quarantined"]
    event_id: str | None
    event_template: str | None
    message: str | None
    user: str | None
    invalid_user: bool | None
    src_ip: str | None
    src_host: str | None
    src_port: int | None
    auth_method: str | None
    key_type: str | None
    key_fingerprint: str | None
    outcome: str | None
    action: str | None
    preauth: bool | None
    repeat_count: int | None
    inferred: list[str] = Field(description="fields given by another line of the same connection (host, pid)")
    suspicious: list[str] = Field(description="why the line is implausible as sshd's own (a count above the cap, "
                                              "characters sshd escapes); the line is kept, capped")
    reason: str | None = Field(description="why a quarantined line could not be parsed")


class ScoredWindow(Out):
    """One source during one window: its features, as the pipeline computes them, and the model's verdict."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "src": "173.234.31.186", "window_start": "2024-12-10T06:00:00Z", "window_minutes": 60,
        "first_seen": "2024-12-10T06:55:46Z", "last_seen": "2024-12-10T06:55:58Z",
        "features": {"events": 4.0, "attempts": 2.0, "failures": 2.0, "failure_ratio": 1.0, "root_attempts": 1.0},
        "anomaly_score": 0.61, "is_anomaly": True,
        "explanation": "failures_without_success=2 (typical 0, +2.6σ); root_attempts=1 (typical 0, +2.1σ)"}]})

    src: str = Field(description="peer IP address, or host name when only a name is logged")
    window_start: datetime
    window_minutes: int
    first_seen: datetime
    last_seen: datetime
    features: dict[str, float] = Field(description="every feature of lib.features, by name")
    anomaly_score: float = Field(description="higher is more anomalous")
    is_anomaly: bool
    explanation: str = Field(description="the features furthest above the benign profile")


class Summary(Out):
    lines: int
    sshd: int
    other: int
    quarantined: int
    windows: int
    anomalies: int


class Incident(Out):
    """One incident, as `lib.incidents.detect` finds it in the pipeline (gold `incidents`)."""

    incident_id: str
    rank: int
    kind: Literal["compromise", "brute_force", "password_spraying", "credential_stuffing", "low_and_slow",
                  "distributed_campaign", "scanning"]
    severity: Literal["critical", "high", "medium", "low"]
    techniques: list[str] = Field(description="MITRE ATT&CK technique ids")
    summary: str
    sources: list[str]
    source_count: int
    first_seen: str
    last_seen: str
    attempts: int
    failures: int
    successes: int
    distinct_users: int
    top_users: list[str]
    invalid_users: int
    account: str | None = Field(description="for a compromise: the account that was logged in to")
    success_at: str | None
    success_source: str | None
    evidence: list[str] = Field(description="source file and line ranges")
    detectors: list[str]
    model_score: float | None
    detected_at: str = Field(description="when this request found it (UTC)")
    time_to_detect_s: float | None = Field(description="for a compromise: seconds from the success line to detected_at")


class ScoreResponse(Out):
    model_name: str
    model_version: str
    summary: Summary
    incidents: list[Incident] = Field(description="the posted lines' incidents, compromises first")
    windows: list[ScoredWindow] = Field(description="source-windows, most anomalous first")
    events: list[ParsedLine] = Field(description="every request line, in order")


class Anomaly(Out):
    """A row of the gold anomalies table."""

    src: str
    window_start: datetime
    window_minutes: int | None
    anomaly_score: float | None
    is_anomaly: bool | None
    explanation: str | None
    model_version: str | None


class AnomalyPage(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "total": 1, "offset": 0, "limit": 100, "next_offset": None, "items": [{
            "src": "173.234.31.186", "window_start": "2024-12-10T06:00:00Z", "window_minutes": 60,
            "anomaly_score": 0.71, "is_anomaly": True, "model_version": "3",
            "explanation": "failures=312 (typical 0, +9.8σ); peak_failures_burst=64 (typical 0, +8.1σ)"}]}]})

    total: int = Field(description="rows matching the filters")
    offset: int
    limit: int
    next_offset: int | None = Field(description="offset of the next page, null on the last")
    items: list[Anomaly] = Field(description="newest window first, then highest score")


class ModelInfo(Out):
    model_config = ConfigDict(json_schema_extra={"examples": [{
        "name": "ssh-anomaly-model", "alias": "champion", "version": "3", "run_id": "9f1c0c4e5b2a4c6f8e1d2a3b4c5d6e7f",
        "created_at": "2026-11-26T10:40:00Z", "loaded_at": "2026-11-26T10:41:02Z", "window_minutes": 60,
        "metrics": {"pr_auc": 0.97, "recall": 0.96, "recall_brute_force": 1.0}, "params": {"window_minutes": "60"}}]})

    name: str
    alias: str
    version: str
    run_id: str | None
    created_at: datetime | None
    loaded_at: datetime
    window_minutes: int = Field(description="window this service aggregates request lines into")
    metrics: dict[str, float | None] = Field(description="metrics of the training run")
    params: dict[str, str] = Field(description="parameters of the training run")


class Reload(Out):
    changed: bool
    previous_version: str | None
    version: str


class Health(Out):
    status: Literal["ok"] = "ok"


class Ready(Out):
    ready: bool
    model_version: str | None = None
    detail: str | None = None
