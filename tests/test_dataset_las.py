"""LAS violence-related dispatches: synthetic months round-trip into the mart, the dispatch point, exact
age and exact time never pass the privacy boundary, dirty files load and bad rows are rejected with reasons."""
from __future__ import annotations

import csv
from collections import Counter
from datetime import date

import psycopg
import pytest
from health_helpers import area_points, build_health, cells_matching, empty_raw, scanned_columns
from helpers import write_csv

from safestats import warehouse
from safestats.ingest import ingest_file, landing_files
from safestats.synth import las

MONTHS = ("2025-01", "2025-02")
SCALE = 0.4
BANDS = ["0-9", "10-17", "18-24", "25-34", "35-44", "45-54", "55-64", "65+", "unknown"]


def band(age: str) -> str:
    if not age.strip():
        return "unknown"
    a = int(age)
    for upper, name in ((9, "0-9"), (17, "10-17"), (24, "18-24"), (34, "25-34"), (44, "35-44"), (54, "45-54"),
                        (64, "55-64")):
        if a <= upper:
            return name
    return "65+" if a <= 120 else "unknown"


@pytest.fixture(scope="module")
def built(cfg, bootstrap, contracts, tmp_path_factory):
    """Two synthetic months ingested from a landing folder and built; the synthetic rows, per month."""
    out = tmp_path_factory.mktemp("las-landing")
    las.synthesise(MONTHS[0], MONTHS[-1], out, scale=SCALE)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        empty_raw(su, contracts)
    files = {}
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        for path in landing_files(out):
            result = ingest_file(loader, path, contracts)
            assert result.status == "loaded", result.message
            with path.open(encoding="utf-8", newline="") as fh:
                files[path.name[:7]] = (result, list(csv.DictReader(fh)))
    build_health(cfg)
    return files


@pytest.fixture
def db(bootstrap):
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        yield conn


def is_planted_reject(row) -> bool:
    return row["Incident date"].endswith("-" + las.BAD_DATE_DAY) or row["Patient age"] == las.BAD_AGE


def planted_rejects(rows) -> int:
    return sum(1 for r in rows if is_planted_reject(r))


def test_each_month_round_trips_into_the_mart(built, db):
    for month, (result, rows) in built.items():
        assert result.rows_read == len(rows) > 1_000
        assert result.rows_rejected == planted_rejects(rows) == sum(las.BAD_ROWS_PER_MONTH)
        loads = db.execute("select rows_read, rows_loaded, rows_rejected, status from raw._loads where load_id = %s",
                           (result.load_id,)).fetchone()
        raw = db.execute("select count(*) from raw.las_violence_dispatches where _load_id = %s",
                         (result.load_id,)).fetchone()[0]
        assert loads == (len(rows), raw, result.rows_rejected, "loaded")
        assert loads[0] == loads[1] + loads[2]
        first = date(int(month[:4]), int(month[5:]), 1)
        mart = db.execute("select count(*) from marts.fct_ambulance_violence_dispatches where incident_month = %s",
                          (first,)).fetchone()[0]
        excluded = dict(db.execute("select reason, excluded_row_count from quality.las_violence_dispatches_exclusions"
                                   " where period_month = %s", (first,)).fetchall())
        good = [r for r in rows if not is_planted_reject(r)]
        expected_excluded = Counter("no_borough" if not r["Borough code"] else "outside_london"
                                    for r in good if not r["Borough code"].startswith("E09"))
        # a borough with fewer than k records that month: withheld from the record-level mart, counted
        in_borough = Counter(r["Borough code"] for r in good if r["Borough code"].startswith("E09"))
        expected_excluded["borough_month_below_k"] = sum(n for n in in_borough.values() if n < 5)
        expected_excluded = +expected_excluded
        assert excluded == dict(expected_excluded) and excluded
        assert mart == len(rows) - result.rows_rejected - sum(excluded.values())


def test_the_mart_has_the_promised_columns(built, db):
    columns = [r[2] for r in scanned_columns(db) if r[:2] == ("marts", "fct_ambulance_violence_dispatches")]
    assert columns == ["dispatch_key", "agency", "incident_month", "incident_week", "time_of_day", "borough_code",
                       "lsoa_code", "call_category", "age_band", "sex", "generalisation_level",
                       "incident_category_code"]
    # the call category where k-anonymity lets a record keep it; the categories as the seed maps them
    categories = dict(db.execute("select call_category, min(incident_category_code) from"
                                 " intermediate.int_las_dispatches_categorised group by 1").fetchall())
    assert categories == {"Assault": "violence_with_injury", "Stabbing/knife": "knife_or_sharp_instrument",
                          "Shooting": "firearm", "Sexual assault": "sexual_offences",
                          "Domestic violence": "violence_with_injury", "Other violence": "violence_unspecified"}


def test_no_coordinates_past_the_privacy_boundary(built, db, undo):
    coordinates = [v for _, rows in built.values() for r in rows for v in (r["Latitude"], r["Longitude"]) if v]
    assert len(coordinates) > 1_000
    # an area's point (an LSOA centroid, 3 decimals) may equal a coarse raw coordinate such as 51.523000 by
    # chance; the point-location scan holds those columns to 3 decimals, which no point location is
    areas = area_points()
    assert [f for f in cells_matching(db, coordinates, numbers=coordinates) if f[1:3] not in areas] == []
    # the scan finds what is there: the point-only rows' boroughs, and a coordinate planted in a relation
    assert ("marts", "fct_ambulance_violence_dispatches", "borough_code") in {
        f[:3] for f in cells_matching(db, ["E09000007"])}
    undo(db.execute, "drop table if exists suppressed.leak_probe")
    db.execute("create table suppressed.leak_probe as select %s::numeric as x", (coordinates[0],))
    assert ("suppressed", "leak_probe", "x", 1) in cells_matching(db, coordinates, numbers=coordinates)
    withheld = ("latitude", "longitude", "lat", "lon", "incident_time", "patient_age", "incident_reference")
    for schema, table, column, _ in scanned_columns(db):
        assert column not in withheld or (table, column) in areas, f"{schema}.{table}.{column}"


def test_point_only_rows_keep_the_borough_and_lsoa_rows_the_lsoa(built, db):
    rows = db.execute(
        "select s.lsoa_code, s.borough_code, m.lsoa_code, m.borough_code, m.time_of_day,"
        " extract(hour from s.incident_time)::int, m.generalisation_level"
        " from staging.stg_las__violence_dispatches as s"
        " join marts.fct_ambulance_violence_dispatches as m"
        "   on m.dispatch_key = md5(s.load_id::text || '-' || s.source_row_number::text)").fetchall()
    assert len(rows) > 2_000
    for staged_lsoa, staged_borough, lsoa, borough, time_of_day, staged_hour, level in rows:
        assert borough == staged_borough
        assert time_of_day == ("withheld" if level >= 5 else time_band(staged_hour, wide=level >= 3))
        # the LSOA where CAD gave one and its group is large enough (level 0), else the borough only
        assert lsoa == (staged_lsoa if level == 0 else None)
    assert any(r[0] is None for r in rows) and any(r[0] is not None for r in rows)


def time_band(hour: int, *, wide: bool) -> str:
    if wide:
        return "day 06-17" if 6 <= hour <= 17 else "night 18-05"
    return ("00-05", "06-11", "12-17", "18-23")[hour // 6]


def test_k_anonymity_over_every_declared_quasi_identifier(built, db):
    """Every group of records a reader can select by the mart's declared quasi-identifiers (withheld values
    included, as SQL groups them) holds at least las_min_group_size records, for every borough's reader, and
    the check reports exactly that k."""
    import yaml

    from safestats.sdc import anonymity

    doc = yaml.safe_load(open("models/marts/health/_health__models.yml"))
    model = next(m for m in doc["models"] if m["name"] == "fct_ambulance_violence_dispatches")
    declared = model["meta"]["quasi_identifiers"]
    published = [r[2] for r in scanned_columns(db) if r[:2] == ("marts", "fct_ambulance_violence_dispatches")]
    # every published column but the row key and the constant agency is declared
    assert set(published) - set(declared) == {"dispatch_key", "agency"}
    rows = db.execute(f"select {', '.join(declared)} from marts.fct_ambulance_violence_dispatches").fetchall()
    groups = Counter(rows)
    assert len(rows) > 2_000 and min(groups.values()) >= 5
    borough = declared.index("borough_code")
    for code in {r[borough] for r in rows}:   # one borough's reader sees its own groups, whole
        assert min(n for g, n in groups.items() if g[borough] == code) >= 5
    month = declared.index("incident_month")
    expected = {}
    for g, n in groups.items():
        key = g[month].strftime("%Y-%m")
        expected[key] = min(expected.get(key, n), n)
    measured = {s.month: s.smallest_group_size for s in anonymity.group_sizes(db)
                if s.relation == "fct_ambulance_violence_dispatches"}
    assert measured == expected
    # the generalisation keeps detail where it can: some records keep the six-hour band and category
    assert any(g[declared.index("time_of_day")] in ("00-05", "06-11", "12-17", "18-23") for g in groups)


def test_ages_are_banded(built, db):
    by_row = {(r["Incident reference"]): band(r["Patient age"]) for _, rows in built.values() for r in rows
              if r["Patient age"] != las.BAD_AGE}
    released = db.execute(
        "select s.incident_reference, m.age_band, m.generalisation_level from staging.stg_las__violence_dispatches as s"
        " join marts.fct_ambulance_violence_dispatches as m"
        "   on m.dispatch_key = md5(s.load_id::text || '-' || s.source_row_number::text)").fetchall()
    pseudo = {ref: age_band for ref, age_band, level in released if level == 0}
    assert all(by_row[ref] == age_band for ref, age_band in pseudo.items() if ref in by_row)
    assert set(pseudo.values()) <= set(BANDS)
    # wider bands, then withheld, only where k-anonymity needs them
    assert {age_band for _, age_band, level in released if level >= 3} <= {"withheld"}
    assert {age_band for _, age_band, level in released if level in (1, 2)} <= {
        "0-17", "18-34", "35-54", "55+", "unknown"}
    assert any(level in (1, 2) for _, _, level in released)
    refs = list(by_row)
    assert cells_matching(db, refs) == []  # no raw incident reference anywhere past the boundary


def test_dirty_file_loads_and_bad_rows_are_rejected_with_reasons(built, db, cfg, contracts, tmp_path):
    header = ["CAD reference ", "Incident date", "Incident time", "Call category", "Patient age", "Patient sex",
              "Latitude", "Longitude", "LSOA code", "Borough code"]
    good = [["INC-20240601-00001", "2024-06-01", "23:59:59", "Assault ", "34 ", "m", "", "", "E01000907", "E09000007"],
            ["INC-20240601-00002", "2024-06-01", "00:05", "Other violence", "", "", "51.5", "-0.1", "", "E09000007"],
            ["INC-20240601-00003", "2024-06-02", "01:00:00", "Domestic violence", "29", "Female", "", "", "",
             "E09000019"]]
    bad = [["INC-20240601-00004", "2024-06-31", "25:00", "Assault", "x", "Male", "95.5", "-0.1", "", "E09000007"],
           ["", "2024-06-03", "12:00", "", "30", "Male", "", "", "E01000907", "E09000007"]]
    path = write_csv(tmp_path / "2024-06-las-violence-dispatches.csv", header, good + bad, encoding="cp1252",
                     newline="\r\n")
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        result = ingest_file(loader, path, contracts)
    assert (result.status, result.rows_loaded, result.rows_rejected) == ("loaded", 3, 2)
    reasons = [r[0] for r in db.execute("select reason from raw._rejects where load_id = %s order by source_row_number",
                                        (result.load_id,)).fetchall()]
    assert reasons == [
        'Incident date "2024-06-31" is not a date (YYYY-MM-DD, DD Mon YYYY or DD/MM/YYYY); '
        'Incident time "25:00" is not a time of day; '
        'Patient age "x" is not a whole number; Latitude "95.5" and Longitude "-0.1" are not in the United Kingdom'
        ' (latitude 49.8 to 60.9, longitude -8.7 to 1.8)',
        "Incident reference is blank; Call category is blank",
    ]


def test_synthetic_month_is_deterministic_and_calibrated(tmp_path):
    first = las.synthesise("2025-07", "2025-07", tmp_path / "a")[0]
    again = las.synthesise("2025-06", "2025-07", tmp_path / "b")[-1]
    assert first.read_bytes() == again.read_bytes()  # same seed: the same bytes, whatever the range
    assert las.synthesise("2025-07", "2025-07", tmp_path / "c", seed=7)[0].read_bytes() != first.read_bytes()
    with first.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert 6_000 <= len(rows) <= 7_400  # ~6,000 a month, July above the average
    hours = Counter(int(r["Incident time"][:2]) for r in rows)
    assert hours[23] + hours[0] > 3 * (hours[6] + hours[7])  # night peak
    per_weekday = Counter(date.fromisoformat(r["Incident date"]).weekday() for r in rows
                          if not is_planted_reject(r))
    assert per_weekday[5] > per_weekday[1]  # Saturday busier than Tuesday (both occur 4 times in July 2025)
    boroughs = Counter(r["Borough code"] for r in rows)
    assert boroughs["E09000033"] > boroughs["E09000027"] * 2  # Westminster's night-time economy vs Richmond
    assert {r["LSOA code"] == "" for r in rows} == {True, False}
