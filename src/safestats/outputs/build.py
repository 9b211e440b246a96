"""Make the outputs: on demand (`safestats reports build`) or after each refresh's release (`for_refresh`).

A refresh makes what its data changed: the trend reports of the latest completed quarter, the core dataset of
each released month, the hospital reports of the latest submission month, and the feedback on the files it
loaded. An output whose inputs and code are those it was last made from is not made again (`state.json` keeps
a digest of both per output set), so a rerun costs a few queries. A set that fails is reported and its
previous files stay listed; the others are still made."""
from __future__ import annotations

import fcntl
import hashlib
import json
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import psycopg
from psycopg import sql

from safestats import warehouse
from safestats.config import Settings, settings
from safestats.outputs import audience, figures
from safestats.outputs.area import Area, Output, root

KINDS = ("trend", "core", "hospital", "supplier")


@dataclass
class OutputsOutcome:
    written: list[Output] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)    # output sets whose inputs had not changed
    failures: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failures


def _code_digest() -> str:
    here = Path(__file__).parent
    h = hashlib.sha256()
    for path in sorted([*here.glob("*.py"), *here.glob("templates/*")]):
        h.update(path.name.encode() + path.read_bytes())
    return h.hexdigest()


def _inputs_digest(conn, query, params=()) -> str:
    """A digest of every row a query returns, in a stable order."""
    return conn.execute(sql.SQL("select md5(coalesce(string_agg(t::text, '|' order by t::text), '')) from ({}) t")
                        .format(sql.SQL(query) if isinstance(query, str) else query), params).fetchone()[0]


def _exists(conn, relation: str) -> bool:
    """A set whose source is not built yet (a warehouse without that dataset) has nothing to make."""
    return conn.execute("select to_regclass(%s) is not null", (relation,)).fetchone()[0]


@contextmanager
def _locked(base: Path):
    base.mkdir(parents=True, exist_ok=True)
    with open(base / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


class _State:
    def __init__(self, base: Path, code: str):
        self.path, self.code = base / "state.json", code
        self.data = json.loads(self.path.read_text()) if self.path.exists() else {}

    def current(self, key: str, inputs: str) -> bool:
        return self.data.get(key) == f"{self.code}:{inputs}"

    def mark(self, key: str, inputs: str) -> None:
        self.data[key] = f"{self.code}:{inputs}"
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.data, indent=1, sort_keys=True))
        tmp.replace(self.path)


def _released_digest(conn, months: list[str]) -> str:
    """Every released cell of those months, London and borough level, of every released relation."""
    relations = [r[0] for r in conn.execute(
        "select table_name from information_schema.columns where table_schema = 'release'"
        " and column_name = 'geography_level' order by 1").fetchall()]
    cells = sql.SQL("select * from {} where to_char(incident_month, 'YYYY-MM') = any(%s)"
                    " and geography_level in ('london', 'borough')")
    parts = [_inputs_digest(conn, cells.format(sql.Identifier("release", name)), (months,)) for name in relations]
    return hashlib.sha256("".join(parts).encode()).hexdigest()


def _trend_months(quarter: str) -> list[str]:
    """The months a quarter's reports print or chart: the trend window and the same quarter a year before."""
    from safestats.outputs import trend_report

    last = date.fromisoformat(trend_report.quarter_months(quarter)[-1] + "-01")
    window = [f"{(last.year * 12 + last.month - 1 - i) // 12}-{(last.month - 1 - i) % 12 + 1:02d}"
              for i in range(trend_report.TREND_MONTHS)]
    return sorted(set(window) | set(trend_report.quarter_months(trend_report.year_before(quarter))))


def _population_digest(conn) -> str:
    return _inputs_digest(conn, "select * from marts.dim_borough_population") if _exists(
        conn, "marts.dim_borough_population") else ""


def _variants(cfg: Settings) -> tuple[dict, dict]:
    """The trend and core variants the organisations' grants call for today (audience.variants)."""
    from safestats.policies import compiler, service

    today = date.today()
    loaded = service.load(cfg)
    grants = compiler.compile_grants(loaded.agreements, loaded.catalogue, today)
    return audience.variants(loaded.agreements.organisations.values(), today, grants)


def build(cfg: Settings | None = None, *, kinds=KINDS, quarter: str | None = None, boroughs=None,
          month: str | None = None, load_ids: list[int] | None = None, force: bool = False) -> OutputsOutcome:
    """Make the outputs of `kinds`. Without `quarter` or `month`, the latest ones the warehouse holds; with
    `load_ids`, supplier feedback on those loads only (None: every load)."""
    from safestats.outputs import core_dataset, hospital_quality, supplier_feedback, trend_report
    from safestats.outputs.pdf import Printer

    cfg = cfg or settings()
    base = root(cfg)
    outcome = OutputsOutcome()
    rule = figures.default_rule(cfg)
    with _locked(base), psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        area, state = Area(base), _State(base, _code_digest())
        printer = None

        def pdfs():
            nonlocal printer
            if printer is None:
                printer = Printer().__enter__()
            return printer

        def run(key: str, inputs: str, make, replacing: str | None = None) -> None:
            if not force and state.current(key, inputs):
                outcome.unchanged.append(key)
                return
            try:
                made = make()
            except Exception as exc:      # one set failing leaves its last files listed and the others made
                area.discard()
                outcome.failures.append(f"{key}: {type(exc).__name__}: {exc}")
                return
            outcome.written.extend(made)
            area.save(replacing)
            state.mark(key, inputs)

        try:
            trends, cores = _variants(cfg) if {"trend", "core"} & set(kinds) else ({}, {})
            if "trend" in kinds and trends:
                quarters = [quarter] if quarter else trend_report.completed_quarters(conn)[-1:]
                for q in quarters:
                    inputs = _released_digest(conn, _trend_months(q)) + _population_digest(conn) + repr(trends)
                    run(f"trend_reports/{q}" + (f"/{','.join(boroughs)}" if boroughs else ""), inputs,
                        lambda q=q: trend_report.build_trend_reports(conn, area, q, rule=rule, printer=pdfs(),
                                                                     variants=trends, boroughs=boroughs),
                        replacing=None if boroughs else f"trend_reports/{q}/")
            if "core" in kinds and cores and _exists(conn, "release.agg_borough_violence_core_monthly"):
                for m in [month] if month else core_dataset.released_months(conn):
                    inputs = _inputs_digest(conn, "select * from release.agg_borough_violence_core_monthly"
                                                  " where incident_month > to_date(%s, 'YYYY-MM') - %s::interval"
                                                  " and incident_month <= to_date(%s, 'YYYY-MM')",
                                            (m, f"{core_dataset.TRAILING_MONTHS} months", m))
                    run(f"core_dataset/{m}", inputs + repr(cores),
                        lambda m=m: core_dataset.build_core_datasets(conn, area, m, rule=rule, variants=cores),
                        replacing=f"core_dataset/{m}/")
            if "hospital" in kinds and _exists(conn, "marts.fct_ed_site_data_quality"):
                m = month or hospital_quality.latest_month(conn)
                if m:
                    inputs = _inputs_digest(conn, "select * from marts.fct_ed_site_data_quality"
                                                  " where submission_month <= to_date(%s, 'YYYY-MM')", (m,))
                    inputs += _inputs_digest(conn, "select r.load_id, r.reason from raw._rejects r join raw._loads l"
                                                   " using (load_id) where l.dataset = 'istv_assault_attendances'"
                                                   " and l.status = 'loaded'")
                    run(f"hospital_reports/{m}", inputs,
                        lambda m=m: hospital_quality.build_hospital_reports(conn, area, m, rule=rule,
                                                                            printer=pdfs()))
            if "supplier" in kinds:
                inputs = _inputs_digest(conn, "select load_id, status, sha256 from raw._loads"
                                              " where %s::bigint[] is null or load_id = any(%s)",
                                        (load_ids, load_ids))
                run("supplier_feedback" + ("" if load_ids is None else f"/{inputs}"), inputs,
                    lambda: supplier_feedback.build_supplier_feedback(
                        conn, area, cfg.project_dir, load_ids=load_ids, refresh_date=date.today().isoformat()))
        finally:
            if printer is not None:
                printer.__exit__(None, None, None)
    return outcome


def for_refresh(files, cfg: Settings | None = None) -> OutputsOutcome:
    """After a refresh's release: everything its data may have changed, feedback on the files it took."""
    load_ids = sorted({f.load_id for f in files if getattr(f, "load_id", None) is not None})
    outcome = build(cfg, kinds=("trend", "core", "hospital"))
    if load_ids:
        feedback = build(cfg, kinds=("supplier",), load_ids=load_ids)
        outcome.written += feedback.written
        outcome.failures += feedback.failures
    return outcome
