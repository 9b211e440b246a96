"""How each contract type reads a text (the SQL readers the ingest and staging share) and the reason a row
is rejected, spelling by spelling; then end to end: an LFB file through the ingest and its staging model."""
from __future__ import annotations

import re
from datetime import date, datetime, time, timedelta
from decimal import Decimal

import psycopg
import pytest
from fire_transport import truncate_raw
from helpers import write_csv
from psycopg import sql

from safestats import dbt, validation, warehouse
from safestats.contracts import Contract, ContractColumn
from safestats.ingest import ingest_file

FUTURE = date.today() + timedelta(days=40)   # after the database's current_date whatever its time zone
DATE_FORMS = "(YYYY-MM-DD, DD Mon YYYY or DD/MM/YYYY)"
NULL_SPELLINGS = ["", "   ", "NULL", "null", " N/A ", "n/a", "NA", "na", "-", " - "]


def contract_of(*columns: ContractColumn, period_column: str | None = None) -> Contract:
    return Contract(dataset="values_test", source="test", table="values_test", file_name=re.compile("x"),
                    period_column=period_column, agencies={}, columns=columns)


def check(conn, contract: Contract, values: dict[str, str | None], period: str | None = None):
    """(row_is_valid, reject_reason or None) of one row, as the ingest computes them."""
    valid = validation.row_is_valid(contract, set(values), period)
    reason = validation.reject_reason(contract, set(values), period)
    select = sql.SQL("select {valid}, case when not {valid} then {reason} end from (select {cols}) as r").format(
        valid=valid, reason=reason,
        cols=sql.SQL(", ").join(sql.SQL("{}::text as {}").format(sql.Literal(v), sql.Identifier(n))
                                for n, v in values.items()))
    ok, why = conn.execute(select).fetchone()
    return ok, why


def one_column(conn, ctype: str, value: str | None, *, not_blank: bool = False, header: str = "Value"):
    contract = contract_of(ContractColumn(name="value", header=header, type=ctype, not_blank=not_blank))
    return check(conn, contract, {"value": value})


def read(conn, function: str, value: str | None):
    return conn.execute(sql.SQL("select {}(%s)").format(sql.SQL(function)), (value,)).fetchone()[0]


# ---------------------------------------------------------------------------------------------------------
# null spellings: blank in every typed column, kept as text in a text column
# ---------------------------------------------------------------------------------------------------------

TYPED = ["integer", "number", "latitude", "longitude", "date", "excel_date", "time", "timestamp", "month"]


@pytest.mark.parametrize("ctype", TYPED)
@pytest.mark.parametrize("spelling", NULL_SPELLINGS)
def test_null_spellings_are_blank_in_every_typed_column(superuser, ctype, spelling):
    assert read(superuser, validation.READERS[ctype], spelling) is None
    assert one_column(superuser, ctype, spelling) == (True, None)
    assert one_column(superuser, ctype, spelling, not_blank=True, header="Patient age") == (
        False, "Patient age is blank")


@pytest.mark.parametrize("spelling", ["N/A", "NULL", "-"])
def test_a_text_column_keeps_a_null_spelling_as_text(superuser, spelling):
    assert one_column(superuser, "text", spelling, not_blank=True) == (True, None)
    assert one_column(superuser, "text", "  ", not_blank=True) == (False, "Value is blank")


@pytest.mark.parametrize("value, present", [("", False), (None, False), ("   ", False), (" a", True),
                                            ("a ", True), ("\t", True), (" \u00a0", True)])
def test_a_required_text_is_blank_only_when_empty_or_spaces(superuser, value, present):
    assert one_column(superuser, "text", value, not_blank=True) == (
        (True, None) if present else (False, "Value is blank"))


def test_the_cheap_required_text_test_agrees_with_the_blank_rule(superuser):
    """The COPY's test for a required text (`_text_present`) is true exactly when the value is not blank
    (`_text_blank`), over short spellings of spaces, controls, letters and characters beyond ASCII."""
    import itertools

    values = {"".join(t) for n in range(4) for t in itertools.product([" ", "\t", "\x01", "\x7f", "a", "é", "\u00a0"],
                                                                   repeat=n)}
    v = sql.Identifier("v")
    wrong = superuser.execute(sql.SQL(
        "select array_agg(v) from unnest({values}::text[]) as t(v)"
        " where coalesce({fast}, false) = ({blank})").format(
        values=sql.Literal(sorted(values)), fast=validation._text_present(v), blank=validation._text_blank(v))
    ).fetchone()[0]
    assert wrong is None, f"the cheap test disagrees on {wrong[:10]}"


@pytest.mark.parametrize("value", ["2024-01", " 2024-01", "2024-01 ", "2024-02", "", None])
def test_the_file_month_is_read_with_or_without_spaces(superuser, value):
    contract = contract_of(ContractColumn(name="value", header="Month", type="month", not_blank=True),
                           period_column="value")
    valid, _ = check(superuser, contract, {"value": value}, period="2024-01")
    assert valid == (value is not None and value.strip() == "2024-01")


# ---------------------------------------------------------------------------------------------------------
# integer and number
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("131", 131), (" 131 ", 131), ("+131", 131), ("-7", -7), ("131.0", 131), ("131.00", 131),
    ("1,234", 1234), ("1,234,567", 1234567), ("1.31E+02", 131), ("1e3", 1000), ("\t7\r", 7),
    ("9223372036854775807", 9223372036854775807),
])
def test_integer_spellings_accepted(superuser, text, expected):
    assert read(superuser, "raw.extract_integer", text) == expected
    assert one_column(superuser, "integer", text) == (True, None)


@pytest.mark.parametrize(("text", "reason"), [
    ("131.5", 'Patient age "131.5" is not a whole number'),
    ("1.315E+02", 'Patient age "1.315E+02" is not a whole number'),
    ("1,23", 'Patient age "1,23" is not a whole number'),
    ("12,34,567", 'Patient age "12,34,567" is not a whole number'),
    ("1,2345", 'Patient age "1,2345" is not a whole number'),
    ("x", 'Patient age "x" is not a whole number'),
    ("0x1A", 'Patient age "0x1A" is not a whole number'),
    ("1_000", 'Patient age "1_000" is not a whole number'),
    ("NaN", 'Patient age "NaN" is not a whole number'),
    ("Infinity", 'Patient age "Infinity" is not a whole number'),
    ("9223372036854775808", 'Patient age "9223372036854775808" is not a whole number'
                            ' between -9223372036854775808 and 9223372036854775807'),
    ("1e30", 'Patient age "1e30" is not a whole number between -9223372036854775808 and 9223372036854775807'),
])
def test_integer_spellings_rejected(superuser, text, reason):
    assert read(superuser, "raw.extract_integer", text) is None
    assert one_column(superuser, "integer", text, header="Patient age") == (False, reason)


@pytest.mark.parametrize(("text", "expected"), [
    ("131", Decimal("131")), (" 131 ", Decimal("131")), ("+131", Decimal("131")), ("131.5", Decimal("131.5")),
    ("-0.1400", Decimal("-0.1400")), (".5", Decimal("0.5")), ("1,234", Decimal("1234")),
    ("1,234,567.25", Decimal("1234567.25")), ("1.31E+02", Decimal("131")), ("1e3", Decimal("1000")),
])
def test_number_spellings_accepted(superuser, text, expected):
    assert read(superuser, "raw.extract_number", text) == expected
    assert one_column(superuser, "number", text) == (True, None)


@pytest.mark.parametrize("text", ["1,23", "1,2345.5", "x", "1.2.3", "0x1A", "1_000", "NaN", "-inf", "12 34"])
def test_number_spellings_rejected(superuser, text):
    assert read(superuser, "raw.extract_number", text) is None
    assert one_column(superuser, "number", text, header="Cost") == (False, f'Cost "{text}" is not a number')


TOO_BIG_FOR_NUMERIC = ["0e-16384", "0e1073741824", "-0.12" + "0" * 16383, "1,234." + "0" * 16384]


@pytest.mark.parametrize("text", TOO_BIG_FOR_NUMERIC, ids=["0e-16384", "0e1073741824", "16k-decimals", "1,234.16k"])
@pytest.mark.parametrize("ctype", ["number", "integer", "longitude"])
def test_a_float_that_numeric_cannot_hold_is_rejected_not_raised(superuser, text, ctype):
    """float8 takes these and numeric cannot hold them: the row is rejected with its reason (an error here
    would stop the file's COPY and quarantine every row of it)."""
    assert read(superuser, validation.READERS[ctype], text) is None
    ok, why = one_column(superuser, ctype, text, header="Cost")
    assert not ok and why.startswith('Cost "') and " is not a " in why


# ---------------------------------------------------------------------------------------------------------
# coordinates: the United Kingdom's box, swapped pairs
# ---------------------------------------------------------------------------------------------------------

PAIR = contract_of(ContractColumn(name="longitude", header="Longitude", type="longitude"),
                   ContractColumn(name="latitude", header="Latitude", type="latitude"))
OUTSIDE = " are not in the United Kingdom (latitude 49.8 to 60.9, longitude -8.7 to 1.8)"


@pytest.mark.parametrize(("lat", "lon", "reason"), [
    ("51.5", "-0.12", None),
    (" 51.540000 ", "-0.140000", None),
    ("54.6", "-5.93", None),                 # Belfast
    ("60.15", "-1.15", None),                # Lerwick
    ("", "", None),                          # no location
    ("N/A", "-", None),
    ("-0.12", "51.5", 'Latitude "-0.12" and Longitude "51.5" are swapped'),
    ("48.85", "2.35", 'Latitude "48.85" and Longitude "2.35"' + OUTSIDE),       # Paris
    ("51.5", "181.5", 'Latitude "51.5" and Longitude "181.5"' + OUTSIDE),
    ("0", "0", 'Latitude "0" and Longitude "0"' + OUTSIDE),
    ("north", "-0.12", 'Latitude "north" is not a latitude between 49.8 and 60.9'),
    ("51.5", "west", 'Longitude "west" is not a longitude between -8.7 and 1.8'),
    ("95.5", "", 'Latitude "95.5" is not a latitude between 49.8 and 60.9'),     # alone: its own band
    ("", "2.35", 'Longitude "2.35" is not a longitude between -8.7 and 1.8'),
    ("51.5", "", None),
    ("1,234", "-0.12", 'Latitude "1,234" and Longitude "-0.12"' + OUTSIDE),
])
def test_coordinate_pairs(superuser, lat, lon, reason):
    assert check(superuser, PAIR, {"longitude": lon, "latitude": lat}) == (reason is None, reason)


def test_a_single_coordinate_column_is_checked_against_its_band(superuser):
    assert one_column(superuser, "longitude", "-0.12") == (True, None)
    assert one_column(superuser, "longitude", "51.5", header="Longitude") == (
        False, 'Longitude "51.5" is not a longitude between -8.7 and 1.8')


def _spellings() -> list[str]:
    """Every spelling of a few characters a file could hold near a band's edges, and random short ones."""
    import itertools
    import random

    rng = random.Random(7)
    alphabet = "0123456789.-+eExXnN _,"
    values = {"".join(rng.choice(alphabet) for _ in range(rng.randint(1, 7))) for _ in range(20_000)}
    for kind, (low, high) in validation.UK_BOX.items():
        for edge in (low, high):
            base = f"{int(edge)}." if edge >= 0 else f"-{int(-edge)}."
            values |= {base + "".join(t) for n in range(3) for t in itertools.product("0589e-", repeat=n)}
            values |= {f"{edge:.{n}f}" for n in range(1, 14)} | {repr(edge + d) for d in (-1e-9, -1e-12, 1e-12)}
    values |= {"-0.1e9", "0.5E3", "51.5e1", "-7.99", "-8.", "1.9", "60.5", "49.9", "0x1", " -0.1", "-0.1 ",
               "-0", "--0.1", "-.5", "5.", ".", "", "0.1.2", "051.5", "51.50000000001", "51.500000000001",
               "-0.1234567890123", "-0.12345678901234", "00000000000000051.5", "\u0665\u0661.5",
               "NaN", "nan", "inf", "-Infinity", "0x1p-1", "0X1", "1_0", "+0.5", ".5", "5.", "0.5e-1",
               *TOO_BIG_FOR_NUMERIC, "51.5" + "0" * 16383, " -0.5 ", "\t51.5"}
    return sorted(values)


def test_the_cheap_coordinate_test_never_accepts_what_the_exact_one_refuses(superuser):
    """The COPY's fast test (`raw.plain_number_between`: C on the embedded server, SQL elsewhere) must imply
    the band check on the number as staging reads it, over every spelling of a few characters a file could
    hold near a band's edges, in both forms (they may differ in what they take: the exact test decides the
    rest, so the checks decide alike)."""
    v = sql.Identifier("v")
    values = sql.Literal(_spellings())
    for form in ("sql", "c"):
        with superuser.transaction(force_rollback=form == "sql"):
            assert warehouse.install_number_checks(superuser, use_extension=form == "c") == form
            for kind in validation.UK_BOX:
                fast = validation._plainly_in_band(kind, v)
                wrong = superuser.execute(sql.SQL(
                    "select array_agg(v) from unnest({values}::text[]) as t(v)"
                    " where {fast} and not coalesce({exact}, false)").format(
                    values=values, fast=fast,
                    exact=sql.SQL("{} @> raw.extract_number({})").format(validation._band(kind), v))).fetchone()[0]
                assert wrong is None, f"{form}, {kind}: the fast test accepts {wrong[:10]}"
                ordinary = sql.Literal("-0.1234" if kind == "longitude" else "51.5012")
                assert superuser.execute(sql.SQL("select {}").format(
                    validation._plainly_in_band(kind, ordinary))).fetchone()[0], f"{form}, {kind}: misses 51.5012"


def test_the_embedded_server_runs_the_fast_test_in_c(superuser):
    """`make install` built the module for the embedded server, so the bench measures the C form."""
    language = superuser.execute(
        "select l.lanname from pg_proc p join pg_language l on l.oid = p.prolang"
        " where p.oid = 'raw.plain_number_between(text, float8, float8)'::regprocedure").fetchone()[0]
    assert language == "c"


# ---------------------------------------------------------------------------------------------------------
# dates, day first whatever the DateStyle; excel dates; the future
# ---------------------------------------------------------------------------------------------------------

DATES = [
    ("2023-02-03", date(2023, 2, 3)), ("2023-2-3", date(2023, 2, 3)), (" 2023-02-03 ", date(2023, 2, 3)),
    ("2023-02-03 10:00", date(2023, 2, 3)), ("2023-02-03T10:00:05", date(2023, 2, 3)),
    ("03/02/2023", date(2023, 2, 3)), ("3/2/2023", date(2023, 2, 3)), ("13/02/2023", date(2023, 2, 13)),
    ("3 Feb 2023", date(2023, 2, 3)), ("03-Feb-2023", date(2023, 2, 3)), ("3 February 2023", date(2023, 2, 3)),
    ("29/02/2024", date(2024, 2, 29)), ("03 Feb 2023", date(2023, 2, 3)), ("03-FEB-2023", date(2023, 2, 3)),
]
NOT_DATES = ["03/02/23", "31/02/2023", "02/13/2023", "2023-02-30", "2023-02-03 25:00", "3 Fbr 2023", "today",
             "20230203", "2023/02/03", "x", "31 Feb 2023", "03 Fbr 2023", "03 Feb 23", "3 Sept 2023", "03.02.2023"]


@pytest.mark.parametrize("datestyle", ["ISO, DMY", "SQL, MDY", "German, YMD"])
@pytest.mark.parametrize(("text", "expected"), DATES)
def test_date_spellings_accepted_day_first_whatever_the_datestyle(superuser, datestyle, text, expected):
    superuser.execute(sql.SQL("set datestyle = {}").format(sql.Literal(datestyle)))
    assert read(superuser, "raw.extract_date", text) == expected
    assert read(superuser, "raw.excel_date", text) == expected
    assert one_column(superuser, "date", text) == (True, None)


@pytest.mark.parametrize("text", NOT_DATES)
def test_date_spellings_rejected_with_the_expected_forms(superuser, text):
    assert read(superuser, "raw.extract_date", text) is None
    assert one_column(superuser, "date", text, header="Incident date") == (
        False, f'Incident date "{text}" is not a date {DATE_FORMS}')


def test_excel_dates_add_serial_day_numbers(superuser):
    assert read(superuser, "raw.excel_date", "42005") == date(2015, 1, 1)
    assert read(superuser, "raw.extract_date", "42005") is None
    assert one_column(superuser, "excel_date", "31/02/2023", header="DateOfCall") == (
        False, 'DateOfCall "31/02/2023" is not a date (YYYY-MM-DD, DD Mon YYYY, DD/MM/YYYY or an Excel day number)')


@pytest.mark.parametrize(("ctype", "text"), [
    ("date", FUTURE.isoformat()), ("date", FUTURE.strftime("%d/%m/%Y")), ("excel_date", FUTURE.isoformat()),
    ("excel_date", str((FUTURE - date(1899, 12, 30)).days)), ("timestamp", f"{FUTURE.isoformat()} 10:00"),
    ("month", f"{FUTURE.year + 1}-01"),
])
def test_values_after_today_are_in_the_future(superuser, ctype, text):
    assert one_column(superuser, ctype, text, header="When") == (False, f'When "{text}" is in the future')


@pytest.mark.parametrize(("ctype", "text"), [
    ("date", date.today().replace(day=1).isoformat()), ("month", date.today().strftime("%Y-%m")),
    ("timestamp", f"{(date.today() - timedelta(days=1)).isoformat()} 23:59"),
])
def test_today_and_this_month_are_not_the_future(superuser, ctype, text):
    assert one_column(superuser, ctype, text) == (True, None)


def test_a_future_date_in_a_period_file_is_rejected_too(superuser):
    contract = contract_of(ContractColumn(name="value", header="DateOfCall", type="excel_date"),
                           period_column="value")
    period = f"{FUTURE:%Y-%m}"
    assert check(superuser, contract, {"value": FUTURE.isoformat()}, period) == (
        False, f'DateOfCall "{FUTURE.isoformat()}" is in the future')
    assert check(superuser, contract, {"value": "2024-12-01"}, "2025-01") == (
        False, 'DateOfCall "2024-12-01" is not in the file\'s month 2025-01')
    assert check(superuser, contract, {"value": "31/01/2025"}, "2025-01") == (True, None)


# ---------------------------------------------------------------------------------------------------------
# timestamps, times, months
# ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("text", "expected"), [
    ("2024-05-01 14:30:05", datetime(2024, 5, 1, 14, 30, 5)), ("2024-05-01T14:30:05", datetime(2024, 5, 1, 14, 30, 5)),
    ("2024-05-01 14:30", datetime(2024, 5, 1, 14, 30)), (" 2024-5-1 14:30 ", datetime(2024, 5, 1, 14, 30)),
    ("01/05/2024 14:30", datetime(2024, 5, 1, 14, 30)), ("01/05/2024 14:30:59", datetime(2024, 5, 1, 14, 30, 59)),
    ("01/05/2024T09:05", datetime(2024, 5, 1, 9, 5)),
])
def test_timestamp_spellings_accepted(superuser, text, expected):
    superuser.execute("set datestyle = 'SQL, MDY'")
    assert read(superuser, "raw.extract_timestamp", text) == expected
    assert one_column(superuser, "timestamp", text) == (True, None)


@pytest.mark.parametrize("text", ["2024-05-01", "2024-05-32 10:00", "2024-05-01 25:00", "05/13/2024 10:00",
                                  "01/05/24 10:00", "yesterday", "2024-05-01 10:00 PM"])
def test_timestamp_spellings_rejected(superuser, text):
    assert read(superuser, "raw.extract_timestamp", text) is None
    assert one_column(superuser, "timestamp", text, header="Call date time") == (
        False, f'Call date time "{text}" is not a date and time (YYYY-MM-DD HH:MM[:SS] or DD/MM/YYYY HH:MM[:SS])')


@pytest.mark.parametrize(("text", "expected"), [("00:15", time(0, 15)), (" 23:59:59 ", time(23, 59, 59)),
                                               ("9:05", time(9, 5)), ("00:15:23.5", time(0, 15, 23, 500000))])
def test_time_spellings_accepted(superuser, text, expected):
    assert read(superuser, "raw.extract_time", text) == expected
    assert one_column(superuser, "time", text) == (True, None)


@pytest.mark.parametrize("text", ["25:00", "12:61", "noon", "2024-01", "1230", "now", "allballs", "04:05 PM"])
def test_time_spellings_rejected(superuser, text):
    assert one_column(superuser, "time", text, header="TimeOfCall") == (
        False, f'TimeOfCall "{text}" is not a time of day')


@pytest.mark.parametrize(("text", "ok"), [("2024-01", True), (" 2024-12 ", True), ("2024-13", False),
                                          ("2024-1", False), ("01/2024", False)])
def test_month_spellings(superuser, text, ok):
    assert (read(superuser, "raw.extract_month", text) is not None) == ok
    assert one_column(superuser, "month", text, header="Month") == (
        (True, None) if ok else (False, f'Month "{text}" is not a YYYY-MM month'))


# ---------------------------------------------------------------------------------------------------------
# end to end: an LFB file with these spellings in its integer columns, ingested and read by staging
# ---------------------------------------------------------------------------------------------------------

def lfb_header(contracts) -> list[str]:
    return [c.header for c in next(c for c in contracts if c.dataset == "lfb_incidents").columns]


def lfb_row(header: list[str], number: str, **values: str) -> list[str]:
    row = dict.fromkeys(header, "")
    row.update({"IncidentNumber": number, "DateOfCall": "15/01/2025", "TimeOfCall": "10:00:00",
                "IncidentGroup": "Fire", "StopCodeDescription": "Primary Fire",
                "IncGeo_BoroughCode": "E09000007", "IncGeo_BoroughName": "CAMDEN"})
    row.update(values)
    return [row[h] for h in header]


LFB_ACCEPTED = {"A1": "131", "A2": " 131 ", "A3": "+131", "A4": "131.0", "A5": "1,234", "A6": "1.31E+02",
                "A7": "N/A", "A8": "NULL", "A9": "-", "A10": ""}
LFB_EXPECTED = {"A1": 131, "A2": 131, "A3": 131, "A4": 131, "A5": 1234, "A6": 131, "A7": None, "A8": None,
                "A9": None, "A10": None}
LFB_REJECTED = {"R1": ("131.5", 'NumCalls "131.5" is not a whole number'),
                "R2": ("1,23", 'NumCalls "1,23" is not a whole number'),
                "R3": ("lots", 'NumCalls "lots" is not a whole number')}


@pytest.fixture(scope="module")
def lfb_loaded(cfg, bootstrap, contracts, tmp_path_factory):
    header = lfb_header(contracts)
    rows = [lfb_row(header, n, NumCalls=v) for n, v in LFB_ACCEPTED.items()]
    rows += [lfb_row(header, n, NumCalls=v) for n, (v, _) in LFB_REJECTED.items()]
    rows += [lfb_row(header, "D1", DateOfCall="03/01/2025"),                      # 3 January, day first
             lfb_row(header, "R4", DateOfCall="01/13/2025"),                      # month first: rejected
             lfb_row(header, "R5", DateOfCall="03/01/25")]                        # two-digit year: rejected
    path = write_csv(tmp_path_factory.mktemp("lfb-values") / "2025-01-lfb-incidents.csv", header, rows)
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        truncate_raw(su, contracts)
        with psycopg.connect(warehouse.loader_endpoint(cfg).conninfo(), autocommit=True) as loader:
            result = ingest_file(loader, path, contracts)
        rejects = dict(su.execute(
            "select record->>'IncidentNumber', reason from raw._rejects where load_id = %s", (result.load_id,)))
    return result, rejects


def test_an_lfb_file_loads_every_spelling_and_rejects_the_rest(lfb_loaded):
    result, rejects = lfb_loaded
    assert (result.status, result.rows_read, result.rows_loaded, result.rows_rejected) == ("loaded", 16, 11, 5)
    assert rejects == {**{n: reason for n, (_, reason) in LFB_REJECTED.items()},
                       "R4": 'DateOfCall "01/13/2025" is not a date'
                             ' (YYYY-MM-DD, DD Mon YYYY, DD/MM/YYYY or an Excel day number)',
                       "R5": 'DateOfCall "03/01/25" is not a date'
                             ' (YYYY-MM-DD, DD Mon YYYY, DD/MM/YYYY or an Excel day number)'}


def test_staging_reads_what_validation_accepted(lfb_loaded, cfg, bootstrap):
    outcome = dbt.run(["run", "--select", "stg_lfb__incidents"], cfg)
    assert outcome.success, outcome.failures
    with psycopg.connect(bootstrap.conninfo(), autocommit=True) as su:
        su.execute("set datestyle = 'SQL, MDY'")
        staged = {n: (calls, called) for n, calls, called in su.execute(
            "select incident_number, num_calls, call_date from staging.stg_lfb__incidents")}
    assert {n: calls for n, (calls, _) in staged.items() if n in LFB_EXPECTED} == LFB_EXPECTED
    assert staged["D1"][1] == date(2025, 1, 3)
    assert {called for _, called in staged.values()} == {date(2025, 1, 15), date(2025, 1, 3)}


def test_only_the_loader_may_call_the_fast_test(superuser):
    """Fail closed: the loader's COPY calls raw.plain_number_between; dbt, PUBLIC and every other role may not."""
    callers = superuser.execute(
        "select array_agg(r.rolname order by r.rolname) from pg_roles r"
        " where not r.rolsuper and r.rolname not like 'pg\\_%'"
        " and has_function_privilege(r.oid, 'raw.plain_number_between(text, float8, float8)', 'execute')"
    ).fetchone()[0]
    assert callers == ["safestats_loader"]
