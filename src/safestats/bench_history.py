"""`safestats bench --history`: what a refresh costs as history grows. For each history length (years), in a
home of its own: every month of that history synthesised and built (the first build, timed), then two refreshes
as the monthly flow runs them (ingest, dbt, disclosure check and release, each timed): one new month, and one
superseded month (the Met re-issues its recorded crimes of a month in the middle of the history with one row in
forty withdrawn). Printed side by side, with the ratio of the longest history to the shortest. Then, at each
history length, Superset serving that home: every dashboard chart as a borough analyst, as the Met and as an
aggregate-only organisation (bench_superset)."""
from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from safestats import bench_superset, database, refresh, warehouse
from safestats.config import Settings, settings
from safestats.policies import service as policies
from safestats.sdc import service as sdc
from safestats.synth import synthesise
from safestats.synth.london import month_index, month_str

NEW_MONTH_TARGET_S = 90
SUPERSEDED_TARGET_S = 60
NEW_MONTH_RATIO_TARGET = 1.2
WITHDRAW_EVERY = 40
REISSUED_FILE = "{month}-metropolitan-recorded-outcomes.csv"
STEPS = ("first build", "new month", "superseded month")
HISTORY_SUPERSET_BIND = "127.0.0.1:8097"


@dataclasses.dataclass(frozen=True)
class RefreshTiming:
    ingest: float
    dbt: float
    release: float

    @property
    def total(self) -> float:
        return self.ingest + self.dbt + self.release


def timed_refresh(cfg: Settings, landing: Path) -> RefreshTiming:
    """One refresh of the files in `landing`, as the monthly flow runs it; an error when a file is quarantined
    or the build fails (a bench of a broken refresh would time the wrong thing)."""
    start = time.perf_counter()
    quarantined = [r.message for r in refresh.ingest(landing, cfg=cfg) if r.status == "quarantined"]
    if quarantined:
        raise RuntimeError("quarantined: " + "; ".join(quarantined[:3]))
    ingested = time.perf_counter()
    build = refresh.build(cfg=cfg)
    if not build.success:
        raise RuntimeError("the warehouse build failed: " + "; ".join(build.failures[:3]))
    built = time.perf_counter()
    sdc.publish(cfg)
    return RefreshTiming(ingested - start, built - ingested, time.perf_counter() - built)


def reissue(path: Path, out: Path, withdraw_every: int = WITHDRAW_EVERY) -> Path:
    """The agency re-issues the file: the same name, one row in `withdraw_every` withdrawn."""
    with path.open(newline="", encoding="utf-8-sig") as fh:
        rows = list(csv.reader(fh))
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as fh:
        csv.writer(fh).writerows([rows[0]] + [r for i, r in enumerate(rows[1:], 1) if i % withdraw_every])
    return out


def history_months(years: int, new_month: str) -> tuple[str, str, str]:
    """The first and last month of `years` of history before `new_month`, and the month re-issued (its middle)."""
    last = month_index(new_month) - 1
    first = last - 12 * years + 1
    return month_str(first), month_str(last), month_str((first + last) // 2)


def bench_history(base: Settings, years: int, new_month: str, scale: float, console: Console) -> dict:
    """The first build and the two refreshes at `years` of history, in the home bench-history-<years>y (emptied
    first, so every run starts from nothing)."""
    cfg = dataclasses.replace(base, home=base.home / f"bench-history-{years}y", database_url=None)
    if cfg.home.exists():
        database.stop(cfg)
        shutil.rmtree(cfg.home)
    warehouse.setup(cfg)
    policies.apply(cfg)
    first, last, reissued = history_months(years, new_month)
    landing = cfg.home / "landing"
    with console.status(f"{years} y: synthesising {first} .. {last} at scale {scale:g}"):
        history = synthesise(first, last, landing / "history", scale=scale)
    console.print(f"{years} y: {len(history):,} files of {first} .. {last}; the first build (minutes at ten years)")
    first_build = timed_refresh(cfg, landing / "history")
    synthesise(new_month, new_month, landing / "new-month", scale=scale)
    with console.status(f"{years} y: refreshing the new month {new_month}"):
        new = timed_refresh(cfg, landing / "new-month")
    source = next(p for p in history if p.name == REISSUED_FILE.format(month=reissued))
    reissue(source, landing / "reissue" / reissued / source.name)
    with console.status(f"{years} y: refreshing {reissued} as the Met re-issues it"):
        superseded = timed_refresh(cfg, landing / "reissue")
    console.print(f"{years} y: history {first} .. {last}, new month {new_month}, re-issued {source.name}")
    charts(cfg, f"Superset at {years} y of history ({first} .. {new_month})", console)
    database.stop(cfg)
    return {"first build": first_build, "new month": new, "superseded month": superseded}


def charts(cfg: Settings, title: str, console: Console) -> None:
    """The Superset part of the bench against this home: Superset started for it on a port of its own (the demo's
    may be serving), then stopped."""
    from safestats.superset import server, sync

    previous = os.environ.get("SAFESTATS_SUPERSET_BIND")
    os.environ["SAFESTATS_SUPERSET_BIND"] = HISTORY_SUPERSET_BIND
    try:
        with console.status(f"starting Superset for {cfg.home.name}"):
            server.start(cfg)
            sync.sync(cfg)
        bench_superset.report(cfg, console, title)
    finally:
        server.stop(cfg)
        if previous is None:
            os.environ.pop("SAFESTATS_SUPERSET_BIND", None)
        else:
            os.environ["SAFESTATS_SUPERSET_BIND"] = previous


def history_table(results: dict[int, dict[str, RefreshTiming]]) -> Table:
    years = sorted(results)
    table = Table(title="Refresh cost by history length (seconds, one run each)")
    for col in ("refresh", "phase", *(f"{y} y" for y in years)):
        table.add_column(col, justify="left" if col in ("refresh", "phase") else "right")
    if len(years) > 1:
        table.add_column(f"{years[-1]} y / {years[0]} y", justify="right")
    for step in STEPS:
        for phase in ("ingest", "dbt", "release", "total"):
            seconds = [getattr(results[y][step], phase) for y in years]
            ratio = [f"{seconds[-1] / seconds[0]:.2f}" if seconds[0] else ""] if len(years) > 1 else []
            table.add_row(step if phase == "ingest" else "", phase, *(f"{t:,.1f}" for t in seconds), *ratio)
    return table


def verdicts(results: dict[int, dict[str, RefreshTiming]]) -> list[str]:
    """The targets, against the longest history (and its ratio to the shortest)."""
    years = sorted(results)
    longest, shortest = results[years[-1]], results[years[0]]

    def verdict(value: float, target: float) -> str:
        return "meets" if value <= target else "misses"

    new, superseded = longest["new month"].total, longest["superseded month"].total
    lines = [f"new month at {years[-1]} y: {new:,.1f} s ({verdict(new, NEW_MONTH_TARGET_S)} the "
             f"{NEW_MONTH_TARGET_S} s target)",
             f"superseded month at {years[-1]} y: {superseded:,.1f} s ({verdict(superseded, SUPERSEDED_TARGET_S)} "
             f"the {SUPERSEDED_TARGET_S} s target)"]
    if len(years) > 1:
        ratio = new / shortest["new month"].total
        lines.append(f"new month, {years[-1]} y / {years[0]} y: {ratio:.2f} "
                     f"({verdict(ratio, NEW_MONTH_RATIO_TARGET)} the {NEW_MONTH_RATIO_TARGET} target)")
    return lines


def run(years: list[int], new_month: str, scale: float, console: Console) -> int:
    base = settings()
    results = {y: bench_history(base, y, new_month, scale, console) for y in sorted(set(years))}
    console.print(history_table(results))
    for line in verdicts(results):
        console.print(line)
    return 0
