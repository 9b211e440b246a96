"""MetricFlow against the warehouse: validate the semantic layer, answer metrics, compile them to SQL."""
from __future__ import annotations

import contextlib
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from safestats import dbt
from safestats.config import Settings, settings

SEMANTIC_MANIFEST = "semantic_manifest.json"


class MetricFlowError(RuntimeError):
    pass


def semantic_manifest_path(cfg: Settings) -> Path:
    return cfg.home / "target" / SEMANTIC_MANIFEST


def project_root(cfg: Settings) -> Path:
    """A directory mf can run in. mf reads `target/semantic_manifest.json` under the directory it runs in,
    but dbt writes its artifacts under $SAFESTATS_HOME/target (one install's state stays out of the
    checkout), so this directory links the project's dbt_project.yml and profiles.yml and that target."""
    root = cfg.home / "metricflow"
    root.mkdir(parents=True, exist_ok=True)
    links = {"dbt_project.yml": cfg.project_dir / "dbt_project.yml",
             "profiles.yml": cfg.project_dir / "profiles.yml",
             "target": cfg.home / "target"}
    for name, to in links.items():
        link = root / name
        if link.is_symlink() and Path(os.readlink(link)) == to:
            continue
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(to)
    return root


def ensure_manifest(cfg: Settings) -> Path:
    """dbt writes the semantic manifest when it parses the project (every build does); parse if none yet."""
    path = semantic_manifest_path(cfg)
    if not path.exists():
        outcome = dbt.run(["parse"], cfg)
        if not outcome.success:
            raise MetricFlowError("dbt could not parse the project: " + "; ".join(outcome.failures))
    return path


def environment(cfg: Settings) -> dict[str, str]:
    root = project_root(cfg)
    return {**os.environ, **dbt.dbt_environment(cfg), "DBT_PROFILES_DIR": str(root),
            "DBT_PROJECT_DIR": str(root), "MF_DISABLE_TELEMETRY": "true"}


def mf_command(args: list[str], cfg: Settings | None = None, capture: bool = True) -> subprocess.CompletedProcess:
    """The `mf` CLI itself, in the project root above, as the dbt role."""
    cfg = cfg or settings()
    ensure_manifest(cfg)
    mf = Path(sys.executable).with_name("mf")
    return subprocess.run([str(mf), *args], cwd=project_root(cfg), env=environment(cfg),
                          capture_output=capture, text=True)


def validate(cfg: Settings | None = None) -> subprocess.CompletedProcess:
    """`mf validate-configs`: the semantic manifest's own rules, then every metric, measure and dimension
    tried against the warehouse."""
    return mf_command(["validate-configs"], cfg)


@dataclass
class Answer:
    columns: list[str]
    rows: list[tuple]

    def records(self) -> list[dict]:
        return [dict(zip(self.columns, row)) for row in self.rows]


class Session:
    """MetricFlow's engine loaded once (~2 s), then many queries and compilations in this process."""

    def __init__(self, cfg: Settings | None = None):
        from dbt_metricflow.cli.cli_configuration import CLIConfiguration

        self.cfg = cfg or settings()
        ensure_manifest(self.cfg)
        root = project_root(self.cfg)
        env = environment(self.cfg)
        with _environ({k: env[k] for k in env if k.startswith(("SAFESTATS_", "DBT_", "MF_"))}):
            self._cli = CLIConfiguration()
            self._cli.setup(dbt_profiles_path=root, dbt_project_path=root, configure_file_logging=False)
            self.engine = self._cli.mf

    def _request(self, metrics: list[str], group_by: list[str], where: list[str] | None,
                 order_by: list[str] | None):
        from metricflow.engine.metricflow_engine import MetricFlowQueryRequest

        return MetricFlowQueryRequest.create(
            metric_names=metrics, group_by_names=group_by, where_constraints=where or None,
            order_by_names=order_by or None)

    def query(self, metrics: list[str], group_by: list[str], where: list[str] | None = None,
              order_by: list[str] | None = None) -> Answer:
        result = self.engine.query(self._request(metrics, group_by, where, order_by))
        table = result.result_df
        return Answer(list(table.column_names), [tuple(row) for row in table.rows])

    def compile(self, metrics: list[str], group_by: list[str], where: list[str] | None = None) -> str:
        """The SQL MetricFlow would run for these metrics and group-bys (what `mf query --explain` prints)."""
        explained = self.engine.explain(self._request(metrics, group_by, where, None))
        return explained.sql_statement.without_descriptions.sql


@contextlib.contextmanager
def _environ(values: dict[str, str]):
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
