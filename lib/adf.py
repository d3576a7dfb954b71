"""The ADF pipeline as data: its notebook activities in dependency order, and the subset of ADF
expressions its ``baseParameters`` use (``@pipeline().parameters.X``,
``@activity('A').output.runOutput.K``, ``@concat``, ``@{...}`` interpolation), evaluated the way
Data Factory does. `lib.runner` executes what this reads.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PIPELINE = REPO / "adf" / "pipeline.json"
NOTEBOOKS = REPO / "notebooks"


class PipelineError(RuntimeError):
    """A failed run, with a one-line message naming the notebook and the error."""


# ------------------------------------------------------------- the DAG
def load_pipeline(path: Path = PIPELINE) -> dict:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def notebook_activities(pipeline: dict) -> list[dict]:
    """DatabricksNotebook activities in dependency order (Kahn; ties keep file order)."""
    acts = [a for a in pipeline["properties"]["activities"] if a["type"] == "DatabricksNotebook"]
    names = [a["name"] for a in acts]
    deps = {a["name"]: [d["activity"] for d in a.get("dependsOn", [])] for a in acts}
    unknown = {d for ds in deps.values() for d in ds} - set(names)
    if unknown:
        raise PipelineError(f"activities depend on unknown activities: {sorted(unknown)}")
    order, done = [], set()
    while len(order) < len(acts):
        ready = [n for n in names if n not in done and all(d in done for d in deps[n])]
        if not ready:
            raise PipelineError(f"the activity graph has a cycle among {sorted(set(names) - done)}")
        order.append(ready[0])
        done.add(ready[0])
    by_name = {a["name"]: a for a in acts}
    return [by_name[n] for n in order]


def notebook_name(activity: dict) -> str:
    """`notebooks/<name>` from the activity's notebookPath (a path or an ADF expression)."""
    path = activity["typeProperties"]["notebookPath"]
    text = path["value"] if isinstance(path, dict) else path
    m = re.search(r"notebooks/([A-Za-z0-9_]+)", text)
    if not m:
        raise PipelineError(f"activity {activity['name']}: cannot find notebooks/<name> in {text!r}")
    return m.group(1)


# ------------------------------------------------------- ADF expressions
_TOKEN = re.compile(r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<name>[A-Za-z_]\w*)"
                    r"|(?P<punct>[().,\[\]]))")


def resolve(value, params: dict, outputs: dict):
    """An activity parameter value: a literal, or an ADF expression over params and outputs."""
    if isinstance(value, dict) and value.get("type") == "Expression":
        value = value["value"]
    if not isinstance(value, str):
        return value
    if value.startswith("@@"):
        return value[1:]
    if "@{" in value:  # string interpolation
        return re.sub(r"@\{(.*?)\}", lambda m: str(_Expr(m.group(1), params, outputs).parse()), value)
    if value.startswith("@"):
        return _Expr(value[1:], params, outputs).parse()
    return value


class _Expr:
    """A recursive-descent reader for the expressions the pipeline uses."""

    def __init__(self, text: str, params: dict, outputs: dict):
        self.text, self.params, self.outputs = text, params, outputs
        self.tokens = self._lex(text)
        self.i = 0

    def _lex(self, text):
        out, pos = [], 0
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                if text[pos:].strip() == "":
                    break
                raise PipelineError(f"unsupported expression: {text!r}")
            out.append((m.lastgroup, m.group(m.lastgroup)))
            pos = m.end()
        return out

    def _next(self, kind=None, value=None):
        if self.i >= len(self.tokens):
            raise PipelineError(f"unexpected end of expression: {self.text!r}")
        tok = self.tokens[self.i]
        if (kind and tok[0] != kind) or (value and tok[1] != value):
            raise PipelineError(f"unexpected {tok[1]!r} in expression {self.text!r}")
        self.i += 1
        return tok

    def _peek(self):
        return self.tokens[self.i][1] if self.i < len(self.tokens) else None

    def parse(self):
        v = self._value()
        if self.i != len(self.tokens):
            raise PipelineError(f"unsupported expression: {self.text!r}")
        return v

    def _value(self):
        kind, tok = self._next()
        if kind == "str":
            return tok[1:-1].replace("''", "'")
        if kind == "num":
            return float(tok) if "." in tok else int(tok)
        if kind != "name":
            raise PipelineError(f"unexpected {tok!r} in expression {self.text!r}")
        self._next("punct", "(")
        args = []
        while self._peek() != ")":
            args.append(self._value())
            if self._peek() == ",":
                self._next()
        self._next("punct", ")")
        value = self._call(tok, args)
        while self._peek() == ".":
            self._next()
            value = self._member(value, self._next("name")[1])
        return value

    def _call(self, fn, args):
        if fn == "pipeline" and not args:
            return {"parameters": self.params}
        if fn == "activity" and len(args) == 1:
            if args[0] not in self.outputs:
                raise PipelineError(f"activity {args[0]!r} has no output yet")
            return {"output": {"runOutput": self.outputs[args[0]]}}
        if fn == "concat":
            return "".join(str(a) for a in args)
        if fn == "string" and len(args) == 1:
            return str(args[0])
        raise PipelineError(f"unsupported function {fn}() in expression {self.text!r}")

    def _member(self, value, name):
        if not isinstance(value, dict) or name not in value:
            raise PipelineError(f"no {name!r} in expression {self.text!r}")
        return value[name]
