"""The model's part of a batch, one function a step: the ML notebook calls them in order.

1. `open_registry`: MLflow tracking and registry (a local SQLite store keeps its artifacts in the lake).
2. `train_or_reuse`: train, evaluate and register a version, or reuse the registered version
   whose training fingerprint is the same (training is deterministic); sign it once.
3. `propose`: the promotion gate; a version that passes it is proposed for champion, and the
   alias moves only when validation publishes the batch (`lib.publish`).
4. `score_batch`: the champion (or the proposed version) scores the batch's source-windows
   (`lib.scoring`), and the batch's final CSV gets the anomaly columns.
5. `find_incidents`: the lake's authentication attempts as ranked incidents (the batch's detection
   periods detected again, the others kept).
6. `record_monitoring`: prediction count, anomaly rate and drift per feature, to MLflow and the lake.
"""
from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from lib import evaluate, features, gold, incidents, model, monitoring, plots, publish, registry, scoring, signing
from lib.lake import default_tracking_uri

TOP_INCIDENTS = 5  # in the notebook's result and the console summary
TRAINING_PARAMS = ("window_minutes", "burst_minutes", "contamination", "score_threshold", "n_estimators", "seed",
                   "train_lines", "train_seed", "eval_lines", "eval_seed")


@dataclass
class Training:
    version: object           # the registered MLflow ModelVersion (signed)
    metrics: dict             # its training run's metrics
    per_kind: pd.DataFrame    # recall per attack kind, model beside the fail2ban rule
    reused: bool              # an identical version was registered already
    train: pd.DataFrame       # the windows it learnt from (the reference for drift)
    fingerprint: str
    versus: dict              # the champion's PR-AUC on the same evaluation set ({} when reused)
    run_id: str | None        # the training run (None when reused)


@dataclass
class Promotion:
    blockers: list[str]       # why the version may not be champion (empty when it may)
    champion: object | None   # the champion before this batch
    proposed: bool            # the version becomes champion when validation passes
    scoring: object           # the version that scores the batch


@dataclass
class Scoring:
    scored: pd.DataFrame        # the rows scored now (the batch's windows, or every window)
    batch_scored: pd.DataFrame  # the batch's windows with their scores (for monitoring)
    batch_rows: pd.DataFrame    # their feature rows
    whole_lake: bool
    anomalies: object           # the anomalies table after scoring (Spark DataFrame)
    events: object              # Silver (Spark DataFrame)
    final_csv: str


def open_registry(lake, tracking_uri: str, model_name: str):
    """An MlflowClient on `tracking_uri` ("" = the local SQLite store), the experiment created once."""
    tracking_uri = tracking_uri or default_tracking_uri()
    artifacts = lake.path("models", "mlflow-artifacts") if tracking_uri.startswith("sqlite:") else None
    return registry.setup_mlflow(tracking_uri, artifacts, model_name=model_name)


def training_config(params) -> dict:
    """The parameters that shape the model, from the notebook's parameters (or any object with them)."""
    return {k: getattr(params, k) for k in TRAINING_PARAMS}


def train_or_reuse(client, model_name: str, config: dict, run_name: str, signing_key: bytes,
                   lake_rows: pd.DataFrame | None = None, lineage: dict | None = None) -> Training:
    """The registered version for `config` (see `TRAINING_PARAMS`): reused when one was trained with
    the same fingerprint, else trained on the synthetic reference log (plus `lake_rows`, the lake's own
    source-windows, when given), evaluated on another seed's log beside the fail2ban rule, logged
    and registered as `challenger`. Either way signed by `signing_key`, once."""
    config = dict(config)
    if lake_rows is not None:
        config["lake_features"] = int(pd.util.hash_pandas_object(lake_rows[list(features.MODEL_FEATURES)]).sum())
    fingerprint = model.training_fingerprint(config)
    train, _, _ = model.synthetic_windows(config["train_lines"], config["train_seed"], config["window_minutes"],
                                          config["burst_minutes"])
    if lake_rows is not None:
        train = pd.concat([train, lake_rows.assign(label="unlabeled")], ignore_index=True)
    existing = registry.find_version(client, model_name, fingerprint)
    if existing:
        metrics = registry.run_metrics(client, existing)
        per_kind = pd.DataFrame([{"kind": k, "model_recall": metrics.get(f"recall_{k}"),
                                  "rule_recall": metrics.get(f"rule_recall_{k}")}
                                 for k in model.ATTACK_KINDS if f"recall_{k}" in metrics])
        training = Training(existing, metrics, per_kind, True, train, fingerprint, {}, None)
    else:
        training = _train(client, model_name, config, run_name, train, fingerprint, lineage or {})
    if signing.SIGNATURE_TAG not in (training.version.tags or {}):  # signed once, by the key only the pipeline holds
        signing.sign_version(client, model_name, training.version.version, signing_key)
        training.version = client.get_model_version(model_name, training.version.version)
    return training


def _train(client, model_name, config, run_name, train, fingerprint, lineage) -> Training:
    import mlflow

    evaluation, eval_events, eval_labels = model.synthetic_windows(config["eval_lines"], config["eval_seed"],
                                                                   config["window_minutes"], config["burst_minutes"])
    detector = model.fit(train, config["contamination"], config["n_estimators"], config["seed"],
                         config["score_threshold"])
    eval_scores = detector.predict(evaluation)
    rule = model.fail2ban_units(eval_events, config["window_minutes"])
    metrics = model.evaluate(evaluation, eval_scores, rule, config["window_minutes"])
    metrics.update(evaluate.incident_metrics(eval_events, eval_labels))
    per_kind = pd.DataFrame(metrics.pop("per_kind"))
    versus = registry.compare_with_champion(client, model_name, evaluation, metrics["pr_auc"])
    with mlflow.start_run(run_name=run_name) as run:
        mlflow.log_params({**config, **lineage, "model_name": model_name, "features": ",".join(features.MODEL_FEATURES),
                           "threshold": detector.threshold, "training_fingerprint": fingerprint,
                           "eval_windows": len(evaluation)})
        mlflow.log_metrics({k: v for k, v in metrics.items() if isinstance(v, (int, float))})
        mlflow.log_dict({"features": list(features.MODEL_FEATURES),
                         "definitions": {f.name: f.doc or f.kind for f in features.FEATURES}}, "features.json")
        mlflow.log_table(per_kind, "per_kind_recall.json")
        mlflow.log_figure(plots.score_histogram(evaluation, eval_scores, detector.threshold), "score_histogram.png")
        mlflow.log_figure(plots.recall_by_kind(per_kind), "per_kind_recall.png")
        info = registry.log_model(detector, evaluation, model_name)
        mlflow.set_tags({"champion_comparison": str(versus)})
    version = client.get_model_version(model_name, info.registered_model_version)
    client.set_model_version_tag(model_name, version.version, "training_fingerprint", fingerprint)
    client.set_registered_model_alias(model_name, registry.CHALLENGER, version.version)
    return Training(version, metrics, per_kind, False, train, fingerprint, versus, run.info.run_id)


def propose(client, model_name: str, training: Training, gate: dict, batch_id: str) -> Promotion:
    """Check `training` against `gate` and the champion; propose it for champion when it passes.
    Raises when there is no version to score the batch with (the first model failed the gate)."""
    blockers = model.gate_failures(training.metrics, gate)
    champion = registry.alias_version(client, model_name, registry.CHAMPION)
    versus = training.versus
    if not training.reused and not blockers and not versus.get("as_good_as_champion", True):
        blockers.append(f"PR-AUC {training.metrics['pr_auc']:.3f} below champion v{versus['champion_version']}'s "
                        f"{versus['champion_pr_auc']:.3f} on the same evaluation set")
    proposed = not blockers and (champion is None or champion.version != training.version.version)
    if proposed:
        publish.propose(client, model_name, training.version.version, batch_id)
    scoring_version = training.version if proposed else champion
    if scoring_version is None:
        raise RuntimeError(f"no champion for {model_name}: the first model did not pass the gate: {blockers}")
    return Promotion(blockers, champion, proposed, scoring_version)


def score_batch(spark, lake, model_name: str, version, batch_id: str, window_minutes: int,
                full_refresh: bool = False, feature_table=None) -> Scoring:
    """Score the source-windows the batch changed with `version` (every window when the scores on
    record are another version's, or `full_refresh`), and write the batch's final CSV with them."""
    from pyspark.sql import functions as F

    feature_table = lake.read_table(spark, "features") if feature_table is None else feature_table
    scorer = registry.load_version(model_name, version.version)
    events = lake.read_table(spark, "silver")
    batch_events = events.where(F.col("batch_id") == batch_id)
    touched = gold.touched(batch_events, window_minutes)["windows"]
    rows, scored, windows = scoring.refresh(spark, lake, scorer, version.version, touched, window_minutes,
                                            full=full_refresh, feature_rows=feature_table)
    whole_lake = windows is None
    anomalies = lake.read_table(spark, "anomalies")
    keys = list(features.KEYS)
    batch_rows = scoring.windows_to_score(feature_table, touched).toPandas() if whole_lake else rows
    batch_scored = scored.merge(batch_rows[keys], on=keys) if whole_lake else scored
    final_csv = lake.write_final(gold.final_data(batch_events, scoring.windows_to_score(anomalies, touched),
                                                 window_minutes), batch_id, order_by=gold.FINAL_ORDER)
    return Scoring(scored, batch_scored, batch_rows, whole_lake, anomalies, events, final_csv)


def find_incidents(spark, lake, result: Scoring, batch_id: str, incident_days: int = 7) -> pd.DataFrame:
    """The lake's incidents, ranked (compromises first), with the model's highest score per source
    noted: the detection periods (`incidents`, "detection periods") the batch's events fall in are
    detected again from Silver, the others kept; every period when the whole lake was scored
    again, and the whole lake as one when `incident_days` is 0. Written to the incidents table."""
    from pyspark.sql import functions as F

    periods = None
    if incident_days:
        scope = result.events if result.whole_lake else result.events.where(F.col("batch_id") == batch_id)
        periods = incidents.spark_periods(result.events, scope, incident_days)
    table = lake.read_table(spark, "incidents")
    previous = [r.asDict() for r in table.collect()] if table is not None else []
    found = incidents.stamp_detection(incidents.detect_periods(result.events, periods, incident_days,
                                                               anomalies=result.anomalies))
    merged = incidents.frame(incidents.merge_periods(previous, found, periods, incident_days))
    lake.write_table(spark.createDataFrame(merged, schema=incidents.INCIDENTS_SCHEMA), "incidents")
    return merged


def record_monitoring(spark, lake, client, batch_id: str, training: Training, promotion: Promotion,
                      result: Scoring) -> dict:
    """The batch's prediction count, anomaly rate (and its change since the previous batch) and PSI
    per feature against the training windows: logged to MLflow and appended to the monitoring table."""
    import mlflow

    previous = lake.read_table(spark, "monitoring")
    previous = previous.where(previous.batch_id != batch_id).orderBy("run_ts", ascending=False).limit(1).toPandas() \
        if previous is not None else pd.DataFrame()
    version = promotion.scoring.version
    monitor = monitoring.monitoring_row(batch_id, version, training.train, result.batch_rows, result.batch_scored,
                                   float(previous["anomaly_rate"].iloc[0]) if len(previous) else None)
    flagged = result.anomalies.where("is_anomaly").select("window_start", "is_anomaly").toPandas()  # what the plot shows
    with mlflow.start_run(run_name=f"monitor-{batch_id}"):
        mlflow.log_metrics({"predictions": monitor["predictions"], "anomaly_rate": monitor["anomaly_rate"],
                            **{f"psi_{k}": v for k, v in monitor["psi"].items()}})
        mlflow.set_tags({"batch_id": batch_id, "model_version": str(version)})
        mlflow.log_figure(plots.anomalies_over_time(flagged, flagged), "anomalies_over_time.png")
    if training.run_id:  # the training run holds its first scoring of the lake too
        client.log_figure(training.run_id, plots.anomalies_over_time(flagged, flagged), "anomalies_over_time.png")
    record = monitoring.monitoring_record(monitor, pd.Timestamp.now(tz="UTC"))
    lake.write_partition(spark.createDataFrame(record, schema=monitoring.MONITORING_SCHEMA), "monitoring", batch_id)
    return monitor


def summary(model_name: str, training: Training, promotion: Promotion, result: Scoring,
            found: pd.DataFrame, windows: int) -> dict:
    """The notebook's exit value (ADF's runOutput)."""
    champion = promotion.champion
    return {"model_name": model_name, "model_version": training.version.version,
            "champion_version": champion.version if champion else None,
            "scored_with": promotion.scoring.version, "promoted": promotion.proposed,
            "blockers": promotion.blockers, "anomalies": result.anomalies.where("is_anomaly").count(),
            "windows": windows, "scored": len(result.scored), "scored_all": bool(result.whole_lake),
            "batch_anomalies": int(result.batch_scored["is_anomaly"].sum()), "final_csv": result.final_csv,
            "incidents": len(found), "compromises": int((found["kind"] == "compromise").sum()),
            "compromised": [{"account": r.account, "source": r.success_source, "at": r.success_at}
                            for r in found[found["kind"] == "compromise"].sort_values("rank").itertuples()],
            "top_incidents": [{"rank": int(r.rank), "severity": r.severity, "kind": r.kind, "summary": r.summary}
                              for r in found.sort_values("rank").head(TOP_INCIDENTS).itertuples()],
            "pr_auc": training.metrics.get("pr_auc"), "recall": training.metrics.get("recall")}
