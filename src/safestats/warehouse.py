"""Set up the warehouse's fixed structure: service roles, schemas, the pseudonymisation key, raw tables."""
from __future__ import annotations

import logging
import secrets
from importlib.resources import files

import psycopg
from psycopg import sql

from safestats import credentials, database
from safestats.config import Settings, settings
from safestats.contracts import Contract, load_contracts

log = logging.getLogger(__name__)

RAW_BOOKKEEPING_COLUMNS = (
    ("_load_id", "bigint not null"),
    ("_source_row_number", "bigint not null"),
    ("_loaded_at", "timestamptz not null"),
)


def _sql_file(name: str) -> str:
    return files("safestats").joinpath("sql", name).read_text()


def hmac_pads(key: bytes) -> tuple[bytes, bytes]:
    """HMAC-SHA256's inner and outer pads, so PostgreSQL can compute the HMAC with sha256() alone."""
    block = key.ljust(64, b"\0")
    return bytes(b ^ 0x36 for b in block), bytes(b ^ 0x5C for b in block)


def setup(cfg: Settings | None = None) -> database.Endpoint:
    """Start the server and bring the warehouse's structure up to date. Idempotent."""
    cfg = cfg or settings()
    bootstrap = database.start(cfg)
    passwords = credentials.load(cfg)
    dbname = sql.Identifier(bootstrap.dbname).as_string(None)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        for name in ("bootstrap.sql", "governance.sql"):
            conn.execute(_sql_file(name).replace(':"dbname"', dbname))
        for role, password in passwords.items():
            conn.execute(sql.SQL("alter role {} password {}").format(sql.Identifier(role), sql.Literal(password)))
        if install_number_checks(conn) == "sql" and not cfg.database_url:
            log.warning("the embedded server lacks the row checks' C module (extension/): run `make install`; "
                        "until then the coordinate checks run in SQL, several times slower")
        if conn.execute("select count(*) from private.pseudonymisation_key").fetchone()[0] == 0:
            inner, outer = hmac_pads(secrets.token_bytes(32))
            conn.execute("insert into private.pseudonymisation_key (inner_pad, outer_pad) values (%s, %s)",
                         (inner, outer))
    with psycopg.connect(loader_endpoint(cfg, bootstrap).conninfo()) as conn:
        conn.execute(_sql_file("ingest_bookkeeping.sql"))
        for contract in load_contracts(cfg.project_dir / "models"):
            ensure_raw_table(conn, contract)
    return bootstrap


CHECKS_EXTENSION = "safestats_checks"


def install_number_checks(conn: psycopg.Connection, *, use_extension: bool = True) -> str:
    """raw.plain_number_between, the coordinate checks' fast path: the C function of extension/ when the
    server has the module (`make install` builds it for the embedded server), else a test in SQL
    (sql/plain_numbers.sql) on raw.extract_number, as sound and about ten times dearer per value. Run by
    the superuser (a C function is created by the superuser only). Returns which one is installed: 'c' or
    'sql'."""
    available = use_extension and conn.execute(
        "select exists (select from pg_available_extensions where name = %s)", (CHECKS_EXTENSION,)).fetchone()[0]
    installed = conn.execute("select exists (select from pg_extension where extname = %s)",
                             (CHECKS_EXTENSION,)).fetchone()[0]
    with conn.transaction():      # one form or the other, never neither
        if available and not installed:
            conn.execute("drop function if exists raw.plain_number_between(text, float8, float8)")
            conn.execute(sql.SQL("create extension {} schema raw").format(sql.Identifier(CHECKS_EXTENSION)))
        elif not available:
            # the module's files gone (a reinstalled environment) or not wanted: never leave a function that fails
            if installed:
                conn.execute(sql.SQL("drop extension {}").format(sql.Identifier(CHECKS_EXTENSION)))
            conn.execute(_sql_file("plain_numbers.sql"))
        # only the loader's COPY calls it (fail closed: nothing for PUBLIC)
        conn.execute("revoke all on function raw.plain_number_between(text, float8, float8) from public")
        conn.execute("grant execute on function raw.plain_number_between(text, float8, float8) to safestats_loader")
    return "c" if available else "sql"


def ensure_raw_table(conn: psycopg.Connection, contract: Contract) -> None:
    """raw.<dataset>: one text column per contract column, as it arrived; new contract columns are added."""
    table = sql.Identifier("raw", contract.dataset)
    columns = [(c.name, "text") for c in contract.columns] + list(RAW_BOOKKEEPING_COLUMNS)
    conn.execute(sql.SQL("create table if not exists {} ({})").format(
        table, sql.SQL(", ").join(sql.SQL("{} {}").format(sql.Identifier(n), sql.SQL(t)) for n, t in columns)))
    for name, ctype in columns:
        conn.execute(sql.SQL("alter table {} add column if not exists {} {}").format(
            table, sql.Identifier(name), sql.SQL(ctype.replace(" not null", ""))))
    # Loads append in load order, so a BRIN index finds a load's rows at almost no cost to COPY.
    conn.execute(sql.SQL("create index if not exists {} on {} using brin (_load_id)").format(
        sql.Identifier(f"{contract.dataset}__load_id"), table))
    conn.execute(sql.SQL("alter table {} alter column _load_id drop default,"
                         " alter column _source_row_number drop default,"
                         " alter column _loaded_at set default now()").format(table))
    # A load numbers its rows from sequences of its own (copy_load.py); these served every load once.
    for name in ("row_seq", "row_seq_b"):
        conn.execute(sql.SQL("drop sequence if exists {}").format(sql.Identifier("raw", f"{contract.dataset}__{name}")))


def role_endpoint(role: str, cfg: Settings | None = None, bootstrap: database.Endpoint | None = None):
    cfg = cfg or settings()
    bootstrap = bootstrap or database.endpoint(cfg)
    return bootstrap.as_user(role, credentials.load(cfg)[role])


def loader_endpoint(cfg: Settings | None = None, bootstrap: database.Endpoint | None = None):
    return role_endpoint(credentials.LOADER_ROLE, cfg, bootstrap)


def dbt_endpoint(cfg: Settings | None = None, bootstrap: database.Endpoint | None = None):
    return role_endpoint(credentials.DBT_ROLE, cfg, bootstrap)


def audit_writer_endpoint(cfg: Settings | None = None, bootstrap: database.Endpoint | None = None):
    return role_endpoint(credentials.AUDIT_WRITER_ROLE, cfg, bootstrap)
