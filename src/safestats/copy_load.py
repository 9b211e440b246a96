"""The rows of one extract into raw.<dataset>: COPY with the contract's checks, on one core or two.

Row bookkeeping costs COPY almost nothing: for the load, raw.<dataset>'s `_load_id` defaults to a constant
and `_source_row_number` to `nextval(<sequence>)`, so row n of the file draws its number as it is read.
Each session of a load numbers its rows from a sequence of the load's own (`raw.<dataset>__rows_<load>_<n>`),
drawn by that session alone and cached in it, so numbers are consecutive and cost no shared lock per row;
before each piece of the file the session sets its sequence to the number before the piece's first row.
The sequences are dropped with the load's defaults. A file loaded by one session sets the defaults and
creates its sequence inside its own transaction (nobody else sees them). A file split across two sessions
picks each session's sequence by its process id (`case pg_backend_pid() when ...`); those defaults are
committed for the length of the load and dropped after it. Outside a load there is no default, and a row
without them is refused.

A file split across cores is cut into pieces of about 16 MB at line breaks (`records.FileShape.cuts`); two
worker sessions take the next piece as they finish the last, so both stay busy to the end. They commit their
pieces under a reserved load id before the load itself exists: staging reads only rows of loads whose
status is `loaded`, so nobody sees them until the coordinator's one transaction records the load (all of
the file at once), and if anything fails their rows are deleted. `raw._unfinished_loads` remembers the
reservation, so a split load cut short by a crash is cleared by the next ingest."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass

import psycopg
from psycopg import sql

from safestats import validation
from safestats.contracts import Contract
from safestats.records import FileShape
from safestats.sniff import FileFacts

log = logging.getLogger(__name__)
COPY_CHUNK = 1 << 20
SPLIT_BYTES = 32 << 20        # files this large are split across sessions
SESSIONS = 2                  # sessions a split file is COPYed by (one per core)
ROW_NUMBER_CACHE = 10_000                   # row numbers a session takes from its sequence at a time
DATASET_LOCK = 2                            # advisory lock class: one split load per dataset at a time


@dataclass(frozen=True)
class Checks:
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


@dataclass(frozen=True)
class Part:
    data: memoryview
    first_row: int         # the file's row number of the part's first record
    header: bool           # the part starts with the header line


class NotOneRecordPerLine(Exception):
    """PostgreSQL read a different number of records than the file has lines."""


@dataclass(frozen=True)
class Numbering:
    """One session's row numbers: a sequence of the load's own, set before each part to its first row."""
    dataset: str
    load_id: int
    session: int

    @property
    def sequence(self) -> sql.Composable:
        return sql.Identifier("raw", f"{self.dataset}__rows_{self.load_id}_{self.session}")

    @property
    def expression(self) -> sql.Composable:
        return sql.SQL("nextval({}::regclass)").format(sql.Literal(self.sequence.as_string(None)))


def create_numbering(conn, dataset: str, load_id: int, session: int = 0) -> Numbering:
    """The sequence one session of the load numbers its rows from (`start_numbering` places it)."""
    numbering = Numbering(dataset, load_id, session)
    conn.execute(sql.SQL("create sequence {} minvalue 0 cache {}").format(
        numbering.sequence, sql.Literal(ROW_NUMBER_CACHE)))
    return numbering


def start_numbering(conn, numbering: Numbering, first_row: int) -> None:
    """In the session that will number the rows, before each COPY: the next number is `first_row`, and
    afterwards `currval` tells how many rows it read. `setval` drops the session's cached numbers; the
    sequence is this session's alone, so the numbers it caches next run on without a gap."""
    conn.execute(sql.SQL("select setval({}, {})").format(
        sql.Literal(numbering.sequence.as_string(None)), sql.Literal(first_row - 1)))


def rows_numbered(conn, numbering: Numbering, first_row: int) -> int:
    """How many rows the session has numbered since `start_numbering(conn, numbering, first_row)`."""
    return conn.execute(sql.SQL("select currval({}) - {}").format(
        sql.Literal(numbering.sequence.as_string(None)), sql.Literal(first_row - 1))).fetchone()[0]


def number_rows(conn, dataset: str, load_id: int, numberings: dict[int | None, Numbering]) -> None:
    """Rows inserted from now belong to `load_id`, numbered by the numbering of the inserting session
    (keyed by backend pid; a single numbering keyed None serves any session)."""
    if list(numberings) == [None]:
        row_number = numberings[None].expression
    else:
        row_number = sql.SQL("case pg_backend_pid() {} end").format(sql.SQL(" ").join(
            sql.SQL("when {} then {}").format(sql.Literal(pid), n.expression) for pid, n in numberings.items()))
    conn.execute(sql.SQL("alter table {} alter column _load_id set default {},"
                         " alter column _source_row_number set default {}").format(
        sql.Identifier("raw", dataset), sql.Literal(load_id), row_number))


def stop_numbering(conn, dataset: str, numberings=()) -> None:
    """The load's defaults dropped, then its sequences."""
    conn.execute(sql.SQL("alter table {} alter column _load_id drop default,"
                         " alter column _source_row_number drop default").format(sql.Identifier("raw", dataset)))
    for numbering in numberings:
        conn.execute(sql.SQL("drop sequence if exists {}").format(numbering.sequence))


def drop_sequences(conn, dataset: str, load_id: int) -> None:
    """Whatever numbering a load left (a crashed split load): its sequences, with any default naming them,
    and the `_load_id` default when it is still this load's."""
    table = sql.Identifier("raw", dataset)
    for (name,) in conn.execute("select sequencename from pg_sequences where schemaname = 'raw'"
                                " and sequencename like %s", (rf"{dataset}\_\_rows\_{load_id}\_%",)).fetchall():
        conn.execute(sql.SQL("drop sequence if exists {} cascade").format(sql.Identifier("raw", name)))
    load_default = conn.execute(
        "select pg_get_expr(d.adbin, d.adrelid) from pg_attrdef d join pg_attribute a"
        " on (a.attrelid, a.attnum) = (d.adrelid, d.adnum) where d.adrelid = %s::regclass and a.attname = '_load_id'",
        (table.as_string(None),)).fetchone()
    if load_default and load_default[0] == str(load_id):
        conn.execute(sql.SQL("alter table {} alter column _load_id drop default").format(table))


def copy_statement(table: sql.Composable, columns: list[str], facts: FileFacts, header: bool,
                   where: sql.Composable | None = None) -> sql.Composable:
    return sql.SQL("copy {} ({}) from stdin with (format csv, header {}, encoding {}){}").format(
        table, sql.SQL(", ").join(sql.Identifier(c) for c in columns), sql.SQL("true" if header else "false"),
        sql.Literal(facts.postgres_encoding), sql.SQL(" where {}").format(where) if where is not None else sql.SQL(""))


def stream(conn, stmt, data: memoryview) -> int:
    with conn.cursor() as cur:
        with cur.copy(stmt) as copy:
            for start in range(0, len(data), COPY_CHUNK):
                copy.write(data[start:start + COPY_CHUNK])
        return cur.rowcount


def copy_part(conn, part: Part, facts: FileFacts, columns: list[str], load_id: int, checks: Checks,
              numbering: Numbering, rejects: str) -> tuple[int, int, int]:
    """In the caller's transaction, with the rows numbered (`number_rows`): COPY one part keeping the valid
    rows; when some failed, COPY it again keeping only the failed rows (every row still draws its number
    from the scratch table's identity) to write them and their reasons to `rejects` (raw._rejects, or
    raw._pending_rejects for a split file). Returns (read, loaded, rejected)."""
    table = sql.Identifier("raw", checks.contract.dataset)
    start_numbering(conn, numbering, part.first_row)
    loaded = stream(conn, copy_statement(table, columns, facts, part.header, checks.valid), part.data)
    read = rows_numbered(conn, numbering, part.first_row)
    if read == loaded:
        return read, loaded, 0
    conn.execute("drop table if exists pg_temp._failed")     # an earlier part's, in the same transaction
    conn.execute(sql.SQL(
        "create temporary table _failed ({}, _source_row_number bigint generated always as identity"
        " (start with {})) on commit drop").format(
        sql.SQL(", ").join(sql.SQL("{} text").format(sql.Identifier(c)) for c in columns),
        sql.Literal(part.first_row)))
    failed = stream(conn, copy_statement(sql.Identifier("_failed"), columns, facts, part.header,
                                         sql.SQL("not {}").format(checks.valid)), part.data)
    again = conn.execute("select last_value - %s + 1 from pg_temp._failed__source_row_number_seq",
                         (part.first_row,)).fetchone()[0]
    rejected = conn.execute(sql.SQL(
        "insert into {rejects} (load_id, source_row_number, reason, record)"
        " select {load_id}, _source_row_number, {reason}, {record} from _failed").format(
        rejects=sql.SQL(rejects), load_id=sql.Literal(load_id), reason=checks.reason,
        record=checks.record)).rowcount
    if again != read or read != loaded + rejected or failed != rejected:
        raise RuntimeError(f"rows do not add up: read {read} then {again}, loaded {loaded}, rejected {rejected}")
    return read, loaded, rejected


def pieces(data: bytes, shape: FileShape) -> list[Part]:
    """The file cut at the shape's cuts (call only when every record is one line)."""
    view = memoryview(data)
    # a piece starting after `lines_before` lines (the header one of them) starts at row `lines_before`
    starts = [(0, 1), *shape.cuts]
    ends = [offset for offset, _ in shape.cuts] + [len(data)]
    return [Part(view[start:end], first_row, start == 0) for (start, first_row), end in zip(starts, ends)]


def copy_split(conn, parts: list[Part], facts: FileFacts, columns: list[str], load_id: int,
               checks: Checks, sessions: int = SESSIONS) -> tuple[int, int, int]:
    """The parts COPYed by `sessions` sessions at once, each taking the next part when it finishes one and
    committing under the reserved `load_id` (see the module's note). Returns the summed (read, loaded,
    rejected); on failure every part's rows are deleted."""
    dataset = checks.contract.dataset
    sessions = max(1, min(sessions, len(parts)))
    outcomes: list = [None] * sessions
    queue = iter(parts)
    taking = threading.Lock()
    workers = [psycopg.connect(conn.info.dsn, password=conn.info.password) for _ in range(sessions)]
    try:
        with conn.transaction():
            numberings = [create_numbering(conn, dataset, load_id, i) for i in range(sessions)]
            number_rows(conn, dataset, load_id, {w.info.backend_pid: n for w, n in zip(workers, numberings)})

        def next_part() -> Part | None:
            with taking:     # none once a session has failed: its rows will all be deleted
                failed = any(isinstance(o, BaseException) for o in outcomes)
                return None if failed else next(queue, None)

        def work(i: int) -> None:
            try:
                totals = (0, 0, 0)
                with workers[i].transaction():
                    while (part := next_part()) is not None:
                        counts = copy_part(workers[i], part, facts, columns, load_id, checks, numberings[i],
                                           "raw._pending_rejects")
                        totals = tuple(t + c for t, c in zip(totals, counts))
                outcomes[i] = totals
            except BaseException as exc:  # noqa: BLE001 - handed to the coordinator below
                outcomes[i] = exc

        threads = [threading.Thread(target=work, args=(i,), name=f"copy-session-{i}") for i in range(sessions)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        with conn.transaction():
            stop_numbering(conn, dataset)
            drop_sequences(conn, dataset, load_id)
        for worker in workers:
            worker.close()
    failed = next((o for o in outcomes if isinstance(o, BaseException)), None)
    if failed is not None:
        clear_load(conn, checks.contract.dataset, load_id)
        raise failed
    return tuple(sum(o[k] for o in outcomes) for k in range(3))


def reserve_load(conn, dataset: str) -> int:
    """A load id for a split file, remembered until the load is recorded or cleared; the session holds
    the dataset (one split load at a time: its row-number defaults are the table's) and the load id."""
    conn.execute("select pg_advisory_lock(%s, hashtext(%s))", (DATASET_LOCK, dataset))
    with conn.transaction():
        load_id = conn.execute("select nextval(pg_get_serial_sequence('raw._loads', 'load_id'))").fetchone()[0]
        conn.execute("insert into raw._unfinished_loads (load_id, dataset) values (%s, %s)", (load_id, dataset))
    conn.execute("select pg_advisory_lock(%s)", (load_id,))
    return load_id


def finish_reservation(conn, load_id: int) -> None:
    """In the transaction that records the load: the pending rejects become its rejects."""
    conn.execute("insert into raw._rejects (load_id, source_row_number, reason, record)"
                 " select load_id, source_row_number, reason, record from raw._pending_rejects where load_id = %s",
                 (load_id,))
    conn.execute("delete from raw._pending_rejects where load_id = %s", (load_id,))
    conn.execute("delete from raw._unfinished_loads where load_id = %s", (load_id,))


def clear_load(conn, dataset: str, load_id: int) -> None:
    """Delete what a split load's workers committed, and its reservation."""
    with conn.transaction():
        conn.execute(sql.SQL("delete from {} where _load_id = %s").format(sql.Identifier("raw", dataset)),
                     (load_id,))
        conn.execute("delete from raw._pending_rejects where load_id = %s", (load_id,))
        conn.execute("delete from raw._unfinished_loads where load_id = %s", (load_id,))
        drop_sequences(conn, dataset, load_id)


def release(conn, dataset: str, load_id: int) -> None:
    conn.execute("select pg_advisory_unlock(%s), pg_advisory_unlock(%s, hashtext(%s))",
                 (load_id, DATASET_LOCK, dataset))


def clear_abandoned(conn) -> list[int]:
    """Split loads whose coordinator is gone (crashed or killed): their rows and reservations deleted."""
    cleared = []
    for load_id, dataset in conn.execute("select load_id, dataset from raw._unfinished_loads").fetchall():
        if conn.execute("select pg_try_advisory_lock(%s)", (load_id,)).fetchone()[0]:
            clear_load(conn, dataset, load_id)
            conn.execute("select pg_advisory_unlock(%s)", (load_id,))
            log.warning("cleared the unfinished split load %s of %s", load_id, dataset)
            cleared.append(load_id)
    return cleared
