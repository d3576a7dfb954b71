"""Scoring the lake's source-windows with the champion, incrementally.

A batch changes the features of the windows its sshd events fall into (`gold.touched`),
and nothing else; so only those windows are scored again and replaced in the anomalies
table (`Lake.replace_keys`). Everything is scored again when the scores on record come
from another model version or window length (a new champion re-judges the whole lake),
when the table does not exist yet, or when asked (`full`).
"""
from __future__ import annotations

import pandas as pd
from pyspark.sql import functions as F

from lib import features, gold, tables

ANOMALIES_SCHEMA = tables.table("anomalies").ddl()

PREDICTION_COLUMNS = ("anomaly_score", "is_anomaly", "explanation")


def rescore_all(anomalies, model_version: str, window_minutes: int) -> bool:
    """True unless every score on record is by `model_version` over `window_minutes` windows."""
    if anomalies is None:
        return True
    kinds = {(r["model_version"], r["window_minutes"])
             for r in anomalies.select("model_version", "window_minutes").distinct().collect()}
    return not kinds <= {(str(model_version), int(window_minutes))}


def windows_to_score(feature_rows, windows: list[int] | None):
    """The feature rows to score: all of them (`windows` None), else those of the given window starts."""
    if windows is None:
        return feature_rows
    return feature_rows.where(gold.in_buckets(F.col("window_start"), windows, 1))  # window_start is a window's start


def score(scorer, rows: pd.DataFrame, model_version: str) -> pd.DataFrame:
    """Feature rows in; one anomalies row per source-window out (columns of ANOMALIES_SCHEMA).
    No rows (a batch without sshd events) gives an empty frame with the same columns."""
    keys = list(features.KEYS) + ["window_minutes"]
    if len(rows):
        pred = scorer.predict(rows[list(features.MODEL_FEATURES)]).reset_index(drop=True)
    else:
        pred = pd.DataFrame({"anomaly_score": pd.Series(dtype="float64"), "is_anomaly": pd.Series(dtype="bool"),
                             "explanation": pd.Series(dtype="object")})
    out = pd.concat([rows.reindex(columns=keys).reset_index(drop=True), pred[list(PREDICTION_COLUMNS)]], axis=1)
    return out.assign(model_version=str(model_version))


def write(spark, lake, scored: pd.DataFrame, windows: list[int] | None) -> str:
    """Replace the scores of `windows` (None: the whole table) with `scored`, in one Delta commit."""
    df = spark.createDataFrame(scored, schema=ANOMALIES_SCHEMA)
    if windows is None:
        return lake.write_table(df, "anomalies")
    return lake.replace_keys(df, "anomalies", "window_start", windows)


def refresh(spark, lake, scorer, model_version: str, touched: list[int], window_minutes: int = 60,
            full: bool = False, feature_rows=None):
    """Score what a batch changed (`touched`: its windows, from `gold.touched`) or, when
    `rescore_all` says so or `full`, every window; replace those scores in one commit.
    Returns (the feature rows scored, their scores, the windows replaced or None for all)."""
    feature_rows = lake.read_table(spark, "features") if feature_rows is None else feature_rows
    everything = full or rescore_all(lake.read_table(spark, "anomalies"), model_version, window_minutes)
    windows = None if everything else list(touched)
    rows = windows_to_score(feature_rows, windows).toPandas()
    scored = score(scorer, rows, model_version)
    write(spark, lake, scored, windows)
    return rows, scored, windows
