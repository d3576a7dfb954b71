"""The analyst's report of a run: one self-contained HTML page (inline CSS, charts as PNG data URIs).

It answers, in this order: did anyone get in; which incidents, by kind and severity; when
(an attack timeline, hours without a single log line left as gaps); who attacks and which
accounts they aim at; what is new since the previous published run; and whether the data
can be trusted (lines in, quarantined, unknown templates, the quality gate's verdict).

`facts` reads the lake (small aggregates, collected); `render` is pure (facts in, HTML out)
and escapes every value: user names, addresses and summaries come from log lines, which
attackers write.
"""
from __future__ import annotations

import base64
import html
import json
from datetime import datetime, timezone

import numpy as np
import pandas as pd

from lib import plots
from lib.text import shown

TOP = 10
TARGETED_DAYS = 7  # the most-targeted accounts: failed logins in the week to the batch's last event
# The incidents' kinds as an analyst says them (incidents.py's identifiers as keys).
KIND_NAMES = {"compromise": "Compromise", "brute_force": "Brute force", "password_spraying": "Password spraying",
              "credential_stuffing": "Credential stuffing", "low_and_slow": "Low and slow",
              "scanning": "Scanning", "distributed_campaign": "Distributed campaign"}
SEVERITIES = ("critical", "high", "medium", "low")


def kind_name(kind: str) -> str:
    return KIND_NAMES.get(kind, str(kind).replace("_", " ").capitalize())


# ---------------------------------------------------------------- reading the lake
def facts(spark, lake, batch_id: str, checks, previous: dict | None) -> dict:
    """What the report shows, read from the lake: the incidents (and the ids of those the previous
    publication showed, `previous` being `publish.latest`'s row), per-hour activity, top sources,
    most-targeted accounts, and the batch's data health and quality verdict."""
    from pyspark.sql import functions as F

    incidents = _frame(lake.read_table(spark, "incidents"))
    before = None
    if previous and previous.get("table_versions"):
        version = json.loads(previous["table_versions"]).get("incidents")
        if version is not None:
            before = set(_frame(lake.read_table(spark, "incidents", version=version), ["incident_id"])["incident_id"])
    per_hour, lines_per_hour = hourly(spark, lake)
    top = lake.read_table(spark, "top_sources")
    top_sources = _frame(top.orderBy(F.desc("failures"), "src").limit(TOP) if top is not None else None)
    silver = lake.read_table(spark, "silver")
    batch = silver.where(F.col("batch_id") == batch_id) if silver is not None else None
    newest = batch.agg(F.unix_seconds(F.max("timestamp"))).first()[0] if batch is not None else None
    recent = silver.where(F.col("timestamp") >= F.timestamp_seconds(F.lit(newest - TARGETED_DAYS * 86400))) \
        if newest is not None else None  # the week to the batch's last event, not the lake's history
    targeted = _frame(recent.where((F.col("action") == "auth_failure") & F.col("user").isNotNull())
                      .groupBy("user").agg(F.sum(F.coalesce("repeat_count", F.lit(1))).alias("failures"),
                                           F.countDistinct("src_ip").alias("sources"),
                                           F.max(F.col("invalid_user").cast("int")).alias("invalid"))
                      .orderBy(F.desc("failures"), "user").limit(TOP) if recent is not None else None)
    events = _frame(batch.where("category = 'sshd'").groupBy("event_template", "event_id")
                    .agg(F.count(F.lit(1)).alias("lines")).orderBy(F.desc("lines")).limit(TOP)
                    if batch is not None else None)
    bronze, quarantine = lake.read_table(spark, "bronze", batch_id), lake.read_table(spark, "quarantine", batch_id)
    unknown = batch.where("category = 'sshd' AND event_id IS NULL") if batch is not None else None
    health = {"lines": bronze.count() if bronze is not None else 0,
              "events": batch.count() if batch is not None else 0,
              "quarantined": quarantine.count() if quarantine is not None else 0,
              "unknown_lines": unknown.count() if unknown is not None else 0,
              "unknown_templates": unknown.select("event_template").distinct().count() if unknown is not None else 0,
              "checks": [{"name": c.name, "passed": bool(c.passed), "severity": c.severity, "detail": c.detail}
                         for c in checks]}
    return {"batch_id": batch_id, "generated_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "incidents": incidents, "previous_ids": before, "per_hour": per_hour, "lines_per_hour": lines_per_hour,
            "top_sources": top_sources, "targeted": targeted, "events": events, "health": health}


def hourly(spark, lake) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(failed logins and attempts per hour, log lines per hour) over the lake's gold hourly tables."""
    from pyspark.sql import functions as F

    per_source = lake.read_table(spark, "source_hourly")
    per_hour = _frame(per_source.groupBy("hour").agg(F.sum("failures").alias("failures"),
                                                      F.sum("attempts").alias("attempts"))
                      if per_source is not None else None, ["hour", "failures", "attempts"])
    events = lake.read_table(spark, "events_hourly")
    lines = _frame(events.groupBy("hour").agg(F.sum("lines").alias("lines")) if events is not None else None,
                   ["hour", "lines"])
    return per_hour, lines


def activity(spark, lake) -> pd.DataFrame:
    """Failed logins per hour (per day over more than a week) of the whole lake, gaps as NaN: `timeline`."""
    return timeline(*hourly(spark, lake))


def _frame(df, columns=None) -> pd.DataFrame:
    return df.toPandas() if df is not None else pd.DataFrame(columns=columns or [])


# ---------------------------------------------------------------- the timeline
def timeline(per_hour: pd.DataFrame, lines_per_hour: pd.DataFrame, incidents: pd.DataFrame | None = None
             ) -> pd.DataFrame:
    """Failed logins (and, given `incidents`, incidents started) per period, on a regular index from the
    first to the last hour with log lines: an hour (a day, over a span of more than a week) without a
    single log line is NaN (a gap in the chart), one with lines but no failure is 0."""
    if not len(lines_per_hour):
        return pd.DataFrame(columns=["failed_logins"] + (["incidents"] if incidents is not None else []))
    hours = pd.to_datetime(lines_per_hour["hour"])
    span = hours.max() - hours.min()
    freq = "h" if span <= pd.Timedelta(days=7) else "D"
    index = pd.date_range(hours.min().floor(freq), hours.max().floor(freq), freq=freq)
    covered = pd.Series(1, index=hours.dt.floor(freq)).groupby(level=0).size().reindex(index).notna()
    failed = (per_hour.assign(period=pd.to_datetime(per_hour["hour"]).dt.floor(freq)).groupby("period")["failures"]
              .sum() if len(per_hour) else pd.Series(dtype=float)).reindex(index).fillna(0).astype(float)
    out = pd.DataFrame({"failed_logins": failed}, index=index)
    if incidents is not None:
        started = pd.to_datetime(incidents["first_seen"], utc=True).dt.tz_localize(None).dt.floor(freq) \
            if len(incidents) else pd.Series(dtype="datetime64[ns]")
        out["incidents"] = started.value_counts().reindex(index).fillna(0).astype(float)
    out.loc[~covered] = float("nan")
    out.index.name = "hour" if freq == "h" else "day"
    return out


# ---------------------------------------------------------------- rendering
CSS = """
*{box-sizing:border-box}body{font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1d2430;
margin:0;background:#f5f6f8}main{max-width:1080px;margin:0 auto;padding:20px 24px 48px}
h1{font-size:24px;margin:8px 0 2px}h2{font-size:19px;margin:0 0 10px}.sub{color:#5b6472;margin:0 0 18px}
section{background:#fff;border:1px solid #dde1e7;border-radius:8px;padding:16px 20px;margin:0 0 16px}
section.alert{border:2px solid #c62828;background:#fff6f6}section.ok{border-left:6px solid #2e7d32}
table{border-collapse:collapse;width:100%;font-size:14px}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #eceff3;vertical-align:top;white-space:nowrap}
td.t{white-space:normal;overflow-wrap:anywhere;min-width:8em}
th{color:#5b6472;font-weight:600}td.n,th.n{text-align:right;font-variant-numeric:tabular-nums}
img{max-width:100%;height:auto;display:block;margin:6px 0}.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px}
@media (max-width:900px){.grid{grid-template-columns:1fr}}.grid section{margin:0}
.sev{display:inline-block;padding:0 7px;border-radius:10px;font-size:12px;font-weight:600;color:#fff}
.critical{background:#b71c1c}.high{background:#e65100}.medium{background:#f9a825;color:#222}.low{background:#78909c}
.big{font-size:17px}.pass{color:#2e7d32;font-weight:700}.fail{color:#c62828;font-weight:700}
.warn{color:#b26a00;font-weight:700}code{font-size:13px;overflow-wrap:anywhere}
"""


def _e(value) -> str:
    """A value as HTML text: escaped, control characters shown, never obeyed."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return ""
    text = ", ".join(map(str, value)) if isinstance(value, (list, tuple, np.ndarray)) else str(value)
    text = shown(text)
    return html.escape(text, quote=True)


def _img(fig, alt: str) -> str:
    return f'<img alt="{_e(alt)}" src="data:image/png;base64,{base64.b64encode(plots.png(fig)).decode()}">'


# Columns of free text (log text, of any length): wrapped anywhere; the others stay on one line.
TEXT = ("summary", "user", "account", "event", "src", "source")


def _table(rows: pd.DataFrame, columns: dict, numeric=()) -> str:
    if not len(rows):
        return "<p>None.</p>"
    kind = {c: "n" if c in numeric else "t" if c in TEXT else "" for c in columns}
    head = "".join(f'<th class="{kind[c]}">{_e(title)}</th>' for c, title in columns.items())
    body = "".join("<tr>" + "".join(f'<td class="{kind[c]}">{cell(r, c)}</td>' for c in columns)
                   + "</tr>" for r in rows.to_dict("records"))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def cell(row: dict, column: str) -> str:
    value = row.get(column)
    if column == "severity":
        return f'<span class="sev {_e(value) if value in SEVERITIES else "low"}">{_e(value)}</span>'
    if column == "kind":
        return _e(kind_name(value))
    if isinstance(value, float) and not pd.isna(value) and value.is_integer():
        return _e(int(value))
    return _e(value)


def render(f: dict) -> str:
    """The report's HTML (one file: no script, no external resource)."""
    incidents = f["incidents"].sort_values("rank") if len(f["incidents"]) else f["incidents"]
    got_in = incidents[incidents["kind"] == "compromise"] if len(incidents) else incidents
    parts = [f"<h1>SSH attacks — batch {_e(f['batch_id'])}</h1>",
             f'<p class="sub">Generated {_e(f["generated_at"])} from the lake\'s gold tables; '
             f"{len(incidents)} incidents over every batch so far.</p>",
             _compromises(got_in), _incidents(incidents), _timeline(f, incidents),
             '<div class="grid">' + _sources(f["top_sources"]) + _accounts(f["targeted"]) + "</div>",
             _new(incidents, f.get("previous_ids")), _health(f["health"], f.get("events"))]
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>SSH attacks — batch {_e(f['batch_id'])}</title><style>{CSS}</style></head>"
            f"<body><main>{''.join(parts)}</main></body></html>\n")


def _compromises(got_in: pd.DataFrame) -> str:
    if not len(got_in):
        return ('<section id="compromises" class="ok"><h2>Compromised accounts: none</h2>'
                "<p>No login succeeded from a source after it had failed on that account.</p></section>")
    rows = "".join(f'<li class="big"><b>{_e(r["account"])}</b>: {_e(r["summary"])}</li>' for r in got_in.to_dict("records"))
    return (f'<section id="compromises" class="alert"><h2>Compromised accounts: {len(got_in)}</h2>'
            f"<p>A login succeeded after failures on the same account from the same source. Treat each as an "
            f"intrusion until shown otherwise: lock the account, rotate its credentials, check what the "
            f"session did.</p><ul>{rows}</ul></section>")


def _incidents(incidents: pd.DataFrame) -> str:
    if not len(incidents):
        return '<section id="incidents"><h2>Incidents</h2><p>None.</p></section>'
    counts = incidents.groupby(["kind", "severity"]).size().unstack(fill_value=0)
    counts = counts.reindex(columns=[s for s in SEVERITIES if s in counts.columns])
    counts.index = [kind_name(k) for k in counts.index]
    chart = _img(plots.incidents_by_kind(counts), "incidents by kind and severity")
    top = incidents.head(15).assign(source=lambda d: d["sources"].map(lambda s: _first(s, 2)))
    table = _table(top, {"rank": "#", "severity": "severity", "kind": "kind", "summary": "what happened",
                         "source": "sources", "first_seen": "first seen"}, numeric=("rank",))
    more = f"<p>…and {len(incidents) - 15} more (the incidents table).</p>" if len(incidents) > 15 else ""
    return f'<section id="incidents"><h2>Incidents by kind and severity</h2>{chart}{table}{more}</section>'


def _first(values, n: int) -> str:
    values = list(values) if values is not None else []
    return ", ".join(map(str, values[:n])) + (f" (+{len(values) - n})" if len(values) > n else "")


def _timeline(f: dict, incidents: pd.DataFrame) -> str:
    series = timeline(f["per_hour"], f["lines_per_hour"], incidents)
    if not len(series):
        return '<section id="timeline"><h2>Attack timeline</h2><p>No log lines.</p></section>'
    unit = series.index.name
    gaps = int(series["failed_logins"].isna().sum())
    note = f" {gaps} {unit}s without a single log line are left blank." if gaps else ""
    return (f'<section id="timeline"><h2>Attack timeline</h2>'
            f"<p>Failed logins and incidents started per {unit}.{note}</p>"
            f"{_img(plots.attack_timeline(series), 'attack timeline')}</section>")


def _sources(top: pd.DataFrame) -> str:
    chart = _img(plots.top_bars(top["src"], top["failures"], "failed logins"), "top sources") if len(top) else ""
    table = _table(top, {"src": "source", "failures": "failed", "successes": "logged in",
                         "last_seen": "last seen"}, numeric=("failures", "successes"))
    return f'<section id="sources"><h2>Top attacking sources</h2>{chart}{table}</section>'


def _accounts(targeted: pd.DataFrame) -> str:
    if len(targeted):
        targeted = targeted.assign(exists=targeted["invalid"].map(lambda v: "no" if v == 1 else "yes"))
    chart = _img(plots.top_bars(targeted["user"], targeted["failures"], "failed logins"), "most-targeted accounts") \
        if len(targeted) else ""
    table = _table(targeted, {"user": "account", "failures": "failed", "sources": "sources", "exists": "exists"},
                   numeric=("failures", "sources"))
    return (f'<section id="accounts"><h2>Most-targeted accounts</h2><p>failed logins in the {TARGETED_DAYS} days to the '
            f"batch's last event</p>{chart}{table}</section>")


def _new(incidents: pd.DataFrame, previous_ids) -> str:
    if previous_ids is None:
        return ('<section id="new"><h2>New since the previous run</h2><p>This is the first published run: '
                "every incident above is new.</p></section>")
    new = incidents[~incidents["incident_id"].isin(previous_ids)] if len(incidents) else incidents
    gone = len(previous_ids - set(incidents["incident_id"])) if len(incidents) else len(previous_ids)
    head = (f"<p>{len(new)} new incident(s), {len(incidents) - len(new)} already reported"
            + (f", {gone} no longer reported (their lines changed)" if gone else "") + ".</p>")
    table = _table(new, {"rank": "#", "severity": "severity", "kind": "kind", "summary": "what happened",
                         "first_seen": "first seen"}, numeric=("rank",)) if len(new) else ""
    return f'<section id="new"><h2>New since the previous run</h2>{head}{table}</section>'


def _health(h: dict, events: pd.DataFrame | None) -> str:
    failed = [c for c in h["checks"] if not c["passed"] and c["severity"] == "error"]
    warned = [c for c in h["checks"] if not c["passed"] and c["severity"] != "error"]
    verdict = (f'<span class="fail">FAILED</span> — {len(failed)} check(s) failed: '
               + _e("; ".join(f"{c['name']} ({c['detail']})" for c in failed)) if failed else
               f'<span class="pass">PASSED</span> — {sum(c["passed"] for c in h["checks"])} of '
               f'{len(h["checks"])} checks')
    if warned:
        verdict += '; <span class="warn">warnings</span>: ' + _e("; ".join(c["name"] for c in warned))
    share = f" ({h['quarantined'] / h['lines']:.2%})" if h["lines"] else ""
    rows = (f"<tr><th>lines in this batch</th><td class=\"n\">{h['lines']}</td></tr>"
            f"<tr><th>parsed into events</th><td class=\"n\">{h['events']}</td></tr>"
            f"<tr><th>quarantined</th><td class=\"n\">{h['quarantined']}{share}</td></tr>"
            f"<tr><th>sshd lines of no known template</th><td class=\"n\">{h['unknown_lines']} "
            f"({h['unknown_templates']} distinct)</td></tr>")
    kinds = ""
    if events is not None and len(events):
        named = events.assign(event=events["event_template"].fillna("(unknown template)"))
        kinds = "<h3>Most frequent sshd messages in this batch</h3>" + _table(
            named, {"event": "message", "lines": "lines"}, numeric=("lines",))
    return (f'<section id="health"><h2>Data health</h2><p>Quality gate: {verdict}</p>'
            f"<table>{rows}</table>{kinds}</section>")


def write(lake, page: str, batch_id: str) -> str:
    """The report beside the quality reports: ``<batch>_report.html`` (a re-run replaces it) and
    ``latest.html``. Returns the batch's path."""
    path = lake.path("quality_reports", f"{batch_id}_report.html")
    lake.fs.write_text(path, page)
    lake.fs.write_text(lake.path("quality_reports", "latest.html"), page)
    return path
