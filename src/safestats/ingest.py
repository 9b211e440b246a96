"""Load extract files into raw.<dataset>: one transaction per file, every row loaded or rejected with a reason."""
from __future__ import annotations

import hashlib
import json
import logging
import os
import tempfile
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Callable, Iterable

import psycopg
from psycopg import sql

from safestats import copy_load
from safestats.contracts import Contract
from safestats.copy_load import Checks, NotOneRecordPerLine, Part
from safestats.records import FileShape, decoded_lines, has_utf8_text, read_records, shape_of
from safestats.sniff import FileFacts, UnreadableFile, sha256_of, sniff
from safestats.unpack import as_utf8, is_archive, refused_archive, unpack, utf16_encoding
from safestats.workbook import is_workbook, workbook_to_csv

log = logging.getLogger(__name__)


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


def recognise(name: str, contracts: Iterable[Contract], *, today: date | None = None) -> Recognised:
    """Which dataset, agency and month a file is, from its published name."""
    for contract in contracts:
        m = contract.file_name.fullmatch(name)
        if m is None:
            cumulative = contract.cumulative_file_name and contract.cumulative_file_name.fullmatch(name)
            if cumulative:
                return Recognised(contract, _cumulative_agency(name, contract, cumulative), None, "cumulative")
            continue
        agency, period = m.group("agency"), m.group("period")
        if agency not in contract.agencies:
            known = ", ".join(sorted(contract.agencies))
            raise Quarantine(f"{name}: unknown agency {agency!r} for {contract.dataset} (known: {known})")
        if not 1 <= int(period[5:7]) <= 12:
            raise Quarantine(f"{name}: {period!r} in the file name is not a month")
        if period > (today or date.today()).strftime("%Y-%m"):
            raise Quarantine(f"{name}: its month {period} is in the future; check the file's name and contents")
        return Recognised(contract, agency, period)
    raise Quarantine(f"{name}: the name matches no dataset's published file name "
                     "(e.g. YYYY-MM-<force>-street.csv); rename it or add the dataset's contract")


def _cumulative_agency(name: str, contract: Contract, m) -> str:
    """The agency of a cumulative publication: named in the file (any case), or the dataset's only agency."""
    named = m.groupdict().get("agency")
    if named is None:
        if len(contract.agencies) == 1:
            return next(iter(contract.agencies))
        raise Quarantine(f"{name}: the name does not say which agency sent it")
    agency = named.casefold()
    if agency not in contract.agencies:
        known = ", ".join(sorted(contract.agencies))
        raise Quarantine(f"{name}: unknown agency {named!r} for {contract.dataset} (known: {known})")
    return agency


def printable(text: str) -> str:
    """A file name or path as text that can be recorded: bytes that are not UTF-8 shown as \\xNN, NULs as \\0."""
    return os.fsencode(text).decode("utf-8", "backslashreplace").replace("\x00", "\\0")


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


class DatabaseFailed(RuntimeError):
    """The server failed under the ingest (not the file): the ingest stops, and a rerun picks up where it was."""


def ingest_file(conn: psycopg.Connection, path: Path, contracts: list[Contract], *,
                retry_quarantined: bool = False, name: str | None = None,
                recorded_as: str | None = None) -> FileResult:
    """Load one file, or skip it (seen before), or quarantine it (recorded with the reason). Whatever the
    file holds, it ends recorded: an unexpected failure quarantines this file and never stops the others. A failure
    of the server itself (DatabaseFailed) stops the ingest instead, with the file unrecorded.
    `conn` is the loader's autocommit connection: each file gets a transaction of its own. `name` and
    `recorded_as` name a file unpacked from an archive."""
    path = path.resolve()
    name = name or path.name
    shown = printable(name)
    result = FileResult(path=path, status="quarantined")
    sha = None
    try:
        if shown != name:
            raise Quarantine(f"{shown}: the file's name is not valid UTF-8 text; rename it")
        arrived = path.read_bytes()          # read once: checksummed here, loaded below
        sha, arrived_shape = _checksum_and_shape(arrived)
        previous = _previous_load(conn, sha, retry_quarantined)
        if previous is not None:
            load_id, status, error = previous
            result.status, result.load_id = "skipped", load_id
            result.message = f"same file as load {load_id} ({status}{': ' + error if error else ''})"
            return result
        if refused_archive(name):
            raise Quarantine(f"{name}: a {refused_archive(name)} archive is not unpacked (only .zip and .gz are); "
                             "unpack it and land its files")
        recognised = recognise(name, contracts)
        result.dataset, result.agency, result.period = (
            recognised.contract.dataset, recognised.agency, recognised.period)
        with tempfile.TemporaryDirectory(prefix="safestats-ingest-") as scratch:
            data_path, form = _readable_form(path, recognised.contract, Path(scratch), result)
            facts = sniff(data_path, sha)
            match = recognised.contract.match_header(facts.header)
            if not match.ok:
                problems = []
                if match.missing:
                    problems.append("missing required column(s) " + ", ".join(repr(m) for m in match.missing))
                if match.duplicated:
                    problems.append("column(s) given twice " + ", ".join(repr(d) for d in match.duplicated))
                raise Quarantine(f"{name}: header does not match the {recognised.contract.dataset} contract: "
                                 + "; ".join(problems) + f" (header: {', '.join(facts.header)})")
            source = _Source(name, recorded_as or printable(str(path)), data_path, form)
            if data_path == path:
                _load(conn, source, arrived, recognised, facts, match, result, arrived_shape)
            else:
                _load(conn, source, data_path.read_bytes(), recognised, facts, match, result)
        result.status = "loaded"
        return result
    except (Quarantine, UnreadableFile) as exc:
        message = str(exc) if isinstance(exc, Quarantine) else f"{shown}: {exc}"
    except OSError as exc:
        message = f"{shown}: the file cannot be read: {exc}"
    except psycopg.DataError as exc:
        message = f"{shown}: the database refused the file: {str(exc).splitlines()[0]}"
    except psycopg.OperationalError as exc:
        # The server went away, was shut down or ran out of room: not the file's fault, so not a quarantine. Its
        # transaction never committed, so nothing of it is recorded, and the next ingest loads it.
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatabaseFailed(f"the database failed while loading {shown} ({reason}): nothing of it was recorded; "
                             "run the ingest again once the server is back and has room") from exc
    except Exception as exc:  # noqa: BLE001 - one file's failure must never stop the others
        log.exception("unexpected failure on %s", shown)
        message = f"{shown}: the ingest failed on this file ({type(exc).__name__}: {exc}); nothing of it was loaded"
    result.message = printable(message)
    try:
        result.load_id = _record_quarantine(conn, shown, recorded_as or printable(str(path)), sha, result)
    except psycopg.Error:
        log.exception("could not record the quarantine of %s", shown)
    log.warning("quarantined %s", result.message)
    return result


def _checksum_and_shape(data: bytes) -> tuple[str, Future]:
    """The file's SHA-256, and its shape (`shape_of`) worked out at the same time: hashing lets go of the
    interpreter, counting lines does not. The shape is a future: a failure in it is raised where it is used."""
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shape") as pool:
        shape = pool.submit(shape_of, data)
        sha = hashlib.sha256(data).hexdigest()
    return sha, shape


def _readable_form(path: Path, contract: Contract, scratch: Path, result: FileResult) -> tuple[Path, str | None]:
    """The file as UTF-8 or single-byte CSV the load reads, and what it was when it is not that already
    (xlsx, utf-16-le, utf-16-be)."""
    if is_workbook(path):
        # The data sheets become one UTF-8 CSV that takes the same COPY path, checks and rejects; the
        # load is still recorded under the workbook's name and checksum.
        sheets, aside, _ = workbook_to_csv(path, contract, scratch / "sheets.csv")
        result.message = f"sheets loaded: {', '.join(sheets)}" + (
            f"; left aside (not {contract.dataset} data): {', '.join(aside)}" if aside else "")
        return scratch / "sheets.csv", "xlsx"
    utf16 = utf16_encoding(path)
    if utf16:
        return as_utf8(path, utf16, scratch / "utf8.csv"), utf16
    return path, None


@dataclass(frozen=True)
class _Source:
    name: str            # recorded file name
    recorded_as: str     # recorded file path
    data: Path           # the CSV bytes to load
    form: str | None     # what the file was, when it had to be converted (xlsx, utf-16-le, ...)


def _record_quarantine(conn, name: str, recorded_as: str, sha: str | None, result: FileResult) -> int:
    with conn.transaction():
        return conn.execute(
            "insert into raw._loads (file_name, file_path, sha256, dataset, agency, period, status, error, finished_at)"
            " values (%s, %s, %s, %s, %s, %s, 'quarantined', %s, now()) returning load_id",
            (name, recorded_as, sha or "unreadable", result.dataset, result.agency,
             _month_start(result.period), result.message)).fetchone()[0]


def _month_start(period: str | None) -> date | None:
    return date(int(period[:4]), int(period[5:7]), 1) if period else None


def _load(conn, source: _Source, data: bytes, rec: Recognised, facts: FileFacts, match,
          result: FileResult, shape: Future | None = None) -> None:
    """Load `data` (the bytes of `source.data`) as the file `source.name`: visible all at once, or not at all.
    `shape` is `shape_of(data)` when it is already under way."""
    shape = shape.result() if shape is not None else shape_of(data)
    facts = replace(facts, encoding=_encoding_of(data, facts.encoding))
    checks = Checks(rec.contract, set(match.positions), rec.period)
    # PostgreSQL's CSV parser is trusted with the file only when its quotes are strict CSV, it has no
    # extra columns to skip, and it reads exactly one record per line; anything else is read record by record.
    fast = shape.quotes_ok and len(match.positions) == len(facts.header)
    split = _split_copy(conn, data, shape, facts, match, checks) if fast and len(data) >= copy_load.SPLIT_BYTES \
        else None
    try:
        with conn.transaction():
            _record_load(conn, source, rec, facts, match, result, checks, data, shape, fast, split)
    except BaseException:
        if split is not None:
            copy_load.clear_load(conn, rec.contract.dataset, split[0])
        raise
    finally:
        if split is not None:
            copy_load.release(conn, rec.contract.dataset, split[0])


def _columns(facts: FileFacts, match) -> list[str]:
    by_position = {i: name for name, i in match.positions.items()}
    return [by_position[i] for i in range(len(facts.header))]


def _split_copy(conn, data: bytes, shape: FileShape, facts: FileFacts, match, checks: Checks):
    """A large file COPYed by two sessions at once under a reserved load id: (load id, counts), or None
    when PostgreSQL did not read it as one clean record per line (the caller then loads it whole)."""
    dataset = checks.contract.dataset
    load_id = copy_load.reserve_load(conn, dataset)
    try:
        counts = copy_load.copy_split(conn, copy_load.pieces(data, shape), facts, _columns(facts, match), load_id,
                                      checks)
    except psycopg.DataError as exc:
        log.info("%s: split COPY refused (%s); loading it whole", dataset, str(exc).splitlines()[0])
        copy_load.release(conn, dataset, load_id)
        return None
    except BaseException:
        copy_load.release(conn, dataset, load_id)
        raise
    if counts[0] != shape.data_lines:
        copy_load.clear_load(conn, dataset, load_id)
        copy_load.release(conn, dataset, load_id)
        return None
    return load_id, counts


def _record_load(conn, source: _Source, rec: Recognised, facts: FileFacts, match, result: FileResult,
                 checks: Checks, data: bytes, shape: FileShape, fast: bool, split) -> None:
    """The load's one transaction: its record, its rows (unless a split COPY already wrote them), its
    rejects, the loads it supersedes."""
    contract = rec.contract
    # One load at a time per raw table: supersession stays consistent.
    conn.execute(sql.SQL("lock table {} in share row exclusive mode").format(sql.Identifier("raw", contract.dataset)))
    load_id = conn.execute(
        "insert into raw._loads (load_id, file_name, file_path, sha256, dataset, agency, period, coverage, encoding,"
        " line_ending, extra_columns, status) overriding system value values (coalesce(%s, nextval("
        "pg_get_serial_sequence('raw._loads', 'load_id'))), %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, 'loading')"
        " returning load_id",
        (split[0] if split else None, source.name, source.recorded_as, facts.sha256, contract.dataset, rec.agency,
         _month_start(rec.period), rec.coverage, source.form or facts.encoding,
         None if source.form == "xlsx" else facts.line_ending, list(match.extra))).fetchone()[0]
    if split:
        counts = split[1]
        copy_load.finish_reservation(conn, load_id)
    else:
        counts = _copy_whole(conn, data, shape, facts, match, load_id, checks) if fast else None
        if counts is None:
            counts = _copy_record_by_record(conn, data, facts, contract, match, load_id, checks)
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


def _copy_whole(conn, data: bytes, shape: FileShape, facts: FileFacts, match, load_id: int, checks: Checks):
    """The fast path in one session: (read, loaded, rejected), or None when PostgreSQL cannot take the file
    as one clean CSV table of one record per line (then nothing of it is kept)."""
    try:
        with conn.transaction():
            dataset = checks.contract.dataset
            numbering = copy_load.create_numbering(conn, dataset, load_id)
            copy_load.number_rows(conn, dataset, load_id, {None: numbering})
            counts = copy_load.copy_part(conn, Part(memoryview(data), 1, True), facts, _columns(facts, match),
                                         load_id, checks, numbering, "raw._rejects")
            copy_load.stop_numbering(conn, dataset, [numbering])
            if counts[0] != shape.data_lines:
                raise NotOneRecordPerLine()
        return counts
    except psycopg.DataError as exc:
        log.info("careful load after COPY refused the file: %s", str(exc).splitlines()[0])
    except NotOneRecordPerLine:
        log.info("careful load: PostgreSQL read a record count other than the file's %s lines", shape.data_lines)
    return None


def _encoding_of(data: bytes, sniffed: str) -> str:
    """UTF-8 (with its BOM when it has one) when the file is UTF-8 or holds any UTF-8 character (then a
    line that is not UTF-8 is rejected, never guessed); Windows-1252 when it holds non-ASCII bytes and not
    one UTF-8 character."""
    if sniffed == "utf-8-sig" or data.isascii():
        return sniffed if sniffed == "utf-8-sig" else "utf-8"
    try:
        data.decode("utf-8")
        return "utf-8"
    except UnicodeDecodeError:
        return "utf-8" if has_utf8_text(data) else "cp1252"


def _copy_record_by_record(conn, data: bytes, facts: FileFacts, contract: Contract, match, load_id: int,
                           checks: Checks):
    """The careful path: the file's records as `records.read_records` finds them (each line decoded on its
    own; a quote never swallows lines). Records that are not CSV, or of the wrong width (even when the
    extra cells are blank: an unquoted comma shifts the fields after it), are rejected with their line;
    the rest go to raw.<dataset>, and those failing the contract's checks move to raw._rejects.
    Returns (read, loaded, rejected)."""
    width = len(facts.header)
    names = list(match.positions)
    positions = [match.positions[n] for n in names]
    table = sql.Identifier("raw", contract.dataset)
    bad, written, read = [], 0, 0
    stmt = sql.SQL("copy {} ({}, _load_id, _source_row_number) from stdin").format(
        table, sql.SQL(", ").join(sql.Identifier(n) for n in names))
    with conn.cursor().copy(stmt) as copy:
        for record in read_records(decoded_lines(data, facts.encoding), width):
            read = record.number
            fields = record.fields
            if fields is None:
                bad.append((record.number, record.problem, {"line": record.line, "text": record.text}))
            elif len(fields) != width:
                bad.append((record.number, f"row has {len(fields)} fields; the header has {width}",
                            {"line": record.line, "fields": fields}))
            else:
                copy.write_row([*(fields[i] or None for i in positions), load_id, record.number])
                written += 1
    failed = conn.execute(sql.SQL(
        "with failed as (delete from {table} where _load_id = {load_id} and not {valid}"
        " returning _source_row_number, {reason} as reason, {record} as record)"
        " insert into raw._rejects (load_id, source_row_number, reason, record)"
        " select {load_id}, _source_row_number, reason, record from failed").format(
        table=table, load_id=sql.Literal(load_id), valid=checks.valid, reason=checks.reason,
        record=checks.record)).rowcount
    if bad:
        with conn.cursor() as cur:
            cur.executemany(
                "insert into raw._rejects (load_id, source_row_number, reason, record) values (%s, %s, %s, %s)",
                [(load_id, n, why, json.dumps(record)) for n, why, record in bad])
    return read, written - failed, failed + len(bad)


def ingest_landed(conn: psycopg.Connection, path: Path, contracts: list[Contract], *,
                  retry_quarantined: bool = False) -> list[FileResult]:
    """One file from the landing folder: an archive gives each file inside it to the ingest; a file that
    is not an archive is ingested as itself."""
    try:
        archive = is_archive(path)
    except OSError:
        archive = False              # ingest_file records why it cannot be read
    if not archive:
        return [ingest_file(conn, path, contracts, retry_quarantined=retry_quarantined)]
    with tempfile.TemporaryDirectory(prefix="safestats-unpack-") as scratch:
        try:
            arrivals = unpack(path, path.name, Path(scratch))
        except UnreadableFile as exc:
            result = FileResult(path=path.resolve(), status="quarantined",
                                message=printable(f"{path.name}: {exc}"))
            result.load_id = _record_quarantine(conn, printable(path.name), printable(str(path.resolve())),
                                                sha256_of(path), result)
            return [result]
        results = []
        for arrival in arrivals:
            if is_archive(arrival.path):
                result = FileResult(path=path.resolve(), status="quarantined", message=printable(
                    f"{arrival.name}: an archive inside the archive {path.name}; unpack it and land its files"))
                result.load_id = _record_quarantine(conn, printable(arrival.name), printable(arrival.recorded_as),
                                                    sha256_of(arrival.path), result)
                results.append(result)
                continue
            result = ingest_file(conn, arrival.path, contracts, retry_quarantined=retry_quarantined,
                                 name=arrival.name, recorded_as=printable(arrival.recorded_as))
            result.path = path.resolve()
            results.append(result)
        return results


def ingest_landing(conn: psycopg.Connection, landing: Path, contracts: list[Contract], *,
                   retry_quarantined: bool = False,
                   on_file: Callable[[FileResult], None] | None = None) -> list[FileResult]:
    copy_load.clear_abandoned(conn)
    results = []
    for path in landing_files(landing):
        for result in ingest_landed(conn, path, contracts, retry_quarantined=retry_quarantined):
            results.append(result)
            if on_file:
                on_file(result)
    refresh_statistics(conn, results)
    return results


# What the planner needs from raw's statistics is how many rows each load holds (the staging views are read by
# load): a sample of 3,000 rows (target 10) says it as well as the default 30,000, and reads a tenth of the pages.
# At ten years, analysing every raw table after a new month took 66 s from a cold cache, 3 s at this target.
STATISTICS_TARGET = sql.Literal(10)


def refresh_statistics(conn: psycopg.Connection, results: list[FileResult]) -> None:
    """ANALYZE the raw tables this ingest added rows to, and the load and reject records, and summarise the new
    pages of those raw tables' BRIN indexes. Autovacuum analyses a table once a tenth of it has changed, which
    one month of a long history never is; a planner that believes the new loads hold no rows joins them row by
    row (a refresh's staging tests then took minutes, not seconds). Autovacuum summarises a BRIN index only when
    it vacuums the table, after a fifth of it is new: until then every search by load reads every page since,
    which at ten years was 735 MB (some twenty months) of raw street crimes to find one month's load of 26 MB.
    The sample is STATISTICS_TARGET's, in one transaction (`conn` is autocommit)."""
    datasets = sorted({r.dataset for r in results if r.status == "loaded" and r.rows_loaded and r.dataset})
    if not any(r.status in ("loaded", "quarantined") for r in results):
        return
    with conn.transaction():
        conn.execute(sql.SQL("set local default_statistics_target = {}").format(STATISTICS_TARGET))
        for table in (*datasets, "_loads", "_rejects"):
            relation = sql.Identifier("raw", table)
            conn.execute(sql.SQL("analyze {}").format(relation))
            if table in datasets:
                conn.execute("select brin_summarize_new_values(i.indexrelid) from pg_index as i"
                             " inner join pg_class as c on c.oid = i.indexrelid"
                             " inner join pg_am as am on am.oid = c.relam"
                             " where i.indrelid = %s::regclass and am.amname = 'brin'", (relation.as_string(conn),))
