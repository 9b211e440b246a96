"""The monthly refresh's steps, for the Prefect flow and the CLI: ingest the landing folder, build, summarise."""
from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import psycopg
import psycopg.sql

from safestats import dbt, warehouse
from safestats.config import Settings, settings
from safestats.contracts import load_contracts
from safestats.ingest import FileResult, ingest_landing, landing_files
from safestats.sdc.service import PUBLISHED_MARTS

log = logging.getLogger(__name__)

# Listeners told about each file as the ingest finishes it (the CLI's progress bar); kept out of the
# flow's parameters, which Prefect records.
file_listeners: list[Callable[[FileResult, int], None]] = []


@dataclass
class RefreshSummary:
    files: list[FileResult] = field(default_factory=list)
    build: dbt.DbtOutcome | None = None
    exclusions: list[tuple[str, str, int]] = field(default_factory=list)   # (dataset, reason, rows)
    release: object | None = None    # safestats.sdc.service.ReleaseOutcome, once the aggregates were released
    outputs: object | None = None    # safestats.outputs.build.OutputsOutcome, once the outputs were made

    @property
    def ok(self) -> bool:
        built = self.build is not None and self.build.success
        return (built and (self.release is None or self.release.ok)
                and (self.outputs is None or self.outputs.ok))

    def file_counts(self) -> Counter:
        return Counter(f.status for f in self.files)

    def rows_by_dataset(self) -> dict[str, tuple[int, int]]:
        """dataset -> (rows loaded, rows rejected) in this refresh."""
        rows: dict[str, tuple[int, int]] = {}
        for f in self.files:
            if f.status == "loaded":
                loaded, rejected = rows.get(f.dataset, (0, 0))
                rows[f.dataset] = (loaded + f.rows_loaded, rejected + f.rows_rejected)
        return rows


def ingest(landing: Path, *, retry_quarantined: bool = False, cfg: Settings | None = None) -> list[FileResult]:
    cfg = cfg or settings()
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    total = len(landing_files(landing))
    contracts = load_contracts(cfg.project_dir / "models")

    def tell(result: FileResult) -> None:
        for listener in file_listeners:
            listener(result, total)

    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as conn:
        return ingest_landing(conn, landing, contracts, retry_quarantined=retry_quarantined, on_file=tell)


def build(*, full: bool = False, cfg: Settings | None = None) -> dbt.DbtOutcome:
    """The refresh's dbt build: what changed since the warehouse was built (everything with `full`), with the
    leak scans on a sample of what was not rebuilt. Under the code the warehouse was built with, the published
    aggregates are left to the release after it, which rebuilds them when it publishes (they read the release,
    not this build); a full build, or one under new code, builds them too. A build that succeeded leaves its
    bookkeeping compacted. A refresh that is not full reads the warehouse's indexes in file order while dbt starts
    (`warm_indexes`)."""
    cfg = cfg or settings()
    same_code = not full and dbt.built_under(dbt.fingerprint(cfg), cfg)
    warming = None if full else threading.Thread(target=warm_indexes, args=(cfg,), name="warm-indexes")
    if warming is not None:
        warming.start()
    try:
        outcome = dbt.build(cfg, full_scans=False, incremental=not full,
                            exclude=[PUBLISHED_MARTS] if same_code else None)
    finally:
        if warming is not None:
            warming.join()
    if outcome.success:
        compact_bookkeeping(cfg)
    return outcome


@dataclass(frozen=True)
class Warmed:
    indexes: int
    bytes: int
    seconds: float


# The indexes of the tables the build owns, largest first (the pseudonym-keyed indexes of the tables past the
# privacy boundary, which the build changes first); an index of less than a megabyte costs the build few reads.
OWNED_INDEXES = """
    select i.indexrelid::regclass::text
    from pg_index as i
    inner join pg_class as t on t.oid = i.indrelid
    inner join pg_class as c on c.oid = i.indexrelid
    where t.relowner = (select oid from pg_roles where rolname = current_user) and c.relkind = 'i'
        and pg_relation_size(i.indexrelid) >= %s
    order by pg_relation_size(i.indexrelid) desc
"""
WARM_MIN_BYTES = 2**20


def warm_indexes(cfg: Settings | None = None) -> Warmed:
    """Read the warehouse's indexes in file order, as an incremental build starts. The build inserts a month's
    crimes into indexes keyed by a random pseudonym, at random places (at ten years, 1.1-1.5 GB each), and from a
    cold cache it would read them a page at a time as it goes, one random read a page. pg_prewarm in 'read' mode
    reads each index block after block into the operating system's page cache (not PostgreSQL's buffers), while
    dbt parses the project and builds the staging views. An index the build drops meanwhile is passed over. A server
    without pg_prewarm (its bootstrap found no module) is left to read them as it needs them, and so is the build
    when this fails: it is logged, never raised."""
    cfg = cfg or settings()
    start, indexes, size = time.perf_counter(), 0, 0
    try:
        with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
            if conn.execute("select to_regprocedure('private.pg_prewarm(regclass, text, text, bigint, bigint)')"
                            " is null").fetchone()[0]:
                log.info("the server has no pg_prewarm: the build reads its indexes as it needs them")
                return Warmed(0, 0, 0.0)
            block = int(conn.execute("select current_setting('block_size')").fetchone()[0])
            for (index,) in conn.execute(OWNED_INDEXES, (WARM_MIN_BYTES,)).fetchall():
                try:
                    size += conn.execute("select private.pg_prewarm(%s::regclass, 'read')",
                                         (index,)).fetchone()[0] * block
                    indexes += 1
                except psycopg.Error:       # dropped or replaced by the build since it was listed
                    continue
    except psycopg.Error as exc:
        log.warning("the indexes were not read ahead of the build (%s): it reads them as it needs them",
                    str(exc).strip().splitlines()[0])
    warmed = Warmed(indexes, size, time.perf_counter() - start)
    log.info("read %d indexes (%.0f MB) in %.1f s", warmed.indexes, warmed.bytes / 2**20, warmed.seconds)
    return warmed


# What a build records of what it changed (src/safestats/sql/bootstrap.sql): the bookkeeping tables the build's role
# may maintain, as the bootstrap grants. Every refresh inserts rows (about 0.2 million keys a month) and prunes those
# every reader has read. The pruned rows leave a file that plain (auto)vacuum frees but never shrinks, and a refresh
# reads these tables whole many times over: at ten years, 105 scans of 426 MB of private.changed_keys holding 0.2
# million live rows. Rewritten after each build, they stay the size of what is live.
BOOKKEEPING_TABLES = """
    select format('%I.%I', n.nspname, c.relname) from pg_class as c
    inner join pg_namespace as n on n.oid = c.relnamespace
    where n.nspname = 'private' and c.relkind = 'r' and has_table_privilege(c.oid, 'maintain')
    order by 1
"""


def compact_bookkeeping(cfg: Settings | None = None) -> None:
    """Rewrite the build's bookkeeping tables to their live rows (VACUUM FULL) and analyse them. A table another
    session holds (a build still running) is left for the next build to compact."""
    cfg = cfg or settings()
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        conn.execute("set lock_timeout = '5s'")
        for (table,) in conn.execute(BOOKKEEPING_TABLES).fetchall():
            try:
                conn.execute(f"vacuum (full, analyze) {table}")
            except psycopg.errors.LockNotAvailable:
                log.warning("%s is in use: left for the next build to compact", table)


def exclusions(cfg: Settings | None = None) -> list[tuple[str, str, int]]:
    """Rows kept out of the marts, by dataset and reason (none disappear uncounted).

    Every dataset counts what it keeps out in its own quality.<dataset>_exclusions model with the columns
    dataset, reason and excluded_row_count; this reads those the project defines (a table a renamed model
    left behind is not read).
    """
    cfg = cfg or settings()
    models = sorted(p.stem for p in (cfg.project_dir / "models" / "quality").glob("*_exclusions.sql"))
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo()) as conn:
        tables = [r[0] for r in conn.execute(
            "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " where n.nspname = 'quality' and c.relname = any(%s) and c.relkind in ('r', 'v', 'm')"
            " order by 1", (models,)).fetchall()]
        if not tables:
            return []
        union = psycopg.sql.SQL(" union all ").join(
            psycopg.sql.SQL("select dataset, reason, excluded_row_count from quality.{}").format(
                psycopg.sql.Identifier(t)) for t in tables)
        return conn.execute(psycopg.sql.SQL(
            "select dataset, reason, sum(excluded_row_count)::bigint from ({}) as excluded"
            " group by 1, 2 order by 1, 2").format(union)).fetchall()
