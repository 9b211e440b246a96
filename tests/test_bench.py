"""`make bench` as a smoke run: a small file, both comparisons printed, no timing asserted."""
from __future__ import annotations

import io

from rich.console import Console

from safestats import bench


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
