"""The model's charts (matplotlib figures, for MLflow and the notebooks)."""
from __future__ import annotations

import numpy as np
import pandas as pd

def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def score_histogram(eval_rows: pd.DataFrame, eval_scores: pd.DataFrame, threshold: float):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    benign = (eval_rows["label"] == "benign").to_numpy()
    ax.hist(eval_scores["anomaly_score"][benign], bins=40, alpha=0.6, label="benign windows")
    ax.hist(eval_scores["anomaly_score"][~benign], bins=40, alpha=0.6, label="attack windows")
    ax.axvline(threshold, color="k", linestyle="--", label="alarm threshold")
    ax.set_xlabel("anomaly score")
    ax.set_ylabel("source-windows")
    ax.set_title("Evaluation set: anomaly scores")
    ax.legend()
    return fig


def anomalies_over_time(rows: pd.DataFrame, predictions: pd.DataFrame):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    if len(rows):
        flagged = rows.loc[predictions["is_anomaly"].to_numpy()]
        per_hour = flagged.groupby(pd.to_datetime(flagged["window_start"]).dt.floor("h")).size()
        ax.bar(per_hour.index, per_hour.to_numpy(), width=0.03)
    ax.set_ylabel("anomalous source-windows")
    ax.set_title("Lake: anomalies over time")
    fig.autofmt_xdate()
    return fig


def recall_by_kind(per_kind: pd.DataFrame):
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(7, 3.5))
    x = np.arange(len(per_kind))
    ax.bar(x - 0.2, per_kind["model_recall"], 0.4, label="model")
    ax.bar(x + 0.2, per_kind["rule_recall"], 0.4, label="fail2ban rule (5 failures / 10 min)")
    ax.set_xticks(x, per_kind["kind"])
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("recall")
    ax.set_title("Recall per attack kind, evaluation set")
    ax.legend()
    return fig


def png(fig) -> bytes:
    """`fig` as PNG bytes (for `IPython.display.Image` and HTML reports), the figure closed after."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=100)
    _pyplot().close(fig)
    return buf.getvalue()
