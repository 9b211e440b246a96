"""A file COPYed by two sessions at once: the same rows, numbers and rejects as one session, visible all at
once, and nothing left behind when a part fails or the loader is killed."""
from __future__ import annotations

import time

import psycopg
import pytest
from helpers import STREET_HEADER, street_row, write_csv

from safestats import copy_load, records
from safestats.ingest import ingest_file, ingest_landing


def street_file(path, n=2000, bad_every=97):
    rows = [street_row(crime_id=f"c{i}", lon="181" if i % bad_every == 0 else "-0.14") for i in range(1, n + 1)]
    return write_csv(path, STREET_HEADER, rows)


def loaded_rows(conn, load_id):
    return conn.execute("select _source_row_number, crime_id from raw.police_uk_street_crimes where _load_id = %s"
                        " order by 1", (load_id,)).fetchall()


def rejects(conn, load_id):
    return conn.execute("select source_row_number, reason from raw._rejects where load_id = %s order by 1",
                        (load_id,)).fetchall()


def leftovers(conn):
    """What a load in progress keeps: reservations, pending rejects, row-number sequences and defaults."""
    return (conn.execute("select count(*) from raw._unfinished_loads").fetchone()[0],
            conn.execute("select count(*) from raw._pending_rejects").fetchone()[0],
            conn.execute("select count(*) from pg_sequences where schemaname = 'raw'"
                         " and sequencename like '%\\_\\_rows\\_%'").fetchone()[0],
            conn.execute("select count(*) from pg_attrdef d join pg_attribute a on (a.attrelid, a.attnum)"
                         " = (d.adrelid, d.adnum) where d.adrelid = 'raw.police_uk_street_crimes'::regclass"
                         " and a.attname in ('_load_id', '_source_row_number')").fetchone()[0])


@pytest.fixture
def split_everything(monkeypatch):
    """Every file split, in pieces of about 16 KB (a 2,000-row file: about a dozen pieces)."""
    monkeypatch.setattr(copy_load, "SPLIT_BYTES", 1)
    monkeypatch.setattr(records, "CUT_BYTES", 16 << 10)


def test_a_split_file_loads_exactly_as_a_whole_one(tmp_path, empty_raw, loader, contracts, request):
    path = street_file(tmp_path / "2024-01-metropolitan-street.csv")
    whole = ingest_file(loader, path, contracts)
    expected_rows, expected_rejects = loaded_rows(empty_raw, whole.load_id), rejects(empty_raw, whole.load_id)
    empty_raw.execute("truncate raw.police_uk_street_crimes, raw._rejects, raw._loads")
    request.getfixturevalue("split_everything")
    assert len(records.shape_of(path.read_bytes()).cuts) > 4
    split = ingest_file(loader, path, contracts)
    assert (split.status, split.rows_read, split.rows_loaded, split.rows_rejected) == (
        "loaded", whole.rows_read, whole.rows_loaded, whole.rows_rejected) == ("loaded", 2000, 1980, 20)
    assert loaded_rows(empty_raw, split.load_id) == expected_rows
    assert rejects(empty_raw, split.load_id) == expected_rejects
    assert all('Longitude "181"' in reason for _, reason in expected_rejects)
    assert leftovers(empty_raw) == (0, 0, 0, 0)


def test_a_part_postgresql_refuses_leaves_nothing_and_the_file_is_read_carefully(
        tmp_path, empty_raw, loader, contracts, split_everything):
    path = street_file(tmp_path / "2024-01-metropolitan-street.csv")
    with path.open("ab") as fh:          # a short row near the end: the second part's COPY fails
        fh.write(b"short,row\n")
    result = ingest_file(loader, path, contracts)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == ("loaded", 2001, 1980, 21)
    assert rejects(empty_raw, result.load_id)[-1] == (2001, "row has 2 fields; the header has 12")
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes").fetchone()[0] == 1980
    assert leftovers(empty_raw) == (0, 0, 0, 0)


def test_nothing_of_a_split_file_is_visible_before_its_load_is_recorded(
        tmp_path, empty_raw, loader, contracts, split_everything, monkeypatch):
    seen = {}
    finish = copy_load.finish_reservation

    def look_then_finish(conn, load_id):
        # The parts are committed, the load is not yet: staging joins rows to loaded loads only.
        with psycopg.connect(empty_raw.info.dsn, password=empty_raw.info.password) as other:
            seen["rows"] = other.execute("select count(*) from raw.police_uk_street_crimes").fetchone()[0]
            seen["visible"] = other.execute(
                "select count(*) from raw.police_uk_street_crimes r join raw._loads l on l.load_id = r._load_id"
                " where l.status = 'loaded'").fetchone()[0]
        finish(conn, load_id)

    monkeypatch.setattr(copy_load, "finish_reservation", look_then_finish)
    result = ingest_file(loader, street_file(tmp_path / "2024-01-metropolitan-street.csv"), contracts)
    assert result.status == "loaded" and seen == {"rows": 1980, "visible": 0}


def test_a_split_load_cut_short_is_cleared_by_the_next_ingest(tmp_path, empty_raw, loader, contracts, cfg):
    from safestats import warehouse

    contract = next(c for c in contracts if c.dataset == "police_uk_street_crimes")
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as dying:
        load_id = copy_load.reserve_load(dying, contract.dataset)
        with dying.transaction():
            numbering = copy_load.create_numbering(dying, contract.dataset, load_id)
            copy_load.number_rows(dying, contract.dataset, load_id, {dying.info.backend_pid: numbering})
        with dying.transaction():
            copy_load.start_numbering(dying, numbering, 1)
            dying.execute("insert into raw.police_uk_street_crimes (crime_id, month) values ('orphan', '2024-01')")
            dying.execute("insert into raw._pending_rejects values (%s, 2, 'x', '{}')", (load_id,))
        pid = dying.info.backend_pid
    # the coordinator's session is gone (its advisory lock with it, once its backend has exited): the next
    # ingest clears the reservation
    while empty_raw.execute("select count(*) from pg_stat_activity where pid = %s", (pid,)).fetchone()[0]:
        time.sleep(0.05)
    assert leftovers(empty_raw) == (1, 1, 1, 2)
    ingest_landing(loader, tmp_path, contracts)
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes").fetchone()[0] == 0
    assert leftovers(empty_raw) == (0, 0, 0, 0)


def test_a_live_split_load_is_not_cleared(empty_raw, loader, contracts, cfg):
    from safestats import warehouse

    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as alive:
        load_id = copy_load.reserve_load(alive, "police_uk_street_crimes")
        assert copy_load.clear_abandoned(loader) == []
        copy_load.clear_load(alive, "police_uk_street_crimes", load_id)
        copy_load.release(alive, "police_uk_street_crimes", load_id)


def test_a_row_inserted_outside_a_load_is_refused(loader):
    with pytest.raises(psycopg.Error):
        with loader.transaction():
            loader.execute("insert into raw.police_uk_street_crimes (crime_id, month) values ('stray', '2024-01')")
