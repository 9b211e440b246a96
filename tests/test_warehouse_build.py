"""dbt over ingested data on the real embedded server: pseudonyms, London marts, supersession, history."""
from __future__ import annotations

import hmac
import shutil
from hashlib import sha256

import pytest
from helpers import STREET_HEADER, build_ok, street_row, write_csv

from safestats import dbt
from safestats.ingest import ingest_file

OUTCOMES_HEADER = ["Crime ID", "Month", "Reported by", "Falls within", "Longitude", "Latitude", "Location",
                   "LSOA code", "LSOA name", "Outcome type"]


def outcome_row(crime_id, month, outcome):
    return [crime_id, month, "City of London Police", "City of London Police", "-0.09", "51.51",
            "On or near Wood Street", "E01000001", "City of London 001A", outcome]


def the_key(conn) -> bytes:
    inner = conn.execute("select inner_pad from private.pseudonymisation_key").fetchone()[0]
    return bytes(b ^ 0x36 for b in inner).rstrip(b"\0")


# The police.uk lineage these tests read (street crimes, their exclusions, the outcome snapshot) and its
# tests, rather than every dataset: a full build is for the tests that read every mart, at the end.
POLICE_UK_BUILD = ("build", "--select", "+fct_street_crimes", "+police_uk_street_crimes_exclusions",
                   "+snp_crime_outcomes", "--indirect-selection", "cautious")


@pytest.fixture
def land(tmp_path):
    def put(folder, name, header, rows):
        return write_csv(tmp_path / folder / name, header, rows)
    return put


def test_marts_pseudonymise_locate_and_supersede(cfg, empty_raw, loader, contracts, land):
    street = [
        street_row(month="2024-03", crime_id="CRIME-1", lsoa="City of London 001A"),
        street_row(month="2024-03", crime_id="CRIME-2", lsoa="Tower Hamlets 015B", crime_type="Robbery"),
        street_row(month="2024-03", crime_id="", lsoa="City of London 001C", crime_type="Anti-social behaviour",
                   **{"Last outcome category": ""}),
        street_row(month="2024-03", crime_id="CRIME-3", lsoa="Epping Forest 003B"),
        street_row(month="2024-03", crime_id="CRIME-4", lon="", lat="", lsoa="", Location="No Location",
                   **{"LSOA code": ""}),
    ]
    first = ingest_file(loader, land("v1", "2024-03-city-of-london-street.csv", STREET_HEADER, street), contracts)
    ingest_file(loader, land("v1", "2024-03-city-of-london-outcomes.csv", OUTCOMES_HEADER,
                             [outcome_row("CRIME-1", "2024-03", "Under investigation")]), contracts)
    build_ok(cfg, *POLICE_UK_BUILD)

    rows = empty_raw.execute("select crime_pseudo_id, borough_name, iso_3166_2_code, category_group,"
                             " last_outcome_category from marts.fct_street_crimes order by borough_name,"
                             " crime_pseudo_id nulls first").fetchall()
    key = the_key(empty_raw)
    pseudo = {c: hmac.new(key, c.encode(), sha256).hexdigest() for c in ("CRIME-1", "CRIME-2")}
    assert {r[0] for r in rows} == {None, pseudo["CRIME-1"], pseudo["CRIME-2"]}
    assert [r[1] for r in rows] == ["City of London", "City of London", "Tower Hamlets"]
    assert [r[2] for r in rows] == ["GB-LND", "GB-LND", "GB-TWH"]
    assert [r[3] for r in rows] == ["Anti-social behaviour", "Acquisitive", "Acquisitive"]
    assert [r[4] for r in rows] == [None, "Under investigation", "Under investigation"]
    exclusions = dict(empty_raw.execute(
        "select reason, excluded_row_count from quality.police_uk_street_crimes_exclusions"
        " where dataset = 'police_uk_street_crimes'").fetchall())
    assert exclusions == {"outside_london": 1, "no_location": 1}
    raw_ids = empty_raw.execute("select count(*) from marts.fct_street_crimes where crime_pseudo_id in"
                                " ('CRIME-1', 'CRIME-2')").fetchone()[0]
    assert raw_ids == 0

    # The force revises March: the new file supersedes the old one in the marts.
    revised = [street_row(month="2024-03", crime_id="CRIME-1", lsoa="City of London 001A")]
    second = ingest_file(loader, land("v2", "2024-03-city-of-london-street.csv", STREET_HEADER, revised), contracts)
    assert second.superseded == [first.load_id]
    build_ok(cfg, *POLICE_UK_BUILD)
    assert empty_raw.execute("select count(*) from marts.fct_street_crimes").fetchone()[0] == 1
    assert empty_raw.execute("select count(*) from quality.police_uk_street_crimes_exclusions"
                             " where dataset = 'police_uk_street_crimes'").fetchone()[0] == 0


def test_snapshot_keeps_each_crimes_outcome_history(cfg, empty_raw, loader, contracts, land):
    street = [street_row(month="2024-04", crime_id="CRIME-9", lsoa="City of London 001A")]
    ingest_file(loader, land("m1", "2024-04-city-of-london-street.csv", STREET_HEADER, street), contracts)
    ingest_file(loader, land("m1", "2024-04-city-of-london-outcomes.csv", OUTCOMES_HEADER,
                             [outcome_row("CRIME-9", "2024-04", "Under investigation")]), contracts)
    build_ok(cfg, *POLICE_UK_BUILD)
    ingest_file(loader, land("m2", "2024-05-city-of-london-outcomes.csv", OUTCOMES_HEADER,
                             [outcome_row("CRIME-9", "2024-05", "Offender fined")]), contracts)
    build_ok(cfg, *POLICE_UK_BUILD)
    pseudo = hmac.new(the_key(empty_raw), b"CRIME-9", sha256).hexdigest()
    history = empty_raw.execute(
        "select outcome_type, dbt_valid_to is null from snapshots.snp_crime_outcomes"
        " where crime_pseudo_id = %s order by dbt_valid_from", (pseudo,)).fetchall()
    assert history == [("Under investigation", False), ("Offender fined", True)]
    assert empty_raw.execute("select last_outcome_category from marts.fct_street_crimes").fetchone()[0] == \
        "Offender fined"


def test_real_files_build_into_london_marts(cfg, realdata, empty_raw, loader, contracts, tmp_path):
    picks = {
        "btp_street/2018-10-btp-street.csv": "2018-10-btp-street.csv",
        "city_of_london_street/2018-10-city-of-london-street.csv": "2018-10-city-of-london-street.csv",
        "metropolitan_street_burglary_only/2019-01-metropolitan-street.burglary-only.csv":
            "2019-01-metropolitan-street.csv",
        "metropolitan_outcomes_burglary_only/2019-01-metropolitan-outcomes.burglary-only.csv":
            "2019-01-metropolitan-outcomes.csv",
    }
    for src, name in picks.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        shutil.copy(realdata / "police_uk" / src, tmp_path / name)
        assert ingest_file(loader, tmp_path / name, contracts).status == "loaded"
    build_ok(cfg, *POLICE_UK_BUILD)
    by_agency = dict(empty_raw.execute("select agency, count(*) from marts.fct_street_crimes group by 1").fetchall())
    staged = dict(empty_raw.execute("select agency, count(*) from staging.stg_police_uk__street_crimes group by 1"
                                    ).fetchall())
    excluded = dict(empty_raw.execute(
        "select agency, sum(excluded_row_count) from quality.police_uk_street_crimes_exclusions"
        " where dataset = 'police_uk_street_crimes' group by 1").fetchall())
    for agency in staged:
        assert by_agency.get(agency, 0) + excluded.get(agency, 0) == staged[agency]
    # BTP is national: only part of it is in London; the Met file has a few rows outside London.
    assert 0 < by_agency["btp"] < staged["btp"]
    boroughs = empty_raw.execute("select count(distinct borough_code) from marts.fct_street_crimes"
                                 " where agency = 'metropolitan'").fetchone()[0]
    assert boroughs >= 32  # every Met borough (a few Met rows also fall in City of London LSOAs)


def test_row_conservation_tests_catch_a_lost_or_stray_row(cfg, empty_raw, loader, contracts, land):
    """dbt's row-conservation tests fail when raw loses a row its load counted, and when staging would show
    a row of a load that is not active."""
    rows = [street_row(month="2024-06", crime_id=f"CRIME-{n}") for n in range(3)]
    load = ingest_file(loader, land("c", "2024-06-city-of-london-street.csv", STREET_HEADER, rows), contracts)
    build_ok(cfg, "run", "--select", "staging")   # the tests read raw and the staging views
    empty_raw.execute("delete from raw.police_uk_street_crimes where _load_id = %s and _source_row_number = 2",
                      (load.load_id,))
    tests = "test_name:loads_account_for_every_row test_name:active_raw_rows_are_staged"
    lost = dbt.run(["test", "--select", *tests.split()], cfg)
    failed = "\n".join(lost.failures)
    assert not lost.success
    assert "loads_account_for_every_row_police_uk_street_crimes" in failed
    assert "active_raw_rows_are_staged" not in failed   # staging still holds exactly the active raw rows

    empty_raw.execute("update raw._loads set status = 'loading' where load_id = %s", (load.load_id,))
    stray = dbt.run(["test", "--select", "test_name:active_raw_rows_are_staged"], cfg)
    assert stray.success   # staging follows the loads: a load that is not active shows no rows
    empty_raw.execute("update raw._loads set status = 'loaded' where load_id = %s", (load.load_id,))


def test_a_null_where_a_model_declares_its_columns_filled_fails_naming_the_column(cfg, empty_raw, loader,
                                                                                  contracts, land):
    """A model's not_null_columns test (one test for every column it declares never NULL) fails when one of those
    columns holds a NULL, naming that column and counting its NULL rows, and only then: a NULL in a column the
    model does not declare filled fails nothing."""
    rows = [street_row(month="2024-06", crime_id=f"CRIME-{n}") for n in range(3)]
    ingest_file(loader, land("c", "2024-06-city-of-london-street.csv", STREET_HEADER, rows), contracts)
    build_ok(cfg, *POLICE_UK_BUILD)
    filled = ["test", "--select", "fct_street_crimes,test_name:not_null_columns"]
    assert build_ok(cfg, *filled).count("test", "pass") == 1
    empty_raw.execute("update marts.fct_street_crimes set crime_pseudo_id = null")   # may be NULL (ASB rows)
    assert build_ok(cfg, *filled).count("test", "pass") == 1
    empty_raw.execute("update marts.fct_street_crimes set borough_name = null where ctid = (select min(ctid)"
                      " from marts.fct_street_crimes)")
    failed = dbt.run(filled, cfg)
    assert not failed.success
    assert [f.split(".")[2].startswith("not_null_columns_fct_street_crimes") for f in failed.failures] == [True]
    assert "Got 1 result" in failed.failures[0]
    compiled = next(sql for p in (cfg.home / "target" / "compiled").rglob("not_null_columns_fct_street_cr*.sql")
                    if '."fct_street_crimes"' in (sql := p.read_text()))
    assert empty_raw.execute(compiled).fetchall() == [("borough_name", 1)]


def test_mart_row_conservation_test_names_the_mart_that_lost_or_gained_a_row(cfg, empty_raw, loader, contracts,
                                                                            land):
    """rows_reach_the_mart_or_are_counted, on every fact mart, fails naming the mart when a mart loses a row,
    when a mart holds a row its dataset never had, and when the privacy boundary holds a row staging has not;
    it passes again once the rows are put back. Likewise the monthly summaries' counts of their facts."""
    street = [street_row(month="2024-06", crime_id=f"CRIME-{n}") for n in range(3)]
    street.append(street_row(month="2024-06", crime_id="CRIME-X", lsoa="Epping Forest 003B"))  # excluded
    ingest_file(loader, land("c", "2024-06-city-of-london-street.csv", STREET_HEADER, street), contracts)
    ingest_file(loader, land("c", "2024-06-city-of-london-outcomes.csv", OUTCOMES_HEADER,
                             [outcome_row("CRIME-1", "2024-06", "Under investigation")]), contracts)
    build_ok(cfg, "build", "--exclude", "resource_type:test")   # every mart; the tests that matter run below
    conservation = ["test", "--select", "test_name:rows_reach_the_mart_or_are_counted"]
    before = dbt.run(conservation, cfg)
    assert before.success, before.failures
    assert before.count("test", "pass") == 11   # one per fact mart fed by a dataset

    def failing_marts() -> list[str]:
        outcome = dbt.run(conservation, cfg)
        assert not outcome.success
        return sorted(f.split(".")[2].removeprefix("rows_reach_the_mart_or_are_counted_") for f in outcome.failures)

    columns = [c.name for c in empty_raw.execute("select * from marts.fct_street_crimes limit 0").description]
    lost = empty_raw.execute("delete from marts.fct_street_crimes where ctid = (select min(ctid) from"
                             " marts.fct_street_crimes) returning *").fetchone()
    assert failing_marts() == ["fct_street_crimes"]
    empty_raw.execute(f"insert into marts.fct_street_crimes ({', '.join(columns)})"
                      f" values ({', '.join(['%s'] * len(columns))})", lost)

    stray = empty_raw.execute("insert into marts.fct_crime_outcomes select * from marts.fct_crime_outcomes"
                              " limit 1 returning ctid").fetchone()[0]
    assert failing_marts() == ["fct_crime_outcomes"]
    empty_raw.execute("delete from marts.fct_crime_outcomes where ctid = %s::tid", (stray,))

    # Past the privacy boundary, a row of a load and month that staging does not have (and the mart neither).
    empty_raw.execute("insert into suppressed.mps_asb_incidents (load_id, agency, incident_month)"
                      " values (999999, 'metropolitan', date '2024-06-01')")
    outcome = dbt.run(conservation, cfg)
    assert [f.split(".")[2] for f in outcome.failures] == ["rows_reach_the_mart_or_are_counted_fct_asb_incidents"]
    assert "Got 2 results" in outcome.failures[0]   # the month and the load
    empty_raw.execute("delete from suppressed.mps_asb_incidents where load_id = 999999")

    after = dbt.run(conservation, cfg)
    assert after.success, after.failures

    # A monthly summary holds exactly its fact's counts: a count off by one fails its test (and no other), a
    # record no summary counted fails each summary of that fact; all pass again once the rows are put back.
    counts = ["test", "--select", "test_name:counts_the_records"]
    assert dbt.run(counts, cfg).success
    empty_raw.execute("update marts.fct_street_crimes_monthly set crime_count = crime_count + 1")
    miscounted = dbt.run(counts, cfg)
    assert [f.split(".")[2] for f in miscounted.failures] == ["counts_the_records_fct_street_crimes_monthly"]
    empty_raw.execute("update marts.fct_street_crimes_monthly set crime_count = crime_count - 1")
    empty_raw.execute(f"insert into marts.fct_street_crimes ({', '.join(columns)})"
                      f" values ({', '.join(['%s'] * len(columns))})",
                      [f"{lost[0]}-copy", *lost[1:]])
    uncounted = dbt.run(counts, cfg)     # both summaries of the street crimes count it
    assert sorted(f.split(".")[2] for f in uncounted.failures) == [
        "counts_the_records_fct_street_crimes_lsoa_monthly", "counts_the_records_fct_street_crimes_monthly"]
    empty_raw.execute("delete from marts.fct_street_crimes where street_crime_key = %s", (f"{lost[0]}-copy",))
    assert dbt.run(counts, cfg).success


def test_dbt_docs_generate(cfg):
    """The docs site's catalog describes the built warehouse (the full build above): every mart with its
    columns, each documented."""
    import json

    assert dbt.run(["docs", "generate"], cfg).success
    target = cfg.home / "target"
    catalog = json.loads((target / "catalog.json").read_text())
    manifest = json.loads((target / "manifest.json").read_text())
    marts = {k: n for k, n in manifest["nodes"].items() if n["resource_type"] == "model" and n["schema"] == "marts"}
    assert len(marts) >= 10
    undescribed = [n["name"] for n in marts.values() if not n["description"].strip()]
    assert not undescribed, f"marts without a description: {undescribed}"
    built = {k for k in catalog["nodes"]}
    missing = sorted(n["name"] for k, n in marts.items() if k not in built)
    assert not missing, f"marts the catalog does not describe (not built?): {missing}"
    for key in marts:
        assert catalog["nodes"][key]["columns"], f"{key}: no columns in the catalog"
