"""`python -m lib evaluate`: ours beside the real fail2ban and CrowdSec, on one generated labeled log."""
import json
import subprocess
import sys

import pytest

from lib import peers


@pytest.fixture(scope="module")
def evaluation(tmp_path_factory):
    peers.ensure()
    out = tmp_path_factory.mktemp("evaluate")
    proc = subprocess.run([sys.executable, "-m", "lib", "evaluate", "--lines", "30000", "--seeds", "5",
                           "--out", str(out)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    [result] = json.loads((out / "evaluate-30000-5.json").read_text())
    return result, proc.stdout


def test_every_attack_kind_is_caught_at_least_as_well_as_by_either_peer(evaluation):
    result, _ = evaluation
    assert set(result["per_kind"]) >= {"brute_force", "compromise", "credential_stuffing", "distributed",
                                       "low_and_slow", "scanner", "spraying"}
    for kind, recall in result["per_kind"].items():
        assert recall["ours"] >= max(recall["fail2ban"], recall["crowdsec"]), (kind, recall)
    assert result["per_kind"]["brute_force"]["fail2ban"] > 0.9  # the peers really ran, and read the log
    assert result["per_kind"]["brute_force"]["crowdsec"] > 0.5


def test_benign_sources_are_flagged_no_more_often_than_fail2ban_does(evaluation):
    result, _ = evaluation
    assert result["benign_sources"] > 100
    assert result["benign_flagged"]["ours"] <= result["benign_flagged"]["fail2ban"]
    assert result["benign_flagged_share"] <= 0.005


def test_every_compromise_is_found_and_ranked_before_any_other_incident(evaluation):
    result, stdout = evaluation
    assert result["compromise_recall"] == 1.0 and result["compromises_ranked_first"]
    assert "fail2ban" in stdout and "crowdsec" in stdout and "compromise" in stdout
