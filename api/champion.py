"""The model the service scores with: the registry alias's version, reloaded when the alias moves."""
from __future__ import annotations

import logging
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from datetime import datetime, timezone

from lib import registry, signing

log = logging.getLogger("api.champion")


class ModelUnavailable(RuntimeError):
    """The alias is unset, or the registry or the model cannot be reached."""


@dataclass(frozen=True)
class Loaded:
    """One loaded version with what /model reports about it; replaced whole, never changed."""

    pyfunc: object
    version: str
    run_id: str | None
    created_at: datetime | None
    metrics: dict
    params: dict
    loaded_at: datetime = field(default_factory=lambda: datetime.now(timezone.utc))


class Champion:
    """Holds the loaded version of `name@alias`; `refresh` follows the alias."""

    def __init__(self, tracking_uri: str, name: str, alias: str, public_key: str):
        import mlflow

        # The registry lives beside the tracking server, as in the pipeline (lib.registry.setup_mlflow).
        mlflow.set_tracking_uri(tracking_uri)
        mlflow.set_registry_uri(tracking_uri)
        self.client = mlflow.MlflowClient(tracking_uri, tracking_uri)
        self.name, self.alias = name, alias
        self.key = signing.load_public_key(public_key)
        self.current: Loaded | None = None
        self._folder: str | None = None  # the verified artifacts of the loaded version
        self.error: str | None = None
        self._lock = threading.Lock()  # the poller and /model/reload never load the same version twice

    def refresh(self) -> tuple[str | None, str]:
        """Load the alias's version if it is not the one loaded: (previous version, current version).

        On failure the loaded version stays in service and ModelUnavailable says why.
        """
        with self._lock:
            previous = self.current.version if self.current else None
            try:
                version = registry.alias_version(self.client, self.name, self.alias)
                if version is not None and version.version != previous:
                    self.current = self._load(version)
                    log.info("model loaded", extra={"fields": {"model": self.name, "version": version.version,
                                                               "previous_version": previous}})
            except Exception as exc:  # registry down, broken artifacts...: all mean "not reloaded"
                self.error = _reason(exc)
                raise ModelUnavailable(self.error) from exc
            if version is None:
                self.error = f"alias {self.alias!r} of model {self.name!r} is not set"
                raise ModelUnavailable(self.error)
            self.error = None
            return previous, self.current.version

    def _load(self, version) -> Loaded:
        import mlflow.pyfunc

        # By version, not by alias: the alias may move again between the lookup and the download.
        # The bytes that are verified are the bytes that are loaded (no second download).
        folder = tempfile.mkdtemp(prefix=f"model-v{version.version}-")
        try:
            local = signing.download(self.name, version.version, folder)
            try:
                signing.verify(local, version.tags, self.key)
            except signing.SignatureError as exc:
                raise signing.SignatureError(f"version {version.version} refused: {exc}") from None
            pyfunc = mlflow.pyfunc.load_model(local)
        except BaseException:
            shutil.rmtree(folder, ignore_errors=True)
            raise
        previous, self._folder = self._folder, folder
        if previous:
            shutil.rmtree(previous, ignore_errors=True)
        run = self.client.get_run(version.run_id) if version.run_id else None
        created = version.creation_timestamp
        return Loaded(pyfunc=pyfunc, version=str(version.version), run_id=version.run_id,
                      created_at=datetime.fromtimestamp(created / 1000, timezone.utc) if created else None,
                      metrics=dict(run.data.metrics) if run else {}, params=dict(run.data.params) if run else {})


def _reason(exc: Exception) -> str:
    """A one-line reason for logs and 503 bodies (MLflow's messages can span pages)."""
    text = str(exc).strip().splitlines()
    return (f"{type(exc).__name__}: {text[0]}" if text else type(exc).__name__)[:300]
