"""Superset's chart post-processing with safestats_superset.postprocessing installed: the pivot and the aggregate
operations answer exactly what Superset's own give, and float and integer columns are aggregated by pandas in one
pass rather than by a Python call per group. Runs in Superset's environment, on Superset's own functions."""
from __future__ import annotations

import json
import os
import subprocess

import pytest

from safestats.config import PROJECT_DIR

SUPERSET_PYTHON = PROJECT_DIR / ".venv-superset" / "bin" / "python"

SCRIPT = r"""
import importlib, json, sys
from decimal import Decimal
import numpy as np, pandas as pd
from safestats_superset import postprocessing

pivot = importlib.import_module("superset.utils.pandas_postprocessing.pivot")
aggregate = importlib.import_module("superset.utils.pandas_postprocessing.aggregate")
months = ["2024-01-01", "2024-01-01", "2024-01-01", "2024-02-01", "2024-02-01", "2024-03-01"]
frames = {
    # a month and borough twice, a missing value, and a borough with no value in a month
    "float": pd.DataFrame({"t": months, "b": list("xxyxyy"), "v": [1.5, np.nan, 2.0, 3.0, np.nan, np.nan]}),
    "integer": pd.DataFrame({"t": months, "b": list("xxyxyy"), "v": [1, 2, 3, 4, 5, 6]}),
    "decimal": pd.DataFrame({"t": months, "b": list("xxyxyy"),
                             "v": [Decimal(v) for v in ("1.5", "2", "0.25", "3", "4", "7")]}),
    "empty": pd.DataFrame({"t": [], "b": [], "v": []}, dtype=float),
}
OPERATORS = ["mean", "sum", "min", "max", "median", "std"]

def operators(name):     # numpy's std of Decimals fails in Superset too
    return OPERATORS[:4] if name == "decimal" else OPERATORS

def answers():
    out = []
    for name, df in frames.items():
        for operator in operators(name):
            spec = {"v": {"operator": operator}}
            out.append(pivot.pivot(df.copy(), index=["t"], columns=["b"], aggregates=spec,
                                   drop_missing_columns=False))
            out.append(aggregate.aggregate(df.copy(), groupby=["t"], aggregates=spec))
    return out

def aggfuncs():
    return {(name, operator): repr(pivot._get_aggregate_funcs(df, {"v": {"operator": operator}})["v"].aggfunc)
            for name, df in frames.items() for operator in operators(name)}

before = answers()
if "--without" not in sys.argv:
    postprocessing.install()
    postprocessing.install()     # twice, as a second app in one process would
after = answers()
print(json.dumps({
    "same": [a.equals(b) and list(a.dtypes) == list(b.dtypes) for a, b in zip(before, after)],
    "aggfuncs": {f"{n} {o}": f for (n, o), f in aggfuncs().items()},
}))
"""


def run(*args: str) -> dict:
    if not SUPERSET_PYTHON.exists():
        pytest.fail(f"{SUPERSET_PYTHON} is missing: `make install` builds Superset's environment")
    env = {**os.environ, "PYTHONPATH": str(PROJECT_DIR / "superset")}
    done = subprocess.run([str(SUPERSET_PYTHON), "-c", SCRIPT, *args], env=env, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_pivot_and_aggregate_answer_as_superset_does_and_float_and_integer_columns_in_one_pass():
    found = run()
    assert found["same"] and all(found["same"]), found["same"]
    funcs = found["aggfuncs"]
    for kind in ("float", "integer", "empty"):
        for operator in ("mean", "sum", "min", "max"):
            assert funcs[f"{kind} {operator}"] == repr(operator), (kind, operator, funcs[f"{kind} {operator}"])
        # pandas' median and std are not numpy's on a Series (numpy's median keeps a missing value, its std
        # divides by n): Superset's own function stays
        for operator in ("median", "std"):
            assert "functools.partial" in funcs[f"{kind} {operator}"], (kind, operator)
    # Decimals are objects: pandas' mean of them gives Decimals where Superset's gives floats
    assert all("functools.partial" in funcs[f"decimal {operator}"] for operator in ("mean", "sum", "min", "max"))


def test_without_it_superset_calls_a_python_function_per_group():
    """The check above can fail: Superset's own functions are partials of numpy's."""
    funcs = run("--without")["aggfuncs"]
    assert all("functools.partial" in f for f in funcs.values()), funcs
