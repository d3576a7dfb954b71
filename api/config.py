"""The service's settings: environment variables, read once at start-up.

Every variable, its default and its meaning is in api/README.md; `Settings.from_env`
refuses to start on a missing token or a malformed number, so a bad deployment fails
at once with a message instead of misbehaving later.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Mapping

from lib import registry, signing
from lib.config import DEFAULTS
from lib.lake import Lake, default_output, default_tracking_uri

MIN_TOKEN_CHARS = 16  # a shorter bearer token is guessable: refuse it rather than run with it
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


class ConfigError(ValueError):
    """An environment variable is missing or malformed."""


@dataclass(frozen=True)
class Settings:
    api_token: str
    tracking_uri: str
    model_name: str
    model_alias: str
    model_public_key: str
    poll_seconds: int
    anomalies_path: str
    published_path: str
    max_lines: int
    max_body_bytes: int
    max_events: int
    window_minutes: int
    burst_minutes: int
    log_level: str

    @classmethod
    def from_env(cls, env: Mapping[str, str] = os.environ) -> "Settings":
        """Settings from `env`; raises ConfigError naming the variable at fault."""
        token = env.get("API_TOKEN", "")
        if len(token) < MIN_TOKEN_CHARS:
            raise ConfigError(f"API_TOKEN must be set to a secret of at least {MIN_TOKEN_CHARS} characters")

        def number(name: str, default: int) -> int:
            raw = env.get(name, "")
            try:
                value = int(raw) if raw else default
            except ValueError:
                raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
            if value < 1:
                raise ConfigError(f"{name} must be at least 1, got {value}")
            return value

        # The API loads only model versions signed by the pipeline's key (lib/signing.py).
        local_key = default_output() / "model-signing" / "public.key"
        public_key = env.get("MODEL_PUBLIC_KEY") or (local_key.read_text().strip() if local_key.exists() else "")
        if not public_key:
            raise ConfigError("MODEL_PUBLIC_KEY must be set to the public key the pipeline signs models with "
                              "(base64; a local run writes it to output/model-signing/public.key)")
        try:
            signing.load_public_key(public_key)
        except ValueError as exc:
            raise ConfigError(f"MODEL_PUBLIC_KEY is not an Ed25519 public key: {exc}") from None

        log_level = (env.get("LOG_LEVEL") or "INFO").upper()
        if log_level not in LOG_LEVELS:
            raise ConfigError(f"LOG_LEVEL must be one of {', '.join(LOG_LEVELS)}, got {log_level!r}")
        return cls(
            api_token=token,
            tracking_uri=env.get("MLFLOW_TRACKING_URI") or default_tracking_uri(),
            model_name=env.get("MODEL_NAME") or DEFAULTS.model_name,
            model_alias=env.get("MODEL_ALIAS") or registry.CHAMPION,
            model_public_key=public_key,
            poll_seconds=number("MODEL_POLL_SECONDS", 60),
            anomalies_path=env.get("ANOMALIES_PATH") or Lake.from_params().path("anomalies"),
            published_path=env.get("PUBLISHED_PATH") or Lake.from_params().path("published"),
            max_lines=number("MAX_LINES", 10_000),
            max_body_bytes=number("MAX_BODY_BYTES", 4 * 1024 * 1024),
            # "message repeated N times" lines count N times: without this cap, 10,000 such lines stand for
            # 10^8 events and one request would hold a core and gigabytes for a minute.
            max_events=number("MAX_EVENTS", 50_000),
            window_minutes=number("WINDOW_MINUTES", DEFAULTS.window_minutes),
            burst_minutes=number("BURST_MINUTES", DEFAULTS.burst_minutes),
            log_level=log_level,
        )
