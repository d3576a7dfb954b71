"""The MLflow side of the model: tracking set-up, the logged pyfunc, registry lookups.

The model is logged as a pyfunc (the sklearn pipeline inside is stored with cloudpickle)
that takes a feature frame and returns score, flag and explanation; versions of
``ssh-anomaly-model`` move between the aliases ``challenger`` and ``champion``
(registry stages are deprecated).
"""
from __future__ import annotations

import json
import os
import tempfile

import numpy as np
import pandas as pd

from lib import features
from lib.config import DEFAULTS
from lib.model import AnomalyModel

MODEL_NAME = DEFAULTS.model_name
EXPERIMENT = "ssh-anomaly-detection"
CHAMPION, CHALLENGER = "champion", "challenger"


def _pyfunc_class():
    import mlflow.pyfunc

    class SshAnomalyModel(mlflow.pyfunc.PythonModel):
        """Feature frame in; anomaly_score, is_anomaly and explanation out."""

        def load_context(self, context):
            import mlflow.sklearn

            with open(context.artifacts["model_config"], encoding="utf-8") as f:
                cfg = json.load(f)
            self.model = AnomalyModel(mlflow.sklearn.load_model(context.artifacts["pipeline"]),
                                      threshold=cfg["threshold"], profile=cfg["profile"],
                                      features=tuple(cfg["features"]))

        # Annotated with a type MLflow takes as "no schema from the hint": the explicit
        # signature given in `log_model` validates the input (unannotated, MLflow warns).
        def predict(self, context, model_input: pd.DataFrame, params=None):
            return self.model.predict(pd.DataFrame(model_input))

    return SshAnomalyModel


def setup_mlflow(tracking_uri: str, artifact_root: str | None, experiment: str = EXPERIMENT,
                 model_name: str = MODEL_NAME):
    """Point MLflow at the tracking server/store and the registry; create the experiment once.

    On Databricks (``tracking_uri='databricks'``) experiments live under ``/Shared`` and a
    three-part model name (``catalog.schema.model``) selects the Unity Catalog registry.
    """
    import mlflow

    if tracking_uri:
        mlflow.set_tracking_uri(tracking_uri)
        if tracking_uri == "databricks":
            mlflow.set_registry_uri("databricks-uc" if model_name.count(".") == 2 else "databricks")
            experiment = f"/Shared/{experiment}"
        else:
            mlflow.set_registry_uri(tracking_uri)
    client = mlflow.MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        client.create_experiment(experiment, artifact_location=artifact_root)
    mlflow.set_experiment(experiment)
    return client


def log_model(model: AnomalyModel, example: pd.DataFrame, model_name: str = MODEL_NAME):
    """Log `model` to the active run as a pyfunc and register a new version of `model_name`."""
    import mlflow
    import mlflow.sklearn
    import sklearn
    from mlflow.models import infer_signature

    lib_dir = os.path.dirname(os.path.abspath(__file__))
    with tempfile.TemporaryDirectory() as tmp:
        pipe_dir = os.path.join(tmp, "pipeline")
        mlflow.sklearn.save_model(model.pipeline, pipe_dir, serialization_format="cloudpickle")
        cfg_path = os.path.join(tmp, "model_config.json")
        with open(cfg_path, "w", encoding="utf-8") as f:
            json.dump({"threshold": model.threshold, "profile": model.profile, "features": list(model.features)}, f)
        example = example[list(model.features)].astype(float).head(5)
        info = mlflow.pyfunc.log_model(
            name="model", python_model=_pyfunc_class()(), artifacts={"pipeline": pipe_dir, "model_config": cfg_path},
            code_paths=[lib_dir], input_example=example, signature=infer_signature(example, model.predict(example)),
            pip_requirements=[f"scikit-learn=={sklearn.__version__}", f"pandas=={pd.__version__}",
                              f"numpy=={np.__version__}", f"mlflow=={mlflow.__version__}"],
            registered_model_name=model_name)
    return info


def alias_version(client, model_name: str, alias: str):
    """The model version behind `alias`, or None."""
    try:
        return client.get_model_version_by_alias(model_name, alias)
    except Exception as exc:  # the registry raises RestException/MlflowException when unset
        if "not found" in str(exc).lower() or "does not exist" in str(exc).lower() or "RESOURCE_DOES_NOT_EXIST" in str(exc):
            return None
        raise


def load_alias(model_name: str, alias: str):
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(f"models:/{model_name}@{alias}")


def load_version(model_name: str, version: str):
    import mlflow.pyfunc

    return mlflow.pyfunc.load_model(f"models:/{model_name}/{version}")


def find_version(client, model_name: str, fingerprint: str):
    """The registered version trained with `fingerprint`, if any."""
    try:
        versions = client.search_model_versions(f"name='{model_name}'")
    except Exception:  # no such registered model yet
        return None
    for v in sorted(versions, key=lambda v: int(v.version), reverse=True):
        if (v.tags or {}).get("training_fingerprint") == fingerprint:
            return v
    return None


def run_metrics(client, version) -> dict:
    """Metrics logged by the training run of a model version (per-kind recalls included)."""
    return dict(client.get_run(version.run_id).data.metrics) if version and version.run_id else {}


def compare_with_champion(client, model_name: str, eval_rows: pd.DataFrame, new_pr_auc: float) -> dict:
    """The current champion's PR-AUC on the same evaluation set, and whether the new model is as good."""
    from sklearn.metrics import average_precision_score

    champ = alias_version(client, model_name, CHAMPION)
    if champ is None:
        return {"champion_version": None, "champion_pr_auc": None, "as_good_as_champion": True}
    try:
        scores = load_alias(model_name, CHAMPION).predict(eval_rows[list(features.MODEL_FEATURES)])["anomaly_score"]
        champ_pr = float(average_precision_score(eval_rows["label"] != "benign", scores))
    except Exception as exc:  # a champion from older code that cannot score today's features
        return {"champion_version": champ.version, "champion_pr_auc": None, "as_good_as_champion": True,
                "champion_error": f"{type(exc).__name__}: {exc}"}
    return {"champion_version": champ.version, "champion_pr_auc": champ_pr,
            "as_good_as_champion": new_pr_auc >= champ_pr - 1e-9}
