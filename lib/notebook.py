"""What every notebook opens and closes with.

    p, spark, lake = start(globals())
    ...
    finish({...}, globals())

`start` reads the parameters (widgets on Databricks, papermill's injected values
elsewhere), refuses bad ones in one line before Spark starts, then returns them with the
Spark session and the lake they name. `finish` hands the notebook's result to ADF or the
local runner.
"""
from __future__ import annotations

from lib.params import notebook_exit, notebook_params


def checked(p):
    """`p` with the parameters that have a rule checked and normalised (ValueError naming the first bad one)."""
    from lib.params import time_params
    from lib.templates import max_repeat

    if hasattr(p, "year") or hasattr(p, "timezone"):
        p.year, p.timezone = time_params(getattr(p, "year", 0), getattr(p, "timezone", "UTC"))
    if hasattr(p, "max_repeat"):
        p.max_repeat = max_repeat(p.max_repeat)
    return p


def quiet() -> None:
    """Progress bars and notices that would fill a notebook's output with noise, off. tqdm falls back to
    its plain-text bar without ipywidgets (which the runtime may lack): that is what we want, unannounced.
    MLflow's artifact progress bars and its pickle notices (the API loads only signed models) say nothing
    a reader of the notebook needs."""
    import logging
    import os
    import warnings

    warnings.filterwarnings("ignore", message="IProgress not found")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    try:
        import mlflow  # noqa: F401  (importing it configures its loggers: set their levels after that)
    except ImportError:
        return
    for name in ("mlflow.sklearn", "mlflow.pyfunc", "mlflow.store.db.utils", "alembic"):
        logging.getLogger(name).setLevel(logging.ERROR)


def start(namespace: dict):
    """(parameters, Spark session, Lake) for the notebook whose globals are `namespace`."""
    from lib.lake import Lake
    from lib.spark import get_spark

    quiet()
    p = checked(notebook_params(namespace))
    dbutils = namespace.get("dbutils")
    spark = get_spark()
    return p, spark, Lake.from_params(p.lake_root, p.storage_account, dbutils=dbutils,
                                      uc_catalog=getattr(p, "uc_catalog", ""), uc_schema=getattr(p, "uc_schema", "openssh"))


def finish(result: dict, namespace: dict) -> None:
    """End the notebook with `result` (JSON): ``dbutils.notebook.exit`` on Databricks, a file locally."""
    notebook_exit(result, namespace)
