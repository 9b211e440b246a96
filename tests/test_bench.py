"""`make bench` as a smoke run: a small file, both comparisons printed, no timing asserted."""
from __future__ import annotations

import io

from rich.console import Console

from safestats import bench, bench_history


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
