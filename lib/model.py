"""Anomaly detection on source-windows: the model, its explanations, its evaluation and gate.

* The model is a scikit-learn Pipeline (log1p -> StandardScaler -> IsolationForest)
  over `features.MODEL_FEATURES`. Its alarm threshold is the `1 - contamination`
  quantile of the anomaly scores on the training set (or a fixed score).
* Each scored window carries an explanation: the features that sit furthest above
  the benign profile (median and spread, in log space, of the training windows the
  model itself calls normal).
* `evaluate` measures it on a labeled set beside a fail2ban-style rule.
* `synthetic_windows` makes the labeled sets it learns from and is measured on;
  `training_fingerprint` identifies a training.

MLflow logging and the registry are in `lib.registry`, drift in `lib.monitoring`, charts
in `lib.plots`; `lib.lifecycle` runs the steps.
"""
from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from lib import features
from lib.config import DEFAULTS
from lib.synth import ATTACK_KINDS

MODEL_NAME = DEFAULTS.model_name
EXPLAIN_TOP = 3


# ------------------------------------------------------------------ model
def make_pipeline(n_estimators: int = 200, seed: int = 42):
    from sklearn.ensemble import IsolationForest
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer, StandardScaler

    return Pipeline([
        ("log1p", FunctionTransformer(np.log1p, feature_names_out="one-to-one")),
        ("scale", StandardScaler()),
        ("forest", IsolationForest(n_estimators=n_estimators, random_state=seed, n_jobs=1)),
    ])


@dataclass
class AnomalyModel:
    pipeline: object
    threshold: float
    profile: dict = field(default_factory=dict)   # feature -> (median, scale) of log1p values
    features: tuple = features.MODEL_FEATURES

    def matrix(self, df: pd.DataFrame) -> pd.DataFrame:
        missing = [f for f in self.features if f not in df.columns]
        if missing:
            raise ValueError(f"feature frame lacks {missing}")
        return df[list(self.features)].astype(float).clip(lower=0)

    def score(self, df: pd.DataFrame) -> np.ndarray:
        """Anomaly score in (0, 1]: higher is more anomalous (IsolationForest's, negated)."""
        if len(df) == 0:
            return np.zeros(0)
        return -self.pipeline.score_samples(self.matrix(df))

    def explain(self, df: pd.DataFrame, top: int = EXPLAIN_TOP) -> list[str]:
        """Per row, the `top` features furthest above the benign profile, as text."""
        if len(df) == 0:
            return []
        x = np.log1p(self.matrix(df).to_numpy())
        med = np.array([self.profile[f][0] for f in self.features])
        scale = np.array([self.profile[f][1] for f in self.features])
        z = (x - med) / scale
        raw = self.matrix(df).to_numpy()
        out = []
        for i in range(len(df)):
            order = [j for j in np.argsort(-z[i]) if z[i, j] > 1][:top]
            out.append("; ".join(f"{self.features[j]}={_fmt(raw[i, j])} (typical {_fmt(math.expm1(med[j]))}, "
                                 f"{z[i, j]:+.1f}σ)" for j in order) or "no feature above the benign profile")
        return out

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        scores = self.score(df)
        return pd.DataFrame({"anomaly_score": scores, "is_anomaly": scores >= self.threshold,
                             "explanation": self.explain(df)}, index=df.index)


def _fmt(v: float) -> str:
    return f"{v:.0f}" if float(v).is_integer() or abs(v) >= 100 else f"{v:.2f}"


def fit(train: pd.DataFrame, contamination: float = 0.05, n_estimators: int = 200, seed: int = 42,
        score_threshold: float = 0.0) -> AnomalyModel:
    """Fit on training source-windows; set the alarm threshold and the benign profile."""
    if len(train) < 10:
        raise ValueError(f"need at least 10 training windows, got {len(train)}")
    model = AnomalyModel(make_pipeline(n_estimators, seed), threshold=0.0)
    model.pipeline.fit(model.matrix(train))
    scores = model.score(train)
    model.threshold = float(score_threshold) if score_threshold > 0 else float(np.quantile(scores, 1 - contamination))
    normal = np.log1p(model.matrix(train)[scores < model.threshold].to_numpy())
    q1, med, q3 = np.percentile(normal, [25, 50, 75], axis=0)
    spread = np.maximum((q3 - q1) / 1.349, np.std(normal, axis=0))
    model.profile = {f: (float(med[j]), float(max(spread[j], 0.25))) for j, f in enumerate(model.features)}
    return model


# ------------------------------------------------------------- evaluation
def unit_labels(rows: pd.DataFrame, labels: list[dict], window_minutes: int) -> pd.Series:
    """Attack kind of each source-window ('benign' when no attack session overlaps it)."""
    size = pd.Timedelta(minutes=window_minutes)
    by_src: dict[str, list] = {}
    for lab in labels:
        by_src.setdefault(lab["src_ip"], []).append(
            (pd.Timestamp(lab["start"]), pd.Timestamp(lab["end"]), lab["kind"]))
    out = []
    for src, start in zip(rows["src"], pd.to_datetime(rows["window_start"], utc=True)):
        kind = "benign"
        for s, e, k in by_src.get(src, ()):
            if s < start + size and e >= start:
                kind = k
                break
        out.append(kind)
    return pd.Series(out, index=rows.index, name="label")


def fail2ban_units(events: list[dict], window_minutes: int, maxretry: int = 5, findtime: int = 600) -> set:
    """Source-windows in which a fail2ban rule (maxretry failures within findtime s) fires."""
    times: dict[str, list[float]] = {}
    for e in features.python_sources([e for e in events if e.get("category") == "sshd"]):
        if e.get("action") == "auth_failure" and e["src"] and e["timestamp"]:
            t = e["timestamp"].timestamp()
            times.setdefault(e["src"], []).extend([t] * min(e["repeat_count"], features.MAX_EXPANSION))
    size = window_minutes * 60
    fired = set()
    for src, ts in times.items():
        ts.sort()
        for i in range(maxretry - 1, len(ts)):
            if ts[i] - ts[i - maxretry + 1] <= findtime:
                fired.add((src, math.floor(ts[i] / size) * size))
    return fired


# Attack kinds no per-source window shows: a distributed campaign's addresses make one or two
# guesses each (the incident detector groups them); the window metrics leave them out.
NOT_WINDOW_KINDS = ("distributed",)


def evaluate(rows: pd.DataFrame, scored: pd.DataFrame, rule_units: set, window_minutes: int) -> dict:
    """Model and rule on the same labeled source-windows: overall and per attack kind (NOT_WINDOW_KINDS left out)."""
    from sklearn.metrics import average_precision_score, f1_score, precision_score, recall_score, roc_auc_score

    keep = ~rows["label"].isin(NOT_WINDOW_KINDS).to_numpy()
    rows, scored = rows[keep], scored[keep]

    y = (rows["label"] != "benign").to_numpy()
    flag = scored["is_anomaly"].to_numpy()
    starts = pd.to_datetime(rows["window_start"], utc=True).astype("int64") // 10**9
    rule = np.array([(s, w) in rule_units for s, w in zip(rows["src"], starts)])
    metrics = {
        "precision": precision_score(y, flag, zero_division=0), "recall": recall_score(y, flag, zero_division=0),
        "f1": f1_score(y, flag, zero_division=0),
        "roc_auc": roc_auc_score(y, scored["anomaly_score"]) if 0 < y.sum() < len(y) else float("nan"),
        "pr_auc": average_precision_score(y, scored["anomaly_score"]) if y.any() else float("nan"),
        "rule_precision": precision_score(y, rule, zero_division=0), "rule_recall": recall_score(y, rule, zero_division=0),
        "rule_f1": f1_score(y, rule, zero_division=0),
        "eval_windows": int(len(y)), "eval_attack_windows": int(y.sum()),
        "false_positive_rate": float(flag[~y].mean()) if (~y).any() else 0.0,
    }
    table = []
    for kind in ATTACK_KINDS:
        sel = (rows["label"] == kind).to_numpy()
        if sel.any():
            table.append({"kind": kind, "windows": int(sel.sum()), "model_recall": float(flag[sel].mean()),
                          "rule_recall": float(rule[sel].mean())})
            metrics[f"recall_{kind}"] = float(flag[sel].mean())
            metrics[f"rule_recall_{kind}"] = float(rule[sel].mean())
    metrics["per_kind"] = table
    return metrics


# Promotion gate: the validation notebook checks the champion against the same numbers. The
# incident thresholds are on `lib.evaluate.incident_metrics` of the evaluation log (recall of
# every attack kind at source level, benign sources flagged, compromises found).
DEFAULT_GATE = DEFAULTS.gate()


def gate_failures(metrics: dict, gate: dict) -> list[str]:
    """Why `metrics` may not be champion (empty when they may)."""
    gate = {**DEFAULT_GATE, **gate}
    out = []
    if not metrics.get("pr_auc", 0) >= gate["min_pr_auc"]:
        out.append(f"PR-AUC {metrics.get('pr_auc', float('nan')):.3f} < {gate['min_pr_auc']}")
    if not metrics.get("recall_brute_force", 0) >= gate["min_recall_brute_force"]:
        out.append(f"brute-force recall {metrics.get('recall_brute_force', float('nan')):.3f} "
                   f"< {gate['min_recall_brute_force']}")
    for kind in ("low_and_slow", "spraying"):
        m, r = metrics.get(f"recall_{kind}"), metrics.get(f"rule_recall_{kind}")
        if m is not None and r is not None and not m > r:
            out.append(f"{kind} recall {m:.3f} is not above the fail2ban rule's {r:.3f}")
    for key, value in sorted(metrics.items()):
        if key.startswith("incident_recall_") and not value >= gate["min_incident_recall"]:
            out.append(f"incident recall of {key[len('incident_recall_'):]} {value:.3f} < {gate['min_incident_recall']}")
    share = metrics.get("incident_benign_flagged_share")
    if share is not None and not share <= gate["max_benign_flagged_share"]:
        out.append(f"benign sources flagged {share:.4f} > {gate['max_benign_flagged_share']}")
    comp = metrics.get("incident_compromise_recall")
    if comp is not None and not comp >= gate["min_compromise_recall"]:
        out.append(f"compromise recall {comp:.3f} < {gate['min_compromise_recall']}")
    return out


# ------------------------------------------------------------ labeled sets
def synthetic_windows(lines: int, seed: int, window_minutes: int = 60, burst_minutes: int = 10):
    """A generated log as (source-window feature rows with labels, parsed events, session labels).

    Parsed and aggregated in Python: `features.python_features` equals the Spark
    aggregation value for value (tests/test_features.py), and a labeled set of this
    size needs no cluster.
    """
    from lib import parser, synth

    log, labels = synth.generate(lines, seed)
    year = synth.DEFAULT_START.year
    events = [dict(e, source_file=f"synthetic-{seed}") for e in parser.parse_lines(log, year=year)]
    rows = pd.DataFrame(features.python_features(events, window_minutes, burst_minutes))
    rows["label"] = unit_labels(rows, labels, window_minutes)
    return rows, events, labels


# ---------------------------------------------------- training life cycle
def training_fingerprint(config: dict) -> str:
    """Identifies a training: its configuration and the code that shapes the model.

    Training is deterministic (seeded generator and forest), so an equal fingerprint
    means an identical model: re-running a batch reuses the registered version
    instead of registering a duplicate.
    """
    import hashlib

    h = hashlib.sha1(json.dumps(config, sort_keys=True, default=str).encode())
    lib_dir = os.path.dirname(os.path.abspath(__file__))
    for name in ("features.py", "model.py", "synth.py", "templates.py", "parser.py", "incidents.py", "evaluate.py"):
        with open(os.path.join(lib_dir, name), "rb") as f:
            h.update(f.read())
    return h.hexdigest()[:16]




