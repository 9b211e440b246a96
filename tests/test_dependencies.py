"""Every third-party module the project imports comes from a distribution pyproject.toml declares."""
from __future__ import annotations

import ast
import re
import sys
import tomllib
from importlib.metadata import packages_distributions
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OWN = {"safestats", "safestats_superset"}
# Superset's own modules, imported only by code that runs inside Superset's virtualenv.
OTHER_VENV = {"superset", "flask", "flask_appbuilder", "flask_caching", "werkzeug", "sqlalchemy", "celery"}


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def declared() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    found = {_name(r) for r in project["dependencies"]}
    for extra in project.get("optional-dependencies", {}).values():
        found |= {_name(r) for r in extra}
    return found


def imported(folder: Path) -> set[str]:
    local = {p.stem for p in folder.rglob("*.py")} | {p.name for p in folder.rglob("*") if p.is_dir()}
    local |= {p.stem for p in (ROOT / "superset").glob("*.py")}     # SafeStats' Superset configuration
    modules = set()
    for path in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                modules |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                modules.add(node.module.split(".")[0])
    return {m for m in modules if m not in sys.stdlib_module_names and m not in local and m not in OWN}


def test_every_imported_package_is_declared():
    distributions = packages_distributions()
    wanted = declared()
    undeclared = {}
    for folder in ("src", "tests", "flows"):
        for module in imported(ROOT / folder):
            names = {d.lower().replace("_", "-") for d in distributions.get(module, [])}
            if module in OTHER_VENV and folder != "src":
                continue
            if not names & wanted:
                undeclared[module] = f"{folder}/ imports it; provided by {sorted(names) or 'nothing installed'}"
    assert not undeclared, f"imported but not declared in pyproject.toml: {undeclared}"
