"""The parameters and thresholds that more than one place uses, with their one default.

Notebooks declare their parameters in their ``parameters`` cell (papermill and Databricks
widgets need literals there), the ADF pipeline declares its own, the API reads environment
variables and `lib` modules have defaults of their own. Where two of them name the same
setting, its default is the one here: `lib` and the API read it from `DEFAULTS`, and
`disagreements` (run by tests/test_config.py) lists every notebook parameter, ADF pipeline
parameter or ADF base parameter whose literal default differs from it.

Deliberately not shared, so not checked: ``tracking_uri`` (``""`` = a local store, the
pipeline's ``databricks``) and ``input_path`` (``""`` = the embedded sample, the pipeline's
landing folder).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields
from pathlib import Path

GATE = ("min_pr_auc", "min_recall_brute_force", "min_incident_recall", "max_benign_flagged_share",
        "min_compromise_recall")
QUALITY = ("max_quarantine_ratio", "max_unknown_templates", "max_psi", "max_anomaly_rate_jump", "fail_on_drift")


@dataclass(frozen=True)
class Defaults:
    # where the lake lives and how it is reached
    lake_root: str = ""
    storage_account: str = ""
    uc_catalog: str = ""         # Unity Catalog: "" = tables by path
    uc_schema: str = "openssh"
    secret_scope: str = "openssh-lakehouse"
    auth: str = "unity_catalog"
    batch_id: str = ""
    # parsing (silver_load; validation reads `year` too)
    year: int = 0
    timezone: str = "UTC"
    max_repeat: int = 10
    # source-windows (gold_load, the ML notebook, the API)
    window_minutes: int = 60
    burst_minutes: int = 10
    full_refresh: bool = False
    # the model (the ML notebook, validation, the API)
    model_name: str = "ssh-anomaly-model"
    # incidents are detected per period of this many days (the ML notebook; 0 = the whole lake at once)
    incident_days: int = 7
    # the promotion gate: the ML notebook proposes a champion on it, validation checks it again
    min_pr_auc: float = 0.7
    min_recall_brute_force: float = 0.95
    min_incident_recall: float = 0.9
    max_benign_flagged_share: float = 0.005
    min_compromise_recall: float = 1.0
    # the quality gate (validation, lib.quality)
    max_quarantine_ratio: float = 0.05
    max_unknown_templates: int = 20
    max_psi: float = 0.25
    max_anomaly_rate_jump: float = 0.2
    fail_on_drift: bool = False

    def gate(self, overrides=None) -> dict:
        """The promotion gate; `overrides` (a notebook's parameters) wins where it names a threshold."""
        return {k: getattr(overrides, k, getattr(self, k)) for k in GATE}

    def quality(self, overrides=None) -> dict:
        return {k: getattr(overrides, k, getattr(self, k)) for k in QUALITY}


DEFAULTS = Defaults()
NAMES = tuple(f.name for f in fields(Defaults))


def _same(value, default) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return type(value) is type(default) and value == default
    if isinstance(default, (int, float)):
        return isinstance(value, (int, float)) and float(value) == float(default)
    return value == default


def disagreements(notebooks: Path, pipeline: Path, defaults: Defaults = DEFAULTS) -> list[str]:
    """Every literal default in the notebooks and the ADF pipeline that differs from `defaults`."""
    from lib.params import declared_parameters

    expected = asdict(defaults)
    out = []
    for path in sorted(Path(notebooks).glob("*.ipynb")):
        for name, value in declared_parameters(path).items():
            if name in expected and not _same(value, expected[name]):
                out.append(f"{path.name}: {name} = {value!r}, the shared default is {expected[name]!r}")
    props = json.loads(Path(pipeline).read_text(encoding="utf-8"))["properties"]
    for name, spec in props.get("parameters", {}).items():
        if name in expected and not _same(spec.get("defaultValue"), expected[name]):
            out.append(f"{Path(pipeline).name}: parameter {name} defaults to {spec.get('defaultValue')!r}, "
                       f"the shared default is {expected[name]!r}")
    for activity in props.get("activities", []):
        for name, value in (activity.get("typeProperties", {}).get("baseParameters") or {}).items():
            literal = value.get("value") if isinstance(value, dict) else value
            if name in expected and not (isinstance(literal, str) and literal.startswith("@")) \
                    and not _same(literal, expected[name]) and str(literal) != str(expected[name]):
                out.append(f"{Path(pipeline).name}: {activity['name']} passes {name} = {literal!r}, "
                           f"the shared default is {expected[name]!r}")
    return out


def signature_disagreements(modules, defaults: Defaults = DEFAULTS) -> list[str]:
    """Keyword defaults of the functions and methods in `modules` that differ from `defaults`.

    ``None`` is not a disagreement: it means "not given", and the function resolves it.
    """
    import inspect

    expected = asdict(defaults)
    out = []
    for mod in modules:
        for obj in vars(mod).values():
            members = [obj, *vars(obj).values()] if inspect.isclass(obj) else [obj]
            for fn in members:
                fn = getattr(fn, "__func__", fn)
                if not inspect.isfunction(fn) or fn.__module__ != mod.__name__ or fn.__module__ == __name__:
                    continue
                for p in inspect.signature(fn).parameters.values():
                    if p.name in expected and p.default not in (inspect.Parameter.empty, None) \
                            and not _same(p.default, expected[p.name]):
                        out.append(f"{mod.__name__}.{fn.__qualname__}: {p.name}={p.default!r}, "
                                   f"the shared default is {expected[p.name]!r}")
    return out
