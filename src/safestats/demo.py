"""`make demo`: the warehouse up with a year of synthetic extracts of every dataset, refreshed."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

import psycopg
import psycopg.sql
from rich.console import Console
from rich.table import Table

from safestats import warehouse
from safestats.config import settings
from safestats.ingest import landing_files
from safestats.sniff import sha256_of

DEMO_LAST_MONTH = "2025-12"   # fixed, so every demo install holds the same data
DEMO_MARKER = "demo_install"  # written under SAFESTATS_HOME by `make demo`: only then are logins printable


def is_demo_install(cfg=None) -> bool:
    return ((cfg or settings()).home / DEMO_MARKER).exists()


def demo_logins(cfg=None) -> list[tuple[str, str, str]] | None:
    """(username, organisation, password) of the demo users; None when this is not a demo install."""
    from safestats import credentials
    from safestats.policies import service

    cfg = cfg or settings()
    if not is_demo_install(cfg):
        return None
    passwords = credentials.user_passwords(cfg)
    users = service.load(cfg).agreements.users.values()
    return [(u.username, u.organisation, passwords[u.username])
            for u in sorted(users, key=lambda u: (u.organisation, u.username)) if u.username in passwords]


def demo_months(count: int, last: str = DEMO_LAST_MONTH) -> list[str]:
    year, month = int(last[:4]), int(last[5:7])
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months[::-1]


def _already_loaded(conn, folder: Path) -> bool:
    files = landing_files(folder)
    if not files:
        return False
    shas = [sha256_of(p) for p in files]
    known = conn.execute("select count(distinct sha256) from raw._loads where sha256 = any(%s)",
                         (shas,)).fetchone()[0]
    return known == len(set(shas))


def run(months: int, scale: float, console: Console, refresh_month: Callable) -> int:
    """Synthesise the demo months' extracts of every dataset (those not there yet) and run one refresh over them.
    A second run finds every file already loaded and only reports."""
    from safestats.synth import synthesise

    cfg = settings()
    bootstrap = warehouse.setup(cfg)
    (cfg.home / DEMO_MARKER).write_text("installed by `make demo`: demo logins may be printed\n")
    from safestats.policies import service

    changes = service.apply(cfg).changes
    console.print(f"access policies: {len(changes)} change(s) applied" if changes else "access policies: up to date")
    landing = cfg.landing_dir
    for month in demo_months(months):
        folder = landing / month
        if not (folder.exists() and landing_files(folder)):
            with console.status(f"synthesising {month}") as status:
                synthesise(month, month, landing, scale=scale,
                           progress=lambda path, rows: status.update(f"wrote {path} ({rows:,} rows)"))
    with psycopg.connect(warehouse.loader_endpoint(cfg, bootstrap).conninfo()) as conn:
        loaded = _already_loaded(conn, landing)
    if loaded:
        console.print(f"every file under {landing} is already loaded")
    else:
        console.rule(f"monthly refresh: {demo_months(months)[0]} .. {demo_months(months)[-1]}")
        summary = refresh_month(landing)
        if not summary.ok:
            return 1
    _print_warehouse(console, bootstrap)
    _print_logins(console, cfg)
    console.print("\nConnect with:\n"
                  f"  psql \"$(.venv/bin/safestats db url)\"\n"
                  f"  ({bootstrap.url()})\n"
                  f"and try: select crime_month, count(*) from marts.fct_street_crimes group by 1 order by 1;")
    return _serve_superset(console, cfg) or _serve_schedule(console, cfg)


def _serve_schedule(console: Console, cfg) -> int:
    """The scheduled refresh under this install's Prefect server and worker, its schedule in the Prefect UI."""
    from safestats import scheduler

    try:
        url = scheduler.start(cfg)
    except scheduler.SchedulerError as exc:
        console.print(f"[red]Prefect:[/] {exc}")
        return 1
    state = scheduler.status(cfg)
    console.print(f"The monthly refresh is scheduled under Prefect at {url} (next run {state.get('next_run')}); "
                  "`safestats serve run-now` runs it now, `safestats serve stop` stops the server and worker.")
    return 0


def _serve_superset(console: Console, cfg) -> int:
    """Last step: Superset serving, provisioned, with the URL and the demo logins."""
    from safestats.superset import server, sync

    try:
        url = server.start(cfg)
        sync.sync(cfg)
    except server.SupersetError as exc:
        console.print(f"[red]Superset:[/] {exc}")
        return 1
    table = Table(title=f"Superset is serving at {url} - demo logins (`safestats users demo-logins`)")
    for col in ("username", "organisation"):
        table.add_column(col)
    table.add_column("password", overflow="fold")
    for row in demo_logins(cfg) or []:
        table.add_row(*row)
    console.print(table)
    console.print("Every login asks for a one-time code after the password: `safestats users code USERNAME` prints "
                  "a demo user's code now (in real use each person's authenticator app shows it). Organisation "
                  "administrators (e.g. camden_admin) manage their users at /organisation/users/. The reports and "
                  "files each organisation receives (trend reports, core dataset, hospital reports, supplier feedback) "
                  "are at /outputs/.")
    return 0


def _print_warehouse(console: Console, bootstrap) -> None:
    """Rows per month of every fact mart (by its first date column named *_month, in column order)."""
    with psycopg.connect(bootstrap.conninfo()) as conn:
        facts = conn.execute(
            "select distinct on (c.table_name) c.table_name, c.column_name from information_schema.columns c"
            " where c.table_schema = 'marts' and c.table_name like 'fct%' and c.column_name like '%month'"
            " and c.data_type = 'date' order by c.table_name, c.ordinal_position").fetchall()
        counts = {}
        for table, month_column in facts:
            counts[table] = dict(conn.execute(psycopg.sql.SQL(
                "select to_char({m}, 'YYYY-MM'), count(*) from {t} where {m} is not null group by 1").format(
                m=psycopg.sql.Identifier(month_column), t=psycopg.sql.Identifier("marts", table))).fetchall())
    months = sorted({m for by_month in counts.values() for m in by_month})
    marts = Table(title="Fact marts")
    for col, justify in (("mart", "left"), ("months", "right"), ("from", "left"), ("to", "left"),
                         ("rows", "right")):
        marts.add_column(col, justify=justify)
    for name, by_month in counts.items():
        marts.add_row(name, str(len(by_month)), min(by_month, default="-"), max(by_month, default="-"),
                      f"{sum(by_month.values()):,}")
    console.print(marts)
    per_month = Table(title="Records per month, every fact mart")
    per_month.add_column("month")
    per_month.add_column("records", justify="right")
    per_month.add_column("marts with rows", justify="right")
    for month in months:
        per_month.add_row(month, f"{sum(c.get(month, 0) for c in counts.values()):,}",
                          f"{sum(1 for c in counts.values() if month in c)} of {len(counts)}")
    console.print(per_month)


def _print_logins(console: Console, cfg) -> None:
    from safestats.policies import service

    policies = service.load(cfg)
    table = Table(title="Demo users (access_policies/users): log in with `safestats dev dsn --user NAME`")
    for col in ("user", "organisation", "role", "can log in"):
        table.add_column(col)
    from datetime import date

    today = date.today()
    for user in sorted(policies.agreements.users.values(), key=lambda u: (u.organisation, u.username)):
        org = policies.agreements.organisations[user.organisation]
        ok = org.has_access(today) and user.expires_on >= today
        table.add_row(user.username, org.name, user.role, "yes" if ok else "no (expired or no agreement)")
    console.print(table)
