"""Run dbt in-process against the warehouse, as the dbt role."""
from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field

from safestats import warehouse
from safestats.config import Settings, settings


@dataclass
class DbtOutcome:
    success: bool
    counts: Counter = field(default_factory=Counter)    # (resource type, status) -> number
    failures: list[str] = field(default_factory=list)   # "<node>: <message>"

    def count(self, resource_type: str, *statuses: str) -> int:
        return sum(n for (rtype, status), n in self.counts.items() if rtype == resource_type and status in statuses)


def dbt_environment(cfg: Settings | None = None) -> dict[str, str]:
    """The variables profiles.yml reads; the password is the dbt role's own, from the credentials file."""
    cfg = cfg or settings()
    ep = warehouse.dbt_endpoint(cfg)
    return {
        "SAFESTATS_DB_HOST": ep.host,
        "SAFESTATS_DB_PORT": str(ep.port),
        "SAFESTATS_DB_NAME": ep.dbname,
        "SAFESTATS_DBT_USER": ep.user,
        "SAFESTATS_DBT_PASSWORD": ep.password or "",
        "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
    }


def run(args: list[str], cfg: Settings | None = None) -> DbtOutcome:
    """`dbt <args>` for this project; returns what ran and what failed."""
    from dbt.cli.main import dbtRunner

    cfg = cfg or settings()
    os.environ.update(dbt_environment(cfg))
    project = str(cfg.project_dir)
    result = dbtRunner().invoke([
        *args, "--project-dir", project, "--profiles-dir", project,
        "--log-path", str(cfg.home / "logs"), "--target-path", str(cfg.home / "target"),
    ])
    outcome = DbtOutcome(success=bool(result.success))
    if result.exception is not None:
        outcome.failures.append(f"dbt: {result.exception}")
    for node_result in getattr(result.result, "results", None) or []:
        node = node_result.node
        status = str(node_result.status)
        outcome.counts[(str(node.resource_type), status)] += 1
        if status in ("error", "fail", "runtime error"):
            outcome.failures.append(f"{node.unique_id}: {node_result.message}")
    return outcome


# The monthly refresh's leak scans read a repeatable 10% of every relation past the privacy boundary:
# a leaking column shows in any sample, and the scans stay affordable as history grows.
REFRESH_VARS = '{"privacy_scan_sample_percent": 10}'


def build(cfg: Settings | None = None, *, full_scans: bool = True) -> DbtOutcome:
    """Seeds, models, snapshots and tests, in dependency order."""
    return run(["build"] if full_scans else ["build", "--vars", REFRESH_VARS], cfg)
