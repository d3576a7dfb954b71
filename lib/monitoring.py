"""Watching the model in production: the batch's predictions, anomaly rate and drift (PSI per feature)."""
from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd

from lib import features, tables

def psi(expected: np.ndarray, actual: np.ndarray, bins: int = 10) -> float:
    """Population stability index of `actual` against `expected` (quantile bins of expected)."""
    expected, actual = np.log1p(np.asarray(expected, float)), np.log1p(np.asarray(actual, float))
    if len(expected) == 0 or len(actual) == 0:
        return float("nan")
    edges = np.unique(np.quantile(expected, np.linspace(0, 1, bins + 1)))
    if len(edges) < 2:
        edges = np.array([edges[0] - 0.5, edges[0] + 0.5])
    edges[0], edges[-1] = -np.inf, np.inf
    e = np.histogram(expected, edges)[0] / len(expected)
    a = np.histogram(actual, edges)[0] / len(actual)
    e, a = np.clip(e, 1e-4, None), np.clip(a, 1e-4, None)
    return float(np.sum((a - e) * np.log(a / e)))


def monitoring_row(batch_id: str, version: str, train: pd.DataFrame, scored_rows: pd.DataFrame,
                   predictions: pd.DataFrame, previous_rate: float | None) -> dict:
    """Prediction count, anomaly rate, its change since the previous batch, PSI per feature."""
    rate = float(predictions["is_anomaly"].mean()) if len(predictions) else 0.0
    return {"batch_id": batch_id, "model_version": str(version), "predictions": int(len(predictions)),
            "anomalies": int(predictions["is_anomaly"].sum()) if len(predictions) else 0,
            "anomaly_rate": rate,
            "anomaly_rate_jump": None if previous_rate is None else rate - previous_rate,
            "psi": {f: psi(train[f], scored_rows[f]) for f in features.MODEL_FEATURES}}


MONITORING_SCHEMA = tables.table("monitoring").ddl(without=("batch_id",))  # the writer adds batch_id


def monitoring_record(monitor: dict, run_ts) -> pd.DataFrame:
    """`monitoring_row` as the gold monitoring table stores it (one row; PSI as JSON)."""
    jump = monitor["anomaly_rate_jump"]
    return pd.DataFrame([{"model_version": monitor["model_version"], "predictions": monitor["predictions"],
                          "anomalies": monitor["anomalies"], "anomaly_rate": monitor["anomaly_rate"],
                          "anomaly_rate_jump": float("nan") if jump is None else jump,
                          "psi_json": json.dumps(monitor["psi"]), "run_ts": run_ts}])


def monitoring_from_record(record: dict) -> dict:
    jump = record.get("anomaly_rate_jump")
    return {**record, "psi": json.loads(record["psi_json"]),
            "anomaly_rate_jump": None if jump is None or (isinstance(jump, float) and math.isnan(jump)) else jump}
