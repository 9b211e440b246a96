"""Analysts at work during a refresh: concurrent sessions of analysts of several organisations asking for
chart data, running SQL Lab queries and exporting CSV through Superset while `during` (a rebuild) runs.
Loopback only. Besides the figures (errors, latency per kind of request), every answer is checked: the data do
not change in the rebuild, so each answer must equal the one the same user got before it began, month by month
(a half-built or missing month shows as a difference), with no row outside the user's agreement, and every
query and export the analysts made must be in the audit trail."""
from __future__ import annotations

import csv
import dataclasses
import io
import itertools
import re
import secrets
import statistics
import threading
import time
from collections import Counter, defaultdict
from typing import Callable
from urllib.parse import urlparse

import psycopg
import requests
from rich.console import Console
from rich.table import Table

from safestats import database
from safestats.config import Settings

KINDS = ("chart", "sqllab", "export")
AUDIT_EVENT = {"chart": "chart_data", "sqllab": "sqllab_query", "export": "export"}
LOOPBACK = {"127.0.0.1", "localhost", "::1"}
REQUEST_TIMEOUT_S = 180
# One analyst of each kind of agreement: a borough's record-level analyst (two boroughs), London-wide record
# level, and an organisation given aggregates only.
LOAD_USERS = ("camden_analyst", "hackney_analyst", "met_analyst", "vru_analyst")
RECORDS = "marts.fct_street_crimes"
AGGREGATES = "marts.agg_street_crimes_monthly"
CRIMES = {"expressionType": "SIMPLE", "column": {"column_name": "street_crime_count"}, "aggregate": "SUM",
          "label": "crimes"}


@dataclasses.dataclass(frozen=True, eq=False)
class Query:
    """One thing an analyst asks for, again and again: its first column is the month, `area_column` the borough
    code its rows are restricted on (None: not restricted by area)."""
    name: str
    kind: str                       # chart | sqllab | export
    relation: str
    columns: tuple[str, ...] = ()   # chart and export: the group-by columns
    metrics: tuple = ("count",)
    sql: str | None = None          # sqllab
    area_column: str | None = "borough_code"


QUERIES = (
    Query("street crimes by month and borough (chart)", "chart", RECORDS, ("crime_month", "borough_code")),
    Query("street crimes by month and borough (SQL Lab)", "sqllab", RECORDS,
          sql="select crime_month, borough_code, count(*) as n from marts.fct_street_crimes group by 1, 2"),
    Query("street crimes by month, borough, group (CSV)", "export", RECORDS,
          ("crime_month", "borough_code", "category_group")),
    Query("released street crime cells by month (chart)", "chart", AGGREGATES,
          ("incident_month", "geography_level", "borough_code"), ("count", CRIMES)),
    Query("released street crime cells by month (SQL Lab)", "sqllab", AGGREGATES,
          sql="select incident_month, geography_level, borough_code, count(*) as cells,"
              " sum(street_crime_count) as crimes from marts.agg_street_crimes_monthly group by 1, 2, 3"),
    Query("released street crime cells by month (CSV)", "export", AGGREGATES,
          ("incident_month", "geography_level", "category_code"), ("count", CRIMES), area_column=None),
)


@dataclasses.dataclass(frozen=True)
class Answer:
    """What a query returned: its columns and rows (values as text), rows grouped by month."""
    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def by_month(self) -> dict[str, list[tuple[str, ...]]]:
        months: dict[str, list[tuple[str, ...]]] = defaultdict(list)
        for row in self.rows:
            months[row[0]].append(row)
        return {m: sorted(rows) for m, rows in months.items()}

    def outside(self, column: str | None, area: frozenset[str] | None) -> int:
        """Rows whose `column` holds a code outside `area` (None: London-wide, nothing is outside)."""
        names = [_name(c) for c in self.columns]       # an export's header holds the columns' verbose names
        if column is None or area is None or column not in names:
            return 0
        i = names.index(column)
        return sum(1 for row in self.rows if row[i] not in area and row[i] not in ("", "None"))


def _name(column: str) -> str:
    return column.strip().lower().replace(" ", "_")


def differing_months(baseline: Answer, answer: Answer) -> list[str]:
    """The months whose rows differ between the two answers (a month missing from either differs)."""
    before, now = baseline.by_month(), answer.by_month()
    return sorted(m for m in before.keys() | now.keys() if before.get(m) != now.get(m))


def torn_months(before: Answer, answer: Answer, after: Answer) -> list[str]:
    """The months of `answer` that are neither as they were before the refresh nor as it left them (a month
    half built, missing or doubled): each month must be whole, from one state or the other. When the refresh
    changes nothing (before == after) these are the months that differ from before."""
    b, now, a = before.by_month(), answer.by_month(), after.by_month()
    return sorted(m for m in b.keys() | now.keys() | a.keys() if now.get(m) not in (b.get(m), a.get(m)))


def describe(before: Answer, answer: Answer, after: Answer, months: list[str]) -> str:
    """Rows per month: before / in the answer / after."""
    b, now, a = before.by_month(), answer.by_month(), after.by_month()
    return ", ".join(f"{m}: {len(b.get(m, []))}/{len(now.get(m, []))}/{len(a.get(m, []))} rows" for m in months)


@dataclasses.dataclass
class Analyst:
    """A logged-in session of one analyst, with the queries their agreement lets them run."""
    username: str
    organisation: str
    area: dict[str, frozenset[str] | None]   # relation -> the borough codes its rows may hold (None: London)
    session: requests.Session
    database_id: int
    datasets: dict[str, int]


@dataclasses.dataclass
class LoadFigures:
    sessions: int = 0
    users: dict[str, str] = dataclasses.field(default_factory=dict)          # username -> organisation
    queries: dict[str, list[str]] = dataclasses.field(default_factory=dict)  # username -> query names run
    seconds: float = 0.0
    refresh_seconds: float | None = None
    refresh_error: str | None = None
    latencies: dict[str, list[float]] = dataclasses.field(default_factory=lambda: {k: [] for k in KINDS})
    requests: Counter = dataclasses.field(default_factory=Counter)        # kind -> requests made
    ok: Counter = dataclasses.field(default_factory=Counter)              # (username, kind) -> 2xx answers
    errors: Counter = dataclasses.field(default_factory=Counter)          # "kind: why" -> count
    differing: Counter = dataclasses.field(default_factory=Counter)       # "user: query: months" -> answers
    refreshed: Counter = dataclasses.field(default_factory=Counter)       # "user: query" -> answers as after
    changed: list[str] = dataclasses.field(default_factory=list)          # "user: query": after != before
    unexpected: dict = dataclasses.field(default_factory=dict, repr=False)  # (user, query) -> Counter of answers
    outside_rows: Counter = dataclasses.field(default_factory=Counter)    # "user: query" -> rows
    audited: Counter = dataclasses.field(default_factory=Counter)         # (username, kind) -> events
    unchecked: list[str] = dataclasses.field(default_factory=list)        # baselines refused: not run
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock, repr=False)

    @property
    def total(self) -> int:
        return sum(self.requests.values())

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    @property
    def error_rate(self) -> float:
        return self.error_count / self.total if self.total else 0.0

    @property
    def differing_answers(self) -> int:
        return sum(self.differing.values())

    @property
    def rows_outside(self) -> int:
        return sum(self.outside_rows.values())

    def made(self, kind: str) -> int:
        return sum(n for (_, k), n in self.ok.items() if k == kind)

    def audited_of(self, kind: str) -> int:
        return sum(n for (_, k), n in self.audited.items() if k == kind)

    @property
    def unaudited(self) -> dict[tuple[str, str], tuple[int, int]]:
        """(username, kind) -> (answered, audited) wherever the two differ."""
        keys = set(self.ok) | set(self.audited)
        return {k: (self.ok[k], self.audited[k]) for k in sorted(keys) if self.ok[k] != self.audited[k]}


def percentile(values: list[float], q: int) -> float | None:
    if not values:
        return None
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1]


def check_loopback(base: str) -> None:
    host = urlparse(base).hostname
    if host not in LOOPBACK:
        raise ValueError(f"the load test only runs against this machine (127.0.0.1 or localhost), not {host!r}")


def login(base: str, username: str, password: str, code: Callable[[str], str]) -> requests.Session:
    """A browser-like session: the login form, the one-time code `code(username)` and the conditions of use."""
    s = requests.Session()
    token = re.search(r'id="csrf_token"\s*value="([^"]+)"', s.get(f"{base}/login/", timeout=60).text).group(1)
    s.post(f"{base}/login/", data={"username": username, "password": password, "csrf_token": token}, timeout=60)
    # A code is accepted once per user: when another session of the same user spent it first, the second factor
    # asks again, as it would a person, who types the next code.
    for _ in range(3):
        page = s.get(f"{base}/second-factor/", timeout=60)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
        s.post(f"{base}/second-factor/", data={"csrf_token": token, "code": code(username)}, timeout=60)
        page = s.get(f"{base}/terms/", timeout=60)
        found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
        version = re.search(r'name="version" value="([^"]+)"', page.text)
        if found and version:
            break
    else:
        raise RuntimeError(f"{username} could not log in (no conditions page after the second factor)")
    version = version.group(1)
    s.post(f"{base}/terms/", data={"csrf_token": found.group(1), "next": "/superset/welcome/", "version": version},
           timeout=60)
    s.headers.update({"X-CSRFToken": found.group(1), "Referer": base})
    return s


def current_code(cfg: Settings) -> Callable[[str], str]:
    """The user's one-time code as their authenticator shows it (a step is accepted once: this waits for the
    clock when the user has used the steps now acceptable, about 30 s per login beyond the third)."""
    from safestats.policies import governance

    def code(username: str) -> str:
        with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
            return governance.current_code(conn, username)
    return code


def areas(cfg: Settings, username: str) -> tuple[str, dict[str, frozenset[str] | None]]:
    """The user's organisation and, for each relation the queries read, the borough codes its agreement lets
    their rows hold (None: all of London)."""
    from safestats.policies import service

    policies = service.load(cfg)
    org = policies.agreements.organisations[policies.agreements.users[username].organisation]
    found: dict[str, frozenset[str] | None] = {}
    for relation in {q.relation for q in QUERIES}:
        mart = policies.catalogue[relation.split(".", 1)[1]]
        access = org.datasets.get(mart.dataset)
        scope = None if access is None else access.aggregate_scope if mart.level == "aggregate" else access.scope
        found[relation] = frozenset(scope.codes) if scope is not None and scope.by == "borough" else None
    return org.slug, found


def open_analyst(cfg: Settings, base: str, username: str, password: str, code: Callable[[str], str]) -> Analyst:
    s = login(base, username, password, code)
    db = s.get(f"{base}/api/v1/database/", timeout=60).json()["result"][0]["id"]
    found = s.get(f"{base}/api/v1/dataset/?q=(page_size:100)", timeout=60)
    found.raise_for_status()
    datasets = {f"{d['schema']}.{d['table_name']}": d["id"] for d in found.json()["result"]}
    organisation, area = areas(cfg, username)
    return Analyst(username, organisation, area, s, db, datasets)


def ask(analyst: Analyst, base: str, query: Query) -> requests.Response:
    """The request the analyst's browser sends: chart data uncached (so every answer is read from the database
    as it is now), a synchronous SQL Lab run, or a chart's CSV export."""
    s = analyst.session
    if query.kind == "sqllab":
        return s.post(f"{base}/api/v1/sqllab/execute/", json={
            "database_id": analyst.database_id, "sql": query.sql, "schema": "marts", "runAsync": False,
            "client_id": secrets.token_hex(5), "queryLimit": 10_000}, timeout=REQUEST_TIMEOUT_S)
    return s.post(f"{base}/api/v1/chart/data", json={
        "datasource": {"id": analyst.datasets[query.relation], "type": "table"},
        "queries": [{"metrics": list(query.metrics), "columns": list(query.columns), "filters": [],
                     "row_limit": 10_000}],
        "result_format": "csv" if query.kind == "export" else "json", "result_type": "full", "force": True},
        timeout=REQUEST_TIMEOUT_S)


def _text(value) -> str:
    return "" if value is None else str(value)


def answer_of(query: Query, resp: requests.Response) -> Answer:
    if query.kind == "export":
        rows = list(csv.reader(io.StringIO(resp.content.decode("utf-8-sig"))))
        return Answer(tuple(rows[0]) if rows else (), tuple(tuple(r) for r in rows[1:] if r))
    body = resp.json()
    if query.kind == "sqllab":
        columns = tuple(c["name"] for c in body.get("columns") or [])
        data = body.get("data") or []
    else:
        result = body["result"][0]
        columns = tuple(result.get("colnames") or (data[0].keys() if (data := result["data"]) else ()))
        data = result["data"]
    return Answer(columns, tuple(tuple(_text(row.get(c)) for c in columns) for row in data))


def why(resp: requests.Response) -> str:
    try:
        body = resp.json()
    except ValueError:
        return f"{resp.status_code} {resp.text[:100].strip()}"
    errors = body.get("errors") or [{}]
    return f"{resp.status_code} {str(errors[0].get('message') or body.get('message') or '')[:100]}"


def baseline(analyst: Analyst, base: str, figures: LoadFigures) -> dict[Query, Answer]:
    """Each query the analyst's agreement lets them run, answered before the load; a query refused here is
    left out of their mix (and listed as unchecked)."""
    answers = {}
    for query in QUERIES:
        if query.kind != "sqllab" and query.relation not in analyst.datasets:
            continue
        resp = ask(analyst, base, query)
        if resp.status_code != 200:
            figures.unchecked.append(f"{analyst.username}: {query.name}: {why(resp)}")
            continue
        answers[query] = answer_of(query, resp)
        outside = answers[query].outside(query.area_column, analyst.area.get(query.relation))
        if outside:
            figures.outside_rows[f"{analyst.username}: {query.name} (before the load)"] += outside
    return answers


def check(figures: LoadFigures, analyst: Analyst, query: Query, expected: Answer, answer: Answer) -> None:
    """Keep an answer that differs from the expected one (judged once the refresh is over, by `judge`), and
    count rows outside the analyst's area."""
    differs = bool(differing_months(expected, answer))   # rows in any order
    outside = answer.outside(query.area_column, analyst.area.get(query.relation))
    if differs or outside:
        with figures.lock:
            if differs:
                figures.unexpected.setdefault((analyst.username, query), Counter())[answer] += 1
            if outside:
                figures.outside_rows[f"{analyst.username}: {query.name}"] += outside


def judge(figures: LoadFigures, before: dict[str, dict[Query, Answer]], after: dict[str, dict[Query, Answer]]) -> None:
    """Each answer that differed from before the refresh: whole months of the state the refresh left (counted
    as refreshed) or a month neither before nor after (counted as differing)."""
    for username, answers in before.items():
        for query, answer in answers.items():
            if differing_months(answer, after[username][query]):
                figures.changed.append(f"{username}: {query.name}")
    for (username, query), answers in figures.unexpected.items():
        first, last = before[username][query], after[username][query]
        for answer, n in answers.items():
            months = torn_months(first, answer, last)
            if months:
                figures.differing[f"{username}: {query.name}: "
                                  f"{describe(first, answer, last, months)} (before/answer/after)"] += n
            else:
                figures.refreshed[f"{username}: {query.name}"] += n


def work(analyst: Analyst, base: str, expected: dict[Query, Answer], figures: LoadFigures,
         stop: threading.Event, offset: int) -> None:
    """One session's loop over its mix until told to stop (each session starts at a different query)."""
    mix = list(expected)
    for query in itertools.islice(itertools.cycle(mix), offset % len(mix), None):
        if stop.is_set():
            return
        started = time.perf_counter()
        try:
            resp = ask(analyst, base, query)
        except requests.RequestException as exc:
            with figures.lock:
                figures.requests[query.kind] += 1
                figures.errors[f"{query.kind}: {type(exc).__name__}"] += 1
            continue
        elapsed = time.perf_counter() - started
        with figures.lock:
            figures.requests[query.kind] += 1
            if resp.status_code // 100 != 2:
                figures.errors[f"{query.kind}: {why(resp)}"] += 1
                continue
            figures.latencies[query.kind].append(elapsed)
            figures.ok[(analyst.username, query.kind)] += 1
        try:
            answer = answer_of(query, resp)
        except (ValueError, KeyError, IndexError) as exc:
            with figures.lock:
                figures.errors[f"{query.kind}: unreadable answer ({type(exc).__name__})"] += 1
            continue
        check(figures, analyst, query, expected[query], answer)


def last_event_id(cfg: Settings) -> int:
    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
        return conn.execute("select coalesce(max(event_id), 0) from audit.events").fetchone()[0]


def count_audited(cfg: Settings, since: int, until: int, usernames: list[str]) -> Counter:
    """(username, kind) -> audit events of answered requests between two event ids (chart data and SQL Lab
    record refusals too, with their status: those are left out)."""
    found: Counter = Counter()
    types = {v: k for k, v in AUDIT_EVENT.items()}
    with psycopg.connect(database.endpoint(cfg).conninfo(), autocommit=True) as conn:
        for username, event_type, n in conn.execute(
                "select username, event_type, count(*) from audit.events where event_id > %s and event_id <= %s"
                " and username = any(%s) and event_type = any(%s)"
                " and coalesce((detail->>'status')::int, 200) < 300 group by 1, 2",
                (since, until, usernames, list(types))).fetchall():
            found[(username, types[event_type])] = n
    return found


def run(base: str, cfg: Settings, analysts: dict[str, str], sessions: int = 30, seconds: float = 300,
        during: Callable[[], None] | None = None, stop_with_during: bool = False,
        code: Callable[[str], str] | None = None, say: Callable[[str], None] = lambda _: None) -> LoadFigures:
    """`sessions` concurrent sessions, round-robin over `analysts` (username -> password), each logged in once
    and looping over its mix for `seconds` (or until `during` ends, with stop_with_during), while `during` runs
    in its own thread from the start. `code(username)` gives the one-time code (default: the authenticator's
    code now, waiting for the next time step when needed)."""
    check_loopback(base)
    code = code or current_code(cfg)
    figures = LoadFigures(sessions=sessions)
    names = list(analysts)
    who = [names[i % len(names)] for i in range(sessions)]
    say(f"logging in {sessions} sessions of {len(names)} analysts")
    opened: list[Analyst | None] = [None] * sessions

    def open_all(username: str) -> None:      # one user's logins one after another: a code is accepted once
        for i in (i for i, u in enumerate(who) if u == username):
            opened[i] = open_analyst(cfg, base, username, analysts[username], code)

    _all_in_threads([lambda u=u: open_all(u) for u in names])
    expected: dict[str, dict[Query, Answer]] = {}
    for a in opened:
        figures.users[a.username] = a.organisation
        if a.username not in expected:
            say(f"baseline answers of {a.username}")
            expected[a.username] = baseline(a, base, figures)
            figures.queries[a.username] = [q.name for q in expected[a.username]]
    if not all(expected.values()):
        raise RuntimeError(f"an analyst has no query to run: {figures.unchecked}")
    since = last_event_id(cfg)
    stop = threading.Event()
    say(f"load: {sessions} sessions for up to {seconds:.0f} s" + (" while the refresh runs" if during else ""))

    def refresh() -> None:
        started = time.perf_counter()
        try:
            during()
        except Exception as exc:  # noqa: BLE001 - reported in the figures; the load goes on to its end
            figures.refresh_error = f"{type(exc).__name__}: {exc}"
        finally:
            figures.refresh_seconds = time.perf_counter() - started
            if stop_with_during:
                stop.set()

    started = time.perf_counter()
    workers = [threading.Thread(target=work, args=(a, base, expected[a.username], figures, stop, i), daemon=True)
               for i, a in enumerate(opened)]
    if during is not None:
        workers.append(threading.Thread(target=refresh, daemon=True))
    for t in workers:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in workers:
        t.join()
    figures.seconds = time.perf_counter() - started
    figures.audited = count_audited(cfg, since, last_event_id(cfg), names)
    say("answers after the refresh")
    after: dict[str, dict[Query, Answer]] = {}
    for a in opened:
        if a.username not in after:
            after[a.username] = {q: answer_of(q, _ok(ask(a, base, q))) for q in expected[a.username]}
            for q, answer in after[a.username].items():
                if outside := answer.outside(q.area_column, a.area.get(q.relation)):
                    figures.outside_rows[f"{a.username}: {q.name} (after the load)"] += outside
    judge(figures, expected, after)
    return figures


def _ok(resp: requests.Response) -> requests.Response:
    if resp.status_code != 200:
        raise RuntimeError(f"a query refused after the load: {why(resp)}")
    return resp


def _all_in_threads(steps: list[Callable[[], None]]) -> None:
    failures: list[BaseException] = []

    def guarded(step: Callable[[], None]) -> None:
        try:
            step()
        except BaseException as exc:  # noqa: BLE001 - raised below, in the caller's thread
            failures.append(exc)

    threads = [threading.Thread(target=guarded, args=(s,)) for s in steps]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if failures:
        raise failures[0]


def _seconds(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


def _p50_p95(values: list[float]) -> str:
    return f"{_seconds(percentile(values, 50))} / {_seconds(percentile(values, 95))}"


def report(console: Console, figures: LoadFigures, title: str | None = None) -> None:
    """The figures as a table, then what went wrong (errors by kind, differing answers, rows outside an
    agreement, requests not audited)."""
    table = Table(title=title or f"{figures.sessions} analyst sessions of {len(figures.users)} organisations, "
                                 f"{figures.seconds:.0f} s" + (f", refresh {figures.refresh_seconds:.0f} s"
                                                               if figures.refresh_seconds is not None else ""))
    table.add_column("measure")
    for kind in (*KINDS, "all"):
        table.add_column(kind, justify="right")

    def per_kind(cell: Callable[[str], str], whole: str) -> list[str]:
        return [cell(k) for k in KINDS] + [whole]

    every = [v for k in KINDS for v in figures.latencies[k]]
    errors = Counter()
    for key, n in figures.errors.items():
        errors[key.split(":", 1)[0]] += n
    table.add_row("requests", *per_kind(lambda k: f"{figures.requests[k]:,}", f"{figures.total:,}"))
    table.add_row("errors (rate)", *per_kind(
        lambda k: f"{errors[k]} ({errors[k] / figures.requests[k]:.2%})" if figures.requests[k] else "-",
        f"{figures.error_count} ({figures.error_rate:.2%})"))
    table.add_row("p50 / p95 s", *per_kind(lambda k: _p50_p95(figures.latencies[k]), _p50_p95(every)))
    table.add_row("answered / audited", *per_kind(
        lambda k: f"{figures.made(k):,} / {figures.audited_of(k):,}",
        f"{sum(figures.ok.values()):,} / {sum(figures.audited.values()):,}"))
    table.add_row("answers with a month neither before nor after the refresh", "", "", "",
                  f"{figures.differing_answers}")
    table.add_row("answers already as the refresh left them", "", "", "", f"{sum(figures.refreshed.values())}")
    table.add_row("rows outside the analyst's agreement", "", "", "", f"{figures.rows_outside}")
    console.print(table)
    users = ", ".join(f"{u} ({o})" for u, o in figures.users.items())
    console.print(f"analysts: {users}")
    if figures.refresh_error:
        console.print(f"[red]the refresh failed: {figures.refresh_error}[/red]")
    for title_, found in (("errors", figures.errors), ("answers differing", figures.differing),
                          ("rows outside the agreement", figures.outside_rows)):
        for key, n in sorted(found.items()):
            console.print(f"{title_}: {n} x {key}")
    for (username, kind), (answered, audited) in figures.unaudited.items():
        console.print(f"not audited: {username} {kind}: {answered} answered, {audited} audit events")
    for line in figures.changed:
        console.print(f"changed by the refresh (whole months, before -> after): {line}")
    for line in figures.unchecked:
        console.print(f"not in the mix (refused before the load): {line}")
