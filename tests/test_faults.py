"""Faults in the middle of a refresh, on a real server: PostgreSQL killed (-9) during a COPY, during `dbt build`
and during the disclosure release; the refresh's own process killed during the build and during the outputs.

Two homes start alike: one refresh of two police months, then the second is a restored backup of the first (the
same per-install key and load ids). A third month lands in both. The reference refreshes it without a fault; the
other is refreshed through every fault above, the server restarted after each and the refresh run again until it
completes. Then: no load is half-recorded, every file's rows are conserved (counted independently of the
parser), every table the warehouse builds equals the reference's, readers only ever saw a whole release (the
last one or the new one, never a part), the run records say what happened, and the audit chain verifies."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from dataclasses import replace
from pathlib import Path

import psycopg
import pytest
from helpers import data_rows

from safestats import audit, backup, database, run_record
from safestats.synth import synthesise_police_uk

NEW_MONTH = "2024-03"
WAIT = 300              # seconds any one step may take before the test gives up
# Compared without the columns that name a load or a moment: a crash burns load ids (an identity column's numbers
# are not given back by a rollback), and runs happen at different times.
MOMENT_COLUMNS = {"load_id", "loaded_at", "released_at", "dbt_scd_id", "dbt_updated_at", "dbt_valid_from",
                  "dbt_valid_to",
                  # surrogate keys made from (load id, row number): `row_key` in the suppressed models
                  "asb_incident_key", "bus_safety_incident_key", "dispatch_key", "fire_incident_key", "outcome_key",
                  "recorded_crime_key", "street_crime_key", "transport_crime_key"}
BUILT_SCHEMAS = ("staging", "suppressed", "intermediate", "marts", "disclosure", "quality", "snapshots", "release")
LOGS = {"release.releases"}     # one row per release: a run that failed after publishing adds none of its own


# ---------------------------------------------------------------------------------------------------------
# the server, killed and started again
# ---------------------------------------------------------------------------------------------------------

def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except (FileNotFoundError, ProcessLookupError):
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Until the process is reaped: a zombie postmaster still counts as a running server to a new start."""
    return (Path("/proc") / str(pid)).exists()


def crash(cfg) -> None:
    """kill -9 the postmaster and every server process of this home at once, as a power cut would."""
    postmaster = int((cfg.pgdata / "postmaster.pid").read_text().split()[0])
    victims = [postmaster, *_children(postmaster)]
    for pid in victims:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in victims):
        assert time.monotonic() < deadline, "the killed server's processes did not go"
        time.sleep(0.05)


def superuser(cfg) -> psycopg.Connection:
    return psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True)


# ---------------------------------------------------------------------------------------------------------
# the refresh, as the operator runs it, in its own process
# ---------------------------------------------------------------------------------------------------------

class Refresh:
    def __init__(self, cfg, log: Path):
        env = dict(os.environ, SAFESTATS_HOME=str(cfg.home), PREFECT_HOME=str(cfg.home / "prefect"),
                   PREFECT_LOGGING_LEVEL="INFO", COLUMNS="200")
        self.log = log
        self.proc = subprocess.Popen([sys.executable, "-m", "safestats.cli", "refresh"], env=env,
                                     stdout=open(log, "w"), stderr=subprocess.STDOUT, start_new_session=True)

    def finished_task(self, task: str) -> bool:
        return any(f"Task run '{task}-" in line and "Finished in state Completed" in line
                   for line in self.log.read_text(errors="replace").splitlines())

    def wait_until(self, what: str, condition) -> None:
        deadline = time.monotonic() + WAIT
        while not condition():
            assert self.proc.poll() is None, f"the refresh ended before {what}:\n" + self.tail()
            assert time.monotonic() < deadline, f"no {what} within {WAIT} s"
            time.sleep(0.02)

    def tail(self) -> str:
        return self.log.read_text(errors="replace")[-3000:]

    def kill(self) -> None:
        """kill -9 the refresh and everything it started (dbt, Chromium): the worker it ran on died."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(timeout=30)

    def result(self) -> int:
        return self.proc.wait(timeout=WAIT * 3)


def active(cfg, role: str, like: str = "%") -> bool:
    try:
        with superuser(cfg) as conn:
            return conn.execute(
                "select exists (select from pg_stat_activity where usename = %s and state = 'active'"
                " and query ilike %s)", (role, like)).fetchone()[0]
    except (psycopg.OperationalError, database.DatabaseError):
        return False


def copying(cfg) -> bool:
    """The loader's COPY is under way and has written rows."""
    try:
        with superuser(cfg) as conn:
            return conn.execute("select exists (select from pg_stat_progress_copy where tuples_processed > 0)"
                                ).fetchone()[0]
    except (psycopg.OperationalError, database.DatabaseError):
        return False


# ---------------------------------------------------------------------------------------------------------
# what the warehouse holds
# ---------------------------------------------------------------------------------------------------------

def built_tables(cfg) -> dict[str, tuple[int, str]]:
    """Every table the refresh builds (partitions through their parent): rows and a digest of their content."""
    with superuser(cfg) as conn:
        relations = conn.execute(
            "select n.nspname, c.relname, array_agg(a.attname::text order by a.attnum)"
            " from pg_class c join pg_namespace n on n.oid = c.relnamespace"
            " join pg_attribute a on a.attrelid = c.oid and a.attnum > 0 and not a.attisdropped"
            " where n.nspname = any(%s) and c.relkind in ('r', 'p', 'm') and not c.relispartition"
            " group by 1, 2 order by 1, 2", (list(BUILT_SCHEMAS),)).fetchall()
        digests = {}
        for schema, name, columns in relations:
            if f"{schema}.{name}" in LOGS:
                continue
            kept = ", ".join(f'"{c}"' for c in columns if c not in MOMENT_COLUMNS)
            digests[f"{schema}.{name}"] = tuple(conn.execute(
                f'select count(*), md5(coalesce(string_agg(r, E\'\\n\' order by r), \'\')) from'
                f' (select row({kept})::text as r from "{schema}"."{name}") as rows').fetchone())
        return digests


def release_by_month(conn) -> dict[tuple[str, str], str]:
    rows = conn.execute(
        "select c.relname from pg_class c join pg_namespace n on n.oid = c.relnamespace"
        " where n.nspname = 'release' and c.relkind in ('r', 'p') and not c.relispartition"
        " and c.relname like 'agg\\_%' order by 1").fetchall()
    found = {}
    for (name,) in rows:
        for month, digest in conn.execute(
                f"select incident_month::text, md5(string_agg(r, E'\\n' order by r)) from"
                f" (select incident_month, (to_jsonb(t) - 'released_at')::text as r from release.{name} t) x"
                " group by 1").fetchall():
            found[(name, month)] = digest
    return found


class ReleaseReader(threading.Thread):
    """An analyst's view of the release, read every 50 ms through the faults: what each month looked like."""

    def __init__(self, cfg):
        super().__init__(daemon=True)
        self.cfg, self.seen, self.reads, self.outages, self.error = cfg, [], 0, 0, None
        self.stopping = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopping.is_set():
                try:
                    with superuser(self.cfg) as conn, conn.transaction():
                        # one snapshot for every table, as one query over them would have
                        conn.execute("set transaction isolation level repeatable read")
                        self.seen.append(release_by_month(conn))
                        self.reads += 1
                except (psycopg.Error, database.DatabaseError):
                    self.outages += 1        # the server is down: nothing read, nothing wrong read
                time.sleep(0.05)
        except BaseException as exc:  # noqa: BLE001 - kept for the test to report, not lost in a thread
            self.error = exc

    def stop(self) -> None:
        self.stopping.set()
        self.join(timeout=30)


# ---------------------------------------------------------------------------------------------------------
# the two homes
# ---------------------------------------------------------------------------------------------------------

def _refresh_ok(cfg, log: Path) -> None:
    assert Refresh(cfg, log).result() == 0, log.read_text()[-3000:]


@pytest.fixture(scope="module")
def homes(cfg, tmp_path_factory):
    base = tmp_path_factory.mktemp("faults")
    reference = replace(cfg, home=base / "reference")
    faulty = replace(cfg, home=base / "faulty")
    try:
        synthesise_police_uk("2024-01", "2024-02", reference.landing_dir, scale=0.02)
        _refresh_ok(reference, base / "reference-first.log")
        backup.backup(base / "backup", cfg=reference)
        backup.restore(base / "backup", cfg=faulty)
        # the new month: large enough that a COPY is caught with rows written
        new = synthesise_police_uk(NEW_MONTH, NEW_MONTH, base / "new", scale=0.4)
        for home in (reference, faulty):
            for path in new:
                target = home.landing_dir / path.relative_to(base / "new")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(path.read_bytes())
        with superuser(faulty) as conn:
            before = release_by_month(conn)
        _refresh_ok(reference, base / "reference-second.log")
        yield {"reference": reference, "faulty": faulty, "base": base, "release_before": before, "new": new}
    finally:
        for home in (reference, faulty):
            try:
                database.stop(home)
            except Exception:  # noqa: BLE001 - a server a failed test left crashed has nothing to stop
                pass


@pytest.fixture(scope="module")
def faults(homes):
    """The faulty home's refresh of the new month, through every fault, run again until it completes."""
    cfg, base = homes["faulty"], homes["base"]
    reader = ReleaseReader(cfg)
    reader.start()
    records = []
    try:
        # Run 1: the server killed during the COPY (the ingest retries by itself once it is back), then during
        # dbt build: the build fails, and so does the run.
        run = Refresh(cfg, base / "run1.log")
        run.wait_until("a COPY with rows written", lambda: copying(cfg))
        crash(cfg)
        database.start(cfg)
        run.wait_until("the ingest to finish", lambda: run.finished_task("ingest_landing"))
        run.wait_until("dbt building", lambda: active(cfg, "safestats_dbt", "%create%"))
        crash(cfg)
        database.start(cfg)
        assert run.result() != 0, run.tail()
        records.append(run_record.last(cfg))
        # Run 2: the server killed during the disclosure release.
        run = Refresh(cfg, base / "run2.log")
        run.wait_until("the build to finish", lambda: run.finished_task("build_warehouse"))
        run.wait_until("the release checking", lambda: active(cfg, "safestats_dbt"))
        crash(cfg)
        assert run.result() != 0, run.tail()
        records.append(run_record.last(cfg))
        database.start(cfg)
        # Run 3: the refresh's own process killed while dbt builds.
        run = Refresh(cfg, base / "run3.log")
        run.wait_until("dbt building", lambda: active(cfg, "safestats_dbt", "%create%"))
        run.kill()
        records.append(run_record.last(cfg))
        # Run 4: killed once the release is done, while the outputs are made.
        run = Refresh(cfg, base / "run4.log")
        run.wait_until("the release to finish", lambda: run.finished_task("release_aggregates"))
        run.kill()
        records.append(run_record.last(cfg))
        # Run 5: nothing goes wrong.
        run = Refresh(cfg, base / "run5.log")
        assert run.result() == 0, run.tail()
        records.append(run_record.last(cfg))
    finally:
        reader.stop()
    return {"records": records, "reader": reader}


def test_no_load_is_half_recorded_and_every_file_conserves_its_rows(homes, faults):
    cfg = homes["faulty"]
    with superuser(cfg) as conn:
        assert conn.execute("select count(*) from raw._loads where status = 'loading'").fetchone()[0] == 0
        assert conn.execute("select count(*) from raw._unfinished_loads").fetchone()[0] == 0
        loads = conn.execute("select load_id, file_name, dataset, rows_read, rows_loaded, rows_rejected"
                             " from raw._loads where status = 'loaded'").fetchall()
        by_name = {row[1]: row for row in loads}
        for path in sorted(cfg.landing_dir.rglob("*.csv")):
            load_id, _, dataset, read, loaded, rejected = by_name[path.name]
            assert read == data_rows(path), path.name   # less the header
            assert read == loaded + rejected
            in_raw = conn.execute(f"select count(*) from raw.{dataset} where _load_id = %s", (load_id,)).fetchone()
            assert in_raw[0] == loaded, path.name
            assert conn.execute("select count(*) from raw._rejects where load_id = %s",
                                (load_id,)).fetchone()[0] == rejected
        # and nothing in raw belongs to a load that was not recorded (the killed COPY left nothing)
        for dataset in {row[2] for row in loads}:
            orphans = conn.execute(f"select count(*) from raw.{dataset} r where not exists"
                                   " (select from raw._loads l where l.load_id = r._load_id)").fetchone()[0]
            assert orphans == 0, dataset
    assert len(loads) == len(list(cfg.landing_dir.rglob("*.csv")))


def test_every_built_table_equals_the_uninterrupted_refresh(homes, faults):
    reference, faulty = built_tables(homes["reference"]), built_tables(homes["faulty"])
    assert set(faulty) == set(reference)
    differ = {name: (reference[name], faulty[name]) for name in reference if reference[name] != faulty[name]}
    assert not differ
    assert reference["marts.fct_street_crimes"][0] > 10_000


def test_readers_only_ever_saw_a_whole_release(homes, faults):
    reader = faults["reader"]
    before = homes["release_before"]
    with superuser(homes["faulty"]) as conn:
        after = release_by_month(conn)
    assert {month for _, month in after} - {month for _, month in before} == {f"{NEW_MONTH}-01"}
    assert reader.error is None and reader.reads > 50 and reader.outages > 0   # read throughout; saw the outages
    views = [("before" if seen == before else "after" if seen == after else "neither") for seen in reader.seen]
    assert set(views) == {"before", "after"}, f"{views.count('neither')} reads matched neither"
    assert views.index("after") > len(views) - 1 - views[::-1].index("before")     # once after, never before


def test_the_run_records_say_what_happened(faults):
    crashed_building, crashed_releasing, killed_building, killed_publishing, completed = faults["records"]
    assert crashed_building["status"] == "failed" and not crashed_building["build"]["success"]
    assert crashed_releasing["status"] == "failed" and crashed_releasing["build"]["success"]
    # the connection lost: psycopg's OperationalError, or its AdminShutdown when the server's process ends the
    # session ("terminating connection due to unexpected postmaster exit"), depending on the statement it was in
    error_class = crashed_releasing["error"].split(":", 1)[0]
    assert "release" not in crashed_releasing and issubclass(
        getattr(psycopg.errors, error_class, Exception), psycopg.OperationalError), crashed_releasing["error"]
    assert killed_building["status"] == "interrupted" and killed_publishing["status"] == "interrupted"
    assert completed["status"] == "succeeded" and completed["release"]["ok"]


def test_the_audit_chain_verifies_after_every_fault(homes, faults):
    with superuser(homes["faulty"]) as conn:
        assert audit.verify(conn).ok
