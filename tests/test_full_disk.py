"""The disk fills up during an ingest: the install's home on a small filesystem of its own (a tmpfs, so root is
needed to mount it), a month's extract that does not fit. The ingest stops with an error that says so, nothing of
the file is recorded or left in raw, the files before it stay loaded; once there is room, the same ingest loads
it with every row accounted for."""
from __future__ import annotations

import os
import shutil
import subprocess
from dataclasses import replace

import psycopg
import pytest
from helpers import data_rows

from safestats import database, refresh, warehouse
from safestats.ingest import DatabaseFailed
from safestats.synth import synthesise_police_uk

ROOM_AFTER_SETUP = 16 << 20      # what is left free: less than the Met's street crimes of a month need


def _mount(where, size: str) -> None:
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(where)], check=True,
                   capture_output=True)


def _resize(where, size_bytes: int) -> None:
    subprocess.run(["mount", "-o", f"remount,size={size_bytes}", str(where)], check=True, capture_output=True)


@pytest.fixture
def small_disk(cfg, tmp_path):
    where = tmp_path / "disk"
    where.mkdir()
    try:
        _mount(where, "512m")
    except (subprocess.CalledProcessError, FileNotFoundError) as exc:
        pytest.skip(f"a small filesystem cannot be mounted here (needs root with CAP_SYS_ADMIN): {exc}")
    home = replace(cfg, home=where / "home")
    try:
        yield where, home
    finally:
        try:
            database.stop(home)
        except Exception:  # noqa: BLE001 - a server that died of the full disk has nothing to stop
            pass
        subprocess.run(["umount", "-l", str(where)], capture_output=True)


def test_a_full_disk_stops_the_ingest_loses_nothing_and_a_rerun_loads_the_file(small_disk, tmp_path):
    where, home = small_disk
    warehouse.setup(home)
    landing = tmp_path / "landing"
    synthesise_police_uk("2024-01", "2024-01", landing, scale=1)
    big = next(landing.rglob("*metropolitan-street.csv"))
    assert big.stat().st_size > ROOM_AFTER_SETUP      # as text; as rows, indexes and their log, more
    used = shutil.disk_usage(where).used
    _resize(where, used + ROOM_AFTER_SETUP)

    with pytest.raises(DatabaseFailed) as failed:
        refresh.ingest(landing, cfg=home)
    message = str(failed.value)
    assert "nothing of it was recorded" in message and ("space" in message or "connection" in message), message

    _resize(where, 1 << 30)
    database.start(home)           # the server may have stopped when it could not write its log of changes
    with psycopg.connect(database.endpoint(home).conninfo(), autocommit=True) as conn:
        recorded = dict(conn.execute("select file_name, status from raw._loads").fetchall())
        failed_file = message.split("while loading ", 1)[1].split(" (", 1)[0]
        assert failed_file not in recorded and big.name not in recorded
        assert set(recorded.values()) <= {"loaded"}       # the files before it stay loaded, none quarantined
        for table in ("police_uk_street_crimes", "police_uk_crime_outcomes"):
            assert conn.execute(f"select count(*) from raw.{table} r where not exists (select from raw._loads l"
                                " where l.load_id = r._load_id and l.status = 'loaded')").fetchone()[0] == 0

    results = refresh.ingest(landing, cfg=home)
    assert {r.path.name: r.status for r in results}[big.name] == "loaded"
    with psycopg.connect(database.endpoint(home).conninfo(), autocommit=True) as conn:
        for path in sorted(landing.rglob("*.csv")):
            load_id, read, loaded, rejected = conn.execute(
                "select load_id, rows_read, rows_loaded, rows_rejected from raw._loads where file_name = %s"
                " and status = 'loaded'", (path.name,)).fetchone()
            assert read == data_rows(path) == loaded + rejected, path.name
            table = "police_uk_street_crimes" if "street" in path.name else "police_uk_crime_outcomes"
            assert conn.execute(f"select count(*) from raw.{table} where _load_id = %s",
                                (load_id,)).fetchone()[0] == loaded, path.name
    assert os.path.ismount(where)
