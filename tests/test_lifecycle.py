"""The model's steps, called as the ML notebook calls them, on a real MLflow store (SQLite) without Spark."""
import dataclasses

import pytest

from lib import lifecycle, publish, registry, signing
from lib.config import DEFAULTS

NAME = "lifecycle-model"
# small enough for a test: a few thousand lines each, a small forest
CONFIG = {**{k: getattr(DEFAULTS, k, None) for k in lifecycle.TRAINING_PARAMS},
          "contamination": 0.1, "score_threshold": 0.0, "n_estimators": 40, "seed": 42,
          "train_lines": 6000, "train_seed": 1, "eval_lines": 6000, "eval_seed": 2}
PASSING = {"pr_auc": 0.9, "recall_brute_force": 1.0, "recall_low_and_slow": 0.9, "rule_recall_low_and_slow": 0.1,
           "incident_recall_brute_force": 1.0, "incident_benign_flagged_share": 0.0, "incident_compromise_recall": 1.0}


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    import mlflow

    from lib.lake import Lake

    tmp = tmp_path_factory.mktemp("lifecycle")
    before = mlflow.get_tracking_uri(), mlflow.get_registry_uri()
    client = lifecycle.open_registry(Lake.from_params(str(tmp / "lake")), f"sqlite:///{tmp}/mlflow.db", NAME)
    key = signing.new_private_key()
    first = lifecycle.train_or_reuse(client, NAME, CONFIG, "train-1", key)
    yield client, key, first
    mlflow.set_tracking_uri(before[0])
    mlflow.set_registry_uri(before[1])


def test_a_training_is_registered_signed_and_challenger_and_the_same_config_reuses_it(store):
    client, key, first = store
    assert not first.reused and first.run_id and first.fingerprint
    assert signing.SIGNATURE_TAG in first.version.tags
    assert registry.alias_version(client, NAME, registry.CHALLENGER).version == first.version.version
    assert set(first.per_kind["kind"]) >= {"brute_force", "low_and_slow"} and "pr_auc" in first.metrics
    again = lifecycle.train_or_reuse(client, NAME, CONFIG, "train-2", key)
    assert again.reused and again.run_id is None and again.version.version == first.version.version
    assert again.metrics["pr_auc"] == first.metrics["pr_auc"] and len(again.train) == len(first.train)
    assert list(again.per_kind["kind"]) == list(first.per_kind["kind"])
    assert [v.version for v in client.search_model_versions(f"name='{NAME}'")] == [first.version.version]


def test_a_failed_gate_without_a_champion_stops_the_batch_and_proposes_nothing(store):
    client, _, first = store
    with pytest.raises(RuntimeError, match=r"no champion for .*PR-AUC .* < 1\.01"):
        lifecycle.propose(client, NAME, first, {**DEFAULTS.gate(), "min_pr_auc": 1.01}, "batch-fail")
    assert publish.pending(client, NAME, "batch-fail") is None


def test_a_passing_version_is_proposed_and_becomes_champion_only_on_publishing(store):
    client, _, first = store
    passing = dataclasses.replace(first, metrics=PASSING)
    promotion = lifecycle.propose(client, NAME, passing, DEFAULTS.gate(), "batch-ok")
    assert promotion.proposed and promotion.blockers == [] and promotion.champion is None
    assert promotion.scoring.version == first.version.version
    assert publish.pending(client, NAME, "batch-ok").version == first.version.version
    assert registry.alias_version(client, NAME, registry.CHAMPION) is None  # the alias moves when validation publishes
    client.set_registered_model_alias(NAME, registry.CHAMPION, first.version.version)
    try:
        # the champion itself is not proposed again, and it scores the next batch
        same = lifecycle.propose(client, NAME, passing, DEFAULTS.gate(), "batch-next")
        assert not same.proposed and same.scoring.version == first.version.version
        assert publish.pending(client, NAME, "batch-next") is None
        # a version that is worse than the champion on the same evaluation set is not proposed
        worse = dataclasses.replace(passing, reused=False, version=first.version,
                                    versus={"as_good_as_champion": False, "champion_version": "1",
                                            "champion_pr_auc": 0.95})
        blocked = lifecycle.propose(client, NAME, worse, DEFAULTS.gate(), "batch-worse")
        assert not blocked.proposed and "below champion v1's 0.950" in blocked.blockers[0]
        assert blocked.scoring.version == first.version.version
    finally:
        client.delete_registered_model_alias(NAME, registry.CHAMPION)


def test_every_training_parameter_is_a_parameter_of_the_ml_notebook():
    from lib.params import declared_parameters
    from lib.adf import NOTEBOOKS

    assert set(lifecycle.TRAINING_PARAMS) <= set(declared_parameters(NOTEBOOKS / "ml_anomaly_detection.ipynb"))
