"""Row checks of the extract contract, as SQL over a raw table's text columns.

Two forms of the same rules: `row_is_valid` is a cheap boolean that runs over every row; `reject_reason`
spells out every problem and runs only over the rows that failed. How a text is read as each contract type
is decided by one SQL function per type (`READERS`, in sql/ingest_bookkeeping.sql), which the staging
models call too (macros/extract_value.sql), so staging reads exactly what validation accepted."""
from __future__ import annotations

from psycopg import sql

from safestats.contracts import Contract, ContractColumn

# The SQL function that reads a text as each typed contract type (NULL for a blank or invalid value).
READERS = {"month": "raw.extract_month", "integer": "raw.extract_integer", "number": "raw.extract_number",
           "latitude": "raw.extract_number", "longitude": "raw.extract_number", "date": "raw.extract_date",
           "excel_date": "raw.excel_date", "time": "raw.extract_time", "timestamp": "raw.extract_timestamp"}
# Where a coordinate may lie: the United Kingdom's bounding box (Northern Ireland and Shetland included).
UK_BOX = {"latitude": (49.8, 60.9), "longitude": (-8.7, 1.8)}
BIGINT = (-9223372036854775808, 9223372036854775807)
DATE_FORMS = "YYYY-MM-DD, DD Mon YYYY or DD/MM/YYYY"
EXPECTED = {"month": "a YYYY-MM month", "integer": "a whole number", "number": "a number",
            "date": f"a date ({DATE_FORMS})", "time": "a time of day",
            "timestamp": "a date and time (YYYY-MM-DD HH:MM[:SS] or DD/MM/YYYY HH:MM[:SS])",
            "excel_date": "a date (YYYY-MM-DD, DD Mon YYYY, DD/MM/YYYY or an Excel day number)",
            **{kind: f"a {kind} between {low} and {high}" for kind, (low, high) in UK_BOX.items()}}
DATED = ("month", "date", "excel_date", "timestamp")   # a value after today is in the future


def _read(col: ContractColumn, v: sql.Composable) -> sql.Composable:
    return sql.SQL("{}({})").format(sql.SQL(READERS[col.type]), v)


def _text_blank(v: sql.Composable) -> sql.Composable:
    return sql.SQL("coalesce(btrim({}), '') = ''").format(v)


def _text_present(v: sql.Composable) -> sql.Composable:
    """`not` blank text (NULL for NULL). A value whose first character is above the space is present
    without more ado (`ascii` needs no collation and copies nothing); only the rest (empty, or starting
    with a space or a control character) is trimmed."""
    return sql.SQL("(ascii({v}) > 32 or btrim({v}) <> '')").format(v=v)


def _blank(col: ContractColumn, v: sql.Composable) -> sql.Composable:
    """Blank: a typed column's null spellings (N/A, NULL, ...) are blank too; a text column keeps its text."""
    return _text_blank(v) if col.type == "text" else sql.SQL("raw.is_blank({})").format(v)


def _band(kind: str) -> sql.Composable:
    low, high = UK_BOX[kind]
    return sql.SQL("numrange({}, {}, '[]')").format(sql.Literal(low), sql.Literal(high))


def _plainly_in_band(kind: str, v: sql.Composable) -> sql.Composable:
    """A cheap test that implies `band @> raw.extract_number(v)`: the value is a plain decimal well inside
    the band (raw.plain_number_between: C on the embedded server, see warehouse.install_number_checks).
    Most coordinates pass here without being converted; the rest go to the exact test."""
    low, high = UK_BOX[kind]
    return sql.SQL("raw.plain_number_between({}, {}, {})").format(v, sql.Literal(low), sql.Literal(high))


def _month_range(period: str) -> tuple[sql.Composable, sql.Composable]:
    year, month = int(period[:4]), int(period[5:7])
    following = f"{year + month // 12:04d}-{month % 12 + 1:02d}-01"
    return sql.Literal(f"{period}-01"), sql.Literal(following)


def _valid_value(col: ContractColumn, v: sql.Composable, period: str | None) -> sql.Composable | None:
    """A boolean, true for a present value of the right type; false or NULL otherwise (blanks included)."""
    if col.type == "month" and period:   # the plain comparison first: it needs no copy of the value
        return sql.SQL("({v} = {p} or btrim({v}) = {p})").format(v=v, p=sql.Literal(period))
    if col.type in UK_BOX:  # each coordinate on its own in the box's band: both in it = the point in the box
        return sql.SQL("({} or {} @> {})").format(_plainly_in_band(col.type, v), _band(col.type), _read(col, v))
    if col.type == "excel_date" and period:
        start, following = _month_range(period)
        return sql.SQL("daterange({s}::date, greatest({s}::date, least({f}::date, current_date + 1))) @> {read}"
                       ).format(s=start, f=following, read=_read(col, v))
    if col.type == "timestamp":
        return sql.SQL("{} < current_date + 1").format(_read(col, v))
    if col.type in DATED:
        return sql.SQL("{} <= current_date").format(_read(col, v))
    if col.type in READERS:
        return sql.SQL("{} is not null").format(_read(col, v))
    return None


def _future(col: ContractColumn, v: sql.Composable) -> sql.Composable:
    return sql.SQL("{} > current_date").format(
        sql.SQL("{}::date").format(_read(col, v)) if col.type == "timestamp" else _read(col, v))


def _problems(col: ContractColumn, period: str | None, pair: dict[str, ContractColumn]) -> list[sql.Composable]:
    v = sql.Identifier(col.name)
    label = sql.Literal(col.header)
    quoted = sql.SQL("{label} || ' \"' || {v} || '\"'").format(label=label, v=v)   # Month "2024-13"
    blank = _blank(col, v)
    problems = []
    if col.not_blank:
        problems.append(sql.SQL("case when {blank} then {label} || ' is blank' end").format(blank=blank, label=label))
    if col.type == "text":
        return problems
    what = sql.Literal(" is not " + EXPECTED[col.type])
    if col.type in UK_BOX:   # unreadable here; out of the band only when the other coordinate cannot judge the point
        outside = sql.SQL("not {band} @> {read}").format(band=_band(col.type), read=_read(col, v))
        if pair:
            other = pair["longitude" if col.type == "latitude" else "latitude"]
            outside = sql.SQL("{} and {} is null").format(outside, _read(other, sql.Identifier(other.name)))
        problems.append(sql.SQL("case when not {blank} and ({read} is null or {outside}) then {quoted} || {what} end"
                                ).format(blank=blank, read=_read(col, v), outside=outside, quoted=quoted, what=what))
        return problems
    if col.type == "integer":
        what = sql.SQL("case when raw.extract_number({v}) % 1 = 0 then {range} else {what} end").format(
            v=v, what=what, range=sql.Literal(f" is not a whole number between {BIGINT[0]} and {BIGINT[1]}"))
    problems.append(sql.SQL("case when not {blank} and {read} is null then {quoted} || {what} end").format(
        blank=blank, read=_read(col, v), quoted=quoted, what=what))
    if col.type in DATED:
        problems.append(sql.SQL("case when {future} then {quoted} || ' is in the future' end").format(
            future=_future(col, v), quoted=quoted))
    if col.type == "month" and period:
        problems.append(sql.SQL("case when {read} is not null and btrim({v}) <> {p} then {quoted} || {what} end"
                                ).format(read=_read(col, v), v=v, p=sql.Literal(period), quoted=quoted,
                                         what=sql.Literal(f" is not the file's month {period}")))
    if col.type == "excel_date" and period:
        problems.append(sql.SQL(
            "case when to_char(raw.excel_date({v}), 'YYYY-MM') <> {p} then {quoted} || {what} end").format(
            v=v, p=sql.Literal(period), quoted=quoted, what=sql.Literal(f" is not in the file's month {period}")))
    return problems


def _pair(contract: Contract, present: set[str]) -> dict[str, ContractColumn]:
    """The latitude and longitude columns, when the contract has one of each and the file has both."""
    found = {kind: [c for c in _checked(contract, present) if c.type == kind] for kind in UK_BOX}
    return {kind: cols[0] for kind, cols in found.items()} if all(len(c) == 1 for c in found.values()) else {}


def _pair_problem(pair: dict[str, ContractColumn]) -> sql.Composable:
    """Both coordinates numbers but the point outside the box: swapped if swapping them puts it inside."""
    lat, lon = (sql.Identifier(pair[kind].name) for kind in ("latitude", "longitude"))
    lat_n, lon_n = sql.SQL("raw.extract_number({})").format(lat), sql.SQL("raw.extract_number({})").format(lon)
    quoted = sql.SQL("{} || ' \"' || {} || '\" and ' || {} || ' \"' || {} || '\"'").format(
        sql.Literal(pair["latitude"].header), lat, sql.Literal(pair["longitude"].header), lon)
    (lat_lo, lat_hi), (lon_lo, lon_hi) = UK_BOX["latitude"], UK_BOX["longitude"]
    return sql.SQL(
        "case when {lat_n} is not null and {lon_n} is not null"
        " and not ({lat_band} @> {lat_n} and {lon_band} @> {lon_n})"
        " then case when {lat_band} @> {lon_n} and {lon_band} @> {lat_n} then {quoted} || ' are swapped'"
        " else {quoted} || {outside} end end").format(
        lat_band=_band("latitude"), lon_band=_band("longitude"), lat_n=lat_n, lon_n=lon_n, quoted=quoted,
        outside=sql.Literal(f" are not in the United Kingdom (latitude {lat_lo} to {lat_hi},"
                            f" longitude {lon_lo} to {lon_hi})"))


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
            terms.append(_text_present(v) if valid is None else valid)
        elif valid is not None:
            # the value first: most rows hold one, and `or` stops at the first true
            terms.append(sql.SQL("({} or {})").format(valid, _blank(col, v)))
    if not terms:
        return sql.SQL("true")
    return sql.SQL("coalesce({}, false)").format(sql.SQL(" and ").join(terms))


def reject_reason(contract: Contract, present: set[str], period: str | None) -> sql.Composable:
    """Every problem of a failed row, separated by '; ' (never NULL for a row that failed)."""
    pair = _pair(contract, present)
    problems = []
    for col in _checked(contract, present):
        problems += _problems(col, period if col.name == contract.period_column else None, pair)
        if pair and col.name == max(pair.values(), key=contract.columns.index).name:
            problems.append(_pair_problem(pair))
    return sql.SQL("coalesce(nullif(concat_ws('; ', {}), ''), 'row failed validation')").format(
        sql.SQL(", ").join(problems) if problems else sql.SQL("null"))
