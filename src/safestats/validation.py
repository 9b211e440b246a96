"""Row checks of the extract contract, as SQL over a raw table's text columns.

Two forms of the same rules: `row_is_valid` is a cheap boolean that runs over every row
(PostgreSQL's own input functions, no regular expressions where avoidable); `reject_reason`
spells out every problem and runs only over the rows that failed."""
from __future__ import annotations

from psycopg import sql

from safestats.contracts import Contract, ContractColumn

NUMBER = r"^\s*[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)\s*$"
MONTH = r"^\s*[0-9]{4}-(0[1-9]|1[0-2])\s*$"
RANGES = {"longitude": (-180, 180), "latitude": (-90, 90)}
INPUT_TYPES = {"integer": "bigint", "number": "numeric", "date": "date", "time": "time", "timestamp": "timestamp"}


def _blank(v: sql.Composable) -> sql.Composable:
    return sql.SQL("coalesce(btrim({}), '') = ''").format(v)


def _valid_value(col: ContractColumn, v: sql.Composable, period: str | None) -> sql.Composable | None:
    """A boolean, true for a present value of the right type (the caller handles blanks)."""
    if col.type == "month":
        if period:
            return sql.SQL("btrim({}) = {}").format(v, sql.Literal(period))
        return sql.SQL("{} ~ {}").format(v, sql.Literal(MONTH))
    if col.type in RANGES:
        low, high = RANGES[col.type]
        return sql.SQL("case when raw.input_is_valid({v}, 'float8') then {v}::float8 between {lo} and {hi}"
                       " else false end").format(v=v, lo=sql.Literal(low), hi=sql.Literal(high))
    if col.type in INPUT_TYPES:
        return sql.SQL("raw.input_is_valid({}, {})").format(v, sql.Literal(INPUT_TYPES[col.type]))
    if col.type == "excel_date":  # parsed by raw.excel_date (ingest_bookkeeping.sql), as staging parses it
        if period:
            return sql.SQL("coalesce(to_char(raw.excel_date({}), 'YYYY-MM') = {}, false)").format(
                v, sql.Literal(period))
        return sql.SQL("raw.excel_date({}) is not null").format(v)
    return None


EXPECTED = {"month": "a YYYY-MM month", "integer": "a whole number", "number": "a number", "date": "a date",
            "time": "a time of day", "timestamp": "a date and time",
            "excel_date": "a date (YYYY-MM-DD, DD Mon YYYY, DD/MM/YYYY or an Excel day number)",
            **{kind: f"a {kind} between {low} and {high}" for kind, (low, high) in RANGES.items()}}


def _problems(col: ContractColumn, period: str | None) -> list[sql.Composable]:
    v = sql.Identifier(col.name)
    label = sql.Literal(col.header)
    quoted = sql.SQL("{label} || ' \"' || {v} || '\"'").format(label=label, v=v)   # Month "2024-13"
    problems = []
    if col.not_blank:
        problems.append(sql.SQL("case when {blank} then {label} || ' is blank' end").format(
            blank=_blank(v), label=label))
    valid = _valid_value(col, v, None)
    if valid is not None:
        problems.append(sql.SQL("case when not {blank} and not ({valid}) then {quoted} || {what} end").format(
            blank=_blank(v), valid=valid, quoted=quoted, what=sql.Literal(" is not " + EXPECTED[col.type])))
    if col.type == "month" and period:
        problems.append(sql.SQL("case when {v} ~ {re} and btrim({v}) <> {p} then {quoted} || {what} end").format(
            v=v, re=sql.Literal(MONTH), p=sql.Literal(period), quoted=quoted,
            what=sql.Literal(f" is not the file's month {period}")))
    if col.type == "excel_date" and period:
        problems.append(sql.SQL(
            "case when to_char(raw.excel_date({v}), 'YYYY-MM') <> {p} then {quoted} || {what} end").format(
            v=v, p=sql.Literal(period), quoted=quoted, what=sql.Literal(f" is not in the file's month {period}")))
    return problems


def _checked(contract: Contract, present: set[str]):
    return [c for c in contract.columns if c.name in present]


def row_is_valid(contract: Contract, present: set[str], period: str | None) -> sql.Composable:
    """Never NULL: true when the row passes every check of the contract."""
    terms = []
    for col in _checked(contract, present):
        col_period = period if col.name == contract.period_column else None
        v = sql.Identifier(col.name)
        valid = _valid_value(col, v, col_period)
        if col.not_blank:
            # `<>` rather than `not ... =`: COPY ... WHERE does not plan a negated operator (PostgreSQL 16).
            terms.append(sql.SQL("coalesce(btrim({}), '') <> ''").format(v) if valid is None else valid)
        elif valid is not None:
            terms.append(sql.SQL("({} or {})").format(_blank(v), valid))
    if not terms:
        return sql.SQL("true")
    return sql.SQL("coalesce({}, false)").format(sql.SQL(" and ").join(terms))


def reject_reason(contract: Contract, present: set[str], period: str | None) -> sql.Composable:
    """Every problem of a failed row, separated by '; ' (never NULL for a row that failed)."""
    problems = [p for col in _checked(contract, present)
                for p in _problems(col, period if col.name == contract.period_column else None)]
    return sql.SQL("coalesce(nullif(concat_ws('; ', {}), ''), 'row failed validation')").format(
        sql.SQL(", ").join(problems) if problems else sql.SQL("null"))
