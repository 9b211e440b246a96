"""The MPS extracts (victims, perpetrators, recorded crime outcomes, ASB calls) end to end on the real embedded
server: a synthetic month -> ingest -> dbt build -> marts, with row conservation, the crime pseudonyms joining the
police.uk street crimes of the same month, nothing identifying past the privacy boundary, and knife crime."""
from __future__ import annotations

import csv
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from safestats import database, dbt, warehouse
from safestats.ingest import ingest_file
from safestats.synth import mps
from safestats.synth.police_uk import synthesise_police_uk

MONTH = "2024-06"
SCALE = 0.05
KINDS = {  # file kind -> (dataset, mart, exclusions)
    "victims": ("mps_crime_victims", "marts.fct_crime_victims", "quality.mps_crime_victims_exclusions"),
    "perpetrators": ("mps_crime_perpetrators", "marts.fct_crime_perpetrators",
                     "quality.mps_crime_perpetrators_exclusions"),
    "recorded-outcomes": ("mps_recorded_crime_outcomes", "marts.fct_recorded_crimes",
                          "quality.mps_recorded_crime_outcomes_exclusions"),
    "asb": ("mps_asb_incidents", "marts.fct_asb_incidents", "quality.mps_asb_incidents_exclusions"),
}
BOROUGH_COLUMN = {"victims": "Borough", "perpetrators": "Borough Name", "recorded-outcomes": "Borough",
                  "asb": "Borough"}
SELECTED = ["+fct_street_crimes", "+fct_crime_victims", "+fct_crime_perpetrators", "+fct_recorded_crimes",
            "+fct_asb_incidents", "+mps_crime_victims_exclusions", "+mps_crime_perpetrators_exclusions",
            "+mps_recorded_crime_outcomes_exclusions", "+mps_asb_incidents_exclusions",
            "test_name:loads_account_for_every_row"]
KNIFE_CRIME_GROUPS = {"Violence Against the Person", "Sexual Offences", "Robbery"}
PEOPLE = {"victims": "fct_crime_victims", "perpetrators": "fct_crime_perpetrators"}
MIN_GROUP_SIZE = 5   # dbt var mps_min_group_size


def read(path: Path) -> list[dict]:
    with open(path, encoding="utf-8-sig", newline="") as fh:
        return [{k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh)]


def london_borough_keys(project_dir: Path) -> set[str]:
    with open(project_dir / "seeds" / "london_boroughs.csv", newline="") as fh:
        return {borough_key(r["borough_name"]) for r in csv.DictReader(fh)}


def borough_key(name: str) -> str:
    """As macros/mps_borough_key.sql: case, spaces and '&' for 'and' do not matter."""
    return " ".join(name.replace("&", "and").split()).lower()


@pytest.fixture(scope="module")
def month(cfg, contracts, tmp_path_factory):
    """One synthetic month of the Met's police.uk street and outcomes files and the four MPS extracts,
    ingested into an empty raw layer and built once (only what these datasets need)."""
    out = tmp_path_factory.mktemp("mps")
    synthesise_police_uk(MONTH, MONTH, out, seed=7, scale=SCALE)
    files = {kind: path for kind, path in zip(mps.FILES, mps.synthesise(MONTH, MONTH, out, seed=7, scale=SCALE))}
    files["street"] = out / MONTH / f"{MONTH}-metropolitan-street.csv"
    files["outcomes"] = out / MONTH / f"{MONTH}-metropolitan-outcomes.csv"
    boot = database.endpoint(cfg)
    with psycopg.connect(boot.conninfo(), autocommit=True) as su:
        tables = ", ".join(f"raw.{c.dataset}" for c in contracts)
        su.execute(f"truncate {tables}, raw._rejects, raw._loads restart identity")
    with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
        results = {kind: ingest_file(loader, path, contracts) for kind, path in files.items()}
    outcome = dbt.run(["build", "--select", *SELECTED, "--indirect-selection", "cautious"], cfg)
    assert outcome.success, outcome.failures
    assert outcome.count("test", "fail", "error") == 0
    assert outcome.count("test", "pass") > 50
    return {"files": files, "results": results, "rows": {k: read(p) for k, p in files.items()}}


@pytest.fixture
def db(superuser):
    return superuser


@pytest.mark.parametrize("kind", list(KINDS))
def test_month_round_trips_with_every_row_accounted_for(month, db, cfg, kind):
    dataset, mart, exclusions = KINDS[kind]
    rows, result = month["rows"][kind], month["results"][kind]
    assert result.status == "loaded", result.message
    assert (result.rows_read, result.rows_rejected) == (len(rows), mps.PLANTED_REJECTS[kind])
    read_, loaded, rejected, status = db.execute(
        "select rows_read, rows_loaded, rows_rejected, status from raw._loads where load_id = %s",
        (result.load_id,)).fetchone()
    assert status == "loaded" and read_ == loaded + rejected == len(rows)
    assert db.execute(f"select count(*) from raw.{dataset} where _load_id = %s", (result.load_id,)).fetchone()[0] \
        == loaded

    # exclusions as the synthetic file says: rows not in a London borough, less those the ingest rejected
    london = london_borough_keys(cfg.project_dir)
    column = BOROUGH_COLUMN[kind]
    rejected_records = [r[0] for r in db.execute(
        "select record from raw._rejects where load_id = %s", (result.load_id,)).fetchall()]
    outside = Counter("unknown_borough" if r[column] in ("", "Unknown") else "not_a_london_borough"
                      for r in rows if borough_key(r[column]) not in london)
    for record in rejected_records:
        value = (record.get("Borough") or "").strip()   # rejects are keyed by the contract's headers
        if borough_key(value) not in london:
            outside["unknown_borough" if value in ("", "Unknown") else "not_a_london_borough"] -= 1
    if kind in PEOPLE:   # a borough with fewer than k people that month: withheld from the mart, counted
        in_borough = Counter(borough_key(r[column]) for r in rows if borough_key(r[column]) in london)
        in_borough -= Counter(borough_key(record.get("Borough") or "") for record in rejected_records)
        outside["borough_month_below_k"] = sum(n for n in in_borough.values() if n < MIN_GROUP_SIZE)
    counted = dict(db.execute(f"select reason, sum(excluded_row_count)::int from {exclusions} group by reason"))
    assert counted == {k: v for k, v in outside.items() if v}
    in_mart = db.execute(f"select count(*) from {mart}").fetchone()[0]
    assert in_mart == len(rows) - mps.PLANTED_REJECTS[kind] - sum(outside.values())
    assert in_mart > 0.9 * len(rows)


def test_victims_and_perpetrators_cannot_be_linked_to_their_crime(month, db, cfg):
    # a crime's pseudonym beside a victim would let a reader of the crime marts narrow the victim to one
    # crime's place and day, around k-anonymity: no column of the person marts holds a crime's pseudonym
    crimes = ("select crime_pseudo_id from marts.fct_street_crimes"
              " union select crime_pseudo_id from marts.fct_recorded_crimes")
    for mart in ("fct_crime_victims", "fct_crime_perpetrators"):
        columns = [r[0] for r in db.execute(
            "select column_name from information_schema.columns where table_schema = 'marts' and table_name = %s"
            " and data_type in ('text', 'character varying')", (mart,))]
        assert "crime_pseudo_id" not in columns
        for column in columns:
            linked = db.execute(f"select count(*) from marts.{mart} where {column} in ({crimes})").fetchone()[0]
            assert linked == 0, f"{mart}.{column} holds crime pseudonyms"
    # every victim's crime is a recorded crime of the MPS extract, which gives it a category (or, where
    # k-anonymity needs it, the category's group)
    assert db.execute("select count(*) from marts.fct_crime_victims where category_group is null"
                      " or (incident_category_code is null) != (generalisation_level >= 4)").fetchone()[0] == 0


def test_no_crime_id_cad_reference_or_free_text_location_past_the_privacy_boundary(month, db):
    sensitive = {r["Crime ID"] for k in ("victims", "recorded-outcomes") for r in month["rows"][k]}
    sensitive |= {r["Crime Reference"] for r in month["rows"]["perpetrators"]}
    sensitive |= {r["Incident reference"] for r in month["rows"]["asb"]}
    locations = {r["Location description"] for r in month["rows"]["asb"]} - {""}
    assert len(locations) > 100
    sensitive = (sensitive | locations) - {""}
    relations = db.execute(
        "select table_schema, table_name, array_agg(column_name::text order by ordinal_position)"
        " from information_schema.columns where table_schema in ('suppressed', 'intermediate', 'marts', 'quality')"
        " and (table_name like '%mps%' or table_name in ('fct_crime_victims', 'fct_crime_perpetrators',"
        " 'fct_recorded_crimes', 'fct_asb_incidents')) group by 1, 2").fetchall()
    assert len(relations) == 4 + 6 + 4 + 4   # intermediate: recorded crimes and latest rows; people x2 each
    for schema, table, columns in relations:
        assert not {"crime_id", "incident_reference", "location_description", "called_at"} & set(columns)
        for column in columns:
            values = {v for (v,) in db.execute(f'select distinct "{column}"::text from {schema}.{table}')}
            assert not values & sensitive, f"{schema}.{table}.{column} carries raw values"
            assert not any(v and v.lower().startswith(("outside ", "junction of ", "rear of ")) for v in values)
    # call times are kept to the hour
    assert db.execute("select count(*) from marts.fct_asb_incidents where call_hour not between 0 and 23"
                      ).fetchone()[0] == 0


@pytest.mark.parametrize("kind", list(PEOPLE))
def test_people_are_generalised_to_k_over_every_declared_quasi_identifier(month, db, cfg, kind):
    """Every group of a victim or perpetrator mart's records a reader can select by its declared quasi-identifiers
    (withheld values included, as SQL groups them) holds at least k, for every borough's reader; the check
    reports that k; records of a borough and month below k are withheld and counted, never lost."""
    import yaml

    from safestats.sdc import anonymity

    mart = PEOPLE[kind]
    doc = yaml.safe_load((cfg.project_dir / "models" / "marts" / "crime" / "_crime__mps_models.yml").read_text())
    declared = next(m for m in doc["models"] if m["name"] == mart)["meta"]["quasi_identifiers"]
    published = [c for (c,) in db.execute("select column_name::text from information_schema.columns"
                                          " where table_schema = 'marts' and table_name = %s", (mart,))]
    # every published column but the row key, the crime's pseudonym, the agency and the borough's name
    assert set(published) - set(declared) == {f"crime_{kind[:-1]}_key", "agency", "borough_name"}
    rows = db.execute(f"select {', '.join(declared)} from marts.{mart}").fetchall()
    groups = Counter(rows)
    assert rows and min(groups.values()) >= MIN_GROUP_SIZE
    borough = declared.index("borough_code")
    for code in {r[borough] for r in rows}:
        assert min(n for g, n in groups.items() if g[borough] == code) >= MIN_GROUP_SIZE
    measured = {s.month: s for s in anonymity.group_sizes(db, cfg.project_dir) if s.relation == mart}
    assert {m: s.smallest_group_size for m, s in measured.items()} == {MONTH: min(groups.values())}
    assert measured[MONTH].min_group_size == MIN_GROUP_SIZE and measured[MONTH].ok
    # every London record is published or withheld; the withheld are exactly the boroughs below k
    london, withheld = db.execute(
        f"select count(*), count(*) filter (where is_withheld) from intermediate.int_mps_crime_{kind}_generalised"
    ).fetchone()
    assert london == len(rows) + withheld and measured[MONTH].records_withheld == withheld
    assert sum(measured[MONTH].records_by_level) == len(rows)
    small = db.execute(f"select coalesce(sum(n), 0)::int from (select count(*) as n from"
                       f" intermediate.int_mps_crime_{kind}_categorised group by incident_month, borough_code"
                       f" having count(*) < %s) as b", (MIN_GROUP_SIZE,)).fetchone()[0]
    assert small == withheld


def test_knife_flag_makes_violence_and_robbery_knife_crime(month, db, cfg):
    london = london_borough_keys(cfg.project_dir)
    rows = [r for r in month["rows"]["recorded-outcomes"] if borough_key(r["Borough"]) in london]
    flagged = Counter((r["Offence group"], r["Knife or sharp instrument"].upper() == "Y") for r in rows)
    expected_knife = sum(n for (group, knife), n in flagged.items() if knife and group in KNIFE_CRIME_GROUPS)
    by_category = dict(db.execute(
        "select incident_category_code, count(*) from marts.fct_recorded_crimes group by 1").fetchall())
    knife = db.execute("select count(*) from marts.fct_recorded_crimes where is_knife_crime").fetchone()[0]
    # the planted reject is one row; it may or may not be knife crime
    assert abs(knife - expected_knife) <= mps.PLANTED_REJECTS["recorded-outcomes"]
    assert knife > 0 and by_category["knife_or_sharp_instrument"] == knife
    bad = db.execute(
        "select offence_group, offence_subgroup, has_knife_flag, is_knife_crime, incident_category_code"
        " from marts.fct_recorded_crimes where"
        " is_knife_crime != (has_knife_flag and offence_group in"
        "   ('Violence Against the Person', 'Sexual Offences', 'Robbery'))"
        " or (is_knife_crime) != (incident_category_code = 'knife_or_sharp_instrument')"
        " or (offence_subgroup = 'Violence with Injury' and not has_knife_flag"
        "     and incident_category_code != 'violence_with_injury')").fetchall()
    assert bad == []
    # a knife flag on possession of weapons is recorded but is not knife crime
    assert db.execute("select count(*), bool_or(is_knife_crime) from marts.fct_recorded_crimes"
                      " where offence_group = 'Possession of Weapons' and has_knife_flag").fetchone()[1] is False


def test_dirty_extracts_load_and_their_dirt_is_cleaned(month, db):
    results = month["results"]
    facts = {kind: db.execute("select encoding, line_ending, extra_columns from raw._loads where load_id = %s",
                              (results[kind].load_id,)).fetchone() for kind in KINDS}
    assert facts["victims"][:2] == ("utf-8-sig", "CRLF")            # saved through Excel
    assert facts["recorded-outcomes"][:2] == ("utf-8-sig", "CRLF")
    assert facts["perpetrators"][2] == []                            # another vintage's headers, all known
    raw_text = month["files"]["recorded-outcomes"].read_text(encoding="utf-8-sig")
    assert "  ," in raw_text or "  \r\n" in raw_text                  # trailing spaces
    assert any(r["Borough"].isupper() for r in month["rows"]["recorded-outcomes"])
    # upper-case and '&' borough names are placed like any other; values are trimmed and normalised
    assert db.execute("select count(distinct borough_code) from marts.fct_recorded_crimes").fetchone()[0] == 32
    assert db.execute("select count(*) from marts.fct_recorded_crimes where borough_code = 'E09000020'"
                      ).fetchone()[0] > 0                           # Kensington & Chelsea
    # as normalised (the mart withholds sex where k-anonymity needs it)
    sexes = {s for (s,) in db.execute("select distinct sex from intermediate.int_mps_crime_victims_categorised")}
    assert sexes <= {"Male", "Female", "Unknown"}


def test_bad_rows_are_rejected_with_their_reason(month, db):
    reasons = {}
    for kind in KINDS:
        reasons[kind] = sorted(r for (r,) in db.execute(
            "select reason from raw._rejects where load_id = %s", (month["results"][kind].load_id,)))
    assert reasons["victims"] == ["Crime ID is blank", f'Month recorded "2024-05" is not the file\'s month {MONTH}']
    assert reasons["perpetrators"] == ['Perpetrator number "first" is not a whole number']
    assert reasons["recorded-outcomes"] == [
        f'Outcome date "{MONTH}-31x" is not a date (YYYY-MM-DD, DD Mon YYYY or DD/MM/YYYY)']
    assert reasons["asb"] == [f'Call date time "{MONTH}-32 25:00:00" is not a date and time'
                              ' (YYYY-MM-DD HH:MM[:SS] or DD/MM/YYYY HH:MM[:SS])',
                              'Response time minutes "about an hour" is not a whole number']


def test_synthetic_months_are_deterministic_and_follow_the_street_file(tmp_path):
    a = mps.MpsSynthesiser(seed=3, scale=0.02)
    b = mps.MpsSynthesiser(seed=3, scale=0.02)
    assert a.victim_rows("2024-02") == b.victim_rows("2024-02")
    assert a.asb_rows("2024-02") == b.asb_rows("2024-02")
    assert a.outcome_rows("2024-02") != mps.MpsSynthesiser(seed=4, scale=0.02).outcome_rows("2024-02")
    street = a.uk.crimes("metropolitan", "2024-02")
    asb = a.uk.types.index("Anti-social behaviour")
    assert len(a.outcome_rows("2024-02")) == int((street.ctype != asb).sum())   # one row per crime
    assert len(a.asb_rows("2024-02")) == int((street.ctype == asb).sum())       # one row per ASB record


def test_a_borough_below_k_is_withheld_counted_and_conserved(month, db, cfg, undo):
    """With a k some boroughs cannot reach, their people leave the record-level marts, are counted as
    exclusions (row conservation holds: dbt's rows_reach_the_mart_or_are_counted runs in the build) and the
    rest reach k. Rebuilt with the default k afterwards."""
    from safestats import dbt

    large_k = 60
    selection = ["--select", "int_mps_crime_victims_generalised+", "int_mps_crime_perpetrators_generalised+",
                 *(f"rows_reach_the_mart_or_are_counted_{mart}" for mart in PEOPLE.values()),
                 "--exclude", "test_type:singular", "--indirect-selection", "cautious"]

    def rebuild_with_the_default_k():
        rebuilt = dbt.run(["build", *selection], cfg)
        assert rebuilt.success, rebuilt.failures

    undo(rebuild_with_the_default_k)
    outcome = dbt.run(["build", *selection, "--vars", f'{{"mps_min_group_size": {large_k}}}'], cfg)
    assert outcome.success, outcome.failures
    assert outcome.count("test", "fail", "error") == 0 and outcome.count("test", "pass") > 20
    for kind, mart in PEOPLE.items():
        below = dict(db.execute(
            f"select borough_code, count(*) from intermediate.int_mps_crime_{kind}_categorised group by 1"
            f" having count(*) < %s", (large_k,)).fetchall())
        assert below, f"no borough below {large_k} {kind}: the test needs a larger k"
        counted = db.execute(f"select coalesce(sum(excluded_row_count), 0)::int from"
                             f" quality.mps_crime_{kind}_exclusions where reason = 'borough_month_below_k'"
                             ).fetchone()[0]
        assert counted == sum(below.values())
        assert db.execute(f"select count(*) from marts.{mart} where borough_code = any(%s)",
                          (list(below),)).fetchone()[0] == 0
        smallest = db.execute(f"select min(n) from (select count(*) as n from marts.{mart} group by"
                              f" incident_month, borough_code, incident_category_code, category_group,"
                              f" is_knife_crime, ethnicity_group, sex, age_band, {kind[:-1]}_number,"
                              f" generalisation_level) as g").fetchone()[0]
        assert smallest is None or smallest >= large_k
