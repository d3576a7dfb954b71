"""The detector: better than fail2ban where it matters, explained, and round-tripped through the MLflow registry."""
from datetime import datetime, timedelta, timezone

import numpy as np
import pandas as pd
import pytest

from lib import features, model, monitoring, parser, registry

WINDOW = 60


@pytest.fixture(scope="module")
def trained():
    """The notebook's default configuration: 60k reference lines (seed 1), 60k evaluation lines (seed 2)."""
    train, _, _ = model.synthetic_windows(60_000, 1, WINDOW)
    evaluation, events, _ = model.synthetic_windows(60_000, 2, WINDOW)
    detector = model.fit(train, contamination=0.1, n_estimators=200, seed=42)
    scores = detector.predict(evaluation)
    metrics = model.evaluate(evaluation, scores, model.fail2ban_units(events, WINDOW), WINDOW)
    return detector, train, evaluation, scores, metrics


def test_beats_the_fail2ban_rule_on_an_unseen_generated_set(trained):
    *_, metrics = trained
    assert metrics["eval_windows"] > 3000 and metrics["eval_attack_windows"] > 200
    assert metrics["pr_auc"] >= model.DEFAULT_GATE["min_pr_auc"]
    assert metrics["recall_brute_force"] >= 0.95
    for kind in ("low_and_slow", "spraying"):
        assert metrics[f"recall_{kind}"] > metrics[f"rule_recall_{kind}"]
    assert metrics["recall"] > metrics["rule_recall"]
    assert model.gate_failures(metrics, model.DEFAULT_GATE) == []


def test_explanations_name_what_is_abnormal(trained):
    detector, _, evaluation, scores, _ = trained
    brute = evaluation["label"] == "brute_force"
    text = scores.loc[brute, "explanation"].iloc[0]
    assert "failures=" in text and "typical 0" in text
    typical = evaluation[(evaluation["label"] == "benign") & (evaluation["events"] <= 3)].head(1)
    assert detector.explain(typical) == ["no feature above the benign profile"]


def test_loghub_brute_forcers_flagged_and_the_one_login_not(trained, loghub_log):
    detector = trained[0]
    events = [dict(e, source_file="loghub") for e in parser.parse_lines(parser.read_lines(loghub_log), year=2024)]
    rows = pd.DataFrame(features.python_features(events, WINDOW))
    pred = pd.concat([rows, detector.predict(rows)], axis=1)
    heavy = pred[pred["failures"] >= 100]
    assert set(heavy["src"]) >= {"183.62.140.253"} and heavy["is_anomaly"].all()
    login = pred[pred["successes"] > 0]
    assert list(login["src"]) == ["119.137.62.142"] and not login["is_anomaly"].any()


def test_fail2ban_rule_fires_on_five_failures_in_ten_minutes():
    t0 = datetime(2024, 1, 1, tzinfo=timezone.utc)

    def fail(sec, ip):
        return {"category": "sshd", "action": "auth_failure", "src_ip": ip, "src_host": None, "pid": 1,
                "host": "h", "source_file": "f", "line_number": sec, "timestamp": t0 + timedelta(seconds=sec),
                "repeat_count": 1}
    fast = [fail(s, "1.1.1.1") for s in (0, 60, 120, 180, 240)]
    slow = [fail(s, "2.2.2.2") for s in (0, 300, 600, 900, 1200, 1500)]
    fired = model.fail2ban_units(fast + slow, WINDOW)
    assert fired == {("1.1.1.1", int(t0.timestamp()))}


def test_gate_names_each_shortfall():
    bad = {"pr_auc": 0.5, "recall_brute_force": 0.9, "recall_spraying": 0.2, "rule_recall_spraying": 0.3,
           "incident_recall_distributed": 0.5, "incident_recall_brute_force": 1.0,
           "incident_benign_flagged_share": 0.02, "incident_compromise_recall": 0.5}
    reasons = model.gate_failures(bad, model.DEFAULT_GATE)
    assert len(reasons) == 6 and "PR-AUC" in reasons[0] and "spraying" in reasons[2]
    assert "distributed" in reasons[3] and "benign" in reasons[4] and "compromise" in reasons[5]
    assert model.gate_failures({**bad, "pr_auc": 0.95, "recall_brute_force": 1.0, "recall_spraying": 0.9,
                                "incident_recall_distributed": 0.95, "incident_benign_flagged_share": 0.001,
                                "incident_compromise_recall": 1.0}, model.DEFAULT_GATE) == []


def test_psi_is_small_for_the_same_population_and_large_for_a_shift():
    rng = np.random.default_rng(0)
    a = rng.poisson(3, 5000)
    assert monitoring.psi(a, rng.poisson(3, 5000)) < 0.05
    assert monitoring.psi(a, rng.poisson(30, 5000)) > 1


def test_registry_round_trip(trained, tmp_path):
    import mlflow

    detector, _, evaluation, _, metrics = trained
    client = registry.setup_mlflow(f"sqlite:///{tmp_path}/mlflow.db", str(tmp_path / "artifacts"), "round-trip")
    assert registry.alias_version(client, "rt-model", registry.CHAMPION) is None
    with mlflow.start_run():
        mlflow.log_metrics({"pr_auc": metrics["pr_auc"]})
        info = registry.log_model(detector, evaluation, "rt-model")
    client.set_registered_model_alias("rt-model", registry.CHAMPION, info.registered_model_version)
    assert registry.alias_version(client, "rt-model", registry.CHAMPION).version == info.registered_model_version
    loaded = registry.load_alias("rt-model", registry.CHAMPION)
    frame = evaluation[list(features.MODEL_FEATURES)].head(50)
    out = loaded.predict(frame)
    assert list(out.columns) == ["anomaly_score", "is_anomaly", "explanation"]
    np.testing.assert_allclose(out["anomaly_score"], detector.score(frame))
    assert registry.run_metrics(client, client.get_model_version("rt-model", info.registered_model_version))["pr_auc"] \
        == metrics["pr_auc"]
