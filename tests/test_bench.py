"""`make bench` as a smoke run: a small file, both comparisons printed, no timing asserted."""
from __future__ import annotations

import io

from rich.console import Console

from safestats import bench, bench_history, bench_superset


def test_the_ingest_bench_runs_on_a_small_file(cfg):
    out = io.StringIO()
    assert bench.run(rows=3000, repeats=1, console=Console(file=out, width=200)) == 0
    text = out.getvalue()
    assert "psql \\copy into a plain text table" in text and "1% bad rows" in text
    assert "ratio (ingest speed / psql \\copy speed), clean file:" in text


def test_the_ratio_is_taken_run_by_run_so_a_machine_slowing_down_does_not_move_it():
    # the machine halves its speed half way: every run's ingest takes 10% longer than its psql
    psql = [2.0, 2.0, 2.0, 4.0, 4.0]
    ingest = [p * 1.1 for p in psql]
    assert round(bench.paired_ratio(psql, ingest), 3) == round(1 / 1.1, 3)


def test_the_history_bench_refreshes_a_new_month_after_the_history_and_reissues_its_middle():
    assert bench_history.history_months(10, "2026-01") == ("2016-01", "2025-12", "2020-12")
    assert bench_history.history_months(1, "2026-01") == ("2025-01", "2025-12", "2025-06")


def test_a_reissued_file_keeps_its_header_and_withdraws_one_row_in_forty(tmp_path):
    source = tmp_path / "2020-12-metropolitan-recorded-outcomes.csv"
    source.write_text("\ufeffCrime ID,Month recorded\n" + "".join(f"c{i},2020-12\n" for i in range(1, 81)),
                      encoding="utf-8")
    out = bench_history.reissue(source, tmp_path / "reissue" / source.name)
    lines = out.read_text(encoding="utf-8").splitlines()
    assert lines[0] == "Crime ID,Month recorded"
    assert len(lines) == 1 + 78 and "c40,2020-12" not in lines and "c80,2020-12" not in lines


def test_the_history_table_shows_each_phase_side_by_side_with_the_ratio_and_the_targets():
    timing = bench_history.RefreshTiming
    results = {
        1: {"first build": timing(10, 100, 20), "new month": timing(2, 30, 8), "superseded month": timing(1, 10, 4)},
        10: {"first build": timing(90, 2000, 60), "new month": timing(3, 70, 10), "superseded month": timing(2, 50, 9)},
    }
    out = io.StringIO()
    Console(file=out, width=200).print(bench_history.history_table(results))
    text = out.getvalue()
    assert "10 y / 1 y" in text and "2,150.0" in text and "2.08" in text    # new month: 83 s against 40 s
    assert bench_history.verdicts(results) == [
        "new month at 10 y: 83.0 s (meets the 90 s target)",
        "superseded month at 10 y: 61.0 s (misses the 60 s target)",
        "new month, 10 y / 1 y: 2.08 (misses the 1.2 target)",
    ]


def test_the_superset_table_puts_each_kind_of_user_side_by_side_with_the_rls_ratio_and_the_targets():
    figures = bench_superset.UserFigures
    results = {
        "the Met": figures(dashboards_cold={"Overview": 2.5}, cold_range={"Overview": (2.25, 3.5)},
                           dashboards_warm={"Overview": 1.0},
                           uncached=[0.1] * 19 + [0.5], cached=[0.01] * 20, with_rls=[0.3, 0.3], as_owner=[0.2, 0.3]),
        "aggregate-only": figures(dashboards_cold={"Violence": 4.0}, dashboards_warm={"Violence": 1.5},
                                  uncached=[0.05] * 4, cached=[0.01] * 4,
                                  refused={"403 permission denied": 6}, with_rls=[0.1], as_owner=[0.1]),
    }
    out = io.StringIO()
    Console(file=out, width=250).print(bench_superset.figures_table(results, "at 10 y"))
    text = out.getvalue()
    assert "20 (0)" in text and "4 (6)" in text          # requests answered (refused)
    assert "1.20" in text                                # 0.6 s with RLS against 0.5 s as the owner
    assert "(not listed)" in text                        # a dashboard one user cannot open
    assert "2.50 (2.25-3.50) / 1.00" in text             # the median cold render, the range, the warm one
    assert bench_superset.verdicts(results) == [
        "the Met: chart data p95 uncached 0.120 s (meets the 0.3 s target)",
        "the Met: RLS overhead 1.20 (meets the 1.2 target)",
        "the Met: slowest cold dashboard 'Overview' 2.50 s, median of 3 (meets the 3.0 s target)",
        "aggregate-only: 6 chart-data request(s) refused: 403 permission denied",
        "aggregate-only: chart data p95 uncached 0.050 s (meets the 0.3 s target)",
        "aggregate-only: RLS overhead 1.00 (meets the 1.2 target)",
        "aggregate-only: slowest cold dashboard 'Violence' 4.00 s, median of 3 (misses the 3.0 s target)",
    ]


def test_the_superset_bench_renders_and_replays_every_dashboard_chart(cfg, superset):
    """Against the session's Superset, as the Met: each dashboard drawn in the browser, the chart-data requests
    it made replayed through the API, and their SQL run as the user and as the owner."""
    out = io.StringIO()
    results = bench_superset.report(cfg, Console(file=out, width=250), "session", repeats=1,
                                    users={"the Met": "met_analyst"})
    f = results["the Met"]
    assert f.dashboards_cold and f.dashboards_cold.keys() == f.dashboards_warm.keys() == f.cold_range.keys(), \
        out.getvalue()
    assert f.uncached and f.cached, out.getvalue()
    assert f.with_rls and len(f.with_rls) == len(f.as_owner), out.getvalue()
    assert "RLS overhead" in out.getvalue()
