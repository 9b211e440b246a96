"""A refresh rebuilds only the loads that changed, and gives the same tables as a full build: a new month of
every dataset, a re-issued (superseding) month, late ISTV files for the month before, and a monthly LFB
extract of a month the cumulative Datastore file also holds, built incrementally and then from scratch."""
from __future__ import annotations

import csv
import json
import os
import shutil

import psycopg
import pytest
from fire_transport import ingest_all, truncate_raw
from test_dataset_lfb_incidents import call_month, cumulative_source, write_datastore_file

from safestats import dbt, warehouse
from safestats.bench_history import reissue
from safestats.policies import service
from safestats.synth import lfb, synthesise

SCALE = 0.02
# The tables refreshed month by month (config month_column), after the load-by-load tables.
MONTHLY = ["int_las_dispatches_generalised", "int_mps_crime_perpetrators_generalised",
           "int_mps_crime_victims_generalised", "fct_ambulance_violence_dispatches", "fct_asb_incidents",
           "fct_borough_violence_core", "fct_bus_safety_incidents", "fct_crime_outcomes", "fct_crime_perpetrators",
           "fct_crime_victims", "fct_ed_assault_attendances", "fct_fire_incidents", "fct_recorded_crimes",
           "fct_street_crimes", "fct_transport_crimes", "int_mps_recorded_crimes_latest", "int_crime_outcomes_latest",
           "fct_street_crimes_monthly", "fct_street_crimes_lsoa_monthly", "fct_asb_incidents_monthly"]
# The disclosure-control release candidates and the LAS group sizes, refreshed month by month too.
DISCLOSURE = ["candidate_agg_ambulance_violence_dispatches_monthly", "candidate_agg_asb_incidents_monthly",
              "candidate_agg_borough_violence_core_monthly", "candidate_agg_bus_safety_incidents_monthly",
              "candidate_agg_crime_outcomes_monthly", "candidate_agg_crime_perpetrators_monthly",
              "candidate_agg_crime_victims_monthly", "candidate_agg_ed_assault_attendances_monthly",
              "candidate_agg_fire_incidents_monthly", "candidate_agg_recorded_crimes_monthly",
              "candidate_agg_street_crimes_monthly", "candidate_agg_transport_crimes_monthly",
              "las_dispatch_group_sizes"]
# Each dataset's rows kept out of the marts, counted per month and refreshed month by month too.
QUALITY = ["istv_assault_attendances_exclusions", "las_violence_dispatches_exclusions", "lfb_incidents_exclusions",
           "mps_asb_incidents_exclusions", "mps_crime_perpetrators_exclusions", "mps_crime_victims_exclusions",
           "mps_recorded_crime_outcomes_exclusions", "police_uk_crime_outcomes_exclusions",
           "police_uk_street_crimes_exclusions", "tfl_bus_safety_incidents_exclusions",
           "tfl_network_crimes_exclusions"]
# The outcome history, compared by crime (macros/snapshot_by_key.sql): after the full build below compares every
# crime, it equals the copy taken after the refresh only if the refresh missed no crime whose outcome changed.
SNAPSHOTS = ["snp_crime_outcomes"]
# Everything the load-by-load and month-by-month tables read; their tests are for the dataset tests.
SUPPRESSED = ["build", "--select", "+path:models/suppressed",
              *("+" + m for m in MONTHLY + DISCLOSURE + QUALITY + SNAPSHOTS), "--exclude", "resource_type:test"]


def built_tables(conn) -> list[str]:
    """The tables the refresh's build records; not the published agg_ marts, which the release builds, nor the
    release's own row (another module's release may have recorded them)."""
    return [m for (m,) in conn.execute("select model from private.built_models"
                                       " where model not like 'marts.agg%' and model not like 'release.%'"
                                       " order by model")]


def built_run(cfg, *, incremental: bool) -> None:
    """A refresh's build of the tables under test, or a full build of every model (so the layers other test
    modules read next agree with each other)."""
    if incremental:
        args = [*SUPPRESSED, "--vars", json.dumps({"warehouse_fingerprint": dbt.fingerprint(cfg)})]
    else:
        args = ["build", "--exclude", "resource_type:test"]
    outcome = dbt.run(args, cfg)
    assert outcome.success, outcome.failures


CAMDEN = "E09000007"


def access_state(conn) -> dict:
    """Row-level security, policies and table and column grants of the marts refreshed by month, and of the
    partitions under every mart."""
    marts = [m for m in MONTHLY if not m.startswith("int_")]
    return {
        "relations": conn.execute(
            "select c.relname, c.relrowsecurity, c.relforcerowsecurity, coalesce(c.relacl::text, '')"
            " from pg_class as c inner join pg_namespace as n on c.relnamespace = n.oid"
            " where n.nspname = 'marts' and c.relname = any(%s) order by 1", (marts,)).fetchall(),
        "column_grants": conn.execute(
            "select c.relname, a.attname, a.attacl::text from pg_attribute as a"
            " inner join pg_class as c on a.attrelid = c.oid inner join pg_namespace as n on c.relnamespace = n.oid"
            " where n.nspname = 'marts' and c.relname = any(%s) and a.attacl is not null order by 1, 2",
            (marts,)).fetchall(),
        "policies": conn.execute(
            "select tablename, policyname, cmd, roles::text, qual, with_check from pg_policies"
            " where schemaname = 'marts' and tablename = any(%s) order by 1, 2", (marts,)).fetchall(),
        "partitions": conn.execute(
            "select distinct c.relrowsecurity, c.relforcerowsecurity, coalesce(c.relacl::text, '')"
            " from pg_class as c inner join pg_namespace as n on c.relnamespace = n.oid"
            " where n.nspname = 'marts_partitions' order by 1, 2, 3").fetchall(),
    }


def camden_reads(cfg, su) -> dict[str, tuple[int, int, int]]:
    """For each refreshed mart with a borough: the rows a Camden analyst reads, those of them outside Camden,
    and the Camden rows the table holds."""
    reads = {}
    with psycopg.connect(service.user_endpoint("camden_analyst", cfg).conninfo(), autocommit=True) as analyst:
        for mart in MONTHLY:
            if mart.startswith("int_"):
                continue
            held = su.execute(f"select count(*) filter (where borough_code = %s) from marts.{mart}",
                              (CAMDEN,)).fetchone()[0]
            try:
                seen, outside = analyst.execute(
                    f"select count(*), count(*) filter (where borough_code is distinct from %s) from marts.{mart}",
                    (CAMDEN,)).fetchone()
            except psycopg.errors.InsufficientPrivilege:
                seen, outside = 0, 0
            reads[mart] = (seen, outside, held)
    return reads


def resend_crimes(recorded, victims, month: str, offence: tuple[str, str, str], count: int = 20) -> None:
    """The MPS sends again, in `month`'s recorded crimes file, crimes of an earlier month that have victims,
    now of `offence` (group, subgroup, knife flag): their victims' category, in the earlier month, comes from
    the latest row."""
    with victims.open(newline="", encoding="utf-8-sig") as fh:
        crime_ids = list(dict.fromkeys(r["Crime ID"] for r in csv.DictReader(fh)))[:count]
    with recorded.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        fields, rows = reader.fieldnames, list(reader)
    group, subgroup, knife = offence
    rows += [{**rows[0], "Crime ID": crime_id, "Month recorded": month, "Offence group": group,
              "Offence subgroup": subgroup, "Knife or sharp instrument": knife} for crime_id in crime_ids]
    with recorded.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fields)
        writer.writeheader()
        writer.writerows(rows)


@pytest.fixture(scope="module")
def refreshed(cfg, bootstrap, contracts, tmp_path_factory):
    """Two months built, then a refresh's worth of changes built incrementally; the incremental tables are
    copied aside (schema incremental_copy) and everything is built again from scratch."""
    tmp = tmp_path_factory.mktemp("incremental")
    service.apply(cfg)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        truncate_raw(su, contracts)
    first = synthesise("2024-01", "2024-02", tmp / "first", scale=SCALE)
    january_victims = next(p for p in first if p.name == "2024-01-metropolitan-victims.csv")
    february_recorded = next(p for p in first if p.name == "2024-02-metropolitan-recorded-outcomes.csv")
    # February's file as the MPS re-issues it in the refresh: without the January crimes it sends again
    february_reissued = tmp / "reissue-recorded" / february_recorded.name
    february_reissued.parent.mkdir()
    shutil.copy(february_recorded, february_reissued)
    resend_crimes(february_recorded, january_victims, "2024-02",
                  ("Violence Against the Person", "Violence with Injury", "N"))
    header, rows = cumulative_source(tmp)      # the LFB Datastore's cumulative file
    cumulative = write_datastore_file(tmp / "first" / "LFB Incident data from 2019 onwards.csv", header, rows)
    # the Met's February outcomes never arrive: February's crimes get their first outcomes from March's file,
    # which only their crime ids (not their months) tie to February
    first = [p for p in first if p.name != "2024-02-metropolitan-outcomes.csv"]
    ingest_all(cfg, contracts, [*first, cumulative])
    built_run(cfg, incremental=True)

    street = next(p for p in first if p.name == "2024-01-metropolitan-street.csv")
    lfb_month = max(call_month(r[1]) for r in rows)     # a month the cumulative file holds
    changes = [
        *synthesise("2024-03", "2024-03", tmp / "second", scale=SCALE),    # with ISTV's late February files
        reissue(street, tmp / "reissue" / street.name, withdraw_every=7),
        *lfb.synthesise(lfb_month, lfb_month, tmp / "lfb-month", scale=SCALE),
        february_reissued,
    ]
    # Of the January crimes sent again in February, half are sent again in March (only the crime reaches their
    # victims); February's re-issued file withdraws the other half's rows, so their latest row goes back to
    # January, a month no file of the refresh holds
    resend_crimes(next(p for p in changes if p.name == "2024-03-metropolitan-recorded-outcomes.csv"),
                  january_victims, "2024-03", ("Robbery", "Robbery of Personal Property", "Y"), count=10)
    results = ingest_all(cfg, contracts, changes)
    assert not [r for r in results if r.status == "quarantined"], [r.message for r in results]
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        # what this refresh records, not what earlier builds left (kept while a published mart has not read them)
        (before,) = su.execute("select coalesce(max(position), 0) from private.changed_months").fetchone()
    built_run(cfg, incremental=True)

    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        tables = built_tables(su)
        how = {model: whole for model, whole in su.execute("select model, full_build from private.built_models")
               if model in tables}
        rebuilt = {model: sorted(str(m) for m in months) for model, months in su.execute(
            "select model, array_agg(distinct month) from private.changed_months"
            " where not all_months and (model like 'marts.%%' or model like 'disclosure.%%' or model like 'quality.%%')"
            " and position > %s"
            " group by model", (before,))}
        su.execute("drop schema if exists incremental_copy cascade; create schema incremental_copy")
        for t in tables:
            su.execute(f"create table incremental_copy.{t.split('.')[1]} as select * from {t}")
        access = {"incremental": access_state(su), "camden_reads": camden_reads(cfg, su)}
    built_run(cfg, incremental=False)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        access["full"] = access_state(su)
    return {"tables": tables, "full_build": how, "rebuilt_months": rebuilt, "access": access}


def test_a_refresh_rebuilds_only_changed_loads_and_months(refreshed):
    assert len(refreshed["tables"]) == 11 + len(MONTHLY) + len(DISCLOSURE) + len(QUALITY) + len(SNAPSHOTS), \
        refreshed["tables"]
    # a release candidate is built whole when the refresh changed its grid (macros/sdc_refresh.sql): at this
    # scale a category or unlisted ward comes and goes between months; the rest of the refresh is by load or month
    whole = [m for m, whole in refreshed["full_build"].items() if whole]
    assert not [m for m in whole if not m.startswith("disclosure.agg_")], refreshed["full_build"]


def test_a_refresh_rebuilds_only_the_months_that_changed(refreshed):
    """The new month in every mart; February too where a file of February arrived late (ISTV); every month the
    LFB's cumulative file holds, since which of its rows are current changed; for street crimes, the months of
    the crimes a new outcome was given to (a weakened refresh that ignores those leaves 50 rows stale, and
    the row-for-row comparison below fails); for the MPS victims, January, whose crimes February's file sent
    again and March's file sends again or February's re-issued file withdraws (a refresh that ignores the
    crimes' keys leaves January stale, and one that rebuilds only the months their rows were in loses the
    crimes whose latest row was withdrawn)."""
    rebuilt = refreshed["rebuilt_months"]
    for mart in ("fct_asb_incidents", "fct_ambulance_violence_dispatches", "fct_transport_crimes",
                 "fct_bus_safety_incidents", "fct_crime_outcomes"):
        assert rebuilt["marts." + mart] == ["2024-03-01"], (mart, rebuilt)
    # February, whose recorded crimes the MPS re-issued
    assert rebuilt["marts.fct_recorded_crimes"] == ["2024-02-01", "2024-03-01"], rebuilt
    assert rebuilt["marts.fct_ed_assault_attendances"] == ["2024-02-01", "2024-03-01"], rebuilt
    assert len(rebuilt["marts.fct_fire_incidents"]) > 3, rebuilt
    # the re-issued January, March, and February, whose crimes the March file gives their first outcomes
    assert {"2024-01-01", "2024-02-01", "2024-03-01"} <= set(rebuilt["marts.fct_street_crimes"]), rebuilt
    for mart in ("fct_crime_victims", "fct_crime_perpetrators", "fct_borough_violence_core"):
        assert "2024-03-01" in rebuilt["marts." + mart], (mart, rebuilt)
    # January's victims of the crimes February's and March's files send again take March's category
    assert "2024-01-01" in rebuilt["marts.fct_crime_victims"], rebuilt
    # release candidates whose grid held: the months of their facts, no more
    assert rebuilt["disclosure.agg_asb_incidents_monthly"] == ["2024-03-01"], rebuilt
    assert rebuilt["disclosure.agg_ambulance_violence_dispatches_monthly"] == ["2024-03-01"], rebuilt
    assert rebuilt["disclosure.las_dispatch_group_sizes"] == ["2024-03-01"], rebuilt
    assert rebuilt["disclosure.agg_recorded_crimes_monthly"] == ["2024-02-01", "2024-03-01"], rebuilt
    # the rows kept out of the marts: the months the refresh changed in their dataset's table
    assert rebuilt["quality.police_uk_street_crimes_exclusions"] == ["2024-01-01", "2024-03-01"], rebuilt
    assert rebuilt["quality.mps_asb_incidents_exclusions"] == ["2024-03-01"], rebuilt


def test_incremental_and_full_builds_agree_row_for_row(refreshed, superuser):
    differ, empty = {}, []
    for table in refreshed["tables"]:
        copy = "incremental_copy." + table.split(".")[1]
        if not superuser.execute(f"select exists (select from {table})").fetchone()[0]:
            empty.append(table)
        differ[table] = superuser.execute(f"select (select count(*) from (table {table} except all table {copy}) a)"
                                          f" + (select count(*) from (table {copy} except all table {table}) b)"
                                          ).fetchone()[0]
    # no ISTV attendance of this synthetic month is kept out of the mart (every site is a known one)
    empty = [t for t in empty if t != "quality.istv_assault_attendances_exclusions"]
    assert not empty, f"{empty} are empty: the comparison proves nothing"
    differing = {t: n for t, n in differ.items() if n}
    assert not differing, f"rows differ between the incremental and the full build: {differing}"


def test_agreements_hold_on_tables_refreshed_by_month(refreshed):
    """Row-level security, policies and grants are the same after a refresh as after a full build, on the marts
    and on their partitions (a refresh adds partitions for new boroughs and sites), and a Camden analyst reads
    Camden's rows of every refreshed mart and no other borough's."""
    access = refreshed["access"]
    assert access["incremental"] == access["full"]
    assert access["incremental"]["policies"] and access["incremental"]["column_grants"], \
        "no policies or grants: the comparison proves nothing"
    reads = access["camden_reads"]
    assert all(outside == 0 for _, outside, _ in reads.values()), reads
    assert reads["fct_street_crimes"][0] == reads["fct_street_crimes"][2] > 0, reads


def test_the_superseded_and_cumulative_rows_left(refreshed, superuser):
    """The re-issued month's withdrawn rows and the cumulative file's rows of the month a monthly extract now
    holds are gone (the comparison above would also pass if both builds kept them)."""
    stale = superuser.execute(
        "select count(*) from suppressed.police_uk_street_crimes where load_id in"
        " (select load_id from raw._loads where status = 'superseded')").fetchone()[0]
    assert stale == 0
    assert superuser.execute("select count(*) from raw._loads where status = 'superseded'").fetchone()[0] >= 1


def test_a_refresh_with_nothing_new_rebuilds_nothing(refreshed, cfg, superuser):
    """A second refresh with no new file rebuilds no load and no month, though some loads hold no row (every row
    of their file rejected, or none sent). Were those taken for loads still to build, every refresh would redo
    them, and with them a dataset's cumulative loads and every month those hold."""
    rowless = superuser.execute("select count(*) from raw._loads where status = 'loaded' and rows_loaded = 0"
                                ).fetchone()[0]
    assert rowless, "no active load without rows: the refresh below proves nothing"
    built_run(cfg, incremental=True)     # built whole (the fixture's last build had no fingerprint), recorded
    (before,) = superuser.execute("select coalesce(max(position), 0) from private.changed_months").fetchone()
    built_run(cfg, incremental=True)
    changed = superuser.execute("select model, count(*) from private.changed_months where position > %s"
                                " group by model order by model", (before,)).fetchall()
    assert changed == [], changed
    # every table has read everything recorded before, though its own sources recorded nothing since long before:
    # so what every table has read is pruned (a table held back at its sources' last change kept, at ten years,
    # 2.9 million changed keys that every table had read)
    (last,) = superuser.execute("select last_value from private.changed_months_position_seq").fetchone()
    behind = superuser.execute(
        "select model, through_position from private.built_models where through_position < %s and model = any(%s)"
        " order by model", (last, built_tables(superuser))).fetchall()
    assert behind == [], behind
    # what the next refresh would take for loads still to build (macros/refresh_changed_loads.sql)
    not_built = superuser.execute(
        "select loads.dataset, count(*) from raw._loads as loads inner join private.built_models as built"
        " on built.model = 'suppressed.' || loads.dataset where loads.status = 'loaded' and not exists ("
        "select from private.built_loads as held where held.model = built.model"
        " and held.load_id = loads.load_id and held.sha256 = loads.sha256) group by 1 order by 1").fetchall()
    assert not_built == [], not_built


def test_a_refresh_tests_the_rows_it_rebuilt_and_a_full_build_tests_all(refreshed, cfg, contracts, superuser,
                                                                        tmp_path):
    """A bad value in a load the refresh did not touch, or in a month of a table refreshed by month that it did
    not rebuild, is not read by the refresh's row tests (they were run when it was built), nor is a row lost from
    such a month by its row conservation test, nor a raw row lost from such a load by the ingest's; the same
    tests without the refresh's scope find each."""
    built_run(cfg, incremental=True)     # built whole (the fixture's last build had no fingerprint), recorded
    old_load = superuser.execute("select min(load_id) from suppressed.police_uk_street_crimes").fetchone()[0]
    corrupted = superuser.execute(
        "update suppressed.police_uk_street_crimes set agency = 'nobody' where street_crime_key ="
        " (select min(street_crime_key) from suppressed.police_uk_street_crimes where load_id = %s)", (old_load,))
    assert corrupted.rowcount == 1
    bad_asb = ("select asb_incident_key from marts.fct_asb_incidents where incident_month = '2024-01-01'"
               " and incident_pseudo_id = 'not a pseudonym'")
    superuser.execute("update marts.fct_asb_incidents set incident_pseudo_id = 'not a pseudonym' where"
                      " asb_incident_key = (select min(asb_incident_key) from marts.fct_asb_incidents"
                      " where incident_month = '2024-01-01')")
    assert len(superuser.execute(bad_asb).fetchall()) == 1
    # a January row lost from the mart: row conservation fails for January, a month the refresh does not rebuild
    assert superuser.execute("delete from marts.fct_asb_incidents where asb_incident_key = (select"
                             " max(asb_incident_key) from marts.fct_asb_incidents where incident_month = '2024-01-01')"
                             ).rowcount == 1
    # a raw row gone from that old load: the load no longer adds up (rows_loaded is one more than raw holds)
    superuser.execute("create temporary table lost_raw_row as select * from raw.police_uk_street_crimes"
                      " where _load_id = %s limit 1", (old_load,))
    assert superuser.execute("delete from raw.police_uk_street_crimes as r using lost_raw_row as lost where"
                             " r._load_id = lost._load_id and r._source_row_number = lost._source_row_number"
                             ).rowcount == 1
    ingest_all(cfg, contracts, synthesise("2024-04", "2024-04", tmp_path, only=["police_uk", "mps"], scale=SCALE))
    fingerprint = json.dumps({"warehouse_fingerprint": dbt.fingerprint(cfg)})
    scoped = dbt.run(["build", "--select", "+police_uk_street_crimes", "+police_uk_crime_outcomes",
                      "+fct_asb_incidents", "+mps_asb_incidents_exclusions", "source:ingest.rejects",
                      "--indirect-selection", "cautious",
                      "--vars", fingerprint], cfg)
    assert scoped.success and scoped.count("test", "pass") >= 20, scoped.failures
    assert scoped.count("model", "success") >= 3
    assert superuser.execute("select not full_build from private.built_models"
                             " where model = 'suppressed.police_uk_street_crimes'").fetchone()[0]
    assert len(superuser.execute(bad_asb).fetchall()) == 1, "January was rebuilt: the bad value proves nothing"
    assert [m for (m,) in superuser.execute(
        "select distinct month::text from private.changed_months where model = 'marts.fct_asb_incidents'"
        " and invocation_id = (select invocation_id from private.changed_months"
        " where model = 'marts.fct_asb_incidents' order by position desc limit 1)")] == ["2024-04-01"]
    new_loads = [n for (n,) in superuser.execute(
        "select load_id from raw._loads where dataset = 'police_uk_street_crimes' and period = '2024-04-01'")]
    run = cfg.home / "target" / "run"
    compiled = [next(sql for p in run.rglob("not_null_columns_stg_police_uk*.sql")
                     if '."stg_police_uk__street_crimes"' in (sql := p.read_text()))]
    compiled += [sql for p in run.rglob("active_raw_rows_are_staged_stg_*.sql")
                 if '"raw"."police_uk_street_crimes"' in (sql := p.read_text())]
    ingest_conservation = next(run.rglob("source_loads_account_for_every_row_police_uk_street_crimes*.sql")
                               ).read_text()
    compiled += [ingest_conservation]
    assert len(compiled) == 3
    for sql in compiled:
        assert f"load_id = any(array[{', '.join(map(str, sorted(new_loads)))}]::bigint[])" in sql, sql
    # the refresh's ingest conservation test, run again as it ran, finds a raw row lost from a load it built
    assert superuser.execute(ingest_conservation).fetchone()[0] == 0
    superuser.execute("insert into lost_raw_row select * from raw.police_uk_street_crimes where _load_id = %s"
                      " limit 1", (new_loads[0],))
    superuser.execute("delete from raw.police_uk_street_crimes as r using lost_raw_row as lost"
                      " where r._load_id = %s and r._source_row_number = lost._source_row_number"
                      " and lost._load_id = %s", (new_loads[0], new_loads[0]))
    assert superuser.execute(ingest_conservation).fetchone()[0] == 1
    conservation = next(run.rglob("rows_reach_the_mart_or_are_counted_fct_asb_incidents.sql")).read_text()
    asb_loads = [n for (n,) in superuser.execute(
        "select load_id from raw._loads where dataset = 'mps_asb_incidents' and period = '2024-04-01'")]
    assert f"load_id = any(array[{', '.join(map(str, sorted(asb_loads)))}]::bigint[])" in conservation, conservation
    assert "((incident_month)::date = any(array['2024-04-01']::date[]))" in conservation, conservation
    assert "(period_month = any(array['2024-04-01']::date[]))" in conservation, conservation
    month_test = next(run.rglob("matches_pattern_fct_asb_incide*.sql")).read_text()
    assert "(incident_month = any(array['2024-04-01']::date[]))" in month_test, month_test
    # what that test read: the rebuilt month, all of it
    read = month_test[month_test.index("(select * from"):month_test.index(") dbt_subquery") + 1]
    assert superuser.execute(f"select array_agg(distinct incident_month::text), count(*) from {read} as s"
                             ).fetchone() == (["2024-04-01"], superuser.execute(
        "select count(*) from marts.fct_asb_incidents where incident_month = '2024-04-01'").fetchone()[0])
    whole = dbt.run(["test", "--select", "police_uk_street_crimes", "fct_asb_incidents",
                     "source:police_uk.street_crimes"], cfg)
    for test in ("accepted_values_police_uk_str", "matches_pattern_fct_asb_incide",
                 "rows_reach_the_mart_or_are_counted_fct_asb_incidents",
                 "source_loads_account_for_every_row_police_uk_street_crimes"):
        assert [f for f in whole.failures if test in f], (test, whole.failures)
    superuser.execute("insert into raw.police_uk_street_crimes select * from lost_raw_row")
    built_run(cfg, incremental=False)


SENSITIVE_SCAN = "assert_no_sensitive_value_past_the_privacy_boundary"


def scan_findings(cfg, su) -> set[tuple[str, str]]:
    """(relation, column) of every leak the last compiled sensitive-value scan finds, run again as compiled."""
    compiled = next((cfg.home / "target" / "compiled").rglob(f"{SENSITIVE_SCAN}.sql")).read_text()
    return {(relation.split(".")[-1].strip('"'), column) for relation, column, _, _ in su.execute(compiled)}


def test_a_refresh_scans_the_loads_and_rows_it_rebuilt_for_leaks(refreshed, cfg, contracts, superuser, tmp_path):
    """A refresh's leak scan looks for the raw values of the loads it rebuilt, in the rows it rebuilt and in the
    relations it rebuilds whole: a new load's raw crime id that its row carries into the marts (the row's LSOA
    code, written over its crime id) is reported. A January row of a month it does not rebuild, planted with
    the same value, is not read (it was scanned when it was built). The scan without the refresh's scope
    reports both."""
    built_run(cfg, incremental=True)     # built whole (the last build had no fingerprint), recorded
    ingest_all(cfg, contracts, synthesise("2024-05", "2024-05", tmp_path, only=["police_uk"], scale=SCALE))
    may_loads = dict(superuser.execute("select agency, load_id from raw._loads where period = '2024-05-01'"
                                       " and dataset = 'police_uk_street_crimes'").fetchall())
    may = may_loads["metropolitan"]
    row, crime_id, lsoa = superuser.execute(
        "select _source_row_number, crime_id, lsoa_code from raw.police_uk_street_crimes where _load_id = %s"
        " and lsoa_code in (select lsoa_code from marts.fct_street_crimes) and crime_id <> ''"
        " order by _source_row_number limit 1", (may,)).fetchone()
    superuser.execute("update raw.police_uk_street_crimes set crime_id = lsoa_code"
                      " where _load_id = %s and _source_row_number = %s", (may, row))
    assert superuser.execute("update marts.fct_asb_incidents set incident_pseudo_id = %s where asb_incident_key ="
                             " (select min(asb_incident_key) from marts.fct_asb_incidents"
                             " where incident_month = '2024-01-01')", (lsoa,)).rowcount == 1
    for table in [*BY_KEY, SNAPSHOT]:
        superuser.execute(f"create temporary table {table.split('.')[1]}_before as table {table}")
    try:
        fingerprint = json.dumps({"warehouse_fingerprint": dbt.fingerprint(cfg)})
        scoped = dbt.run(["build", "--select", f"+{SENSITIVE_SCAN}", "--indirect-selection", "empty",
                          "--vars", fingerprint], cfg)
        assert [f for f in scoped.failures if SENSITIVE_SCAN in f], scoped.failures
        compiled = next((cfg.home / "target" / "compiled").rglob(f"{SENSITIVE_SCAN}.sql")).read_text()
        for table, (month, moved) in BY_KEY.items():
            assert_scan_reads_every_rebuilt_row(superuser, compiled, table, month, moved)
        assert_scan_reads_every_new_version(superuser, compiled)
        loads = ", ".join(map(str, sorted(may_loads.values())))
        assert f"raw_table._load_id = any(array[{loads}]::bigint[])" in compiled, compiled
        # views are read by the months their tables changed (nothing of the MPS's here), under their own names
        for view, month in (("int_mps_crime_victims_categorised", "incident_month"),
                            ("int_mps_recorded_crimes_categorised", "recorded_month")):
            assert f'"intermediate"."{view}" where ({month} = any(array[]::date[]))' in compiled, (view, compiled)
        refresh_found = scan_findings(cfg, superuser)
        assert ("fct_street_crimes", "lsoa_code") in refresh_found, refresh_found
        assert not [f for f in refresh_found if f[0] == "fct_asb_incidents"], refresh_found
        whole = dbt.run(["test", "--select", SENSITIVE_SCAN], cfg)
        assert not whole.success
        assert ("fct_asb_incidents", "incident_pseudo_id") in scan_findings(cfg, superuser)
    finally:
        superuser.execute("update raw.police_uk_street_crimes set crime_id = %s"
                          " where _load_id = %s and _source_row_number = %s", (crime_id, may, row))
        for table in [*BY_KEY, SNAPSHOT]:
            superuser.execute(f"drop table if exists {table.split('.')[1]}_before")
        built_run(cfg, incremental=False)


# Tables refreshed by key (config rows_by_key), with their month column and whether a new month of outcomes moves
# rows of other months (a crime of an earlier month given its latest outcome) or brings every rebuilt row to the
# new month (a crime's latest outcome is the new one).
BY_KEY = {"marts.fct_street_crimes": ("crime_month", True),
          "intermediate.int_crime_outcomes_latest": ("outcome_month", False)}


def assert_scan_reads_every_rebuilt_row(su, compiled: str, table: str, month: str, moved: bool) -> None:
    """The leak scan reads a table refreshed by key through the query of the rows the refresh rebuilt
    (macros/refresh_rows.sql, rebuilt_rows_query): every row that differs from the table before the refresh is
    among them, and they are fewer than the rows of the months the rebuilt rows lie in (which the scan read
    before). Each table's query is run again as compiled (private.rebuilt_rows keeps this invocation's keys)."""
    start = compiled.index(f"from (select * from {relation_name(table)} where ")
    query = compiled[start + len("from ("):compiled.index(") as scanned_relation", start)]
    before = table.split(".")[1] + "_before"
    changed, missed, read, months_rows = su.execute(
        f"select (select count(*) from (table {table} except all table {before}) as changed),"
        f" (select count(*) from (table {table} except all table {before} except all ({query})) as missed),"
        f" (select count(*) from ({query}) as read),"
        f" (select count(*) from {table} where {month} in (select {month} from"
        f" (table {table} except all table {before}) as changed))").fetchone()
    assert changed, f"the refresh changed no row of {table}: the comparison proves nothing"
    assert missed == 0, f"the leak scan does not read {missed} of the {changed} rows the refresh rebuilt in {table}"
    assert read <= months_rows, (table, read, months_rows)
    if moved:
        assert read < months_rows, (table, read, months_rows)
        (outside,) = su.execute(f"select count(*) from (table {table} except all table {before}) as changed"
                                f" where {month} <> '2024-05-01'").fetchone()
        assert outside, f"no rebuilt row of {table} lies outside the new month: the test proves nothing"


SNAPSHOT = "snapshots.snp_crime_outcomes"


def assert_scan_reads_every_new_version(su, compiled: str) -> None:
    """The leak scan reads the outcome history's versions the refresh captured (the versions it closed changed
    only their end), not a sample of every version since the platform began."""
    start = compiled.index(f"from (select * from {relation_name(SNAPSHOT)} where ")
    query = compiled[start + len("from ("):compiled.index(") as scanned_relation", start)]
    captured = f"select * from {SNAPSHOT} where dbt_scd_id not in (select dbt_scd_id from snp_crime_outcomes_before)"
    new, missed, read, held = su.execute(
        f"select (select count(*) from ({captured}) as captured),"
        f" (select count(*) from ({captured}) as captured"
        f" where dbt_scd_id not in (select dbt_scd_id from ({query}) as r)),"
        f" (select count(*) from ({query}) as read), (select count(*) from {SNAPSHOT})").fetchone()
    assert new, "the refresh captured no version: the comparison proves nothing"
    assert missed == 0, f"the leak scan does not read {missed} of the {new} versions the refresh captured"
    assert read == new < held, (read, new, held)


def relation_name(table: str) -> str:
    schema, name = table.split(".")
    return f'"safestats"."{schema}"."{name}"'


GUARDED = {
    # a raw source: its rows change without a recorded month
    "month_table_reading_raw": ("select * from {{ source('police_uk', 'street_crimes') }}",
                                "reads source.safestats.police_uk.street_crimes directly"),
    # a table rebuilt whole from a load-by-load table: the months it changed are not recorded
    "month_table_reading_a_whole_table": ("select * from {{ ref('street_crimes_rebuilt_whole') }}",
                                          "reads police_uk_street_crimes through a table rebuilt whole"),
}
# the table rebuilt whole that the second reads
REBUILT_WHOLE = ("street_crimes_rebuilt_whole",
                 "{{ config(materialized='table') }}\nselect * from {{ ref('police_uk_street_crimes') }}\n")


def test_a_refresh_leaves_its_bookkeeping_the_size_of_what_is_live(cfg, superuser, monkeypatch):
    """Pruned bookkeeping (here, 200,000 changed keys every table has read) leaves a file that autovacuum frees but
    never shrinks, and that every later refresh would read whole, many times over. A refresh's build that succeeds
    rewrites the bookkeeping to its live rows; one that fails leaves it alone. The build itself is dbt's stand-in
    here: what is under test is what the refresh does after it."""
    from safestats import refresh

    def pages() -> int:
        return superuser.execute("select pg_relation_size('private.changed_keys') / 8192").fetchone()[0]

    before = pages()
    superuser.execute("insert into private.changed_keys (model, key) select 'pruned.model', md5(n::text)"
                      " from generate_series(1, 200000) as n")
    superuser.execute("insert into private.changed_keys (model, key) values ('kept.model', 'recorded last')")
    live = superuser.execute("select count(*) from private.changed_keys where model <> 'pruned.model'").fetchone()[0]
    superuser.execute("delete from private.changed_keys where model = 'pruned.model'")
    # What autovacuum does to bookkeeping whose live rows lie between its pruned ones: the space freed, the file
    # kept. (Here the kept row may land in free space early in the file, not after the pruned keys: without
    # `truncate false` the vacuum would cut the file back.)
    superuser.execute("vacuum (truncate false) private.changed_keys")
    bloated = pages()
    # 200,000 keys take about 2,300 pages, some of them free space the file already had
    assert bloated >= before + 1000, (before, bloated)

    # what the refresh compacts: the bookkeeping the bootstrap lets the build maintain, and nothing else
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo()) as conn:
        assert [t for (t,) in conn.execute(refresh.BOOKKEEPING_TABLES)] == [
            "private.changed_keys", "private.changed_months", "private.rebuilt_rows"]

    monkeypatch.setattr(dbt, "build", lambda *args, **kwargs: dbt.DbtOutcome(success=False))
    refresh.build(cfg=cfg)
    assert pages() == bloated
    monkeypatch.setattr(dbt, "build", lambda *args, **kwargs: dbt.DbtOutcome(success=True))
    refresh.build(cfg=cfg)
    assert pages() <= before + 1, (before, pages())       # no bigger than the live rows were, and the kept one
    assert superuser.execute("select count(*) from private.changed_keys").fetchone()[0] == live
    superuser.execute("delete from private.changed_keys where model = 'kept.model'")


def test_a_month_table_that_reads_rows_without_a_recorded_month_does_not_build(cfg, bootstrap, tmp_path):
    """The guard of macros/refresh_by_month.sql (month_sources): a copy of the project with a model refreshed by
    month over a raw source, and one over a table rebuilt whole, each refused by name before any SQL runs."""
    from dbt.cli.main import dbtRunner

    project = tmp_path / "project"
    for path in (*dbt.FINGERPRINTED, "profiles.yml", "data-tests"):
        source = cfg.project_dir / path
        if source.is_dir():
            shutil.copytree(source, project / path)
        else:
            project.mkdir(exist_ok=True)
            shutil.copy(source, project / path)
    for name, (select, _) in GUARDED.items():
        (project / "models" / "intermediate" / f"{name}.sql").write_text(
            "{{ config(materialized='partitioned_table', month_column='crime_month') }}\n" + select + "\n")
    (project / "models" / "intermediate" / f"{REBUILT_WHOLE[0]}.sql").write_text(REBUILT_WHOLE[1])
    os.environ.update(dbt.dbt_environment(cfg))
    result = dbtRunner().invoke([
        "run", "--select", *GUARDED, "--project-dir", str(project), "--profiles-dir", str(project),
        "--target-path", str(tmp_path / "target"), "--log-path", str(tmp_path / "logs")])
    messages = {r.node.name: r.message for r in result.result.results}
    for name, (_, refusal) in GUARDED.items():
        assert refusal in (messages[name] or ""), messages
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        assert su.execute("select to_regclass(%s), to_regclass(%s)",
                          [f"intermediate.{name}" for name in GUARDED]).fetchone() == (None, None)


@pytest.mark.parametrize("partitioned", [True, False])
def test_keyed_rows_are_deleted_where_their_rebuilt_rows_lie(superuser, partitioned):
    """private.delete_keyed_rows (config keyed_rows_in_place): the rows of each rebuilt key in the partitions its
    rebuilt rows lie in, a NULL partition value included, and in no other partition; no row of a key whose rebuilt
    rows the filter leaves out (those of the months rebuilt whole). Unpartitioned, every row of the keys."""
    layout = "partition by list (borough)" if partitioned else ""
    superuser.execute(f"drop table if exists public.keyed_facts; create table public.keyed_facts"
                      f" (borough text, crime text, month date, outcome text) {layout}")
    if partitioned:
        for name, bound in (("a", "for values in ('A')"), ("b", "for values in ('B')"),
                            ("none", "for values in (null)"), ("other", "default")):
            superuser.execute(f"create table public.keyed_facts_{name} partition of public.keyed_facts {bound}")
    superuser.execute("""insert into public.keyed_facts values
        ('A', 'k1', '2024-01-01', 'old'), ('A', 'k2', '2024-01-01', 'old'), ('B', 'k1', '2024-02-01', 'old'),
        ('B', 'k3', '2024-02-01', 'old'), (null, 'k4', '2024-01-01', 'old'), ('B', 'k4', '2024-01-01', 'old'),
        ('A', 'k5', '2024-03-01', 'old')""")
    superuser.execute("""drop table if exists public.keyed_rows; create table public.keyed_rows as
        select * from (values ('A', 'k1', date '2024-01-01', 'new'), ('B', 'k1', date '2024-02-01', 'new'),
                              (null, 'k4', date '2024-01-01', 'new'), ('A', 'k5', date '2024-03-01', 'new'))
        as r (borough, crime, month, outcome)""")
    try:
        deleted = superuser.execute(
            "select private.delete_keyed_rows('public.keyed_facts', 'public.keyed_rows', %s, 'crime',"
            " 'not coalesce(month = any(array[''2024-03-01'']::date[]), false)')",
            ("borough" if partitioned else None,)).fetchone()[0]
        left = superuser.execute("select borough, crime from public.keyed_facts order by 2, 1").fetchall()
    finally:
        superuser.execute("drop table public.keyed_facts, public.keyed_rows")
    if partitioned:
        assert (deleted, left) == (3, [("A", "k2"), ("B", "k3"), ("B", "k4"), ("A", "k5")])
    else:
        assert (deleted, left) == (4, [("A", "k2"), ("B", "k3"), ("A", "k5")])
