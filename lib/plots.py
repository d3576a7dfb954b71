"""The charts of the model (for MLflow and the notebooks) and of the analyst's report (matplotlib figures)."""
from __future__ import annotations

import numpy as np
import pandas as pd

from lib.text import shown


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


def label(text, width: int = 28) -> str:
    """Log text (a user name, an address) as a chart label: one line, at most `width` characters, and
    never read as markup (matplotlib would parse ``$...$`` as mathtext)."""
    text = shown(text)
    text = text if len(text) <= width else text[:width - 1] + "…"
    return text.replace("$", r"\$")


def incidents_by_kind(counts: pd.DataFrame):
    """Stacked horizontal bars: incidents per kind (rows of `counts`), one colour per severity (columns)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(8, 0.45 * len(counts) + 1.2))
    left = np.zeros(len(counts))
    for severity in counts.columns:
        values = counts[severity].to_numpy()
        ax.barh(np.arange(len(counts)), values, left=left, label=severity,
                color=SEVERITY_COLOURS.get(severity, "#78909c"))
        left += values
    ax.set_yticks(np.arange(len(counts)), [label(k) for k in counts.index])
    ax.invert_yaxis()
    ax.set_xlabel("incidents")
    ax.legend(title="severity", loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


SEVERITY_COLOURS = {"critical": "#b71c1c", "high": "#e65100", "medium": "#f9a825", "low": "#78909c"}


def attack_timeline(series: pd.DataFrame):
    """Failed logins per period (a line: NaN periods, without log lines, are gaps) over incidents started
    per period (bars)."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.4))
    step = pd.Timedelta(hours=1) if series.index.name == "hour" else pd.Timedelta(days=1)
    handles = []
    if "incidents" in series:
        bars = ax.twinx()
        handles.append(bars.bar(series.index, series["incidents"].fillna(0), width=step * 0.8, color="#e65100",
                                alpha=0.35, label="incidents started", align="edge"))
        bars.set_ylabel("incidents started")
        ax.set_zorder(bars.get_zorder() + 1)
        ax.patch.set_visible(False)
    handles.insert(0, ax.plot(series.index, series["failed_logins"], color="#1f4e9c", linewidth=1.4,
                              label="failed logins")[0])
    ax.set_ylabel(f"failed logins per {series.index.name}")
    ax.set_ylim(bottom=0)
    ax.legend(handles=handles, loc="upper left", frameon=False)
    fig.autofmt_xdate()
    return fig


def top_bars(labels, values, xlabel: str, width: int = 28):
    """Horizontal bars, the largest on top (top sources, most-targeted accounts, messages), labels cut
    to `width` characters."""
    plt = _pyplot()
    labels = [label(v, width) for v in labels]
    fig, ax = plt.subplots(figsize=(5.2, 0.32 * len(labels) + 1))
    ax.barh(np.arange(len(labels)), list(values), color="#1f4e9c")
    ax.set_yticks(np.arange(len(labels)), labels)  # by position: two labels cut to the same text stay two bars
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.spines[["top", "right"]].set_visible(False)
    return fig


def highlighted(frame: pd.DataFrame, rows, colour: str = "#ffd7d7"):
    """`frame` for display with the rows where `rows` is true highlighted (a pandas Styler)."""
    marked = list(rows)
    return frame.style.apply(lambda r: [f"background-color: {colour}" if marked[r.name] else ""] * len(r),
                             axis=1).hide(axis="index")


def png(fig) -> bytes:
    """`fig` as PNG bytes (for `IPython.display.Image` and HTML reports), the figure closed after."""
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight", dpi=100)
    _pyplot().close(fig)
    return buf.getvalue()
