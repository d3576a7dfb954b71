"""The gold anomalies table as the pipeline published it: a Delta table, local or on ADLS.

Read with delta-rs (`deltalake`), no JVM, at the version that the last publication
recorded (the `published` table, written by the validation notebook once a batch passed:
`lib.publish`), not the newest one: a batch that fails validation is never served. The
reader sees exactly the files of that version, never a half-written commit. The table is
re-read only when the published version changes.
On ADLS (``abfss://gold@<account>.dfs.core.windows.net/...``) delta-rs takes the pod's
workload identity from the environment AKS injects (``AZURE_CLIENT_ID``,
``AZURE_TENANT_ID``, ``AZURE_FEDERATED_TOKEN_FILE``): no credential in the pod.
"""
from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pandas as pd

from lib import tables

COLUMNS = tables.columns("anomalies")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class TableUnavailable(RuntimeError):
    """No committed table at the path yet, or not one this service can read."""


def _micros(ts: datetime) -> int:
    """Microseconds since the epoch, for any datetime (pandas' nanosecond range is narrower)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return (ts - _EPOCH) // timedelta(microseconds=1)


class AnomaliesTable:
    """Reads and filters the Delta anomalies table at `uri` (a local path or an abfss:// URI)."""

    def __init__(self, uri: str, published_uri: str):
        self.uri, self.published_uri = uri, published_uri
        self._published = None
        self._seen: tuple[int, int] | None = None  # (published table version, anomalies version it names)
        self._version: int | None = None
        self._frame: pd.DataFrame | None = None
        self._lock = threading.Lock()

    def published_version(self) -> int:
        """The anomalies version of the newest publication (the `published` table is re-read only when it changed)."""
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        try:
            if self._published is None:
                self._published = DeltaTable(self.published_uri)
            else:
                self._published.update_incremental()
        except TableNotFoundError:
            self._published, self._seen = None, None
        if self._published is None:
            raise TableUnavailable(f"no anomalies table published at {self.published_uri} yet: the validation "
                                   "notebook publishes a batch once it passed")
        at = self._published.version()
        if self._seen is None or self._seen[0] != at:
            try:
                rows = [r for r in self._published.to_pyarrow_table(
                    columns=["published_at", "anomalies_version"]).to_pylist() if r["anomalies_version"] is not None]
            except FileNotFoundError:  # deleted under this reader
                self._published, self._seen = None, None
                raise TableUnavailable(f"the published table at {self.published_uri} is gone") from None
            if not rows:
                raise TableUnavailable(f"no anomalies table published at {self.published_uri} yet: the validation "
                                       "notebook publishes a batch once it passed")
            self._seen = (at, int(max(rows, key=lambda r: r["published_at"])["anomalies_version"]))
        return self._seen[1]

    def frame(self) -> pd.DataFrame:
        """The published version sorted newest window first, then highest score; re-read when it changed.

        A table deleted under this reader: the version already read is still served (it is what
        was published); one not read yet is a TableUnavailable (503), never a half-read table.
        """
        from deltalake import DeltaTable
        from deltalake.exceptions import TableNotFoundError

        with self._lock:
            version = self.published_version()
            if version != self._version:
                try:
                    data = DeltaTable(self.uri, version=version).to_pyarrow_table()
                except (TableNotFoundError, FileNotFoundError):
                    raise TableUnavailable(f"the published anomalies table at {self.uri} (version {version}) "
                                           "is gone") from None
                missing = [c for c in COLUMNS if c not in data.column_names]
                if missing:
                    raise TableUnavailable(f"the anomalies table at {self.uri} lacks columns {missing}")
                df = data.select(list(COLUMNS)).to_pandas()
                # Delta stores instants in UTC: a zone-less column is UTC.
                df["window_start"] = pd.to_datetime(df["window_start"], utc=True)
                df["_t"] = df["window_start"].dt.as_unit("us").astype("int64")
                self._frame = df.sort_values(["_t", "anomaly_score", "src"], ascending=[False, False, True],
                                             ignore_index=True)
                self._version = version
            return self._frame

    def page(self, *, since: datetime | None, until: datetime | None, src: str | None, include_normal: bool,
             offset: int, limit: int) -> dict:
        """Rows with `since` <= window_start < `until` (either open), of `src` when given, paged."""
        df = self.frame()
        keep = pd.Series(True, index=df.index)
        if not include_normal:
            keep &= df["is_anomaly"].eq(True)  # a missing flag is not an alarm
        if since is not None:
            keep &= df["_t"] >= _micros(since)
        if until is not None:
            keep &= df["_t"] < _micros(until)
        if src is not None:
            keep &= df["src"] == src
        rows = df[keep]
        chunk = rows.iloc[offset:offset + limit].drop(columns="_t").astype(object)
        items = chunk.where(chunk.notna(), None).to_dict("records")
        for item in items:
            item["window_start"] = item["window_start"].to_pydatetime()
        end = offset + len(items)
        return {"total": len(rows), "offset": offset, "limit": limit,
                "next_offset": end if end < len(rows) else None, "items": items}
