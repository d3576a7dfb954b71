"""Notebook parameters and results, the same way on Databricks and under papermill.

A notebook's first code cell (tagged ``parameters``) assigns each parameter its
default. Under papermill, an injected cell after it overrides them. On Databricks
there is no injection: `notebook_params` creates a text widget per parameter with
that default, so ADF ``baseParameters`` and job parameters (which fill widgets of
the same name) take effect. Values come back with the type of the default.

`notebook_exit` ends a notebook with a JSON result: ``dbutils.notebook.exit`` on
Databricks (ADF reads it as ``@activity('x').output.runOutput``), a file the local
runner reads otherwise.
"""
from __future__ import annotations

import json
import os
from types import SimpleNamespace

EXIT_FILE_ENV = "NOTEBOOK_EXIT_FILE"
_SIMPLE = (str, int, float, bool)


def parameter_names(namespace: dict) -> list[str]:
    """Names the parameters cell defined: public globals of simple types, in order."""
    return [k for k, v in namespace.items()
            if not k.startswith("_") and type(v) in _SIMPLE and k not in ("In", "Out")]


def cast_like(value, default):
    """`value` (often a string: widgets and ADF pass strings) with the type of `default`."""
    if isinstance(value, type(default)) and not (isinstance(value, bool) and not isinstance(default, bool)):
        return value
    text = str(value).strip()
    if isinstance(default, bool):
        if text.lower() in ("true", "1", "yes"):
            return True
        if text.lower() in ("false", "0", "no", ""):
            return False
        raise ValueError(f"not a boolean: {value!r}")
    if isinstance(default, str):
        return str(value)
    return type(default)(text) if text != "" else default


def declared_parameters(notebook_path) -> dict:
    """Name -> default of the assignments in a notebook's cell tagged `parameters`."""
    import ast

    import nbformat

    nb = nbformat.read(str(notebook_path), as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    return {t.id: ast.literal_eval(node.value) for node in ast.parse(cell.source).body
            if isinstance(node, ast.Assign) for t in node.targets if isinstance(t, ast.Name)}


def notebook_params(namespace: dict) -> SimpleNamespace:
    """The notebook's parameters, read from widgets on Databricks, as given elsewhere."""
    names = parameter_names(namespace)
    values = {k: namespace[k] for k in names}
    dbutils = namespace.get("dbutils")
    if dbutils is not None:
        for k, default in values.items():
            dbutils.widgets.text(k, str(default).lower() if isinstance(default, bool) else str(default))
            values[k] = cast_like(dbutils.widgets.get(k), default)
    return SimpleNamespace(**values)


def notebook_exit(result: dict, namespace: dict | None = None) -> None:
    """Hand `result` to the orchestrator and end the notebook."""
    text = json.dumps(result, default=str, sort_keys=True)
    dbutils = (namespace or {}).get("dbutils")
    if dbutils is not None:
        dbutils.notebook.exit(text)
    path = os.environ.get(EXIT_FILE_ENV)
    if path:
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)


def time_params(year, timezone: str) -> tuple[int | None, str]:
    """The `year` and `timezone` parameters, checked: (year or None for "infer per file", zone name).

    Refused with a one-line ValueError, before any Spark work: a year outside 1990 .. next
    year (0 or "" means infer), a zone that is not an IANA name (``Berlin``; use
    ``Europe/Berlin``).
    """
    from datetime import datetime, timezone as tzmod
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from lib.templates import YEAR_RANGE

    lo, hi = YEAR_RANGE[0], datetime.now(tzmod.utc).year + YEAR_RANGE[1]
    y = int(year) if str(year).strip() not in ("", "0", "None") else None
    if y is not None and not lo <= y <= hi:
        raise ValueError(f"year {y} is outside {lo}..{hi} (leave it out to infer it per file)")
    name = (timezone or "UTC").strip()
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, IsADirectoryError):
        raise ValueError(f"unknown timezone {name!r}: use an IANA name such as Europe/Berlin or UTC") from None
    return y, name
