"""Analysts of four organisations at work in Superset while a refresh rebuilds the warehouse (the short version of
the load bench): every answer whole month by month, only their own area's rows, every query and export audited,
and no errors. The refresh is a full rebuild of the session's own data (the same rows at the end), then the
release step."""
from __future__ import annotations

import dataclasses
import sys
import threading

import pytest
from marts_data import ensure_lsoa_points, rebuild_marts
from rich.console import Console
from superset_helpers import one_time_code

from safestats import bench_load, dbt
from safestats.sdc.service import PUBLISHED_MARTS

SESSIONS = 8
LONGEST_S = 240        # the load stops when the refresh ends; a refresh still running by then fails the test


def _release_tables(superuser) -> set[str]:
    return {r[0] for r in superuser.execute(
        "select tablename from pg_tables where schemaname = 'release'").fetchall()}


def _restore_release(cfg, superuser, existed: set[str]) -> None:
    """The release as it was: the tables the test's release step created dropped, the agg_ marts rebuilt."""
    created = _release_tables(superuser) - existed
    for name in sorted(created):
        superuser.execute(f'drop table release."{name}"')
    if created:
        outcome = dbt.run(["build", "--select", PUBLISHED_MARTS], cfg)
        assert outcome.success, outcome.failures


@pytest.fixture(scope="module")
def police(cfg, bootstrap, contracts, superset, tmp_path_factory):
    """The marts built from what raw holds now: earlier modules load other data into raw without rebuilding the
    marts, and a full rebuild would otherwise change the answers for that reason, not the refresh's."""
    from safestats.policies import service
    from safestats.synth import synthesise_police_uk

    landing = tmp_path_factory.mktemp("load-landing")
    rebuild_marts(cfg, bootstrap, contracts, landing,
                  lambda out: synthesise_police_uk("2024-01", "2024-02", out, scale=0.02))
    ensure_lsoa_points(cfg, bootstrap, contracts, landing / "ons")
    service.apply(cfg)


def test_analysts_see_whole_months_of_their_own_area_while_a_refresh_runs(cfg, base, passwords, superuser, undo,
                                                                           police):
    from safestats import refresh
    from safestats.sdc import service as sdc

    undo(_restore_release, cfg, superuser, _release_tables(superuser))

    def rebuild() -> None:
        built = refresh.build(full=True, cfg=cfg)
        assert built.success, built.failures
        released = sdc.publish(cfg)
        assert released.ok, released.rebuild.failures if released.rebuild else released

    figures = bench_load.run(base, cfg, {u: passwords[u] for u in bench_load.LOAD_USERS}, sessions=SESSIONS,
                             seconds=LONGEST_S, during=rebuild, stop_with_during=True,
                             code=lambda username: one_time_code(username, cfg))
    bench_load.report(Console(file=sys.stdout, width=160), figures)

    assert figures.refresh_error is None, figures.refresh_error
    assert figures.refresh_seconds < LONGEST_S, "the load ended before the refresh did"
    assert set(figures.users.values()) == {"camden", "hackney", "metropolitan-police", "violence-reduction-unit"}
    # every kind of request, by every analyst, all through the refresh
    assert all(figures.made(kind) >= SESSIONS for kind in bench_load.KINDS), figures.ok
    assert {u for u, _ in figures.ok} == set(bench_load.LOAD_USERS)
    assert not figures.errors, figures.errors
    assert figures.differing_answers == 0, figures.differing
    assert figures.rows_outside == 0, figures.outside_rows
    assert not figures.unaudited, figures.unaudited
    # The record-level marts are rebuilt to the same rows, so there "whole months" means "as before". Only the
    # released aggregates may end otherwise: the session's marts were first built before its ward geography
    # was loaded, so the first full rebuild adds ward cells to the release candidates.
    assert not [c for c in figures.changed if "released" not in c], figures.changed
    # the one query an agreement refuses: SQL Lab over record-level rows for the aggregate-only VRU
    assert [u.split(": ")[:2] for u in figures.unchecked] == [
        ["vru_analyst", "street crimes by month and borough (SQL Lab)"]]


def test_the_check_sees_another_organisations_answers(cfg, base, passwords, police):
    """Hackney's analyst at work, judged by what Camden's got and Camden's area: every record-level answer
    differs and every row is outside the area; the London-wide released cells are the same for both."""
    code = lambda username: one_time_code(username, cfg)   # noqa: E731
    camden = bench_load.open_analyst(cfg, base, "camden_analyst", passwords["camden_analyst"], code)
    hackney = bench_load.open_analyst(cfg, base, "hackney_analyst", passwords["hackney_analyst"], code)
    figures = bench_load.LoadFigures()
    expected = bench_load.baseline(camden, base, figures)
    stop = threading.Event()
    threading.Timer(4, stop.set).start()
    bench_load.work(dataclasses.replace(hackney, area=camden.area), base, expected, figures, stop, 0)
    bench_load.judge(figures, {"hackney_analyst": expected}, {"hackney_analyst": expected})

    record_level = [q.name for q in expected if q.relation == bench_load.RECORDS]
    assert len(record_level) == 3
    differing = {key.split(": ")[1] for key in figures.differing}
    assert differing == set(record_level), figures.differing
    assert figures.rows_outside > 0 and all("released" not in k for k in figures.outside_rows), figures.outside_rows
    assert not figures.errors, figures.errors


def _answer(*rows) -> bench_load.Answer:
    return bench_load.Answer(("month", "borough_code", "n"), tuple(rows))


def test_a_half_built_or_missing_month_is_neither_before_nor_after():
    before = _answer(("2024-01", "E09000007", "85"), ("2024-02", "E09000007", "70"), ("2024-02", "E09000012", "4"))
    after = _answer(("2024-01", "E09000007", "85"), ("2024-02", "E09000007", "71"), ("2024-02", "E09000012", "5"))
    torn = bench_load.torn_months
    assert torn(before, before, after) == [] and torn(before, after, after) == []
    assert torn(before, _answer(*reversed(before.rows)), before) == []                   # any order
    assert torn(before, _answer(before.rows[0], *after.rows[1:]), after) == []    # months of both, each whole
    assert torn(before, _answer(*before.rows[:2], after.rows[2]), after) == ["2024-02"]  # half refreshed
    assert torn(before, _answer(*before.rows[:2]), after) == ["2024-02"]                  # a row short
    assert torn(before, _answer(*before.rows[1:]), after) == ["2024-01"]                  # a month missing
    assert torn(before, _answer(*before.rows, before.rows[0]), before) == ["2024-01"]     # a month doubled
    assert bench_load.differing_months(before, after) == ["2024-02"]
    assert before.outside("borough_code", frozenset({"E09000007"})) == 1
    assert before.outside("borough_code", None) == 0
    csv = bench_load.Answer(("Month", "Borough code", "Records"), before.rows)
    assert csv.outside("borough_code", frozenset({"E09000007"})) == 1


@pytest.mark.parametrize("base", ["http://10.0.0.5:8088", "https://superset.example.org"])
def test_the_load_runs_against_this_machine_only(base):
    with pytest.raises(ValueError, match="only runs against this machine"):
        bench_load.run(base, None, {"camden_analyst": "x"})
