"""Load extract files into raw.<dataset>: one transaction per file, every row loaded or rejected with a reason."""
from __future__ import annotations

import csv
import json
import logging
import tempfile
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import psycopg
from psycopg import sql

from safestats import validation
from safestats.contracts import Contract
from safestats.sniff import FileFacts, UnreadableFile, sha256_of, sniff
from safestats.workbook import is_workbook, workbook_to_csv

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
    period: str | None          # YYYY-MM; None for a cumulative publication
    coverage: str = "monthly"   # monthly or cumulative


def recognise(path: Path, contracts: Iterable[Contract]) -> Recognised:
    """Which dataset, agency and month a file is, from its published name."""
    for contract in contracts:
        m = contract.file_name.fullmatch(path.name)
        if m is None:
            cumulative = contract.cumulative_file_name and contract.cumulative_file_name.fullmatch(path.name)
            if cumulative:
                return Recognised(contract, _cumulative_agency(path, contract, cumulative), None, "cumulative")
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


def _cumulative_agency(path: Path, contract: Contract, m) -> str:
    """The agency of a cumulative publication: named in the file (any case), or the dataset's only agency."""
    named = m.groupdict().get("agency")
    if named is None:
        if len(contract.agencies) == 1:
            return next(iter(contract.agencies))
        raise Quarantine(f"{path.name}: the name does not say which agency sent it")
    agency = named.casefold()
    if agency not in contract.agencies:
        known = ", ".join(sorted(contract.agencies))
        raise Quarantine(f"{path.name}: unknown agency {named!r} for {contract.dataset} (known: {known})")
    return agency


def landing_files(landing: Path) -> list[Path]:
    """Every file under the landing folder, oldest month first (names start YYYY-MM), hidden files aside."""
    files = [p for p in landing.rglob("*")
             if p.is_file() and not any(part.startswith(".") for part in p.relative_to(landing).parts)]
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
        with tempfile.TemporaryDirectory(prefix="safestats-xlsx-") as scratch:
            data_path = path
            if is_workbook(path):
                # The data sheet becomes a UTF-8 CSV that takes the same COPY path, checks and rejects;
                # the load is still recorded under the workbook's name and checksum.
                data_path = Path(scratch) / (path.stem + ".csv")
                workbook_to_csv(path, recognised.contract, data_path)
            facts = sniff(data_path, sha)
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
                _load(conn, path, recognised, facts, match, result, data_path=data_path)
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


def _load(conn, path: Path, rec: Recognised, facts: FileFacts, match, result: FileResult, *,
          data_path: Path | None = None) -> None:
    """Load the rows of `data_path` (the file itself, or the CSV of a workbook's data sheet) as file `path`."""
    source = path
    path = data_path or path
    contract = rec.contract
    table = sql.Identifier("raw", contract.dataset)
    # One load at a time per raw table: supersession stays consistent and COPY's row numbers contiguous.
    conn.execute(sql.SQL("lock table {} in share row exclusive mode").format(table))
    load_id = conn.execute(
        "insert into raw._loads (file_name, file_path, sha256, dataset, agency, period, coverage, encoding,"
        " line_ending, extra_columns, status) values (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'loading')"
        " returning load_id",
        (source.name, str(source), facts.sha256, contract.dataset, rec.agency, _month_start(rec.period),
         rec.coverage, facts.encoding, facts.line_ending, list(match.extra))).fetchone()[0]
    checks = _Checks(contract, set(match.positions), rec.period)
    counts = None
    if len(match.positions) == len(facts.header):  # else extra columns: COPY cannot skip them
        for candidate in (facts, facts.fallback):
            if candidate is None:
                break
            try:
                counts = _copy_validated(conn, path, candidate, contract, match, load_id, checks)
                facts = candidate
                break
            except psycopg.errors.CharacterNotInRepertoire:
                continue  # not UTF-8 after all
    if counts is None:
        facts = _readable_encoding(path, facts)
        counts = _copy_row_by_row(conn, path, facts, contract, match, load_id, checks)
    workbook = source != path
    conn.execute("update raw._loads set encoding = %s, line_ending = %s where load_id = %s",
                 ("xlsx" if workbook else facts.encoding, None if workbook else facts.line_ending, load_id))
    read, loaded, rejected = counts
    if rec.coverage == "cumulative":
        # A cumulative publication holds every month so far: it replaces the previous one whole.
        superseded = [r[0] for r in conn.execute(
            "update raw._loads set status = 'superseded', superseded_by = %s where dataset = %s and agency = %s"
            " and coverage = 'cumulative' and status = 'loaded' returning load_id",
            (load_id, contract.dataset, rec.agency)).fetchall()]
    else:
        superseded = [r[0] for r in conn.execute(
            "update raw._loads set status = 'superseded', superseded_by = %s where dataset = %s and agency = %s"
            " and period = %s and coverage = 'monthly' and status = 'loaded' returning load_id",
            (load_id, contract.dataset, rec.agency, _month_start(rec.period))).fetchall()]
    # The rows_conserved check constraint refuses this update unless read = loaded + rejected.
    conn.execute("update raw._loads set status = 'loaded', rows_read = %s, rows_loaded = %s, rows_rejected = %s,"
                 " finished_at = now() where load_id = %s", (read, loaded, rejected, load_id))
    result.load_id, result.rows_read, result.rows_loaded, result.rows_rejected = load_id, read, loaded, rejected
    result.superseded, result.extra_columns = superseded, match.extra


@dataclass(frozen=True)
class _Checks:
    """The contract's row checks for one file, as SQL."""
    contract: Contract
    present: set
    period: str | None

    @property
    def valid(self) -> sql.Composable:
        return validation.row_is_valid(self.contract, self.present, self.period)

    @property
    def reason(self) -> sql.Composable:
        return validation.reject_reason(self.contract, self.present, self.period)

    @property
    def record(self) -> sql.Composable:
        return sql.SQL("jsonb_build_object({})").format(sql.SQL(", ").join(
            sql.SQL("{}, {}").format(sql.Literal(c.header), sql.Identifier(c.name))
            for c in self.contract.columns if c.name in self.present))


def _copy_stmt(table: sql.Composable, columns: list[str], facts: FileFacts, where: sql.Composable | None = None):
    return sql.SQL("copy {} ({}) from stdin with (format csv, header true, encoding {}){}").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.Literal(facts.postgres_encoding),
        sql.SQL(" where {}").format(where) if where is not None else sql.SQL(""))


def _stream(conn, stmt, path: Path) -> int:
    with conn.cursor() as cur:
        with cur.copy(stmt) as copy, path.open("rb") as fh:
            for chunk in iter(lambda: fh.read(COPY_CHUNK), b""):
                copy.write(chunk)
        return cur.rowcount


def _copy_validated(conn, path: Path, facts: FileFacts, contract: Contract, match, load_id: int, checks: _Checks):
    """The fast path: one COPY of the file's bytes into raw.<dataset> that keeps only valid rows.
    Every row read draws a row number from the sequence, so rows read = sequence advance; only when
    some rows failed is the file read a second time, to record those rows and why they failed.
    Returns (read, loaded, rejected), or None when PostgreSQL cannot take the file as one clean CSV
    table (a row with too many or too few fields, mixed line endings)."""
    by_position = {i: name for name, i in match.positions.items()}
    columns = [by_position[i] for i in range(len(facts.header))]
    table = sql.Identifier("raw", contract.dataset)
    sequence = f"raw.{contract.dataset}__row_seq"
    offset = conn.execute("select nextval(%s)", (sequence,)).fetchone()[0]
    try:
        with conn.transaction():
            # Row n of the file draws offset + n from the sequence. Constant defaults, set and dropped
            # inside this transaction, cost COPY nothing per row; nobody else ever sees them.
            conn.execute(sql.SQL(
                "alter table {t} alter column _load_id set default {load_id},"
                " alter column _source_row_number set default nextval({seq}::regclass) - {offset}").format(
                t=table, load_id=sql.Literal(load_id), seq=sql.Literal(sequence), offset=sql.Literal(offset)))
            loaded = _stream(conn, _copy_stmt(table, columns, facts, checks.valid), path)
            conn.execute(sql.SQL("alter table {} alter column _load_id drop default,"
                                 " alter column _source_row_number drop default").format(table))
    except psycopg.errors.CharacterNotInRepertoire:
        raise
    except psycopg.DataError as exc:
        log.info("%s: row-by-row load after COPY refused it: %s", path.name, str(exc).splitlines()[0])
        return None
    read = conn.execute("select currval(%s) - %s", (sequence, offset)).fetchone()[0]
    if read == loaded:
        return read, loaded, 0
    conn.execute(sql.SQL(
        "create temporary table _failed ({}, _source_row_number bigint generated always as identity)"
        " on commit drop").format(sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns)))
    again = _stream(conn, _copy_stmt(sql.Identifier("_failed"), columns, facts), path)
    rejected = conn.execute(sql.SQL(
        "insert into raw._rejects (load_id, source_row_number, reason, record)"
        " select {load_id}, _source_row_number, {reason}, {record} from _failed where not {valid}").format(
        load_id=sql.Literal(load_id), reason=checks.reason, record=checks.record, valid=checks.valid)).rowcount
    if again != read or read != loaded + rejected:
        raise RuntimeError(f"{path.name}: rows do not add up: read {read} then {again}, loaded {loaded}, "
                           f"rejected {rejected}")
    return read, loaded, rejected


def _copy_row_by_row(conn, path: Path, facts: FileFacts, contract: Contract, match, load_id: int,
                     checks: _Checks):
    """The careful path: parse with Python's csv module, refuse rows of the wrong width, then move
    rows that fail the contract's checks from raw.<dataset> to raw._rejects. Returns (read, loaded, rejected)."""
    width = len(facts.header)
    names = list(match.positions)
    positions = [match.positions[n] for n in names]
    table = sql.Identifier("raw", contract.dataset)
    misshapen, written = [], 0
    stmt = sql.SQL("copy {} ({}, _load_id, _source_row_number) from stdin").format(
        table, sql.SQL(", ").join(sql.Identifier(n) for n in names))
    with path.open("r", encoding=facts.encoding, newline="") as fh, conn.cursor().copy(stmt) as copy:
        reader = csv.reader(fh)
        next(reader, None)
        row_number = 0
        try:
            for fields in reader:
                if not fields:
                    continue  # a blank line is not a row
                row_number += 1
                if len(fields) != width and not _only_blank_padding(fields, width):
                    misshapen.append((row_number, f"row has {len(fields)} fields; the header has {width}", fields))
                    continue
                copy.write_row([*(fields[i] or None for i in positions), load_id, row_number])
                written += 1
        except csv.Error as exc:
            raise Quarantine(f"{path.name}: not valid CSV after data row {row_number}: {exc}") from None
    failed = conn.execute(sql.SQL(
        "with failed as (delete from {table} where _load_id = {load_id} and not {valid}"
        " returning _source_row_number, {reason} as reason, {record} as record)"
        " insert into raw._rejects (load_id, source_row_number, reason, record)"
        " select {load_id}, _source_row_number, reason, record from failed").format(
        table=table, load_id=sql.Literal(load_id), valid=checks.valid, reason=checks.reason,
        record=checks.record)).rowcount
    if misshapen:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw._rejects (load_id, source_row_number, reason, record) values (%s, %s, %s, %s)",
                [(load_id, n, why, json.dumps({"fields": fields})) for n, why, fields in misshapen])
    return row_number, written - failed, failed + len(misshapen)


def _readable_encoding(path: Path, facts: FileFacts) -> FileFacts:
    """Confirm the guessed encoding over the whole file before parsing it in Python."""
    for candidate in (facts, facts.fallback):
        if candidate is None:
            break
        try:
            with path.open("r", encoding=candidate.encoding, newline="") as fh:
                for _ in iter(lambda: fh.read(1 << 22), ""):
                    pass
            return candidate
        except UnicodeDecodeError:
            continue
    raise UnreadableFile("it is neither UTF-8 nor Windows-1252")


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
