"""Making the outputs as the refresh does (safestats.outputs.build): everything the warehouse calls for, listed in
the manifest with its receivers; a rerun makes nothing; a set whose counts break the rule is not made, its last
files stay listed and the other sets are still made. Against the outputs world (2024 Q4 and 2025 Q4 released)."""
from __future__ import annotations

import shutil
from collections import Counter
from datetime import date

import psycopg
import pytest
from outputs_world import ensure_outputs_world

from safestats import warehouse
from safestats.outputs import area, audience, build
from safestats.outputs.measures import BY_KEY, CORE_RELATION
from safestats.policies import compiler, service

SUBJECTS = ["london", "E09000007"]      # two trend reports are enough here: tests/test_outputs_trend.py has more


@pytest.fixture(scope="module")
def world(cfg, bootstrap, contracts, tmp_path_factory):
    ensure_outputs_world(cfg, bootstrap, contracts, tmp_path_factory.mktemp("outputs-landing"))
    shutil.rmtree(area.root(cfg), ignore_errors=True)
    return cfg


@pytest.fixture(scope="module")
def first(world):
    return build.build(world, boroughs=SUBJECTS)


def test_a_build_makes_every_output_the_warehouse_calls_for(world, first):
    assert first.ok, first.failures
    kinds = Counter(o.kind for o in first.written)
    trend = {(o.period, o.subject) for o in first.written if o.kind == "trend_report"}
    assert trend == {("2025Q4", s) for s in SUBJECTS}          # the latest complete quarter
    with psycopg.connect(warehouse.dbt_endpoint(world).conninfo()) as conn:
        months = [r[0] for r in conn.execute("select distinct to_char(incident_month, 'YYYY-MM') from"
                                             " release.agg_borough_violence_core_monthly order by 1")]
        loads = conn.execute("select count(*) from raw._loads where status in ('loaded', 'superseded')"
                             " and agency is not null").fetchone()[0]
    assert {o.period for o in first.written if o.kind == "core_dataset"} == set(months)
    assert {o.period for o in first.written if o.kind.startswith("hospital_")} == {"2025-12"}
    assert kinds["hospital_league_table"] == 2 and kinds["hospital_submission_gaps"] == 2
    assert kinds["supplier_rejects"] == loads
    listed = {o.path: o for o in area.read_manifest(area.root(world))}
    assert {o.path for o in first.written} <= set(listed)
    assert all((area.root(world) / p).is_file() for p in listed)
    assert listed[f"hospital_reports/2025-12/{'RKEQ4'}.pdf"].receivers == ["site:RKEQ4", "istv_programme"]


def test_a_rerun_makes_nothing(world, first):
    again = build.build(world, boroughs=SUBJECTS)
    assert again.ok and again.written == []
    assert len(again.unchanged) >= 4


def test_a_set_that_breaks_the_rule_is_not_made_and_the_others_are(world, first):
    """A released cell of 3 (which the release would never publish) planted in the release: the trend reports
    that would print it are refused, last quarter's files stay listed, the hospital reports are still made."""
    before = {o.path: o.sha256 for o in area.read_manifest(area.root(world))}
    with psycopg.connect(warehouse.dbt_endpoint(world).conninfo(), autocommit=True) as conn:
        key = ("select incident_month, recorded_crime_count from release.agg_recorded_crimes_monthly"
               " where geography_level = 'london' and category_code = 'robbery' and incident_month = '2025-12-01'")
        month, original = conn.execute(key).fetchone()
        conn.execute("update release.agg_recorded_crimes_monthly set recorded_crime_count = 3"
                     " where geography_level = 'london' and category_code = 'robbery' and incident_month = %s",
                     (month,))
        try:
            made = build.build(world, kinds=("trend", "hospital"), boroughs=SUBJECTS, force=True)
        finally:
            conn.execute("update release.agg_recorded_crimes_monthly set recorded_crime_count = %s"
                         " where geography_level = 'london' and category_code = 'robbery' and incident_month = %s",
                         (original, month))
    assert not made.ok and any("RuleBroken" in f and "trend_reports/2025Q4" in f for f in made.failures)
    assert not [o for o in made.written if o.kind == "trend_report"]
    assert [o for o in made.written if o.kind == "hospital_report"]
    after = {o.path: o.sha256 for o in area.read_manifest(area.root(world))}
    trend = [p for p in before if p.startswith("trend_reports/")]
    assert trend and all(after[p] == before[p] for p in trend)


def _covers(grant, relation: str, columns, rows) -> bool:
    """Whether a grant reads these columns of every row listed (rows None: all of London)."""
    if grant is None or grant.relation != relation or not set(columns) <= set(grant.columns):
        return False
    return grant.row_codes is None or (rows is not None and set(rows) <= set(grant.row_codes))


def test_every_edition_goes_only_to_organisations_whose_grants_cover_all_of_it():
    """The same grants PostgreSQL enforces decide: an organisation receives a trend or core edition only when it
    reads every relation, column and row the edition prints; one that does not, never."""
    loaded, today = service.load(), date.today()
    grants = compiler.compile_grants(loaded.agreements, loaded.catalogue, today)
    organisations = loaded.agreements.organisations.values()
    trends, cores = audience.variants(organisations, today, grants)
    assert len(trends) >= 2 and len(cores) >= 2      # the demo agreements differ, so do their editions
    for org in organisations:
        mine, got = audience.granted(org, grants), set(audience.audiences(org, today, grants))
        for edition, keys in trends.items():
            covered = all(_covers(mine.get(BY_KEY[k].relation), BY_KEY[k].relation, [BY_KEY[k].column], None)
                          for k in keys)
            assert covered or edition not in got, (org.slug, keys)
        for edition, (columns, boroughs) in cores.items():
            covered = _covers(mine.get(CORE_RELATION), CORE_RELATION, columns, boroughs)
            assert covered or edition not in got, (org.slug, columns, boroughs)
    whittington = loaded.agreements.organisations["whittington-health"]
    assert not [a for a in audience.audiences(whittington, today, grants) if a.startswith(("trend:", "core:"))]
