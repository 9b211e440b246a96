"""`safestats`: the command line. Thin: every command calls the package."""
from __future__ import annotations

import argparse
import importlib.util
import json
import os
import sys
import time
from pathlib import Path

from rich.console import Console

from safestats import database
from safestats.config import settings

console = Console(stderr=False)
err = Console(stderr=True, soft_wrap=True)  # one error, one line, whatever the width


def _month(value: str) -> str:
    import re

    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", value):
        raise argparse.ArgumentTypeError(f"{value!r} is not a month (YYYY-MM)")
    return value


def _positive(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"{value!r} is not a positive whole number")
    return int(value)


def cmd_db(args) -> int:
    if args.action == "start":
        from safestats import warehouse

        ep = warehouse.setup()
        console.print(f"database ready: {ep.url()}")
    elif args.action == "stop":
        if settings().database_url:
            console.print("SAFESTATS_DATABASE_URL is set: SafeStats does not stop an external server")
        else:
            console.print("stopped" if database.stop() else "not running (nothing to stop)")
    elif args.action == "status":
        info = database.status()
        console.print_json(json.dumps(info))
        return 0 if info["running"] else 3
    elif args.action == "url":
        print(database.endpoint().url())
    elif args.action == "top-queries":
        return cmd_db_top_queries(args)
    return 0


def cmd_db_top_queries(args) -> int:
    from safestats.top_queries import top_queries

    rows = top_queries(database.endpoint(), limit=args.limit, user=args.user)
    if not rows:
        console.print("no statements recorded" + (f" for {args.user}" if args.user else ""))
        return 0
    print(f"{'mean_ms':>10} {'total_ms':>12} {'calls':>8} {'rows':>10}  {'role':<28} query")
    for s in rows:
        print(f"{s.mean_ms:10.2f} {s.total_ms:12.1f} {s.calls:8d} {s.rows:10d}  {s.role:<28} {s.query}")
    return 0


def cmd_synth(args) -> int:
    from safestats.synth import synthesise

    rows = 0
    start = time.perf_counter()
    with console.status("synthesising...") as status:
        def wrote(path: Path, count: int) -> None:
            nonlocal rows
            rows += count
            elapsed = time.perf_counter() - start
            status.update(f"wrote {path} ({count:,} rows); {rows:,} rows in {elapsed:,.0f} s")

        paths = synthesise(args.first, args.last, Path(args.out), only=args.dataset, seed=args.seed,
                           scale=args.scale, progress=wrote)
    elapsed = time.perf_counter() - start
    console.print(f"wrote {len(paths)} files, {rows:,} rows, under {args.out} in {elapsed:,.1f} s "
                  f"({rows / max(elapsed, 1e-9):,.0f} rows/s)")
    return 0


def load_flow_module():
    path = settings().project_dir / "flows" / "monthly_refresh.py"
    if "monthly_refresh" in sys.modules:
        return sys.modules["monthly_refresh"]
    spec = importlib.util.spec_from_file_location("monthly_refresh", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # Prefect finds a deployment's flow by its module
    spec.loader.exec_module(module)
    return module


def _prefect_environment() -> None:
    home = settings().home
    os.environ.setdefault("PREFECT_HOME", str(home / "prefect"))
    os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")
    os.environ.setdefault("PREFECT_LOGGING_LEVEL", "WARNING")


def run_refresh(landing: Path, retry_quarantined: bool = False, full: bool = False):
    """Run the monthly refresh flow with a progress bar over the landing folder's files."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from safestats import refresh
    from safestats.summary import summary_tables

    _prefect_environment()
    flows = load_flow_module()
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), console=console,
                  transient=True) as progress:
        bar = progress.add_task(f"ingesting {landing}", total=None)

        def on_file(result, total):
            progress.update(bar, total=total, advance=1, description=f"{result.status}: {result.path.name}")
            if result.status == "quarantined":
                progress.console.print(f"[yellow]quarantined[/] {result.message}")

        refresh.file_listeners.append(on_file)
        try:
            summary = flows.monthly_refresh(landing=str(landing), retry_quarantined=retry_quarantined, full=full)
            failed = None
        except flows.RefreshFailed as exc:
            summary, failed = exc.summary, exc
        finally:
            refresh.file_listeners.remove(on_file)
    console.print(summary_tables(summary))
    if failed:
        err.print(f"[red]refresh failed:[/] {failed}")
    return summary


def cmd_refresh(args) -> int:
    landing = Path(args.landing) if args.landing else settings().landing_dir
    if not landing.is_dir():
        raise FileNotFoundError(f"landing folder {landing} does not exist")
    summary = run_refresh(landing.resolve(), args.retry_quarantined, args.full)
    return 0 if summary.ok else 1


def cmd_ingest(args) -> int:
    from safestats import refresh, warehouse
    from safestats.summary import summary_tables

    warehouse.setup()
    landing = Path(args.landing) if args.landing else settings().landing_dir
    files = refresh.ingest(landing.resolve(), retry_quarantined=args.retry_quarantined)
    console.print(summary_tables(refresh.RefreshSummary(files=files)))
    return 0


def cmd_dbt(args) -> int:
    from safestats import dbt, warehouse

    warehouse.setup()
    return 0 if dbt.run(args.dbt_args).success else 1


def cmd_metrics(args) -> int:
    from safestats import metricflow, warehouse

    warehouse.setup()
    return metricflow.mf_command(args.mf_args or ["--help"], capture=False).returncode


def cmd_policies(args) -> int:
    from rich.table import Table

    from safestats import warehouse
    from safestats.policies import service
    from safestats.policies.agreements import AgreementError

    try:
        warehouse.setup()
        if args.action == "plan":
            policies, plan, lines = service.plan()
            for warning in policies.agreements.warnings:
                err.print(f"[yellow]warning:[/] {warning}")
            console.print("\n".join(lines) if lines else "no changes: the database matches access_policies/",
                          soft_wrap=True, highlight=False)
        elif args.action == "apply":
            plan = service.apply()
            for change in plan.changes:
                console.print(f"applied: {change.summary}", soft_wrap=True, highlight=False)
            console.print(f"{len(plan.changes)} change(s) applied" if plan.changes else "no changes")
        elif args.action == "matrix":
            table = Table(title="Access by organisation and relation")
            for col in ("organisation", "relation", "agreement", "level", "geography", "columns", "rows visible"):
                table.add_column(col)
            for row in service.matrix():
                table.add_row(row["organisation"], row["relation"], row["agreement"], row["level"], row["geography"],
                              row["columns"] or "(not built)",
                              "" if row["rows_visible"] is None else f"{row['rows_visible']:,}")
            console.print(table)
    except AgreementError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2
    return 0


def cmd_dev_dsn(args) -> int:
    from safestats.policies import service

    print(service.user_endpoint(args.user).url())
    return 0


def cmd_dev_generate(args) -> int:
    from safestats import generate

    if args.check:
        stale = generate.stale()
        for rel in stale:
            err.print(f"[red]stale:[/] {rel} (run `{generate.COMMAND}`)")
        if not stale:
            console.print("every generated file is up to date")
        return 1 if stale else 0
    written = generate.write()
    for rel in written:
        console.print(f"wrote {rel}")
    if not written:
        console.print("every generated file is up to date")
    return 0


def cmd_dev_new_dataset(args) -> int:
    from safestats import scaffold

    try:
        done = scaffold.new_dataset(args.name, Path(args.sample), agency=args.agency, project_dir=args.project_dir)
    except scaffold.ScaffoldError as exc:
        from rich.markup import escape

        err.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
        return 2
    project = Path(args.project_dir or settings().project_dir)
    for path in done.written:
        console.print(f"wrote {path.relative_to(project)}", highlight=False)
    console.print("\nDecisions only a person can make (also in "
                  f"docs/datasets/{args.name}.md; runbook: docs/adding-a-dataset.md):\n", highlight=False)
    print(done.checklist)
    return 0


def cmd_demo(args) -> int:
    from safestats import demo

    return demo.run(months=args.months, scale=args.scale, console=console, refresh_month=run_refresh)


def cmd_bench(args) -> int:
    from safestats import bench, bench_superset

    if args.load:
        return bench.run_load(console, sessions=args.sessions, seconds=args.seconds)
    code = (bench.run(rows=args.rows, repeats=args.repeats, console=console) or bench_superset.run(console=console)
            or bench.run_load(console, sessions=args.sessions, seconds=args.seconds))
    if code or not args.history:
        return code
    from safestats import bench_history

    return bench_history.run(years=args.years, new_month=args.new_month, scale=args.history_scale, console=console)


def cmd_superset(args) -> int:
    from safestats.superset import server

    try:
        if args.action == "start":
            console.print(f"Superset serving at {server.start()}")
        elif args.action == "stop":
            console.print("stopped" if server.stop() else "not running (nothing to stop)")
        elif args.action == "status":
            info = server.status()
            console.print_json(json.dumps(info))
            return 0 if info["running"] else 3
        elif args.action == "sync":
            from safestats.superset import sync

            result = sync.sync()
            console.print(f"datasets: {len(result.datasets)} ({', '.join(result.datasets)})", soft_wrap=True)
            console.print(f"dashboards: {', '.join(result.dashboards) or '(none)'}", soft_wrap=True)
            for title in result.skipped_dashboards:
                console.print(f"[yellow]not made[/] {title}: no organisation's agreement reads any of its charts"
                              " (or a dataset it needs is not built yet)")
            console.print("users: " + json.dumps(result.users), soft_wrap=True, highlight=False)
    except server.SupersetError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2
    return 0


def cmd_serve(args) -> int:
    from safestats import scheduler

    try:
        if args.action == "start":
            console.print(f"Prefect serving the scheduled refresh at {scheduler.start()} "
                          f"(logs in {scheduler.paths().dir})")
        elif args.action == "stop":
            console.print("stopped" if scheduler.stop() else "not running (nothing to stop)")
        elif args.action == "status":
            info = scheduler.status()
            console.print_json(json.dumps(info))
            return 0 if info["running"] else 3
        elif args.action == "run-now":
            parameters = {"retry_quarantined": args.retry_quarantined, "full": args.full}
            if args.landing:
                landing = Path(args.landing).resolve()
                if not landing.is_dir():
                    raise FileNotFoundError(f"landing folder {landing} does not exist")
                parameters["landing"] = str(landing)
            run_id = scheduler.run_now(parameters=parameters)
            page = f"{scheduler.url()}/runs/flow-run/{run_id}"
            console.print(f"flow run {run_id} created: {page}")
            if args.no_wait:
                return 0
            with console.status("waiting for the worker to run it..."):
                run = scheduler.wait_for_run(run_id)
            message = (run.get("state") or {}).get("message") or ""
            colour = "green" if run["state_type"] == "COMPLETED" else "red"
            console.print(f"[{colour}]{run['state_name']}[/] {message}", soft_wrap=True)
            return 0 if run["state_type"] == "COMPLETED" else 1
    except scheduler.SchedulerError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2
    return 0


def cmd_audit(args) -> int:
    from safestats import audit

    if args.action == "sessions":
        from datetime import datetime, timezone

        since = datetime.fromisoformat(args.since) if args.since else None
        if since is not None and since.tzinfo is None:
            since = since.replace(tzinfo=timezone.utc)
        for s in audit.sessions(user=args.user, since=since):
            ended = s.ended.isoformat(timespec="seconds") if s.ended else "open"
            console.print(f"{s.username}@{s.database} {s.started.isoformat(timespec='seconds')} .. {ended}"
                          f" app={s.application_name or '-'} host={s.host or 'local'} pid={s.process}",
                          markup=False, highlight=False, soft_wrap=True)
            for at, statement in s.statements:
                console.print(f"    {at.isoformat(timespec='seconds')}  {statement}", markup=False,
                              highlight=False, soft_wrap=True)
        return 0
    result = audit.verify_install()
    if result.ok:
        console.print(f"audit chain intact: {result.events} event(s)")
        return 0
    err.print(f"[red]audit chain broken[/] at event {result.broken_event_id}: {result.reason}")
    return 1


def _step(text: str) -> None:
    console.print(f"[dim]{time.strftime('%H:%M:%S')}[/] {text}")


def cmd_backup(args) -> int:
    from safestats import backup

    try:
        made = backup.backup(Path(args.to), landing=not args.no_landing, say=_step)
    except backup.BackupError as exc:
        err.print(f"[red]backup failed:[/] {exc}")
        return 1
    console.print(f"backed up to {made.path}: {made.relations} tables, {made.rows:,} rows, "
                  f"{made.bytes / 1e6:,.1f} MB in {made.seconds:.0f} s")
    for skipped in made.skipped:
        console.print(f"[yellow]not included:[/] {skipped}")
    return 0


def cmd_restore(args) -> int:
    from safestats import backup

    try:
        done = backup.restore(Path(args.backup), say=_step)
    except backup.BackupError as exc:
        err.print(f"[red]restore failed:[/] {exc}")
        return 1
    console.print(f"restored the backup of {done.made_at} into {settings().home}: {done.relations} tables and "
                  f"{done.rows:,} rows as counted when it was taken, {done.files} files, the audit chain "
                  f"({done.audit_events} events) verified. Start Superset with `safestats superset start`.")
    return 0


def cmd_doctor(args) -> int:
    from rich.table import Table

    from safestats import doctor

    findings = doctor.examine()
    table = Table(title=f"SafeStats install at {settings().home}")
    for column in ("check", "", "what was found", "what to do"):
        table.add_column(column, overflow="fold")
    colour = {doctor.OK: "green", doctor.WARN: "yellow", doctor.FAIL: "red"}
    for f in findings:
        table.add_row(f.check, f"[{colour[f.status]}]{f.status}[/]", f.detail, f.fix)
    console.print(table)
    return 1 if any(f.status == doctor.FAIL for f in findings) else 0


def cmd_reports(args) -> int:
    import re

    from safestats import warehouse
    from safestats.outputs import area, build
    from safestats.summary import outputs_table

    if args.quarter and not re.fullmatch(r"\d{4}Q[1-4]", args.quarter):
        err.print(f"[red]error:[/] --quarter {args.quarter!r} is not a quarter like 2025Q4")
        return 2
    if args.month and not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", args.month):
        err.print(f"[red]error:[/] --month {args.month!r} is not a month like 2025-12")
        return 2
    if args.action == "list":
        for o in area.read_manifest(area.root()):
            console.print(f"{o.path}  [dim]{o.kind} {o.period} -> {', '.join(o.receivers)}[/]")
        return 0
    warehouse.setup()
    made = build.build(kinds=tuple(args.only or build.KINDS), quarter=args.quarter, boroughs=args.borough,
                       month=args.month, force=args.force)
    console.print(outputs_table(made))
    console.print(f"outputs in {area.root()}")
    return 0 if made.ok else 1


def cmd_sdc(args) -> int:
    from safestats.sdc import service
    from safestats.summary import release_tables

    if args.action == "check":
        checked = service.check(published=args.published)
        for table in release_tables(checked, None):
            console.print(table)
        for month, reasons in checked.reasons().items():
            for reason in reasons:
                err.print(f"[red]leak[/] {reason}")
        if checked.passed:
            console.print(f"no leak: {checked.cells:,} figures of {len(checked.relations)} relations over "
                          f"{len(checked.months)} month(s) hold under {checked.constraints:,} sums")
            return 0
        err.print(f"[red]{len(checked.reasons())} month(s) would be held back[/]")
        return 1
    outcome = service.publish()
    for table in release_tables(outcome.checked, outcome.published):
        console.print(table)
    if not outcome.ok:
        err.print("[red]rebuilding the agg_ marts failed:[/] " + "; ".join(outcome.rebuild.failures[:5]))
        return 1
    return 0 if outcome.checked.passed else 1


def cmd_users(args) -> int:
    from safestats import demo

    if args.action == "review":
        return _users_review()
    if args.action == "code":
        return _users_code(args.username)
    rows = demo.demo_logins()
    if rows is None:
        err.print("[red]error:[/] not a demo install: demo logins are printed only for installs made by `make demo`")
        return 2
    for username, organisation, password in rows:
        print(f"{username}\t{organisation}\t{password}")
    return 0


def _users_review() -> int:
    from datetime import date

    import psycopg

    from safestats import database
    from safestats.policies import governance

    with psycopg.connect(database.endpoint().conninfo()) as conn:
        found = governance.review(conn, date.today())
    for title, rows in found.items():
        console.print(f"[bold]{title}[/]: {len(rows) or 'none'}")
        for row in rows:
            print("  " + "\t".join("-" if v is None else str(v) for v in row))
    return 0


def _users_code(username: str | None) -> int:
    """The current one-time code of a demo user (demo installs only: elsewhere codes come from the person's own
    authenticator)."""
    import psycopg

    from safestats import database, demo
    from safestats.policies import governance

    if not demo.is_demo_install():
        err.print("[red]error:[/] not a demo install: one-time codes come from each person's authenticator")
        return 2
    if not username:
        err.print("[red]error:[/] which user? `safestats users code USERNAME`")
        return 2
    with psycopg.connect(database.endpoint().conninfo()) as conn:
        try:
            print(governance.current_code(conn, username, wait=False))
        except LookupError as exc:
            err.print(f"[red]error:[/] {exc}")
            return 1
    return 0


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="safestats", description="SafeStats: London's secure community-safety warehouse")
    sub = p.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="the PostgreSQL server (embedded unless SAFESTATS_DATABASE_URL is set)")
    db.add_argument("action", choices=["start", "stop", "status", "url", "top-queries"])
    db.add_argument("--limit", type=_positive, default=20, metavar="N", help="top-queries: how many (default 20)")
    db.add_argument("--user", metavar="NAME", help="top-queries: only this role's statements")
    db.set_defaults(func=cmd_db)

    synth = sub.add_parser("synth", help="write synthetic extracts of every dataset (or those given by --dataset)")
    synth.add_argument("--from", dest="first", type=_month, required=True, metavar="YYYY-MM")
    synth.add_argument("--to", dest="last", type=_month, required=True, metavar="YYYY-MM")
    synth.add_argument("--out", required=True, metavar="DIR")
    synth.add_argument("--seed", type=int, default=42)
    synth.add_argument("--scale", type=float, default=1.0, help="multiplies every volume (e.g. 10 for benchmarks)")
    synth.add_argument("--dataset", action="append", metavar="NAME",
                       help="only this generator (repeatable): police_uk, ... (default: all)")
    synth.set_defaults(func=cmd_synth)

    for name, func, text in (("refresh", cmd_refresh, "ingest the landing folder, build with dbt, summarise"),
                             ("ingest", cmd_ingest, "only ingest the landing folder")):
        cmd = sub.add_parser(name, help=text)
        cmd.add_argument("--landing", metavar="DIR", help="default: $SAFESTATS_HOME/landing")
        cmd.add_argument("--retry-quarantined", action="store_true",
                         help="try files quarantined earlier again (e.g. after a contract fix)")
        if name == "refresh":
            cmd.add_argument("--full", action="store_true",
                             help="rebuild every table from raw, not only the loads that changed")
        cmd.set_defaults(func=func)

    d = sub.add_parser("dbt", help="run dbt against the warehouse as the dbt role, e.g. `safestats dbt build`")
    d.add_argument("dbt_args", nargs=argparse.REMAINDER)
    d.set_defaults(func=cmd_dbt)

    mf = sub.add_parser("metrics", help="MetricFlow over the semantic layer as the dbt role, e.g. "
                        "`safestats metrics validate-configs`, `safestats metrics query --metrics ... --group-by ...`")
    mf.add_argument("mf_args", nargs=argparse.REMAINDER)
    mf.set_defaults(func=cmd_metrics)

    pol = sub.add_parser("policies", help="Data Sharing Agreements: plan, apply, access matrix")
    pol.add_argument("action", choices=["plan", "apply", "matrix"])
    pol.set_defaults(func=cmd_policies)

    dev = sub.add_parser("dev", help="developer and support tools")
    dev_sub = dev.add_subparsers(dest="dev_command", required=True)
    dsn = dev_sub.add_parser("dsn", help="a libpq URL that logs in as a named user's own role")
    dsn.add_argument("--user", required=True)
    dsn.set_defaults(func=cmd_dev_dsn)
    gen = dev_sub.add_parser("generate", help="write the dbt YAML made from declarations: the aggregates' and release "
                             "candidates' (declarations/aggregates.yml), the derived metrics (semantic/*.yml)")
    gen.add_argument("--check", action="store_true", help="write nothing; exit 1 if a generated file is stale")
    gen.set_defaults(func=cmd_dev_generate)
    new = dev_sub.add_parser("new-dataset", help="scaffold every file of a new dataset from a sample extract (CSV)")
    new.add_argument("name", help="the dataset's name, snake_case (e.g. community_reports)")
    new.add_argument("--sample", required=True, metavar="PATH", help="a sample extract, e.g. 2024-03-acme-reports.csv")
    new.add_argument("--agency", metavar="SLUG", help="the agency's slug (default: from the sample's name)")
    new.add_argument("--project-dir", metavar="DIR", help="the project to write into (default: this checkout)")
    new.set_defaults(func=cmd_dev_new_dataset)

    demo = sub.add_parser("demo", help="everything up with a year of synthetic extracts of every dataset, "
                          "Superset serving")
    demo.add_argument("--months", type=int, default=12)
    demo.add_argument("--scale", type=float, default=1.0)
    demo.set_defaults(func=cmd_demo)

    sup = sub.add_parser("superset", help="Apache Superset: start, stop, status, sync users/roles/assets")
    sup.add_argument("action", choices=["start", "stop", "status", "sync"])
    sup.set_defaults(func=cmd_superset)

    srv = sub.add_parser("serve", help="the scheduled refresh: Prefect's server and a worker (start, stop, status), "
                         "or a run of the deployment now (run-now)")
    srv.add_argument("action", choices=["start", "stop", "status", "run-now"])
    srv.add_argument("--landing", metavar="DIR", help="run-now: default $SAFESTATS_HOME/landing")
    srv.add_argument("--retry-quarantined", action="store_true", help="run-now: try quarantined files again")
    srv.add_argument("--full", action="store_true", help="run-now: rebuild every table from raw")
    srv.add_argument("--no-wait", action="store_true", help="run-now: return once the run is created")
    srv.set_defaults(func=cmd_serve)

    aud = sub.add_parser("audit", help="the audit trail")
    aud.add_argument("action", choices=["verify", "sessions"])
    aud.add_argument("--user", help="sessions: only this role's")
    aud.add_argument("--since", help="sessions: only those still open at or after this ISO time (UTC if naive)")
    aud.set_defaults(func=cmd_audit)

    sdc = sub.add_parser("sdc", help="disclosure control: attack the aggregates (check), publish those that pass")
    sdc.add_argument("action", choices=["check", "release"])
    sdc.add_argument("--published", action="store_true",
                     help="check what analysts read in marts instead of this refresh's candidates")
    sdc.set_defaults(func=cmd_sdc)

    rep = sub.add_parser("reports", help="the outputs partners receive: trend reports, core dataset, hospital "
                                         "reports, supplier feedback (the refresh makes them too)")
    rep.add_argument("action", choices=["build", "list"])
    rep.add_argument("--quarter", help="trend reports of this quarter, e.g. 2025Q4 (default: the latest complete)")
    rep.add_argument("--borough", action="append", metavar="CODE",
                     help="trend reports for this borough only (GSS code, or london); repeatable")
    rep.add_argument("--month", help="core dataset and hospital reports of this month, YYYY-MM (default: all "
                                     "released months and the latest submission month)")
    rep.add_argument("--only", action="append", choices=["trend", "core", "hospital", "supplier"],
                     help="make only these outputs; repeatable")
    rep.add_argument("--force", action="store_true", help="make them even when their inputs have not changed")
    rep.set_defaults(func=cmd_reports)

    bk = sub.add_parser("backup", help="a consistent backup of the install (database, roles, keys, Superset's "
                        "metadata, outputs, landing, session logs) into a new directory; safe while analysts work")
    bk.add_argument("--to", required=True, metavar="DIR", help="a new directory, outside SAFESTATS_HOME")
    bk.add_argument("--no-landing", action="store_true", help="leave the landing folder's extracts out")
    bk.set_defaults(func=cmd_backup)
    rs = sub.add_parser("restore", help="make an empty SAFESTATS_HOME the install a backup was taken of, then "
                        "check its rows and audit chain")
    rs.add_argument("backup", metavar="DIR")
    rs.set_defaults(func=cmd_restore)

    doc = sub.add_parser("doctor", help="check the running install (server, policies, key files, Superset, disk, "
                         "last refresh and backup, audit chain) and say what to fix; exit 1 when something fails")
    doc.set_defaults(func=cmd_doctor)

    users = sub.add_parser("users", help="named users")
    users.add_argument("action", choices=["demo-logins", "code", "review"],
                       help="demo-logins: the demo users' passwords; code USERNAME: a demo user's one-time code "
                            "now; review: agreements ending, users to re-certify, idle administrators")
    users.add_argument("username", nargs="?")
    users.set_defaults(func=cmd_users)

    bench = sub.add_parser("bench", help="ingest speed against psql \\copy of the same file, then Superset "
                           "dashboard load and chart-data times, then analysts at work during a full refresh")
    bench.add_argument("--rows", type=int, default=1_000_000)
    bench.add_argument("--repeats", type=int, default=7, help="alternating runs of each side, per file")
    bench.add_argument("--load", action="store_true",
                       help="only the load test: analyst sessions in the demo's Superset during a full refresh")
    bench.add_argument("--sessions", type=int, default=30, help="concurrent analyst sessions in the load test")
    bench.add_argument("--seconds", type=float, default=300, help="how long the load test runs")
    bench.add_argument("--history", action="store_true",
                       help="then the refresh's cost at each history length, each in a home of its own (hours)")
    bench.add_argument("--years", type=int, nargs="+", default=[1, 10], help="history lengths (default: 1 10)")
    bench.add_argument("--new-month", default="2026-01", help="the month refreshed after the history")
    bench.add_argument("--history-scale", type=float, default=1.0, help="volume of the history (1: London's)")
    bench.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return args.func(args)
    except database.DatabaseError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2
    except FileNotFoundError as exc:
        err.print(f"[red]error:[/] {exc}")
        return 2


if __name__ == "__main__":
    sys.exit(main())
