"""Structured logs: one JSON object per line on stdout, and an access log that never holds the token.

Headers are never logged, and the configured token is masked wherever else it could
appear (a client that put it in the query string, say).
"""
from __future__ import annotations

import json
import logging
import sys
import time
import uuid
from datetime import datetime, timezone
from urllib.parse import unquote_plus

access_log = logging.getLogger("api.access")


class JsonFormatter(logging.Formatter):
    """A record as JSON: time, level, logger, message, and the record's `fields` (pass extra={"fields": {...}})."""

    def format(self, record: logging.LogRecord) -> str:
        out = {"ts": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
               "level": record.levelname, "logger": record.name, "message": record.getMessage(),
               **getattr(record, "fields", {})}
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, default=str, ensure_ascii=False)


def configure(level: str) -> None:
    """Send the `api.*` loggers to stdout as JSON, and silence uvicorn's access log (ours replaces it)."""
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger("api")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False
    logging.getLogger("uvicorn.access").disabled = True


class AccessLog:
    """ASGI middleware: a request id (also sent as X-Request-ID) and one access record per HTTP request."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        request_id = uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        status = 500  # what the client gets when the app raises (the error handler answers outside this layer)
        started = time.perf_counter()

        async def send_with_id(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            settings = getattr(scope["app"].state, "settings", None)
            token = settings.api_token if settings else None
            headers = dict(scope.get("headers") or [])
            length = headers.get(b"content-length", b"")
            # Logged percent-decoded, so a percent-encoded token is masked too.
            query = unquote_plus(scope.get("query_string", b"").decode("latin-1"))
            access_log.info("request", extra={"fields": {
                "request_id": request_id, "method": scope["method"], "path": _mask(scope["path"], token),
                "query": _mask(query, token), "status": status,
                "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                "client": (scope.get("client") or ("",))[0], "bytes_in": int(length) if length.isdigit() else None,
                "user_agent": _mask(headers.get(b"user-agent", b"").decode("latin-1"), token)}})


def _mask(text: str, token: str | None) -> str:
    return text.replace(token, "***") if token else text
