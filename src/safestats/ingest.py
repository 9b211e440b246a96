"""Load extract files into raw.<dataset>: one transaction per file, every row loaded or rejected with a reason."""
from __future__ import annotations

import csv
import io
import json
import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import psycopg
from psycopg import sql

from safestats.contracts import Contract
from safestats.sniff import FileFacts, UnreadableFile, sha256_of, sniff
from safestats.validation import reject_reason

log = logging.getLogger(__name__)
COPY_CHUNK = 1 << 20


class Quarantine(Exception):
    """The whole file is refused; the message says why and what to do."""


@dataclass
class FileResult:
    path: Path
    status: str                 # loaded, skipped, quarantined
    dataset: str | None = None
    agency: str | None = None
    period: str | None = None
    load_id: int | None = None
    rows_read: int = 0
    rows_loaded: int = 0
    rows_rejected: int = 0
    superseded: list[int] = field(default_factory=list)
    extra_columns: tuple[str, ...] = ()
    message: str = ""


@dataclass(frozen=True)
class Recognised:
    contract: Contract
    agency: str
    period: str                 # YYYY-MM


def recognise(path: Path, contracts: Iterable[Contract]) -> Recognised:
    """Which dataset, agency and month a file is, from its published name."""
    for contract in contracts:
        m = contract.file_name.fullmatch(path.name)
        if m is None:
            continue
        agency, period = m.group("agency"), m.group("period")
        if agency not in contract.agencies:
            known = ", ".join(sorted(contract.agencies))
            raise Quarantine(f"{path.name}: unknown agency {agency!r} for {contract.dataset} (known: {known})")
        if not 1 <= int(period[5:7]) <= 12:
            raise Quarantine(f"{path.name}: {period!r} in the file name is not a month")
        return Recognised(contract, agency, period)
    raise Quarantine(f"{path.name}: the name matches no dataset's published file name "
                     "(e.g. YYYY-MM-<force>-street.csv); rename it or add the dataset's contract")


def landing_files(landing: Path) -> list[Path]:
    """Every file under the landing folder, oldest month first (names start YYYY-MM), hidden files aside."""
    files = [p for p in landing.rglob("*") if p.is_file() and not any(part.startswith(".") for part in p.relative_to(landing).parts)]
    return sorted(files, key=lambda p: (p.name, str(p)))


def _previous_load(conn: psycopg.Connection, sha: str, retry_quarantined: bool):
    row = conn.execute(
        "select load_id, status, error from raw._loads where sha256 = %s"
        " and (status <> 'quarantined' or not %s) order by load_id desc limit 1",
        (sha, retry_quarantined)).fetchone()
    return row


def ingest_file(conn: psycopg.Connection, path: Path, contracts: list[Contract], *,
                retry_quarantined: bool = False) -> FileResult:
    """Load one file, or skip it (seen before), or quarantine it (recorded with the reason).
    `conn` is the loader's autocommit connection: each file gets a transaction of its own."""
    path = path.resolve()
    result = FileResult(path=path, status="quarantined")
    sha = None
    try:
        sha = sha256_of(path)
        previous = _previous_load(conn, sha, retry_quarantined)
        if previous is not None:
            load_id, status, error = previous
            result.status, result.load_id = "skipped", load_id
            result.message = f"same file as load {load_id} ({status}{': ' + error if error else ''})"
            return result
        recognised = recognise(path, contracts)
        result.dataset, result.agency, result.period = (
            recognised.contract.dataset, recognised.agency, recognised.period)
        facts = sniff(path)
        match = recognised.contract.match_header(facts.header)
        if not match.ok:
            problems = []
            if match.missing:
                problems.append("missing required column(s) " + ", ".join(repr(m) for m in match.missing))
            if match.duplicated:
                problems.append("column(s) given twice " + ", ".join(repr(d) for d in match.duplicated))
            raise Quarantine(f"{path.name}: header does not match the {recognised.contract.dataset} contract: "
                             + "; ".join(problems) + f" (header: {', '.join(facts.header)})")
        with conn.transaction():
            _load(conn, path, recognised, facts, match, result)
        result.status = "loaded"
        return result
    except (Quarantine, UnreadableFile, OSError) as exc:
        message = str(exc) if isinstance(exc, Quarantine) else f"{path.name}: {exc}"
    except psycopg.DataError as exc:
        message = f"{path.name}: the database refused the file: {str(exc).splitlines()[0]}"
    result.message = message
    result.load_id = _record_quarantine(conn, path, sha, result, message)
    log.warning("quarantined %s", message)
    return result


def _record_quarantine(conn, path: Path, sha: str | None, result: FileResult, message: str) -> int:
    with conn.transaction():
        return conn.execute(
            "insert into raw._loads (file_name, file_path, sha256, dataset, agency, period, status, error, finished_at)"
            " values (%s, %s, %s, %s, %s, %s, 'quarantined', %s, now()) returning load_id",
            (path.name, str(path), sha or "unreadable", result.dataset, result.agency,
             _month_start(result.period), message)).fetchone()[0]


def _month_start(period: str | None) -> date | None:
    return date(int(period[:4]), int(period[5:7]), 1) if period else None


def _load(conn, path: Path, rec: Recognised, facts: FileFacts, match, result: FileResult) -> None:
    contract = rec.contract
    # One loader at a time per dataset, agency and month: supersession stays consistent.
    conn.execute("select pg_advisory_xact_lock(hashtext(%s))", (f"{contract.dataset}/{rec.agency}/{rec.period}",))
    load_id = conn.execute(
        "insert into raw._loads (file_name, file_path, sha256, dataset, agency, period, encoding, line_ending,"
        " extra_columns, status) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, 'loading') returning load_id",
        (path.name, str(path), facts.sha256, contract.dataset, rec.agency, _month_start(rec.period),
         facts.encoding, facts.line_ending, list(match.extra))).fetchone()[0]
    width = len(facts.header)
    incoming_cols = [sql.Identifier(f"c{i}") for i in range(width)]
    conn.execute(sql.SQL(
        "create temporary table _incoming ({}, _row bigint generated by default as identity) on commit drop"
    ).format(sql.SQL(", ").join(sql.SQL("{} text").format(c) for c in incoming_cols)))
    copy_rejects = _copy_incoming(conn, path, facts, incoming_cols)

    reason = reject_reason(contract, match.positions, rec.period)
    record = sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
        sql.SQL("{}, {}").format(sql.Literal(h), c) for h, c in zip(_unique(facts.header), incoming_cols)))
    conn.execute(sql.SQL(
        "insert into raw._rejects (load_id, source_row_number, reason, record)"
        " select {load_id}, _row, r.reason, {record} from _incoming, lateral (select {reason} as reason) as r"
        " where r.reason is not null").format(load_id=sql.Literal(load_id), record=record, reason=reason))
    if copy_rejects:
        with conn.cursor() as cur:
            cur.executemany("insert into raw._rejects (load_id, source_row_number, reason, record) values (%s, %s, %s, %s)",
                            [(load_id, n, why, json.dumps({"fields": fields})) for n, why, fields in copy_rejects])
    targets = [sql.Identifier(c.name) for c in contract.columns if c.name in match.positions]
    sources = [incoming_cols[match.positions[c.name]] for c in contract.columns if c.name in match.positions]
    conn.execute(sql.SQL(
        "insert into {table} ({targets}, _load_id, _source_row_number, _loaded_at)"
        " select {sources}, {load_id}, _row, now() from _incoming where {reason} is null").format(
        table=sql.Identifier("raw", contract.dataset), targets=sql.SQL(", ").join(targets),
        sources=sql.SQL(", ").join(sources), load_id=sql.Literal(load_id), reason=reason))
    read, = conn.execute("select count(*) from _incoming").fetchone()
    rejected, = conn.execute("select count(*) from raw._rejects where load_id = %s", (load_id,)).fetchone()
    loaded = conn.execute(sql.SQL("select count(*) from {} where _load_id = %s").format(
        sql.Identifier("raw", contract.dataset)), (load_id,)).fetchone()[0]
    read += len(copy_rejects)
    superseded = [r[0] for r in conn.execute(
        "update raw._loads set status = 'superseded', superseded_by = %s"
        " where dataset = %s and agency = %s and period = %s and status = 'loaded' returning load_id",
        (load_id, contract.dataset, rec.agency, _month_start(rec.period))).fetchall()]
    # The rows_conserved check constraint refuses this update unless read = loaded + rejected.
    conn.execute("update raw._loads set status = 'loaded', rows_read = %s, rows_loaded = %s, rows_rejected = %s,"
                 " finished_at = now() where load_id = %s", (read, loaded, rejected, load_id))
    result.load_id, result.rows_read, result.rows_loaded, result.rows_rejected = load_id, read, loaded, rejected
    result.superseded, result.extra_columns = superseded, match.extra


def _unique(headers: list[str]) -> list[str]:
    seen: dict[str, int] = {}
    out = []
    for h in headers:
        h = h.replace("\ufeff", "").strip() or "(blank)"
        seen[h] = seen.get(h, 0) + 1
        out.append(h if seen[h] == 1 else f"{h} ({seen[h]})")
    return out


def _copy_incoming(conn, path: Path, facts: FileFacts, cols) -> list[tuple[int, str, list[str]]]:
    """COPY the file's bytes straight in; if PostgreSQL cannot parse it as one clean CSV table
    (a row with too many or too few fields, mixed line endings), parse it row by row instead and
    return the rows that cannot be loaded as (row number, reason, fields)."""
    copy_stmt = sql.SQL("copy _incoming ({}) from stdin with (format csv, header true, encoding {})").format(
        sql.SQL(", ").join(cols), sql.Literal(facts.postgres_encoding))
    try:
        with conn.transaction():
            with conn.cursor().copy(copy_stmt) as copy, path.open("rb") as fh:
                for chunk in iter(lambda: fh.read(COPY_CHUNK), b""):
                    copy.write(chunk)
        return []
    except (psycopg.errors.BadCopyFileFormat, psycopg.errors.CharacterNotInRepertoire,
            psycopg.errors.UntranslatableCharacter, psycopg.DataError) as exc:
        log.info("%s: row-by-row load after COPY refused it: %s", path.name, str(exc).splitlines()[0])
    return _copy_row_by_row(conn, path, facts, cols)


def _copy_row_by_row(conn, path: Path, facts: FileFacts, cols) -> list[tuple[int, str, list[str]]]:
    width = len(cols)
    rejects = []
    with path.open("r", encoding=facts.encoding, newline="") as fh:
        reader = csv.reader(fh)
        next(reader, None)
        with conn.cursor().copy(sql.SQL("copy _incoming ({}, _row) from stdin").format(
                sql.SQL(", ").join(cols))) as copy:
            row_number = 0
            try:
                for fields in reader:
                    if not fields:
                        continue  # a blank line is not a row
                    row_number += 1
                    if len(fields) != width and not _only_blank_padding(fields, width):
                        rejects.append((row_number, f"row has {len(fields)} fields; the header has {width}", fields))
                        continue
                    fields = (fields + [""] * width)[:width]
                    copy.write_row([*(f if f != "" else None for f in fields), row_number])
            except csv.Error as exc:
                raise Quarantine(f"{path.name}: not valid CSV after data row {row_number}: {exc}") from None
    return rejects


def _only_blank_padding(fields: list[str], width: int) -> bool:
    """Extra trailing cells that are all empty carry nothing: a spreadsheet's stray separator."""
    return len(fields) > width and not any(f.strip() for f in fields[width:])


def ingest_landing(conn: psycopg.Connection, landing: Path, contracts: list[Contract], *,
                   retry_quarantined: bool = False,
                   on_file: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    results = []
    for path in landing_files(landing):
        result = ingest_file(conn, path, contracts, retry_quarantined=retry_quarantined)
        results.append(result)
        if on_file:
            on_file(result)
    return results
