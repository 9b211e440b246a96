"""The contract-driven ingest against the real embedded PostgreSQL: every row loaded or rejected, with a reason."""
from __future__ import annotations

import pytest
from helpers import STREET_HEADER, data_rows, street_row, write_csv

from safestats.ingest import Quarantine, ingest_file, ingest_landing, recognise


def raw_count(conn, load_id, table="raw.police_uk_street_crimes"):
    return conn.execute(f"select count(*) from {table} where _load_id = %s", (load_id,)).fetchone()[0]


def load_row(conn, load_id):
    return conn.execute("select status, rows_read, rows_loaded, rows_rejected, error, encoding, line_ending,"
                        " extra_columns from raw._loads where load_id = %s", (load_id,)).fetchone()


def test_rows_are_conserved_and_rejects_say_why(tmp_path, empty_raw, loader, contracts):
    rows = [street_row(crime_id="ok1"),
            street_row(crime_id="badmonth", month="2024-13"),
            street_row(crime_id="othermonth", month="2024-02"),
            street_row(crime_id="badlon", lon="181.5"),
            street_row(crime_id="textlat", lat="north"),
            street_row(crime_id="notype", crime_type=" "),
            street_row(crime_id="nolocation", lon="", lat="", lsoa="", Location="No Location"),
            street_row(crime_id="ok2", lon=" -0.2 ")]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER, rows)
    result = ingest_file(loader, path, contracts)
    assert result.status == "loaded"
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (8, 3, 5)
    assert raw_count(empty_raw, result.load_id) == 3
    rejects = dict(empty_raw.execute(
        "select source_row_number, reason from raw._rejects where load_id = %s", (result.load_id,)).fetchall())
    assert rejects == {
        2: 'Month "2024-13" is not a YYYY-MM month',
        3: 'Month "2024-02" is not the file\'s month 2024-01',
        4: 'Latitude "51.5400" and Longitude "181.5" are not in the United Kingdom'
           ' (latitude 49.8 to 60.9, longitude -8.7 to 1.8)',
        5: 'Latitude "north" is not a latitude between 49.8 and 60.9',
        6: "Crime type is blank",
    }
    kept = [r[0] for r in empty_raw.execute(
        "select crime_id from raw.police_uk_street_crimes where _load_id = %s order by _source_row_number",
        (result.load_id,))]
    assert kept == ["ok1", "nolocation", "ok2"]
    record = empty_raw.execute("select record from raw._rejects where load_id = %s and source_row_number = 4",
                               (result.load_id,)).fetchone()[0]
    assert record["Crime ID"] == "badlon" and record["Longitude"] == "181.5"


def test_source_row_numbers_follow_the_file(tmp_path, empty_raw, loader, contracts):
    rows = [street_row(crime_id=f"c{i}") for i in range(1, 501)]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER, rows)
    result = ingest_file(loader, path, contracts)
    pairs = empty_raw.execute("select crime_id, _source_row_number from raw.police_uk_street_crimes"
                              " where _load_id = %s", (result.load_id,)).fetchall()
    assert all(crime_id == f"c{n}" for crime_id, n in pairs) and len(pairs) == 500


def test_same_file_again_is_skipped(tmp_path, empty_raw, loader, contracts):
    write_csv(tmp_path / "land" / "2024-01-metropolitan-street.csv", STREET_HEADER, [street_row()])
    first = ingest_landing(loader, tmp_path / "land", contracts)
    again = ingest_landing(loader, tmp_path / "land", contracts)
    assert [r.status for r in first] == ["loaded"]
    assert [r.status for r in again] == ["skipped"]
    assert again[0].load_id == first[0].load_id
    assert empty_raw.execute("select count(*) from raw._loads").fetchone()[0] == 1
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes").fetchone()[0] == 1


def test_missing_required_columns_quarantine_the_file_and_nothing_else(tmp_path, empty_raw, loader, contracts):
    land = tmp_path / "land"
    write_csv(land / "2024-01-metropolitan-street.csv", STREET_HEADER, [street_row()])
    bad_header = [h for h in STREET_HEADER if h not in ("Crime type", "LSOA code")]
    write_csv(land / "2024-02-metropolitan-street.csv", bad_header, [["x"] * len(bad_header)])
    results = {r.path.name: r for r in ingest_landing(loader, land, contracts)}
    bad = results["2024-02-metropolitan-street.csv"]
    assert bad.status == "quarantined"
    assert "2024-02-metropolitan-street.csv" in bad.message
    assert "'LSOA code'" in bad.message and "'Crime type'" in bad.message
    status, *_, error, _, _, _ = load_row(empty_raw, bad.load_id)
    assert status == "quarantined" and error == bad.message
    assert results["2024-01-metropolitan-street.csv"].status == "loaded"
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes").fetchone()[0] == 1


def test_unrecognised_unknown_agency_and_empty_files_are_quarantined(tmp_path, empty_raw, loader, contracts):
    land = tmp_path / "land"
    land.mkdir()
    (land / "notes.txt").write_text("not an extract")
    write_csv(land / "2024-01-surrey-street.csv", STREET_HEADER, [street_row()])
    (land / "2024-01-city-of-london-street.csv").write_bytes(b"")
    results = {r.path.name: r for r in ingest_landing(loader, land, contracts)}
    assert {n: r.status for n, r in results.items()} == {
        "notes.txt": "quarantined", "2024-01-surrey-street.csv": "quarantined",
        "2024-01-city-of-london-street.csv": "quarantined"}
    assert "matches no dataset" in results["notes.txt"].message
    assert "unknown agency 'surrey'" in results["2024-01-surrey-street.csv"].message
    assert "empty" in results["2024-01-city-of-london-street.csv"].message
    assert empty_raw.execute("select count(*) from raw._loads where status = 'quarantined'").fetchone()[0] == 3


def test_extra_columns_are_tolerated_and_recorded(tmp_path, empty_raw, loader, contracts):
    header = STREET_HEADER[:5] + ["Force notes"] + STREET_HEADER[5:]
    rows = [r[:5] + ["anything"] + r[5:] for r in (street_row(crime_id="a"), street_row(crime_id="b"))]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", header, rows)
    result = ingest_file(loader, path, contracts)
    assert result.status == "loaded" and result.rows_loaded == 2
    assert load_row(empty_raw, result.load_id)[7] == ["Force notes"]
    assert empty_raw.execute("select latitude from raw.police_uk_street_crimes where crime_id = 'b'"
                             ).fetchone()[0] == "51.5400"


def test_header_aliases_order_and_case_are_accepted(tmp_path, empty_raw, loader, contracts):
    header = [h.upper() for h in reversed(STREET_HEADER)]
    rows = [list(reversed(street_row(crime_id="rev")))]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", header, rows)
    result = ingest_file(loader, path, contracts)
    assert result.status == "loaded"
    assert empty_raw.execute("select crime_id, month from raw.police_uk_street_crimes").fetchone() == ("rev", "2024-01")


def test_rows_of_the_wrong_width_are_rejected_not_lost(tmp_path, empty_raw, loader, contracts):
    rows = [street_row(crime_id="a"), street_row(crime_id="b")[:9], street_row(crime_id="c") + ["stray", "cells"],
            street_row(crime_id="d") + [""]]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER, rows)
    result = ingest_file(loader, path, contracts)
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4, 1, 3)
    reasons = dict(empty_raw.execute("select source_row_number, reason from raw._rejects").fetchall())
    # a blank extra cell is still an extra field: an unquoted comma would have shifted the fields after it
    assert reasons == {2: "row has 9 fields; the header has 12", 3: "row has 14 fields; the header has 12",
                       4: "row has 13 fields; the header has 12"}


@pytest.mark.parametrize("encoding,bom,newline", [("utf-8", True, "\r\n"), ("cp1252", False, "\r\n"),
                                                  ("utf-8", False, "\n")])
def test_encodings_and_line_endings(tmp_path, empty_raw, loader, contracts, encoding, bom, newline):
    rows = [street_row(crime_id="café", Location="On or near Caffè Nero £5 Street")]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER, rows,
                     encoding=encoding, bom=bom, newline=newline)
    result = ingest_file(loader, path, contracts)
    assert result.status == "loaded", result.message
    status, *_, enc, line_ending, _ = load_row(empty_raw, result.load_id)
    assert enc == {"utf-8": "utf-8-sig" if bom else "utf-8", "cp1252": "cp1252"}[encoding]
    assert line_ending == ("CRLF" if newline == "\r\n" else "LF")
    assert empty_raw.execute("select crime_id, location from raw.police_uk_street_crimes").fetchone() == (
        "café", "On or near Caffè Nero £5 Street")


def test_windows_1252_found_after_the_sample(tmp_path, empty_raw, loader, contracts):
    rows = [street_row(crime_id=f"id{i:06d}") for i in range(12000)] + [street_row(crime_id="naïve")]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER, rows, encoding="cp1252")
    assert path.stat().st_size > 1 << 20  # the encoding guess only reads the first MiB
    result = ingest_file(loader, path, contracts)
    assert result.status == "loaded" and result.rows_loaded == 12001
    assert load_row(empty_raw, result.load_id)[5] == "cp1252"
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes where crime_id = 'naïve'"
                             ).fetchone()[0] == 1


def test_a_line_that_is_not_text_in_the_files_encoding_is_rejected_alone(tmp_path, empty_raw, loader, contracts):
    rows = [street_row(crime_id=f"id{i}") for i in range(5000)]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER, rows)
    with path.open("ab") as fh:  # 0x81 is neither UTF-8 here nor defined in Windows-1252
        fh.write(b"x,2024-01,M,M,,,No Location,,,Burglary,,\x81\n")
    result = ingest_file(loader, path, contracts)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == ("loaded", 5001, 5000, 1)
    reason, record = empty_raw.execute("select reason, record from raw._rejects where load_id = %s"
                                       " and source_row_number = 5001", (result.load_id,)).fetchone()
    assert "line 5002 is not Windows-1252 text (byte 0x81" in reason
    assert record["text"].endswith("Burglary,,\\x81")


def test_a_utf8_file_with_windows_1252_lines_rejects_those_lines(tmp_path, empty_raw, loader, contracts):
    rows = [street_row(crime_id="café"), street_row(crime_id="plain")]
    path = write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER, rows)
    with path.open("ab") as fh:
        fh.write("x,2024-01,M,M,,,On or near Caf\u00e9 Row,,,Burglary,,\n".encode("cp1252"))
    result = ingest_file(loader, path, contracts)
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == ("loaded", 3, 2, 1)
    reason = empty_raw.execute("select reason from raw._rejects where load_id = %s", (result.load_id,)).fetchone()[0]
    assert "is not UTF-8 text" in reason
    assert empty_raw.execute("select count(*) from raw.police_uk_street_crimes where crime_id = 'café'"
                             ).fetchone()[0] == 1


def test_a_revised_month_supersedes_the_earlier_load(tmp_path, empty_raw, loader, contracts):
    first = write_csv(tmp_path / "v1" / "2024-01-city-of-london-street.csv", STREET_HEADER,
                      [street_row(crime_id="a"), street_row(crime_id="b")])
    revised = write_csv(tmp_path / "v2" / "2024-01-city-of-london-street.csv", STREET_HEADER,
                        [street_row(crime_id="a", **{"Last outcome category": "Offender fined"})])
    one = ingest_file(loader, first, contracts)
    two = ingest_file(loader, revised, contracts)
    assert two.superseded == [one.load_id]
    assert load_row(empty_raw, one.load_id)[0] == "superseded"
    assert load_row(empty_raw, two.load_id)[0] == "loaded"
    assert raw_count(empty_raw, one.load_id) == 2, "the superseded load stays in raw for history"
    active = empty_raw.execute(
        "select count(*) from raw._loads where dataset = 'police_uk_street_crimes' and agency = 'city-of-london'"
        " and period = '2024-01-01' and status = 'loaded'").fetchone()[0]
    assert active == 1


def test_an_ingest_analyses_the_tables_it_loaded_into(tmp_path, empty_raw, loader, contracts):
    """The planner learns of the new loads at once: the raw tables an ingest added rows to, and the load records,
    are analysed (autovacuum waits until a tenth of a table has changed, which one month of ten years never is;
    COPY alone leaves the planner's row count as it was), from a small sample (ingest.STATISTICS_TARGET: a
    histogram of at most 11 bounds where the server's default would keep 101)."""
    write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER,
              [street_row(crime_id=f"c{n}") for n in range(400)])
    ingest_landing(loader, tmp_path, contracts)
    planned = dict(empty_raw.execute("select relname, reltuples from pg_class where oid = any(array["
                                     "'raw.police_uk_street_crimes'::regclass, 'raw._loads'::regclass])").fetchall())
    assert planned == {"police_uk_street_crimes": 400, "_loads": 1}
    bounds = empty_raw.execute("select cardinality(histogram_bounds::text::text[]) from pg_stats"
                               " where schemaname = 'raw' and tablename = 'police_uk_street_crimes'"
                               " and attname = 'crime_id'").fetchone()
    assert bounds is not None and 2 <= bounds[0] <= 11, bounds
    assert loader.execute("show default_statistics_target").fetchone() == ("100",), "set for the ANALYZE alone"


def test_an_ingest_summarises_the_load_index_of_the_tables_it_loaded_into(tmp_path, empty_raw, loader, contracts):
    """A search by load finds the new load's pages through the BRIN index at once: the ingest summarises the pages
    it added (autovacuum does so only when it vacuums the table, after a fifth of it is new; until then every
    search by load reads every page since, at ten years some twenty months of a raw table). The file spans
    several of the index's page ranges (128 pages each): the first range is summarised as the rows arrive."""
    write_csv(tmp_path / "2024-01-metropolitan-street.csv", STREET_HEADER,
              [street_row(crime_id=f"c{n}") for n in range(20000)])
    ingest_landing(loader, tmp_path, contracts)
    pages = empty_raw.execute("select pg_relation_size('raw.police_uk_street_crimes') / 8192").fetchone()[0]
    assert pages > 3 * 128, pages
    left = empty_raw.execute("select brin_summarize_new_values('raw.police_uk_street_crimes__load_id'::regclass)"
                             ).fetchone()[0]
    assert left == 0, f"{left} page range(s) of the new load left unsummarised"


def test_the_database_refuses_a_load_whose_rows_do_not_add_up(empty_raw):
    import psycopg

    with pytest.raises(psycopg.errors.CheckViolation):
        empty_raw.execute("insert into raw._loads (file_name, file_path, sha256, status, rows_read, rows_loaded,"
                          " rows_rejected) values ('f', 'f', 'x', 'loaded', 10, 8, 1)")


def test_recognise_published_names(contracts):
    rec = recognise("2019-01-city-of-london-outcomes.csv", contracts)
    assert (rec.contract.dataset, rec.agency, rec.period) == ("police_uk_crime_outcomes", "city-of-london", "2019-01")
    with pytest.raises(Quarantine, match="not a month"):
        recognise("2019-13-btp-street.csv", contracts)


def test_synthetic_landing_conserves_every_row(tmp_path, empty_raw, loader, contracts):
    from safestats.synth import synthesise_police_uk

    paths = synthesise_police_uk("2024-01", "2024-02", tmp_path / "land", scale=0.02)
    results = ingest_landing(loader, tmp_path / "land", contracts)
    assert {r.status for r in results} == {"loaded"} and len(results) == len(paths)
    for r in results:
        table = f"raw.{r.dataset}"
        assert r.rows_read == data_rows(r.path)
        assert r.rows_read == r.rows_loaded + r.rows_rejected
        assert raw_count(empty_raw, r.load_id, table) == r.rows_loaded
