"""Conformed dimensions on the real embedded server: dates, geography (with and without the ONS lookup),
borough population, the incident taxonomy, and police.uk crime types mapped into it."""
from __future__ import annotations

import csv
import shutil
from datetime import date, timedelta

import psycopg
import pytest
from dateutil.easter import easter
from helpers import STREET_HEADER, build_ok, street_row, write_csv

from safestats import warehouse
from safestats.config import PROJECT_DIR
from safestats.ingest import ingest_file

LOOKUP = "lookups/DERIVED_London_LSOA11_to_WD19_to_LAD19.csv"
LOOKUP_HEADER = ["FID", "LSOA11CD", "LSOA11NM", "WD19CD", "WD19NM", "LAD19CD", "LAD19NM"]
FIRST_DAY, LAST_DAY = date(2010, 1, 1), date(2031, 3, 31)

SEEDS = PROJECT_DIR / "seeds"
UNPUBLISHED_TYPE = "A crime type police.uk has not published yet"     # mapped to "other"


def seed_rows(name: str) -> list[dict]:
    with (SEEDS / name).open(newline="") as fh:
        return list(csv.DictReader(fh))


# police.uk crime type -> taxonomy code: the seed's mapping, and "other" for a type it does not know.
EXPECTED_CATEGORIES = {**{r["crime_type"]: r["incident_category_code"] for r in seed_rows("crime_categories.csv")},
                       UNPUBLISHED_TYPE: "other"}

# England and Wales bank holidays as GOV.UK lists them (www.gov.uk/bank-holidays), typed in by hand.
KNOWN_BANK_HOLIDAYS = {
    2025: ["2025-01-01", "2025-04-18", "2025-04-21", "2025-05-05", "2025-05-26", "2025-08-25",
           "2025-12-25", "2025-12-26"],
    2022: ["2022-01-03", "2022-04-15", "2022-04-18", "2022-05-02", "2022-06-02", "2022-06-03",
           "2022-08-29", "2022-09-19", "2022-12-26", "2022-12-27"],
    2020: ["2020-01-01", "2020-04-10", "2020-04-13", "2020-05-08", "2020-05-25", "2020-08-31",
           "2020-12-25", "2020-12-28"],
    2012: ["2012-01-02", "2012-04-06", "2012-04-09", "2012-05-07", "2012-06-04", "2012-06-05",
           "2012-08-27", "2012-12-25", "2012-12-26"],
}


def lookup_row(lsoa, lsoa_name, ward, ward_name, lad="E09000007", lad_name="Camden"):
    return ["1", lsoa, lsoa_name, ward, ward_name, lad, lad_name]


@pytest.fixture(scope="module")
def db(cfg, bootstrap, contracts, tmp_path_factory):
    """An empty raw layer, one street file of every police.uk crime type, no ONS lookup; built."""
    landing = tmp_path_factory.mktemp("conformed-landing")
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
        conn.execute(f"truncate {tables}, raw._rejects, raw._loads restart identity")
        with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
            rows = [street_row(month="2025-03", crime_id=f"C-{i}", crime_type=crime_type)
                    for i, crime_type in enumerate(EXPECTED_CATEGORIES)]
            street = write_csv(landing / "2025-03-metropolitan-street.csv", STREET_HEADER, rows)
            assert ingest_file(loader, street, contracts).status == "loaded"
        build_ok(cfg)
        yield conn, landing


def one(conn, query, *params):
    return conn.execute(query, params).fetchone()


def test_dim_date_covers_the_range_day_by_day(db):
    conn, _ = db
    count, first, last, distinct = one(conn, "select count(*), min(date_day), max(date_day),"
                                             " count(distinct date_day) from marts.dim_date")
    assert (first, last) == (FIRST_DAY, LAST_DAY)
    assert count == distinct == (LAST_DAY - FIRST_DAY).days + 1


@pytest.mark.parametrize(("day", "financial_year", "iso", "weekday", "weekend"), [
    ("2025-03-31", "2024/25", (2025, 14), ("Monday", 1), False),
    ("2025-04-01", "2025/26", (2025, 14), ("Tuesday", 2), False),
    ("2026-03-31", "2025/26", (2026, 14), ("Tuesday", 2), False),
    ("2021-01-03", "2020/21", (2020, 53), ("Sunday", 7), True),
    ("2010-01-01", "2009/10", (2009, 53), ("Friday", 5), False),
    ("2031-03-31", "2030/31", (2031, 14), ("Monday", 1), False),
    ("1999-12-31", None, None, None, None),
])
def test_dim_date_calendar_attributes(db, day, financial_year, iso, weekday, weekend):
    conn, _ = db
    row = one(conn, "select financial_year, iso_year, iso_week, day_of_week_name, day_of_week_number, is_weekend,"
                    " month_start, month_name, quarter from marts.dim_date where date_day = %s", day)
    if financial_year is None:
        assert row is None  # outside the range: no row
        return
    assert row[0] == financial_year
    assert (row[1], row[2]) == iso
    assert (row[3], row[4]) == weekday
    assert row[5] is weekend
    d = date.fromisoformat(day)
    assert row[6] == d.replace(day=1)
    assert row[7] == d.strftime("%B")
    assert row[8] == (d.month - 1) // 3 + 1


def test_dim_date_financial_years_are_whole_april_to_march(db):
    conn, _ = db
    years = conn.execute("select financial_year, min(date_day), max(date_day) from marts.dim_date"
                         " where financial_year_start_year between 2010 and 2030 group by 1 order by 1").fetchall()
    assert len(years) == 21
    for name, first, last in years:
        start = int(name[:4])
        assert name == f"{start}/{(start + 1) % 100:02d}"
        assert (first, last) == (date(start, 4, 1), date(start + 1, 3, 31))


def test_dim_date_bank_holidays(db):
    conn, _ = db
    holidays = {r[0] for r in conn.execute("select date_day from marts.dim_date where is_uk_bank_holiday")}
    for year, days in KNOWN_BANK_HOLIDAYS.items():
        assert {d for d in holidays if d.year == year} == {date.fromisoformat(d) for d in days}, year
    # Easter, independently computed (dateutil), gives Good Friday and Easter Monday every year.
    for year in range(2010, 2031):
        assert easter(year) - timedelta(days=2) in holidays, f"Good Friday {year}"
        assert easter(year) + timedelta(days=1) in holidays, f"Easter Monday {year}"
    # Every year has Christmas (or its substitute) and at least eight days off; none falls at a weekend.
    assert one(conn, "select count(*) from marts.dim_date where is_uk_bank_holiday and is_weekend")[0] == 0
    per_year = dict(conn.execute("select year, count(*) from marts.dim_date where is_uk_bank_holiday"
                                 " and year <= 2030 group by 1").fetchall())
    assert set(per_year) == set(range(2010, 2031)) and min(per_year.values()) >= 8
    assert one(conn, "select bank_holiday_name from marts.dim_date where date_day = '2025-04-18'")[0] == "Good Friday"
    assert one(conn, "select is_uk_bank_holiday, bank_holiday_name from marts.dim_date"
                     " where date_day = '2025-04-17'") == (False, None)


def test_population_for_every_borough_and_2025_month(db):
    conn, _ = db
    rows = conn.execute("""
        select boroughs.borough_code, months.month_start, population.year, population.population
        from (select distinct month_start from marts.dim_date where year = 2025) as months
        cross join marts.dim_boroughs as boroughs
        left join marts.dim_borough_population as population
            on boroughs.borough_code = population.borough_code
            and months.month_start between population.applies_from_month and population.applies_to_month
    """).fetchall()
    assert len(rows) == 33 * 12
    assert all(r[3] and r[3] > 5000 for r in rows)
    assert {r[2] for r in rows} == {2024}  # the latest estimate (mid-2024) serves 2025
    # Each month maps to exactly one estimate: ranges neither overlap nor leave gaps.
    assert one(conn, """
        select count(*) from marts.dim_borough_population as a
        join marts.dim_borough_population as b
            on a.borough_code = b.borough_code and a.year < b.year
            and a.applies_to_month >= b.applies_from_month
    """)[0] == 0
    assert one(conn, "select population from marts.dim_borough_population"
                     " where borough_code = 'E09000001' and year = 2024")[0] == 8526
    assert one(conn, "select population from marts.dim_borough_population where borough_code = 'E09000033'"
                     " and '2019-07-01' between applies_from_month and applies_to_month")[0] == \
        one(conn, "select population from seeds.borough_population where borough_code = 'E09000033'"
                  " and year = 2019")[0]


def test_incident_category_dimension_is_the_taxonomy(db, cfg):
    conn, _ = db
    with (cfg.project_dir / "seeds" / "incident_categories.csv").open(newline="") as fh:
        seed = {r["incident_category_code"]: r for r in csv.DictReader(fh)}
    rows = conn.execute("select incident_category_code, incident_category_name, category_group, is_violence,"
                        " description from marts.dim_incident_category").fetchall()
    assert {r[0] for r in rows} == set(seed)
    for code, name, group, violence, _ in rows:
        assert (name, group, str(violence).lower()) == (seed[code]["incident_category_name"],
                                                        seed[code]["category_group"], seed[code]["is_violence"])


def test_street_crimes_carry_a_valid_incident_category(db):
    conn, _ = db
    rows = dict(conn.execute("select crime_type, incident_category_code from marts.fct_street_crimes").fetchall())
    assert rows == EXPECTED_CATEGORIES
    orphans = one(conn, "select count(*) from marts.fct_street_crimes as f left join marts.dim_incident_category"
                        " as c using (incident_category_code) where c.incident_category_code is null")[0]
    assert orphans == 0


def test_every_seed_crime_type_maps_into_the_taxonomy():
    mapping = seed_rows("crime_categories.csv")
    taxonomy = {r["incident_category_code"] for r in seed_rows("incident_categories.csv")}
    types = [r["crime_type"] for r in mapping]
    assert len(types) == len(set(types)), "a crime type is mapped twice"
    assert {r["crime_type"]: r["incident_category_code"] for r in mapping
            if r["incident_category_code"] not in taxonomy} == {}
    # the decisions the trend figures rest on, stated independently of the seed
    assert {t: EXPECTED_CATEGORIES[t] for t in ("Violence and sexual offences", "Anti-social behaviour",
                                                "Possession of weapons", "Shoplifting")} == {
        "Violence and sexual offences": "violence_unspecified", "Anti-social behaviour": "anti_social_behaviour",
        "Possession of weapons": "possession_of_weapons", "Shoplifting": "theft"}
    assert UNPUBLISHED_TYPE not in types and "other" in taxonomy


def test_geography_without_a_lookup_is_every_borough(db):
    conn, _ = db
    levels = dict(conn.execute("select geography_level, count(*) from marts.dim_geography group by 1").fetchall())
    assert levels == {"borough": 33}
    assert one(conn, "select count(*) from marts.dim_geography as g join marts.dim_boroughs as b"
                     " on g.geography_code = b.borough_code and g.borough_name = b.borough_name")[0] == 33


def test_real_lookup_loads_and_every_lsoa_rolls_up(db, cfg, realdata, loader, contracts):
    conn, landing = db
    real = realdata / LOOKUP
    if not real.is_file():
        pytest.skip(f"the ONS lookup test copy is not here: expected {real}")
    with real.open(encoding="utf-8-sig", newline="") as fh:
        expected = {(r["LSOA11CD"], r["WD19CD"], r["LAD19CD"]) for r in csv.DictReader(fh)}
    landed = landing / "ons" / "2019-12-ons-lsoa-ward-lookup.csv"
    landed.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(real, landed)
    result = ingest_file(loader, landed, contracts)
    assert (result.status, result.dataset, result.period) == ("loaded", "ons_lsoa_ward_lookup", "2019-12")
    assert (result.rows_read, result.rows_loaded, result.rows_rejected) == (4835, 4835, 0)
    assert result.extra_columns == ("FID",)
    build_ok(cfg)

    # Row conservation: file rows = raw rows = staged rows = LSOA rows of the dimension.
    assert one(conn, "select count(*) from raw.ons_lsoa_ward_lookup")[0] == 4835
    assert one(conn, "select count(*) from staging.stg_ons__lsoa_ward_lookup")[0] == 4835
    levels = dict(conn.execute("select geography_level, count(*) from marts.dim_geography group by 1").fetchall())
    assert levels == {"borough": 33, "ward": 637, "lsoa": 4835}
    got = set(conn.execute("select lsoa_code, ward_code, borough_code from marts.dim_geography"
                           " where geography_level = 'lsoa'").fetchall())
    assert got == expected
    # Each LSOA's parent is its ward, each ward's parent its borough, and the names come along.
    assert one(conn, """
        select count(*) from marts.dim_geography as child
        join marts.dim_geography as parent on child.parent_geography_code = parent.geography_code
        where child.parent_geography_level = parent.geography_level
          and child.borough_code = parent.borough_code
          and (child.geography_level = 'ward' or child.ward_code = parent.ward_code)
    """)[0] == 637 + 4835
    assert one(conn, "select geography_name, ward_name, borough_name, lookup_vintage_month from marts.dim_geography"
                     " where geography_code = 'E01000044'") == \
        ("Barking and Dagenham 016D", "Eastbury", "Barking and Dagenham", date(2019, 12, 1))
    # The police.uk LSOA of the street rows is in it: a fact joins its ward through geography_code.
    assert one(conn, "select count(*) from marts.fct_street_crimes as f join marts.dim_geography as g"
                     " on f.lsoa_code = g.geography_code where g.ward_code is not null")[0] == \
        len(EXPECTED_CATEGORIES)


def test_latest_vintage_wins_and_only_london_counts(db, cfg, loader, contracts):
    conn, landing = db
    older = [lookup_row("E01000907", "Camden 001A", "E05000128", "Old ward name"),
             lookup_row("E01000908", "Camden 001B", "E05000128", "Old ward name")]
    newer = [lookup_row("E01000907", "Camden 001A", "E05013652", "New ward"),
             lookup_row(" e01000909 ", "Camden 001C", "E05013652", "New ward"),
             lookup_row("E01021988", "Epping Forest 003B", "E05004573", "Epping", "E07000072", "Epping Forest"),
             lookup_row("E01000910", "", "E05013652", "New ward")]    # blank name: rejected
    for period, rows in (("2023-05", older), ("2024-05", newer)):
        path = write_csv(landing / "vintages" / f"{period}-ons-lsoa-ward-lookup.csv", LOOKUP_HEADER, rows)
        assert ingest_file(loader, path, contracts).status == "loaded"
    assert one(conn, "select reason from raw._rejects join raw._loads using (load_id)"
                     " where dataset = 'ons_lsoa_ward_lookup'")[0] == "LSOA11NM is blank"
    build_ok(cfg, "build", "--select", "stg_ons__lsoa_ward_lookup+", "--exclude", "fct_street_crimes+")

    rows = conn.execute("select geography_level, geography_code, ward_name, lookup_vintage_month"
                        " from marts.dim_geography where geography_level <> 'borough' order by 2").fetchall()
    assert rows == [("lsoa", "E01000907", "New ward", date(2024, 5, 1)),
                    ("lsoa", "E01000909", "New ward", date(2024, 5, 1)),
                    ("ward", "E05013652", "New ward", date(2024, 5, 1))]
    # Every vintage stays staged (row conservation holds per load); only the dimension picks the latest.
    staged = dict(conn.execute("select lookup_vintage_month, count(*) from staging.stg_ons__lsoa_ward_lookup"
                               " group by 1").fetchall())
    assert staged[date(2023, 5, 1)] == 2 and staged[date(2024, 5, 1)] == 3   # Epping Forest row included
