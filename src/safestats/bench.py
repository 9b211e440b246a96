"""`make bench`: the ingest's speed, validation included, side by side with psql \\copy of the same file,
for a clean file and for the same file with 1% of its rows bad (each rejected with its reason)."""
from __future__ import annotations

import dataclasses
import statistics
import subprocess
import time
from pathlib import Path

import psycopg
from rich.console import Console
from rich.table import Table

from safestats import database, warehouse
from safestats.config import settings
from safestats.contracts import load_contracts
from safestats.ingest import ingest_file

BENCH_MONTH = "2025-06"
MET_ROWS_AT_SCALE_1 = 85_000
TARGET_RATIO = 0.9
BAD_EVERY = 100                   # the damaged file: every 100th row's longitude is out of range


def bench_file(rows: int, folder: Path) -> Path:
    """One synthetic Met street file of about `rows` rows (the synthesiser's own realistic content)."""
    from safestats.synth import synthesise_police_uk

    path = folder / BENCH_MONTH / f"{BENCH_MONTH}-metropolitan-street.csv"
    marker = folder / f".rows-{rows}"
    if not (path.exists() and marker.exists()):
        for old in folder.glob(".rows-*"):
            old.unlink()
        synthesise_police_uk(BENCH_MONTH, BENCH_MONTH, folder, scale=rows / MET_ROWS_AT_SCALE_1)
        marker.touch()
    return path


def damaged_copy(path: Path) -> Path:
    """The same file with every BAD_EVERY-th row's longitude made impossible (1% of rows rejected)."""
    out = path.parent.parent / "damaged" / path.name
    if out.exists() and out.stat().st_mtime >= path.stat().st_mtime:
        return out
    out.parent.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as src, out.open("wb") as dest:
        dest.write(src.readline())
        for n, line in enumerate(src, start=1):
            if n % BAD_EVERY == 0:
                fields = line.split(b",")
                fields[4] = b"181.5"
                line = b",".join(fields)
            dest.write(line)
    return out


def _psql_copy(bootstrap: database.Endpoint, path: Path, columns: list[str]) -> float:
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        conn.execute("drop table if exists public.bench_plain_copy")
        conn.execute("create table public.bench_plain_copy ({})".format(", ".join(f"{c} text" for c in columns)))
        conn.execute("checkpoint")
    start = time.perf_counter()
    subprocess.run([str(database.psql_path()), bootstrap.url(), "-X", "-q", "-v", "ON_ERROR_STOP=1", "-c",
                    f"\\copy public.bench_plain_copy from '{path}' with (format csv, header true)"], check=True)
    return time.perf_counter() - start


def _ingest(bootstrap: database.Endpoint, cfg, path: Path, contracts) -> tuple[float, int]:
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as conn:
        conn.execute("truncate raw.police_uk_street_crimes, raw._rejects, raw._loads")
        conn.execute("checkpoint")
    with psycopg.connect(warehouse.loader_endpoint(cfg, bootstrap).conninfo(), autocommit=True) as conn:
        start = time.perf_counter()
        result = ingest_file(conn, path, contracts)
        elapsed = time.perf_counter() - start
    if result.status != "loaded":
        raise RuntimeError(f"bench file was not loaded: {result.message}")
    damaged = path.parent.name == "damaged"
    if result.rows_rejected != (result.rows_read // BAD_EVERY if damaged else 0):
        raise RuntimeError(f"{path}: {result.rows_rejected:,} of {result.rows_read:,} rows rejected, not the "
                           f"{'1%' if damaged else 'none'} expected")
    return elapsed, result.rows_read


def paired_ratio(psql_times: list[float], ingest_times: list[float]) -> float:
    """The median of psql's time over the ingest's in each run: the two run back to back, so each ratio is
    taken on the machine as it was then (on a shared machine its speed drifts more than the ratio does)."""
    return statistics.median(p / i for p, i in zip(psql_times, ingest_times))


def _compare(bootstrap, cfg, path: Path, contracts, columns: list[str], repeats: int, console: Console):
    """Median seconds of psql \\copy and of the ingest over `repeats` alternating runs, and rows read."""
    psql_times, ingest_times, read = [], [], 0
    for i in range(repeats):
        with console.status(f"{path.name}: run {i + 1}/{repeats}"):
            # alternate the order so neither side always runs on a warmer cache
            if i % 2 == 0:
                psql_times.append(_psql_copy(bootstrap, path, columns))
            t, read = _ingest(bootstrap, cfg, path, contracts)
            ingest_times.append(t)
            if i % 2 == 1:
                psql_times.append(_psql_copy(bootstrap, path, columns))
    return psql_times, ingest_times, read


def run(rows: int, repeats: int, console: Console) -> int:
    base = settings()
    # Always its own embedded server, so the warehouse's data is never touched.
    cfg = dataclasses.replace(base, home=base.home / "bench", database_url=None)
    bootstrap = warehouse.setup(cfg)
    contracts = load_contracts(cfg.project_dir / "models")
    street = next(c for c in contracts if c.dataset == "police_uk_street_crimes")
    with console.status(f"writing a {rows:,}-row police.uk street file"):
        path = bench_file(rows, cfg.home / "files")
    damaged = damaged_copy(path)
    columns = [c.name for c in street.columns]
    clean = _compare(bootstrap, cfg, path, contracts, columns, repeats, console)
    bad = _compare(bootstrap, cfg, damaged, contracts, columns, repeats, console)
    size_mb = path.stat().st_size / 1e6
    table = Table(title=f"Ingest of {path.name}: {clean[2]:,} rows, {size_mb:,.0f} MB, {repeats} alternating runs "
                        "each (median)")
    for col in ("file", "method", "median s", "best s", "rows/s (median)", "ratio"):
        table.add_column(col, justify="left" if col in ("file", "method") else "right")
    ratios = {}
    for label, (psql_times, ingest_times, read) in (("clean", clean), ("1% bad rows", bad)):
        ratios[label] = paired_ratio(psql_times, ingest_times)
        for name, times in (("psql \\copy into a plain text table", psql_times),
                            ("safestats ingest (checks, validation, rejects)", ingest_times)):
            med = statistics.median(times)
            is_ingest = times is ingest_times
            table.add_row(label, name, f"{med:.2f}", f"{min(times):.2f}", f"{read / med:,.0f}",
                          f"{ratios[label]:.2f}" if is_ingest else "")
    console.print(table)
    ratio = ratios["clean"]
    verdict = "meets" if ratio >= TARGET_RATIO else "below"
    console.print(f"ratio (ingest speed / psql \\copy speed), clean file: {ratio:.2f}  ({verdict} the {TARGET_RATIO} "
                  f"target); with 1% bad rows: {ratios['1% bad rows']:.2f}")
    console.print("(each ratio is the median over runs of psql's time / the ingest's time in the same run, the two "
                  "run back to back; the ratio of the medians above, clean file: "
                  f"{statistics.median(clean[0]) / statistics.median(clean[1]):.2f})")
    database.stop(cfg)
    return 0


LOAD_SESSIONS = 30
LOAD_SECONDS = 300


def run_load(console: Console, sessions: int = LOAD_SESSIONS, seconds: float = LOAD_SECONDS) -> int:
    """`safestats bench --load`: analysts of four organisations at work in the demo's Superset (chart data, SQL
    Lab, CSV exports) while a full refresh rebuilds the warehouse and the release step republishes it."""
    from safestats import bench_load, credentials, refresh
    from safestats.sdc import service as sdc
    from safestats.superset import server

    cfg = settings()
    if not server.status(cfg)["healthy"]:
        console.print("load bench skipped: Superset is not serving this install (run `make demo` first)")
        return 0
    passwords = credentials.user_passwords(cfg)
    analysts = {u: passwords[u] for u in bench_load.LOAD_USERS if u in passwords}
    if len(analysts) < 2:
        console.print("load bench skipped: the demo analysts' credentials are not in this install")
        return 0

    def rebuild() -> None:          # `safestats refresh --full` without an ingest: the same data, rebuilt
        built = refresh.build(full=True, cfg=cfg)
        if not built.success:
            raise RuntimeError(f"the build failed: {built.failures}")
        released = sdc.publish(cfg)
        if not released.ok:
            raise RuntimeError("the release step's rebuild of the agg_ marts failed")

    figures = bench_load.run(server.url(), cfg, analysts, sessions=sessions, seconds=seconds, during=rebuild,
                             say=console.log)
    bench_load.report(console, figures, f"Superset under load ({server.url()}): {sessions} analyst sessions, "
                                        f"{figures.seconds:.0f} s, a full refresh "
                                        f"{figures.refresh_seconds or 0:.0f} s of it")
    correct = (figures.refresh_error is None and figures.differing_answers == 0 and figures.rows_outside == 0
               and not figures.unaudited)
    console.print("correctness: " + ("every answer whole, in area and audited" if correct else "[red]FAILED[/red]"))
    return 0 if correct else 1
