"""The analyst's report (lib/report.py) from hand-made facts: what it puts first, how it draws time,
and that log text (attacker-written) is shown, never obeyed. The report of a real run, in a real
browser, is tested in tests/test_pipeline.py."""
import re

import numpy as np
import pandas as pd
import pytest

from lib import plots, report, tables

INCIDENT_COLUMNS = tables.columns("incidents")


def _incident(rank, kind, severity, first_seen, summary="", account=None, source="203.0.113.7", **extra):
    row = dict.fromkeys(INCIDENT_COLUMNS)
    row.update(incident_id=f"I{rank:03d}", rank=rank, kind=kind, severity=severity, summary=summary,
               sources=[source], source_count=1, first_seen=first_seen, last_seen=first_seen, failures=10,
               account=account, success_source=source if account else None,
               success_at=first_seen if account else None, **extra)
    return row


def _facts(incidents, previous_ids=None, hours=None, failures=None, targeted=None, checks=None):
    hours = hours if hours is not None else pd.date_range("2026-03-02 00:00", periods=6, freq="h")
    failures = failures if failures is not None else [0, 5, 40, 0, 3, 1]
    return {"batch_id": "b1", "generated_at": "2026-12-02 05:00 UTC",
            "incidents": pd.DataFrame(incidents, columns=list(INCIDENT_COLUMNS)), "previous_ids": previous_ids,
            "per_hour": pd.DataFrame({"hour": hours, "failures": failures, "attempts": failures}),
            "lines_per_hour": pd.DataFrame({"hour": hours, "lines": [10] * len(hours)}),
            "top_sources": pd.DataFrame({"src": ["203.0.113.7"], "failures": [40], "successes": [1],
                                         "last_seen": ["2026-03-02 02:40"]}),
            "targeted": targeted if targeted is not None else pd.DataFrame(
                {"user": ["root"], "failures": [30], "sources": [2], "invalid": [0]}),
            "events": pd.DataFrame({"event_template": ["Failed password for <*> from <*> port <*> ssh2", None],
                                    "event_id": ["E9", None], "lines": [40, 2]}),
            "health": {"lines": 120, "events": 118, "quarantined": 2, "unknown_lines": 2, "unknown_templates": 1,
                       "checks": checks if checks is not None else
                       [{"name": "every line accounted for", "passed": True, "severity": "error", "detail": "ok"}]}}


def _sections(page: str) -> list[str]:
    return re.findall(r'<section id="(\w+)"', page)


def test_compromises_come_first_then_incidents_timeline_sources_new_and_health():
    page = report.render(_facts([
        _incident(2, "brute_force", "high", "2026-03-02T02:00:00Z", "40 failed password logins for 1 account"),
        _incident(1, "compromise", "critical", "2026-03-02T02:41:00Z", "alice logged in after 40 failures",
                  account="alice")]))
    assert _sections(page) == ["compromises", "incidents", "timeline", "sources", "accounts", "new", "health"]
    first = page.split('<section id="incidents"')[0]
    assert "Compromised accounts: 1" in first and "<b>alice</b>" in first
    # kinds in words, unknown templates named, no ids in place of names
    assert "Brute force" in page and "brute_force" not in page and "(unknown template)" in page
    # self-contained: no script, no external resource, every image inline
    assert "<script" not in page and not re.search(r'(src|href)="(?!data:)', page)
    assert page.count('<img alt=') >= 4 and page.count('src="data:image/png;base64,') == page.count("<img ")


def test_no_compromise_says_none_and_a_failed_gate_says_which_check():
    page = report.render(_facts(
        [_incident(1, "scanning", "low", "2026-03-02T01:00:00Z", "probed")],
        checks=[{"name": "quarantined lines under threshold", "passed": False, "severity": "error",
                 "detail": "9.0% > 5.0%"},
                {"name": "feature drift", "passed": False, "severity": "warn", "detail": "psi 0.4"}]))
    assert "Compromised accounts: none" in page.split('<section id="incidents"')[0]
    health = page.split('<section id="health"')[1]
    assert "FAILED" in health and "quarantined lines under threshold (9.0% &gt; 5.0%)" in health
    assert "feature drift" in health and "PASSED" not in health


def test_new_since_the_previous_run_counts_new_kept_and_gone_incidents():
    found = [_incident(1, "brute_force", "high", "2026-03-02T02:00:00Z", "old one"),
             _incident(2, "scanning", "low", "2026-03-02T03:00:00Z", "new one")]
    new = report.render(_facts(found, previous_ids={"I001", "I099"})).split('<section id="new"')[1]
    assert "1 new incident(s), 1 already reported, 1 no longer reported" in new
    assert "new one" in new and "old one" not in new
    first = report.render(_facts(found, previous_ids=None)).split('<section id="new"')[1]
    assert "first published run" in first


@pytest.mark.parametrize("name", ["<script>alert(1)</script>", "$\\frac{a}{b}$", "x\x1b[31mred\nline", "é" * 300])
def test_log_text_in_any_field_is_escaped_and_charted_without_markup(name):
    found = [_incident(1, "compromise", "critical", "2026-03-02T02:41:00Z", f"{name} logged in", account=name,
                       source=name)]
    page = report.render(_facts(found, targeted=pd.DataFrame(
        {"user": [name, name[:-1] + "!"], "failures": [9, 8], "sources": [1, 1], "invalid": [1, 1]})))
    assert "<script>alert" not in page and "\x1b" not in page and "red\nline" not in page
    assert "&lt;script&gt;" in page or "<script" not in name


def test_values_of_any_type_are_shown_as_text():
    assert report._e(np.int64(7)) == "7" and report._e(np.array(["a", "<b>"])) == "a, &lt;b&gt;"
    assert report._e(None) == "" and report._e(float("nan")) == ""


def test_chart_labels_are_one_line_cut_and_not_mathtext():
    assert plots.label("$x^2$") == r"\$x^2\$"
    assert plots.label("a\nb") == "a\\nb"
    assert len(plots.label("u" * 100, 20)) == 20
    # two labels cut to the same text stay two bars
    fig = plots.top_bars(["u" * 40 + "1", "u" * 40 + "2"], [3, 2], "failed logins")
    assert len(fig.axes[0].patches) == 2
    plots.png(fig)


def test_timeline_leaves_hours_without_lines_as_gaps_and_zero_failure_hours_as_zero():
    hours = pd.to_datetime(["2026-03-02 00:00", "2026-03-02 01:00", "2026-03-02 04:00"])
    per_hour = pd.DataFrame({"hour": hours, "failures": [3, 0, 7]})
    lines = pd.DataFrame({"hour": hours, "lines": [5, 2, 9]})
    found = pd.DataFrame({"first_seen": ["2026-03-02T04:10:00Z", "2026-03-02T04:50:00Z"]})
    series = report.timeline(per_hour, lines, found)
    assert series.index.name == "hour" and len(series) == 5
    assert series["failed_logins"].tolist()[:2] == [3.0, 0.0] and series["failed_logins"].iloc[4] == 7.0
    assert series["failed_logins"].iloc[2:4].isna().all() and series["incidents"].iloc[2:4].isna().all()
    assert series["incidents"].iloc[4] == 2.0


def test_timeline_over_fifteen_months_is_daily_with_the_gap_blank():
    hours = pd.to_datetime(["2025-01-05 10:00", "2025-01-06 11:00", "2026-04-01 09:00"])
    series = report.timeline(pd.DataFrame({"hour": hours, "failures": [1, 2, 3]}),
                             pd.DataFrame({"hour": hours, "lines": [1, 1, 1]}))
    assert series.index.name == "day" and "incidents" not in series
    assert series["failed_logins"].notna().sum() == 3
    assert series["failed_logins"].isna().sum() == len(series) - 3 > 400
    plots.png(plots.attack_timeline(series))
