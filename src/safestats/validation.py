"""Row checks of the extract contract, as SQL over the incoming text columns."""
from __future__ import annotations

from psycopg import sql

from safestats.contracts import Contract, ContractColumn

NUMBER = r"^[+-]?([0-9]+([.][0-9]*)?|[.][0-9]+)$"
INTEGER = r"^[+-]?[0-9]+$"
MONTH = r"^[0-9]{4}-(0[1-9]|1[0-2])$"
DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
RANGES = {"longitude": (-180, 180), "latitude": (-90, 90)}


def _problem(col: ContractColumn, value: sql.Composable, period: str | None) -> list[sql.Composable]:
    """SQL expressions, each NULL when the value is fine and a reason text when not."""
    v = sql.SQL("btrim({})").format(value)
    label = sql.Literal(col.header)
    checks: list[sql.Composable] = []
    if col.not_blank:
        checks.append(sql.SQL("case when coalesce({v}, '') = '' then {label} || ' is blank' end")
                      .format(v=v, label=label))
    shown = sql.SQL("{label} || ' \"' || {v} || '\"'").format(label=label, v=v)

    def when_present(condition: sql.Composable, message: str) -> sql.Composable:
        return sql.SQL("case when coalesce({v}, '') <> '' and not ({cond}) then {shown} || {msg} end").format(
            v=v, cond=condition, shown=shown, msg=sql.Literal(" " + message))

    if col.type == "month":
        checks.append(when_present(sql.SQL("{} ~ {}").format(v, sql.Literal(MONTH)), "is not a YYYY-MM month"))
        if period:
            checks.append(sql.SQL(
                "case when {v} ~ {re} and {v} <> {period} then {shown} || {msg} end").format(
                v=v, re=sql.Literal(MONTH), period=sql.Literal(period), shown=shown,
                msg=sql.Literal(f" is not the file's month {period}")))
    elif col.type in RANGES:
        low, high = RANGES[col.type]
        checks.append(when_present(
            sql.SQL("case when {v} ~ {re} then {v}::numeric between {lo} and {hi} else false end").format(
                v=v, re=sql.Literal(NUMBER), lo=sql.Literal(low), hi=sql.Literal(high)),
            f"is not a {col.type} between {low} and {high}"))
    elif col.type == "number":
        checks.append(when_present(sql.SQL("{} ~ {}").format(v, sql.Literal(NUMBER)), "is not a number"))
    elif col.type == "integer":
        checks.append(when_present(sql.SQL("{} ~ {}").format(v, sql.Literal(INTEGER)), "is not a whole number"))
    elif col.type == "date":
        checks.append(when_present(
            sql.SQL("{v} ~ {re} and {v} = to_char(to_date({v}, 'YYYY-MM-DD'), 'YYYY-MM-DD')").format(
                v=v, re=sql.Literal(DATE)), "is not a YYYY-MM-DD date"))
    return checks


def reject_reason(contract: Contract, positions: dict[str, int], period: str | None) -> sql.Composable:
    """One SQL expression: NULL for a good row, else every problem found, separated by '; '."""
    checks: list[sql.Composable] = []
    for col in contract.columns:
        if col.name not in positions:
            continue
        col_period = period if col.name == contract.period_column else None
        checks.extend(_problem(col, sql.Identifier(f"c{positions[col.name]}"), col_period))
    if not checks:
        return sql.SQL("null::text")
    return sql.SQL("nullif(concat_ws('; ', {}), '')").format(sql.SQL(", ").join(checks))
