"""Request lines -> parsed lines and scored source-windows, with the pipeline's own code and no Spark.

`lib.parser` reads the lines as Silver does, `lib.features.python_features` aggregates
them as `lib.features.spark_features` does in the pipeline, and the champion pyfunc
scores the windows as the ML notebook does.
"""
from __future__ import annotations

import pandas as pd

from lib import features, incidents as incident_rules, parser

SOURCE_FILE = "request"  # the lineage column the feature code groups sessions by


split_lines = parser.split_lines  # a text body's lines, by the rule of Bronze


def json_lines(lines: list[str]) -> list[bytes]:
    """The lines of a JSON request (none holds a line break) as the same lines sent as text/plain give them."""
    return split_lines("\n".join(lines).encode("utf-8") + b"\n")


def parse(lines: list[bytes], year: int | None, tz: str) -> list[dict]:
    """Parsed lines, each with the lineage `python_features` expects; `tz` is a known zone (`schemas.Timezone`)."""
    return [dict(event, source_file=SOURCE_FILE) for event in parser.parse_lines(lines, year=year, tz=tz)]


def represented(events: list[dict]) -> int:
    """How many events the sshd lines stand for as the feature code expands them (repeats, capped per line)."""
    return sum(min(e["repeat_count"], features.MAX_EXPANSION) for e in events if e["category"] == "sshd")


def score(events: list[dict], pyfunc, window_minutes: int, burst_minutes: int) -> tuple[list[dict], dict]:
    """Per source-window rows (features, score, verdict), most anomalous first, and a summary."""
    rows = features.python_features(events, window_minutes, burst_minutes)
    if rows:
        frame = pd.DataFrame(rows)
        verdicts = pyfunc.predict(frame[list(features.MODEL_FEATURES)])
        for row, score_, flag, why in zip(rows, verdicts["anomaly_score"], verdicts["is_anomaly"],
                                          verdicts["explanation"]):
            row.update(anomaly_score=float(score_), is_anomaly=bool(flag), explanation=str(why),
                       features={name: row.pop(name) for name in features.NAMES})
    rows.sort(key=lambda r: (-r["anomaly_score"], r["src"], r["window_start"]))
    categories = [e["category"] for e in events]
    summary = {"lines": len(events), "sshd": categories.count("sshd"), "other": categories.count("other"),
               "quarantined": categories.count("quarantined"), "windows": len(rows),
               "anomalies": sum(r["is_anomaly"] for r in rows)}
    return rows, summary


def incidents(events: list[dict], windows: list[dict]) -> list[dict]:
    """The lines' incidents (`lib.incidents.detect`, as the pipeline runs it), noting the model's highest score per source."""
    scores: dict = {}
    for w in windows:
        if w["is_anomaly"]:
            scores[w["src"]] = max(scores.get(w["src"], 0.0), w["anomaly_score"])
    return incident_rules.stamp_detection(incident_rules.detect(incident_rules.python_attempts(events),
                                                                model_scores=scores))
