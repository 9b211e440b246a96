"""The PostgreSQL server: the embedded pgserver by default, or SAFESTATS_DATABASE_URL when set."""
from __future__ import annotations

import subprocess
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from safestats.config import Settings, settings

DATABASE_NAME = "safestats"
MIN_SERVER_VERSION = 150000
BOOTSTRAP_USER = "postgres"

# Every role but the bootstrap superuser must present its password, even on the socket.
# The bootstrap superuser's socket sits in the server's own 0700 data directory.
PG_HBA = """\
# SafeStats: written by `safestats db start`; scram-sha-256 for every role but the bootstrap superuser.
local   all   postgres                 trust
local   all   all                      scram-sha-256
host    all   all        127.0.0.1/32  scram-sha-256
host    all   all        ::1/128       scram-sha-256
"""

# The embedded server logs every connection and disconnection, and (per named user, see
# private.login_settings) every statement, as JSON lines under <pgdata>/logs: `safestats audit sessions`
# reads them. Per-role log_connections is refused by PostgreSQL (it is fixed before the role is known),
# so connections are logged for every role. pgserver's own stderr file is <pgdata>/log, hence "logs".
LOG_DIRECTORY = "logs"
SERVER_LOGGING = {
    "logging_collector": "on",          # needs a restart
    "log_destination": "jsonlog",
    "log_directory": LOG_DIRECTORY,
    "log_timezone": "UTC",
    "log_connections": "on",
    "log_disconnections": "on",
    "log_line_prefix": "%m [%p] %q%u@%d/%a ",   # for what still reaches stderr before the collector starts
}


class DatabaseError(RuntimeError):
    """A one-line, user-facing reason why the database cannot be used."""


@dataclass(frozen=True)
class Endpoint:
    host: str
    port: int
    dbname: str
    user: str
    password: str | None = None

    def conninfo(self, **overrides) -> str:
        params = {"host": self.host, "port": self.port, "dbname": self.dbname, "user": self.user}
        if self.password:
            params["password"] = self.password
        params.update(overrides)
        return psycopg.conninfo.make_conninfo(**{k: str(v) for k, v in params.items()})

    def url(self) -> str:
        """A libpq URL that psql accepts (unix-socket hosts go in the query string)."""
        auth = quote(self.user, safe="")
        if self.password:
            auth += ":" + quote(self.password, safe="")
        if self.host.startswith("/"):
            return f"postgresql://{auth}@/{self.dbname}?host={quote(self.host, safe='/')}&port={self.port}"
        return f"postgresql://{auth}@{self.host}:{self.port}/{self.dbname}"

    def as_user(self, user: str, password: str | None) -> "Endpoint":
        return replace(self, user=user, password=password)


def _pg_bin(name: str) -> Path:
    from pgserver._commands import POSTGRES_BIN_PATH

    return POSTGRES_BIN_PATH / name


def _embedded_running(pgdata: Path):
    from pgserver.utils import PostmasterInfo

    info = PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    return info if info is not None and info.is_running() else None


def _tighten_hba(pgdata: Path) -> bool:
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == PG_HBA:
        return False
    hba.write_text(PG_HBA)
    return True


def start(cfg: Settings | None = None) -> Endpoint:
    """Start (or find) the server and make sure the warehouse database exists. Idempotent."""
    cfg = cfg or settings()
    if cfg.database_url:
        endpoint = external_endpoint(cfg.database_url)
        check_server(endpoint)
        return endpoint
    import pgserver

    cfg.home.mkdir(parents=True, exist_ok=True)
    cfg.home.chmod(0o755)  # the server runs as the unprivileged `pgserver` OS user when we are root
    server = pgserver.get_server(cfg.pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    bootstrap = Endpoint(str(info.socket_dir), info.port or 5432, "postgres", BOOTSTRAP_USER)
    if _tighten_hba(cfg.pgdata):
        with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
            conn.execute("select pg_reload_conf()")
    _configure_logging(cfg.pgdata, bootstrap)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            conn.execute(f'create database "{DATABASE_NAME}"')
        # The embedded server is ours alone: its other databases are closed to everyone but the superuser.
        for other in ("postgres", "template1"):
            conn.execute(f'revoke connect, temporary on database "{other}" from public')
    return replace(bootstrap, dbname=DATABASE_NAME)


def _configure_logging(pgdata: Path, bootstrap: Endpoint) -> None:
    """ALTER SYSTEM (pgserver's command line sets only -h and -k), restarting once when the collector was
    off: a new data directory and one from an older install end up alike."""
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        live = dict(conn.execute("select name, setting from pg_settings where name = any(%s)",
                                 (list(SERVER_LOGGING),)).fetchall())
        changed = [name for name, value in SERVER_LOGGING.items() if live.get(name) != value]
        for name in changed:
            conn.execute(sql.SQL("alter system set {} = {}").format(sql.Identifier(name),
                                                                     sql.Literal(SERVER_LOGGING[name])))
        if changed:
            conn.execute("select pg_reload_conf()")
    if "logging_collector" not in changed:
        return
    from pgserver._commands import pg_ctl

    # restart reuses the options pgserver started it with (postmaster.opts): same socket, same port
    pg_ctl(["-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"], pgdata=pgdata,
           user="pgserver" if _is_root() else None)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        if conn.execute("show logging_collector").fetchone()[0] != "on":
            raise DatabaseError(f"the server under {pgdata} did not turn its log collector on after a restart: "
                                f"see {pgdata / 'log'}")


def log_directory(cfg: Settings | None = None) -> Path:
    """Where the embedded server writes its JSON logs."""
    cfg = cfg or settings()
    if cfg.database_url:
        raise DatabaseError("the server in SAFESTATS_DATABASE_URL keeps its own logs: configure its logging "
                            "as docs/audit.md describes and read them there")
    return cfg.pgdata / LOG_DIRECTORY


def stop(cfg: Settings | None = None) -> bool:
    """Stop the embedded server; False when it was not running. Never touches an external server."""
    cfg = cfg or settings()
    if cfg.database_url or not _embedded_running(cfg.pgdata):
        return False
    from pgserver._commands import pg_ctl

    user = "pgserver" if _is_root() else None
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=cfg.pgdata, user=user)
    return True


def endpoint(cfg: Settings | None = None) -> Endpoint:
    """The bootstrap endpoint of a running server, without starting one."""
    cfg = cfg or settings()
    if cfg.database_url:
        return external_endpoint(cfg.database_url)
    info = _embedded_running(cfg.pgdata)
    if info is None:
        raise DatabaseError(f"the embedded database under {cfg.pgdata} is not running: run `safestats db start`")
    return Endpoint(str(info.socket_dir), info.port or 5432, DATABASE_NAME, BOOTSTRAP_USER)


def status(cfg: Settings | None = None) -> dict:
    cfg = cfg or settings()
    if not cfg.database_url and not _embedded_running(cfg.pgdata):
        return {"running": False, "mode": "embedded", "data_dir": str(cfg.pgdata)}
    ep = endpoint(cfg)
    version = check_server(ep)
    return {
        "running": True,
        "mode": "external" if cfg.database_url else "embedded",
        "data_dir": None if cfg.database_url else str(cfg.pgdata),
        "server_version": version,
        "url": ep.url(),
    }


def external_endpoint(url: str) -> Endpoint:
    try:
        params = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise DatabaseError(f"SAFESTATS_DATABASE_URL is not a valid PostgreSQL URL: {exc}") from None
    return Endpoint(
        host=params.get("host") or "localhost",
        port=int(params.get("port") or 5432),
        dbname=params.get("dbname") or "postgres",
        user=params.get("user") or BOOTSTRAP_USER,
        password=params.get("password"),
    )


def check_server(ep: Endpoint) -> str:
    """Connect and check the version; raise DatabaseError with a one-line reason otherwise."""
    where = f"{ep.host}:{ep.port}/{ep.dbname}"
    try:
        with psycopg.connect(ep.conninfo(connect_timeout=5)) as conn:
            version_num = conn.info.server_version
            version = conn.execute("show server_version").fetchone()[0]
    except psycopg.OperationalError as exc:
        reason = str(exc).strip().splitlines()[-1] if str(exc).strip() else type(exc).__name__
        raise DatabaseError(f"cannot reach PostgreSQL at {where}: {reason}") from None
    if version_num < MIN_SERVER_VERSION:
        raise DatabaseError(f"PostgreSQL {version} at {where} is too old: SafeStats needs PostgreSQL 15 or newer")
    return version


def psql_path() -> Path:
    return _pg_bin("psql")


def _is_root() -> bool:
    import os

    return os.geteuid() == 0


def run_psql(ep: Endpoint, *args: str, input_text: str | None = None) -> str:
    out = subprocess.run(
        [str(psql_path()), ep.url(), "-v", "ON_ERROR_STOP=1", "-X", "-q", *args],
        input=input_text, capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise DatabaseError(out.stderr.strip() or f"psql exited {out.returncode}")
    return out.stdout
