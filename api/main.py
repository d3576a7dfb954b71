"""The FastAPI application: ``uvicorn api.main:app --host 0.0.0.0 --port 8080``.

Everything but /health and /ready needs ``Authorization: Bearer $API_TOKEN``. Errors
are JSON ``{"detail": ...}``; an unexpected one is a 500 with a request id, its
traceback only in the server log.
"""
from __future__ import annotations

import asyncio
import hmac
import logging
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import APIRouter, Depends, FastAPI, HTTPException, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from api import logs, scoring
from api.anomalies import AnomaliesTable, TableUnavailable
from api.champion import Champion, Loaded, ModelUnavailable
from api.config import Settings
from api.schemas import (EXAMPLE_LINES, AnomalyPage, Error, Health, Instant, ModelInfo, Ready, Reload,
                         ScoreRequest, ScoreResponse, Timezone, Year)
from lib import parser

log = logging.getLogger("api")
STARTUP_RETRY_SECONDS = 5  # until the first version is loaded (the registry may start after us)
MAX_PAGE = 1000


async def follow_alias(champion: Champion, interval: int) -> None:
    """Load the alias's version now, then again whenever the alias has moved (checked every `interval` s)."""
    while True:
        try:
            await asyncio.to_thread(champion.refresh)
        except ModelUnavailable as exc:
            log.warning("model not (re)loaded", extra={"fields": {"reason": str(exc)}})
        await asyncio.sleep(interval if champion.current else min(interval, STARTUP_RETRY_SECONDS))


@asynccontextmanager
async def lifespan(app: FastAPI):
    settings = Settings.from_env()
    logs.configure(settings.log_level)
    app.state.settings = settings
    app.state.anomalies = AnomaliesTable(settings.anomalies_path, settings.published_path)
    app.state.champion = Champion(settings.tracking_uri, settings.model_name, settings.model_alias,
                                  settings.model_public_key)
    # In the background: /health answers while the model downloads, /ready once it is loaded.
    poller = asyncio.create_task(follow_alias(app.state.champion, settings.poll_seconds))
    log.info("started", extra={"fields": {"model": f"{settings.model_name}@{settings.model_alias}",
                                          "anomalies_path": settings.anomalies_path,
                                          "published_path": settings.published_path,
                                          "max_lines": settings.max_lines, "max_body_bytes": settings.max_body_bytes,
                                          "max_events": settings.max_events}})
    yield
    poller.cancel()


def settings_of(request: Request) -> Settings:
    return request.app.state.settings


def loaded_model(request: Request) -> Loaded:
    """The version in service, or 503 until the first one is loaded."""
    loaded = request.app.state.champion.current
    if loaded is None:
        raise HTTPException(503, "no model loaded yet")
    return loaded


SettingsDep = Annotated[Settings, Depends(settings_of)]
LoadedDep = Annotated[Loaded, Depends(loaded_model)]
bearer = HTTPBearer(auto_error=False, description="the API_TOKEN the service was started with")


def require_token(settings: SettingsDep, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> None:
    expected = settings.api_token.encode()
    given = credentials.credentials.encode() if credentials else b""
    # Constant-time: the comparison must not tell how much of a guess was right.
    if not hmac.compare_digest(given, expected):
        raise HTTPException(401, "missing or invalid bearer token", headers={"WWW-Authenticate": "Bearer"})


ERRORS = {401: {"model": Error, "description": "no or wrong bearer token"},
          422: {"model": Error, "description": "malformed request"},
          503: {"model": Error, "description": "model or table not available yet"}}

# The schema is served behind the token like everything else (below), so no browser docs page:
# Swagger UI could not send the token to fetch it.
app = FastAPI(title="sshd anomaly API", version="1.0.0", lifespan=lifespan, openapi_url=None, docs_url=None,
              redoc_url=None,
              description="Scores sshd log lines with the champion model of the pipeline and serves the latest "
                          "gold anomalies. Send `Authorization: Bearer <API_TOKEN>` to every endpoint but "
                          "/health and /ready.")
app.add_middleware(logs.AccessLog)
protected = APIRouter(dependencies=[Depends(require_token)], responses=ERRORS)


def describe(errors: list[dict]) -> str:
    """Pydantic's errors as one readable line: where and what (not pydantic's `input`, which can be a whole body)."""
    return "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'body'}: {e['msg']}" for e in errors)


@app.exception_handler(RequestValidationError)
async def invalid_request(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse({"detail": describe(exc.errors())}, status_code=422)


@app.exception_handler(Exception)
async def internal_error(request: Request, exc: Exception) -> JSONResponse:
    request_id = request.scope.get("state", {}).get("request_id")
    log.error("unhandled error", exc_info=exc, extra={"fields": {"request_id": request_id}})
    return JSONResponse({"detail": "internal server error", "request_id": request_id}, status_code=500,
                        headers={"X-Request-ID": request_id})


@app.get("/health", response_model=Health, tags=["probes"])
def health() -> dict:
    """Liveness: the process answers."""
    return {"status": "ok"}


@app.get("/ready", response_model=Ready, tags=["probes"], responses={503: {"model": Ready}})
def ready(request: Request):
    """Readiness: a model version is loaded (503 with the reason until then)."""
    champion: Champion = request.app.state.champion
    if champion.current is None:
        return JSONResponse(Ready(ready=False, detail=champion.error or "loading the model").model_dump(),
                            status_code=503)
    return {"ready": True, "model_version": champion.current.version}


async def read_body(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it exceeds `limit` bytes (declared or streamed)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"request body over {limit} bytes")
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise HTTPException(413, f"request body over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


SCORE_BODY = {"required": True, "content": {
    "text/plain": {"schema": {"type": "string", "minLength": 1}, "example": "\n".join(EXAMPLE_LINES) + "\n"},
    "application/json": {"schema": ScoreRequest.model_json_schema()}}}


@protected.post("/score", response_model=ScoreResponse, tags=["scoring"],
                openapi_extra={"requestBody": SCORE_BODY},
                responses={413: {"model": Error, "description": "body, lines or events over the limit"},
                           415: {"model": Error, "description": "neither text/plain nor application/json"}})
async def score(request: Request, settings: SettingsDep, loaded: LoadedDep,
                year: Annotated[Year | None, Query(description="text/plain: as in ScoreRequest")] = None,
                timezone: Annotated[Timezone, Query(description="text/plain: as in ScoreRequest")] = "UTC"):
    """Parse log lines as the pipeline does, aggregate them per source-window and score the windows.

    Send raw lines as text/plain (one per line, UTF-8; invalid bytes become U+FFFD as in the
    pipeline), or JSON `{"lines": [...], "year": ..., "timezone": ...}`.
    """
    body = await read_body(request, settings.max_body_bytes)
    media = request.headers.get("content-type", "").split(";")[0].strip().lower()
    try:
        if media == "text/plain":
            lines = scoring.split_lines(body)
        elif media == "application/json":
            req = ScoreRequest.model_validate_json(body)
            lines, year, timezone = scoring.json_lines(req.lines), req.year, req.timezone
        else:
            raise HTTPException(415, "send text/plain (one log line per line) or application/json {\"lines\": [...]}")
    except ValidationError as exc:
        raise HTTPException(422, describe(exc.errors()))
    if not lines:
        raise HTTPException(422, "the request has no log lines")
    if len(lines) > settings.max_lines:
        raise HTTPException(413, f"{len(lines)} lines: at most {settings.max_lines} per request")

    def work() -> dict:
        events = scoring.parse(lines, year, timezone)
        count = scoring.represented(events)
        if count > settings.max_events:
            raise HTTPException(413, f"the lines stand for {count} events (repeats counted): "
                                     f"at most {settings.max_events} per request")
        windows, summary = scoring.score(events, loaded.pyfunc, settings.window_minutes, settings.burst_minutes)
        return {"model_name": settings.model_name, "model_version": loaded.version, "summary": summary,
                "incidents": scoring.incidents(events, windows), "windows": windows,
                "events": [parser.to_json_record(e) for e in events]}

    return await run_in_threadpool(work)  # CPU-bound: keep the event loop free for probes


@protected.get("/anomalies", response_model=AnomalyPage, tags=["anomalies"])
def anomalies(request: Request,
              since: Annotated[Instant | None, Query(description="windows starting at or after (no zone: UTC)")] = None,
              until: Annotated[Instant | None, Query(description="windows starting before (no zone: UTC)")] = None,
              src: Annotated[str | None, Query(max_length=255, description="one source (IP or host name)")] = None,
              include_normal: Annotated[bool, Query(description="also windows the model did not flag")] = False,
              offset: Annotated[int, Query(ge=0, le=2**31 - 1)] = 0,
              limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 100) -> dict:
    """The gold anomalies table as last published (its batch passed validation), filtered and paged."""
    try:
        return request.app.state.anomalies.page(since=since, until=until, src=src, include_normal=include_normal,
                                                offset=offset, limit=limit)
    except TableUnavailable as exc:
        raise HTTPException(503, str(exc))


@protected.get("/model", response_model=ModelInfo, tags=["model"])
def model_info(settings: SettingsDep, loaded: LoadedDep) -> dict:
    """The version in service: registry alias, training run, its metrics and parameters."""
    return {"name": settings.model_name, "alias": settings.model_alias, "version": loaded.version,
            "run_id": loaded.run_id, "created_at": loaded.created_at, "loaded_at": loaded.loaded_at,
            "window_minutes": settings.window_minutes, "metrics": loaded.metrics, "params": loaded.params}


@protected.post("/model/reload", response_model=Reload, tags=["model"])
async def reload(request: Request) -> dict:
    """Follow the alias now instead of at the next poll."""
    try:
        previous, version = await asyncio.to_thread(request.app.state.champion.refresh)
    except ModelUnavailable as exc:
        raise HTTPException(503, f"not reloaded: {exc}")
    return {"changed": previous != version, "previous_version": previous, "version": version}


@protected.get("/openapi.json", include_in_schema=False)
def openapi(request: Request) -> dict:
    return request.app.openapi()


app.include_router(protected)
