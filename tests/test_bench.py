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
