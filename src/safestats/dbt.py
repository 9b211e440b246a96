"""Run dbt in-process against the warehouse, as the dbt role."""
from __future__ import annotations

import hashlib
import json
import logging
import os
from collections import Counter
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, field

import psycopg

from safestats import warehouse
from safestats.config import Settings, settings

log = logging.getLogger(__name__)


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


def keep_connections_open() -> None:
    """dbt closes each thread's connection after every node and logs in again for the next: a login per node
    (601 in a refresh), each a password exchange and a new server process whose catalogue caches start empty
    (12 ms to connect and plan a query on a ten-year mart, against 1 ms on a connection already open). Here a
    node's release rolls back whatever the node left open, as closing would, and the thread's next node goes on
    with the same connection; one that cannot roll back is closed, as dbt would close it. A node leaves nothing
    else on its connection: the project's settings are `set local` and its temporary tables drop at commit. A
    connection the server ends between two nodes fails the second, as a server restart during a build does."""
    from dbt.adapters.contracts.connection import ConnectionState
    from dbt.adapters.postgres.connections import PostgresConnectionManager

    def release(self) -> None:
        with self.lock:
            conn = self.get_if_exists()
        if conn is None or conn.state != ConnectionState.OPEN:
            return
        try:
            conn.handle.rollback()
            conn.transaction_open = False
        except Exception:  # noqa: BLE001 - a broken connection: closed, and the next node opens another
            self.close(conn)
            self.clear_thread_connection()

    PostgresConnectionManager.release = release


# The dbt commands that build or test the warehouse: one at a time per warehouse (`warehouse_lock`).
LOCKED_COMMANDS = frozenset({"build", "run", "seed", "snapshot", "test"})
BUILD_LOCK = 3      # advisory lock class (copy_load.DATASET_LOCK is 2)


@contextmanager
def warehouse_lock(cfg: Settings):
    """Hold the warehouse's build lock (a session advisory lock, released when its connection closes, even when this
    process dies): one build or test at a time. A table is recorded as built through the last position the
    bookkeeping sequence gave (macros/refresh_by_month.sql), which holds only when no other build is recording
    changes of its sources meanwhile; two builds would also delete and insert the same months. A second one
    waits, and says so."""
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        if not conn.execute("select pg_try_advisory_lock(%s, 0)", (BUILD_LOCK,)).fetchone()[0]:
            log.warning("another build or test of this warehouse is running: waiting for it to finish")
            conn.execute("select pg_advisory_lock(%s, 0)", (BUILD_LOCK,))
        yield


def run(args: list[str], cfg: Settings | None = None) -> DbtOutcome:
    """`dbt <args>` for this project; returns what ran and what failed. A build or test holds the warehouse's
    build lock while it runs (`warehouse_lock`)."""
    from dbt.cli.main import dbtRunner

    keep_connections_open()
    cfg = cfg or settings()
    os.environ.update(dbt_environment(cfg))
    project = str(cfg.project_dir)
    with warehouse_lock(cfg) if args and args[0] in LOCKED_COMMANDS else nullcontext():
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
REFRESH_SAMPLE_PERCENT = 10

# What decides the rows dbt builds from raw: the project's code, seeds and settings (and the key, below).
FINGERPRINTED = ("dbt_project.yml", "models", "macros", "seeds", "snapshots", "semantic")


def fingerprint(cfg: Settings | None = None) -> str:
    """A digest of everything besides raw that decides what the load-by-load tables hold: the project's files
    and the pseudonymisation key. A refresh rebuilds those tables incrementally only under the fingerprint
    they were built under; any change to code, seeds or key makes the next build full."""
    cfg = cfg or settings()
    digest = hashlib.sha256()
    root = cfg.project_dir
    for top in FINGERPRINTED:
        paths = [root / top] if (root / top).is_file() else sorted(p for p in (root / top).rglob("*") if p.is_file())
        for path in paths:
            digest.update(str(path.relative_to(root)).encode() + b"\0" + path.read_bytes() + b"\0")
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo()) as conn:
        key = conn.execute("select sha256(inner_pad || outer_pad) from private.pseudonymisation_key").fetchone()
    digest.update(key[0] if key else b"no key")
    return digest.hexdigest()


def built_under(digest: str, cfg: Settings | None = None) -> bool:
    """Whether the warehouse was last built under the fingerprint `digest` (a build under any other makes every
    table whole and records its own)."""
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo()) as conn:
        return conn.execute("select exists (select from private.built_models where fingerprint = %s)",
                            (digest,)).fetchone()[0]


def build(cfg: Settings | None = None, *, full_scans: bool = True, incremental: bool = False,
          exclude: list[str] | None = None, select: list[str] | None = None) -> DbtOutcome:
    """Seeds, models, snapshots and tests, in dependency order. `incremental`: the load-by-load tables rebuild
    only the loads that changed since they were built under this fingerprint (otherwise every table is
    rebuilt from raw); `full_scans=False`: the leak scans read a sample; `exclude`: dbt selectors left out
    (a refresh leaves the published aggregates to the release that follows it); `select`: only these."""
    build_vars = {}
    if not full_scans:
        build_vars["privacy_scan_sample_percent"] = REFRESH_SAMPLE_PERCENT
    if incremental:
        build_vars["warehouse_fingerprint"] = fingerprint(cfg)
    args = ["build", "--vars", json.dumps(build_vars)] if build_vars else ["build"]
    args += ["--select", *select] if select else []
    return run([*args, "--exclude", *exclude] if exclude else args, cfg)
