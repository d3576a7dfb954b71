"""The gold anomalies table as the ML notebook writes it: a Parquet directory, local or on ADLS.

The notebook replaces the whole table at each run (`lib.lake.Lake.write_table`), so
"latest" is whatever is committed now. The table is re-read only when its files
change, which a directory listing tells cheaply.
"""
from __future__ import annotations

import os
import threading
from datetime import datetime, timedelta, timezone

import pandas as pd
import pyarrow.dataset as ds
from pyarrow import fs

COLUMNS = ("src", "window_start", "window_minutes", "anomaly_score", "is_anomaly", "explanation", "model_version")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class TableUnavailable(RuntimeError):
    """No committed table at the path yet, or not one this service can read."""


def _micros(ts: datetime) -> int:
    """Microseconds since the epoch, for any datetime (pandas' nanosecond range is narrower)."""
    if ts.tzinfo is None:
        ts = ts.replace(tzinfo=timezone.utc)
    return (ts - _EPOCH) // timedelta(microseconds=1)


class AnomaliesTable:
    """Reads and filters the anomalies table at `uri` (a local path, or abfss://... through pyarrow)."""

    def __init__(self, uri: str):
        self.uri = uri
        if "://" in uri:
            self._fs, self._root = fs.FileSystem.from_uri(uri)
        else:
            self._fs, self._root = fs.LocalFileSystem(), os.path.abspath(uri)
        self._key: tuple | None = None
        self._frame: pd.DataFrame | None = None
        self._lock = threading.Lock()

    def _files(self) -> list:
        infos = self._fs.get_file_info(fs.FileSelector(self._root, recursive=True, allow_not_found=True))
        # Like Spark, skip `_`/`.` entries: _SUCCESS, Spark's _temporary attempts, the lake's _staging and _old.
        return sorted((i.path, i.size, i.mtime_ns) for i in infos
                      if i.type == fs.FileType.File and i.path.endswith(".parquet")
                      and not any(part.startswith(("_", ".")) for part in i.path[len(self._root):].split("/")))

    def frame(self) -> pd.DataFrame:
        """The table sorted newest window first, then highest score; re-read when its files changed."""
        files = self._files()
        if not files:
            raise TableUnavailable(f"no anomalies table at {self.uri} yet: the ML notebook writes it")
        with self._lock:
            if files != self._key:
                table = ds.dataset([f[0] for f in files], filesystem=self._fs, format="parquet").to_table()
                missing = [c for c in COLUMNS if c not in table.column_names]
                if missing:
                    raise TableUnavailable(f"the anomalies table at {self.uri} lacks columns {missing}")
                df = table.select(list(COLUMNS)).to_pandas()
                # Spark stores instants (INT96 or UTC-adjusted): a zone-less column is UTC.
                df["window_start"] = pd.to_datetime(df["window_start"], utc=True)
                df["_t"] = df["window_start"].dt.as_unit("us").astype("int64")
                self._frame = df.sort_values(["_t", "anomaly_score", "src"], ascending=[False, False, True],
                                             ignore_index=True)
                self._key = files
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
