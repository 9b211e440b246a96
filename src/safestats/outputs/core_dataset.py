"""The borough core dataset for violence as files: for each released month and each variant (the counts and
boroughs one organisation's grant on `agg_borough_violence_core_monthly` gives, `audience.core_share`), one CSV
and one XLSX per borough (the borough's last twelve released months, one row a month) and, for a variant of all
boroughs, one for London (every borough for the month and a London total). A variant's files hold only its counts,
with their companions and definitions, and only its boroughs: a London total sums every borough, so a variant
limited to some boroughs gets no London file. Everything is read from `release.agg_borough_violence_core_monthly`,
whose counts are released cells, so the files print nothing the release did not: a London total is a sum of
released borough cells, flagged incomplete where a borough's cell was withheld. File names depend only on the
month, the variant and the area, so next refresh's file replaces this one."""
from __future__ import annotations

import io
import re
from dataclasses import dataclass
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal

from psycopg.rows import dict_row

from safestats.outputs.area import Area, Output, csv_bytes
from safestats.outputs.figures import check_counts
from safestats.sdc.attacker import Rule

SOURCE = "release.agg_borough_violence_core_monthly"
KIND = "core_dataset"
VARIANT = re.compile(r"^core:([a-z0-9_-]+)$")
TRAILING_MONTHS = 12
TITLE = "Borough core dataset for violence"


@dataclass(frozen=True)
class Measure:
    name: str           # the relation's prefix: <name>_count, <name>_count_suppressed, <name>_rate_per_1000
    what: str           # what one count counts, for the definitions


MEASURES = (
    Measure("police_violence", "police-recorded violence: the sum of the released violence-category cells of the "
            "police.uk street crimes for the borough"),
    Measure("knife_crime", "knife or sharp instrument crime recorded by the Metropolitan Police (the released "
            "knife_or_sharp_instrument cell; the City of London is not covered by that feed)"),
    Measure("ambulance_violence_dispatch", "London Ambulance Service dispatches to violence-related calls (the "
            "borough's released all-categories cell)"),
    Measure("ed_assault_attendance", "A&E attendances for assault reported under the information sharing to tackle "
            "violence programme, at sites in the borough (the borough's released all-categories cell)"),
)


def _measures(columns) -> tuple[Measure, ...]:
    """The measures of a variant's count columns, in file order; a column that is not a core count is refused."""
    known = {f"{m.name}_count" for m in MEASURES}
    unknown = sorted(set(columns) - known)
    if unknown or not columns:
        raise ValueError(f"not a set of core counts: {tuple(columns)!r}")
    return tuple(m for m in MEASURES if f"{m.name}_count" in columns)


def _variant_id(audience: str) -> str:
    match = VARIANT.match(audience)
    if not match:
        raise ValueError(f"not a core dataset audience: {audience!r}")
    return match.group(1)


def _columns(london: bool, measures: tuple[Measure, ...]) -> list[tuple[str, str]]:
    """The file's columns and each one's definition, in order."""
    cols = [("incident_month", "The month (its first day, YYYY-MM-DD)."),
            ("geography_code", "GSS code of the borough (E09...), or 'london' on the London total row."),
            ("geography_name", "Name of the borough, or London."),
            ("is_total", "True on the London total row (the sum of the borough rows above it).")] if london else [
            ("incident_month", "The month (its first day, YYYY-MM-DD)."),
            ("borough_code", "GSS code of the borough."),
            ("borough_name", "Name of the borough.")]
    cols.append(("population", "ONS mid-year population estimate of the borough current for the month"
                 + (" (London: the sum of the boroughs)." if london else ".")))
    for m in measures:
        cols.append((f"{m.name}_count", f"Count of {m.what}. Blank where withheld or not received."))
        cols.append((f"{m.name}_count_suppressed", f"True where {m.name}_count is withheld by the disclosure rule."))
        if london:
            cols.append((f"{m.name}_count_complete",
                         f"True where {m.name}_count includes every event: on a borough row, the cell is not "
                         "withheld (blank where nothing was received); on the London total, no borough's cell is "
                         "withheld (false: the total is the sum of the released cells only and so is too low)."))
        cols.append((f"{m.name}_rate_per_1000",
                     f"{m.name}_count per 1,000 residents (2 decimals). Blank where the count is blank"
                     + (", and on the London total where the total is not complete." if london else ".")))
    return cols


def released_months(conn) -> list[str]:
    """Months present in release.agg_borough_violence_core_monthly, 'YYYY-MM', ascending."""
    rows = conn.execute(f"select distinct to_char(incident_month, 'YYYY-MM') from {SOURCE} order by 1").fetchall()
    return [r[0] for r in rows]


def _month_start(month: str) -> date:
    return date(int(month[:4]), int(month[5:7]), 1)


def _months_back(month: str, n: int) -> date:
    year, m = int(month[:4]), int(month[5:7])
    index = year * 12 + m - 1 - n
    return date(index // 12, index % 12 + 1, 1)


def _rows(conn, first: date, last: date) -> list[dict]:
    with conn.cursor(row_factory=dict_row) as cur:
        return cur.execute(f"select * from {SOURCE} where incident_month between %s and %s"
                           " order by borough_code, incident_month", (first, last)).fetchall()


def _rate(count: int | None, population: int | None) -> Decimal | None:
    if count is None or not population:
        return None
    return (Decimal(1000 * count) / Decimal(population)).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


def _borough_row(r: dict) -> dict:
    out = {"incident_month": r["incident_month"], "borough_code": r["borough_code"],
           "borough_name": r["borough_name"], "population": r["population"]}
    for m in MEASURES:
        out[f"{m.name}_count"] = r[f"{m.name}_count"]
        out[f"{m.name}_count_suppressed"] = bool(r[f"{m.name}_count_suppressed"])
        out[f"{m.name}_rate_per_1000"] = r[f"{m.name}_rate_per_1000"]
    return out


def _london_rows(month_rows: list[dict], month: date) -> list[dict]:
    """Every borough's row for the month, then the London total: sums of released cells only."""
    rows = []
    for r in month_rows:
        row = {"incident_month": month, "geography_code": r["borough_code"], "geography_name": r["borough_name"],
               "is_total": False, "population": r["population"]}
        for m in MEASURES:
            suppressed = bool(r[f"{m.name}_count_suppressed"])
            row[f"{m.name}_count"] = r[f"{m.name}_count"]
            row[f"{m.name}_count_suppressed"] = suppressed
            received = suppressed or r[f"{m.name}_count"] is not None
            row[f"{m.name}_count_complete"] = (not suppressed) if received else None
            row[f"{m.name}_rate_per_1000"] = r[f"{m.name}_rate_per_1000"]
        rows.append(row)
    populations = [r["population"] for r in month_rows if r["population"] is not None]
    population = sum(populations) if populations else None
    total = {"incident_month": month, "geography_code": "london", "geography_name": "London", "is_total": True,
             "population": population}
    for m in MEASURES:
        released = [r[f"{m.name}_count"] for r in month_rows if r[f"{m.name}_count"] is not None]
        withheld = any(r[f"{m.name}_count_suppressed"] for r in month_rows)
        count = sum(released) if released else None
        total[f"{m.name}_count"] = count
        total[f"{m.name}_count_suppressed"] = False
        total[f"{m.name}_count_complete"] = not withheld
        total[f"{m.name}_rate_per_1000"] = None if withheld else _rate(count, population)
    rows.append(total)
    return rows


def _cell_text(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _xlsx(columns: list[tuple[str, str]], rows: list[dict], *, title: str, month: str, rule: Rule,
          built: str) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Alignment, Font

    bold = Font(bold=True)
    book = Workbook()
    data = book.active
    data.title = "Data"
    names = [c for c, _ in columns]
    data.append(names)
    for cell in data[1]:
        cell.font = bold
    for row in rows:
        data.append([float(row[c]) if isinstance(row[c], Decimal) else row[c] for c in names])
    for i, name in enumerate(names, start=1):
        letter = data.cell(row=1, column=i).column_letter
        longest = max([len(name)] + [len(_cell_text(r[name])) for r in rows])
        data.column_dimensions[letter].width = min(max(longest + 2, 10), 48)
        if name == "incident_month":
            for cell in data[letter][1:]:
                cell.number_format = "yyyy-mm-dd"
        elif name.endswith("_rate_per_1000"):
            for cell in data[letter][1:]:
                cell.number_format = "0.00"
    data.freeze_panes = "A2"

    notes = book.create_sheet("Definitions")
    header = [
        ("Title", title),
        ("Month", month),
        ("Source", f"{SOURCE} (the released cells of the disclosure-controlled release)"),
        ("Disclosure rule", f"Counts from 1 to {rule.threshold} are withheld (blank, with the _suppressed column "
                            f"true); every other count is rounded to a multiple of {rule.rounding_base}. Totals are "
                            "sums of released cells. Rates are withheld where their count is."),
        ("Blank counts", "A count is blank where it is withheld or where its dataset was not received for the "
                         "borough and month (then _suppressed is false)."),
        ("Built", built),
    ]
    for key, value in header:
        notes.append([key, value])
        notes.cell(row=notes.max_row, column=1).font = bold
    notes.append([])
    notes.append(["Column", "Definition"])
    for cell in notes[notes.max_row]:
        cell.font = bold
    for name, definition in columns:
        notes.append([name, definition])
    notes.column_dimensions["A"].width = 44
    notes.column_dimensions["B"].width = 110
    wrap = Alignment(wrap_text=True, vertical="top")     # one style for every cell: a refresh makes many files
    for row in notes.iter_rows():
        for cell in row:
            cell.alignment = wrap
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


def _write_pair(area: Area, path: str, columns: list[tuple[str, str]], rows: list[dict], *, counts: list[str],
                month: str, subject: str, title: str, audience: str, rule: Rule, built: str) -> list[Output]:
    check_counts([r[c] for r in rows for c in counts], rule, f"{path}.csv")
    names = [c for c, _ in columns]
    common = {"kind": KIND, "title": title, "period": month, "subject": subject, "audience": audience}
    table = csv_bytes(names, [[_cell_text(row[c]) for c in names] for row in rows])
    return [area.write(f"{path}.csv", table, **common),
            area.write(f"{path}.xlsx", _xlsx(columns, rows, title=title, month=month, rule=rule, built=built),
                       **common)]


def build_core_datasets(conn, area: Area, month: str, *, rule: Rule, variants: dict[str, tuple]) -> list[Output]:
    """For released month 'YYYY-MM' and each variant (audience 'core:<id>' -> (count columns, borough codes or
    None for all of London), as `audience.variants` gives): per borough of the variant, and for London when it has
    every borough, a CSV and an XLSX of the variant's released counts with rates:
    core_dataset/<YYYY-MM>/<id>/borough-core-violence-<YYYY-MM>-<E09...|london>.csv and .xlsx
    (kind='core_dataset', audience=the variant's, period=month, subject=code)."""
    if month not in released_months(conn):
        raise ValueError(f"{month} is not a released month of {SOURCE}")
    chosen = {aud: (_variant_id(aud), _measures(columns), boroughs)
              for aud, (columns, boroughs) in sorted(variants.items())}
    last = _month_start(month)
    rows = _rows(conn, _months_back(month, TRAILING_MONTHS - 1), last)
    built = datetime.now(timezone.utc).date().isoformat()
    by_borough: dict[str, list[dict]] = {}
    for r in rows:
        by_borough.setdefault(r["borough_code"], []).append(r)
    # every row with every measure, made once; a variant's file picks its columns from them
    boroughs_now = {code: (history[-1]["borough_name"], [_borough_row(r) for r in history])
                    for code, history in sorted(by_borough.items()) if history[-1]["incident_month"] == last}
    london = _london_rows([r for r in rows if r["incident_month"] == last], last)
    outputs = []
    for aud, (variant, measures, boroughs) in chosen.items():
        folder = f"core_dataset/{month}/{variant}/borough-core-violence-{month}"
        counts = [f"{m.name}_count" for m in measures]
        common = {"counts": counts, "month": month, "audience": aud, "rule": rule, "built": built}
        borough_columns = _columns(False, measures)
        for code, (name, history) in boroughs_now.items():
            if boroughs is None or code in boroughs:
                outputs += _write_pair(area, f"{folder}-{code}", borough_columns, history, subject=code,
                                       title=f"{TITLE}: {name}, {month}", **common)
        if boroughs is None:
            outputs += _write_pair(area, f"{folder}-london", _columns(True, measures), london, subject="london",
                                   title=f"{TITLE}: London, {month}", **common)
    return outputs
