"""The embedded server: a URL psql accepts, passwords that matter, one-line errors for a bad server."""
from __future__ import annotations

import os
import stat
import subprocess
import sys

import psycopg
import pytest

from safestats import credentials, database, warehouse


def test_db_url_is_accepted_by_psql(cfg, bootstrap):
    url = subprocess.run([sys.executable, "-m", "safestats.cli", "db", "url"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert url == bootstrap.url()
    out = subprocess.run([str(database.psql_path()), url, "-XAtc", "select current_database()"],
                         capture_output=True, text=True, check=True).stdout.strip()
    assert out == "safestats"


def test_db_status_reports_the_embedded_server(cfg):
    out = subprocess.run([sys.executable, "-m", "safestats.cli", "db", "status"], capture_output=True, text=True)
    assert out.returncode == 0
    assert '"running": true' in out.stdout and '"mode": "embedded"' in out.stdout
    assert f'"server_version": "PostgreSQL {database.embedded_major()}.' in out.stdout


def test_the_embedded_server_is_postgresql_18_with_its_modules(superuser):
    assert superuser.info.server_version >= 180000
    assert superuser.execute("show shared_preload_libraries").fetchone() == ("pg_stat_statements",)
    assert superuser.execute("select count(*) from pg_available_extensions where name = 'pg_stat_statements'"
                             ).fetchone() == (1,)


def test_a_data_directory_from_an_older_server_is_one_clear_line(tmp_path):
    """A .safestats/ made by pgserver (PostgreSQL 16) is refused by start and status, saying what to do."""
    home = tmp_path / "old-home"
    (home / "pgdata").mkdir(parents=True)
    (home / "pgdata" / "PG_VERSION").write_text("16\n")
    env = {k: v for k, v in os.environ.items() if k != "SAFESTATS_DATABASE_URL"}
    env["SAFESTATS_HOME"] = str(home)
    for action in ("start", "status", "url"):
        out = subprocess.run([sys.executable, "-m", "safestats.cli", "db", action], capture_output=True, text=True,
                             env=env)
        assert out.returncode == 2, (action, out.stdout, out.stderr)
        message = " ".join(out.stderr.split())
        assert out.stderr.strip().count("\n") == 0, out.stderr
        assert "made by PostgreSQL 16" in message and f"runs PostgreSQL {database.embedded_major()}" in message
        assert "`make clean`" in message and "Upgrading from PostgreSQL 16" in message
    assert sorted(p.name for p in (home / "pgdata").iterdir()) == ["PG_VERSION"], "nothing was started or changed"
    # stop has nothing to stop and says so
    out = subprocess.run([sys.executable, "-m", "safestats.cli", "db", "stop"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 0 and "not running" in out.stdout


def test_service_roles_need_their_password(cfg, bootstrap):
    loader = warehouse.loader_endpoint(cfg)
    with psycopg.connect(loader.conninfo()) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "safestats_loader"
    for wrong in ("wrong-password", None):
        with pytest.raises(psycopg.OperationalError, match="password"):
            psycopg.connect(loader.as_user("safestats_loader", wrong).conninfo(), connect_timeout=5)


def test_credentials_file_is_private(cfg):
    mode = stat.S_IMODE(os.stat(cfg.credentials_file).st_mode)
    assert mode == 0o600
    assert set(credentials.load(cfg)) == {"safestats_loader", "safestats_dbt", "safestats_audit_writer",
                                          "safestats_superset_nobody", "safestats_login_keeper",
                                          "safestats_user_steward"}


def test_service_roles_hold_no_special_powers(superuser):
    rows = superuser.execute("select rolname, rolsuper, rolbypassrls, rolcreatedb, rolcreaterole from pg_roles"
                             " where rolname in ('safestats_loader', 'safestats_dbt')").fetchall()
    assert len(rows) == 2 and all(not any(flags) for _, *flags in rows)


def test_nothing_is_granted_to_public(superuser, loader):
    assert superuser.execute("select has_database_privilege('public', 'safestats', 'connect')").fetchone()[0] is False
    with pytest.raises(psycopg.errors.InsufficientPrivilege):
        loader.execute("select * from private.pseudonymisation_key")


def test_setup_is_idempotent(cfg, superuser):
    before = superuser.execute("select inner_pad from private.pseudonymisation_key").fetchone()[0]
    warehouse.setup(cfg)
    after = superuser.execute("select inner_pad from private.pseudonymisation_key").fetchone()[0]
    assert before == after, "the pseudonymisation key must survive a rerun"


def test_unreachable_external_server_is_one_clear_line():
    ep = database.external_endpoint("postgresql://someone@127.0.0.1:1/nowhere")
    with pytest.raises(database.DatabaseError) as err:
        database.check_server(ep)
    assert str(err.value).startswith("cannot reach PostgreSQL at 127.0.0.1:1/nowhere")
    assert "\n" not in str(err.value)


def test_too_old_server_is_refused(bootstrap, monkeypatch):
    # The embedded server is 18; raise the bar above it to see the refusal it would give a 15.
    monkeypatch.setattr(database, "MIN_SERVER_VERSION", 190000)
    with pytest.raises(database.DatabaseError, match=r"PostgreSQL 18\.\d+ at .* is too old: .*16\.10\+, 17\.6\+ "
                                                     r"or 18\+ .*CVE-2025-8713"):
        database.check_server(bootstrap)


@pytest.mark.parametrize("version_num, ok", [
    (150020, False), (160009, False), (160010, True), (170005, False), (170006, True), (180000, True),
    (180006, True), (190000, True),
])
def test_minimum_server_version_holds_the_partitioned_rls_fix(version_num, ok):
    assert database.server_version_ok(version_num) is ok


def test_cli_says_which_when_the_external_server_is_unreachable(tmp_path):
    env = {**os.environ, "SAFESTATS_DATABASE_URL": "postgresql://x@127.0.0.1:1/db", "SAFESTATS_HOME": str(tmp_path)}
    out = subprocess.run([sys.executable, "-m", "safestats.cli", "db", "start"], capture_output=True, text=True,
                         env=env)
    assert out.returncode == 2
    assert "cannot reach PostgreSQL at 127.0.0.1:1/db" in out.stderr


def test_an_external_server_is_used_as_given(cfg, bootstrap, tmp_path, monkeypatch):
    """SAFESTATS_DATABASE_URL mode, pointed at the test server: set-up, roles and ingest work through it."""
    from safestats.config import settings

    monkeypatch.setenv("SAFESTATS_DATABASE_URL", bootstrap.url())
    monkeypatch.setenv("SAFESTATS_HOME", str(tmp_path / "home"))
    external = settings()
    assert external.database_url == bootstrap.url()
    ep = warehouse.setup(external)
    assert (ep.host, ep.dbname) == (bootstrap.host, bootstrap.dbname)
    assert not external.pgdata.exists(), "no embedded server is started"
    # its own credentials file: the service roles' passwords are reset for this install
    with psycopg.connect(warehouse.loader_endpoint(external).conninfo()) as conn:
        assert conn.execute("select current_user").fetchone()[0] == "safestats_loader"
    assert database.status(external)["mode"] == "external"
    assert database.stop(external) is False
    # hand the roles back to the session's own install
    warehouse.setup(cfg)
