"""The hospital data-quality reports of the ISTV feed (ISB 1594): one report a month per emergency department
site, which the ISTV programme team sends to the hospital, a London league table of the sites and the list of
sites whose files keep going missing or arriving late.

The counts come from `marts.fct_ed_site_data_quality` (unsuppressed counts of assault attendances), and the
rejected rows' reasons from `raw._rejects`, grouped into categories with the values they quote taken out. None
of it went through the release, so every count is printed as the rule allows (`figures.shown_count`: 1 to the
threshold withheld, the rest rounded) and each page's tagged counts are checked before it is written.

A figure tied to others by an identity (received = loaded + rejected, rejected = the sum of its reasons, the
league's field values and blanks = sums over the fields) is never rounded on its own: the rounding of each part
and of the whole would pin the exact counts between them. Such a figure is the sum of the parts as shown, and
withheld when any part is; a figure that would be the complement of shown ones (the rows with an assault date)
is not printed. A percentage is computed from the shown counts, and withheld when the count it describes is."""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined

from safestats.outputs import audience, figures
from safestats.outputs.area import Area, Output, csv_bytes
from safestats.outputs.figures import check_counts, shown_count

TEMPLATES = Path(__file__).parent / "templates"
MART = "marts.fct_ed_site_data_quality"
DATASET = "istv_assault_attendances"
HISTORY_MONTHS = 6      # the submission record a site report shows
GAP_MONTHS = 3          # the months the league table and the submission gaps look back over
GAP_LIMIT = 2           # missed or late in this many of them puts a site on the gaps list
WEAKEST = 3             # fields named in a report's "what to fix"
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")


@dataclass(frozen=True)
class Field:
    """An ISB 1594 field: its blank rows out of the rows it applies to, both columns of the mart."""
    name: str
    status: str         # Mandatory (a blank row is rejected) or Required (may be blank when not known)
    blank: str
    out_of: str = "rows_checked"
    note: str = ""


FIELDS = (
    Field("Site code", "Mandatory", "site_code_mismatch_rows", note="blank or not the site that sent the file"),
    Field("Reporting period start date", "Mandatory", "period_start_date_missing_rows"),
    Field("Reporting period end date", "Mandatory", "period_end_date_missing_rows"),
    Field("Arrival date", "Mandatory", "arrival_date_missing_rows"),
    Field("Arrival time", "Mandatory", "arrival_time_missing_rows"),
    Field("Assault date", "Required", "assault_date_missing_rows"),
    Field("Assault time", "Required", "assault_time_missing_rows"),
    Field("Assault method", "Mandatory", "assault_method_missing_rows"),
    Field("Assault method other description", "Required", "assault_method_other_description_missing_rows",
          out_of="assault_method_other_rows", note="of the rows with assault method 'Other'"),
    Field("Assault location type", "Mandatory", "location_type_missing_rows"),
    Field("Assault location description", "Required", "location_description_missing_rows"),
)
# Codes that say little: the share of rows giving them (out of the loaded rows).
VAGUE_CODES = (("Assault method 'Other' (98)", "assault_method_other_rows"),
               ("Assault method 'Not known' (99 or unlisted)", "assault_method_unknown_rows"),
               ("Location type 'Other' (98)", "location_type_other_rows"),
               ("Location type 'Not known' (99 or unlisted)", "location_type_unknown_rows"))
TIMING = (("Assault after the arrival", "assault_after_arrival_rows"),
          ("Assault more than 7 days before the arrival", "assault_over_7_days_before_arrival_rows"))


# -- months ------------------------------------------------------------------------------------------------------

def _shift(month: str, by: int) -> str:
    year, mon = int(month[:4]), int(month[5:7]) - 1 + by
    return f"{year + mon // 12:04d}-{mon % 12 + 1:02d}"


def _months_to(month: str, n: int) -> list[str]:
    """The n months ending with `month`, oldest first."""
    return [_shift(month, -k) for k in range(n - 1, -1, -1)]


def month_label(month: str) -> str:
    return f"{MONTH_NAMES[int(month[5:7]) - 1]} {month[:4]}"


def _short_month(month: str) -> str:
    return f"{MONTH_NAMES[int(month[5:7]) - 1][:3]} {month[:4]}"


# -- figures as printed ------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Count:
    """A count as printed: `value` (rounded) or None (withheld, 1 to the threshold)."""
    value: int | None

    @property
    def withheld(self) -> bool:
        return self.value is None


def shown(n: int, rule) -> Count:
    return Count(shown_count(n, rule))


def total_of(parts) -> Count:
    """A total as the sum of its parts as shown, so it tells nothing they do not: withheld if any part is."""
    parts = list(parts)
    return Count(None) if any(p.withheld for p in parts) else Count(sum(p.value for p in parts))


@dataclass(frozen=True)
class Share:
    """A count and its percentage of a total, both as printed: the percentage comes from the shown counts and is
    withheld with its count (or when the total shown is 0)."""
    count: Count
    pct: float | None

    @classmethod
    def of(cls, n: int, total: int, rule) -> "Share":
        count, whole = Count(shown_count(n, rule)), shown_count(total, rule)
        pct = None if count.withheld or not whole else min(100.0, 100.0 * count.value / whole)
        return cls(count, pct)


def pct_label(pct: float | None) -> str:
    if pct is None:
        return "withheld"
    if 0 < pct < 0.5:
        return "under 0.5%"
    return f"{pct:.0f}%" if pct in (0, 100) else f"{pct:.1f}%"


# -- rejects -----------------------------------------------------------------------------------------------------

def reason_category(reason: str) -> str:
    """A reject reason without the values it quotes: the text before the first quote and after the last, so
    `Arrival time "25:10" is not a time of day` is `Arrival time ... is not a time of day`. Values are quoted
    and labels never are, so nothing a file sent survives."""
    first, last = reason.find('"'), reason.rfind('"')
    if first < 0:
        return reason.strip()
    if reason.count('"') > 2:      # several problems in one row: their labels and values cannot be told apart
        return "several problems in one row (the site's rejects report lists each)"
    head, tail = reason[:first].strip(), reason[last + 1:].strip() if last > first else ""
    return " ".join(p for p in (head, "...", tail) if p)


@dataclass(frozen=True)
class Rejected:
    """The rejected rows as printed: their total and the reasons listed with their counts."""
    total: Count
    reasons: list[tuple[str, Count]]
    reasons_withheld: bool = False      # rows were rejected but listing their reasons would tell too much


def shown_rejects(by_category: dict[str, int], rows_rejected: int, rule) -> Rejected:
    """The reasons sum to the rejected rows, so the two are never rounded apart. One reason: its count is the
    total's. Several, all shown: the total is their sum. Several with one withheld: every reason's count is
    withheld (so 'withheld' no longer bounds a reason by the threshold) and the total is rounded on its own; the
    reasons are still listed only when that cannot narrow the total or a reason (each listed reason is at least
    one row, and none can exceed what the total leaves after the others)."""
    total = shown(rows_rejected, rule)
    if not by_category:
        return Rejected(total, [])
    counts = {category: shown(n, rule) for category, n in by_category.items()}
    exact = sum(by_category.values()) == rows_rejected
    if len(counts) == 1 and exact:
        return Rejected(total, [(next(iter(counts)), total)])
    if exact and not any(c.withheld for c in counts.values()):
        reasons = sorted(counts.items(), key=lambda r: (-r[1].value, r[0]))
        return Rejected(total_of(counts.values()), reasons)
    k, half = len(counts), rule.rounding_base // 2
    if total.withheld or k > min(total.value - half, total.value + half + 1 - rule.threshold):
        return Rejected(total, [], reasons_withheld=True)
    return Rejected(total, [(category, Count(None)) for category in sorted(counts)])


def rejects_by_category(conn, month: str) -> dict[str, dict[str, int]]:
    """site code -> reason category -> rejected rows, of the current loads of the month (exact counts)."""
    rows = conn.execute(
        "select upper(l.agency), r.reason, count(*) from raw._rejects r join raw._loads l using (load_id)"
        " where l.dataset = %s and l.status = 'loaded' and l.period = to_date(%s, 'YYYY-MM')"
        " group by 1, 2", (DATASET, month)).fetchall()
    found: dict[str, dict[str, int]] = {}
    for site, reason, n in rows:
        by_category = found.setdefault(site, {})
        category = reason_category(reason)
        by_category[category] = by_category.get(category, 0) + n
    return found


# -- reading the mart --------------------------------------------------------------------------------------------

def latest_month(conn) -> str | None:
    """The latest submission month in the mart."""
    row = conn.execute(f"select to_char(max(submission_month), 'YYYY-MM') from {MART}").fetchone()
    return row[0] if row else None


@dataclass
class Site:
    code: str
    name: str
    trust: str
    months: dict[str, dict] = field(default_factory=dict)     # 'YYYY-MM' -> the mart's row


def load_sites(conn, month: str, back: int = HISTORY_MONTHS) -> dict[str, Site]:
    """Every site, with its rows of the mart for the `back` months to `month`."""
    sites = {code: Site(code, name, trust) for code, name, trust in conn.execute(
        "select site_code, site_name, trust_name from marts.dim_hospital_site order by site_code").fetchall()}
    cur = conn.execute(
        f"select to_char(submission_month, 'YYYY-MM') as month, * from {MART}"
        " where submission_month between to_date(%s, 'YYYY-MM') and to_date(%s, 'YYYY-MM')",
        (_shift(month, 1 - back), month))
    names = [d.name for d in cur.description]
    for values in cur.fetchall():
        row = dict(zip(names, values))
        site = sites.get(row["site_code"])
        if site is not None:
            site.months[row["month"]] = row
    return sites


def submission_status(row: dict | None) -> str:
    if row is None or not row["submitted"]:
        return "missing"
    if not row["loaded"]:
        return "not loaded"
    return "late" if row["arrived_late"] else "on time"


# -- the site report ---------------------------------------------------------------------------------------------

@dataclass
class FieldRow:
    field: Field
    blank: Share
    applies_to: Count

    @property
    def complete_pct(self) -> float | None:
        return None if self.blank.pct is None else 100.0 - self.blank.pct


@dataclass
class SiteReport:
    site: Site
    month: str
    row: dict | None
    history: list[tuple[str, str]]
    received: Count
    loaded: Count
    rejected: Count
    fields: list[FieldRow]
    vague: list[tuple[str, Share]]
    timing: list[tuple[str, Share]]
    rejects: Rejected
    fixes: list[str]

    @property
    def has_rows(self) -> bool:
        return bool(self.row and self.row["rows_checked"])


def _fixes(report: SiteReport) -> list[str]:
    """The few things most worth fixing, weakest first, from the figures as printed."""
    fixes = []
    status = submission_status(report.row)
    if status == "missing":
        fixes.append(f"No file came for {month_label(report.month)}: send it, or tell the programme team why not.")
    elif status == "not loaded":
        fixes.append("The file for the month could not be loaded: check its name and layout against ISB 1594.")
    elif status == "late":
        fixes.append("The file came late: send each month's file within the following month.")
    weak = sorted((f for f in report.fields if f.blank.pct), key=lambda f: -f.blank.pct)[:WEAKEST]
    for f in weak:
        fixes.append(f"{f.field.name} ({f.field.status.lower()}) is blank in {pct_label(f.blank.pct)} of "
                     f"{'the rows it applies to' if f.field.out_of != 'rows_checked' else 'rows'}.")
    vague = sorted(((label, s) for label, s in report.vague if s.pct and s.pct >= 10), key=lambda v: -v[1].pct)
    for label, share in vague[:2]:
        fixes.append(f"{label} in {pct_label(share.pct)} of rows: record the specific code where it is known.")
    for label, share in report.timing:
        if share.count.value:
            fixes.append(f"{label} in {pct_label(share.pct)} of rows: check the assault and arrival dates.")
    reasons = report.rejects.reasons
    if len(reasons) == 1:
        fixes.append(f"Rows were rejected for: {reasons[0][0]}.")
    elif reasons and not reasons[0][1].withheld:
        fixes.append(f"Rows were rejected, most often for: {reasons[0][0]}.")
    elif reasons or report.rejects.reasons_withheld:
        fixes.append("Rows were rejected: see the reasons below and the site's rejects report.")
    return fixes


def site_report(site: Site, month: str, rejects: dict[str, int], rule) -> SiteReport:
    """Every count rounded on its own except the totals of shown parts (received, and rejected when its reasons
    are all shown); the timing checks as shares of the loaded rows, since the dated rows would be the loaded rows
    less the blank assault dates."""
    row = site.months.get(month)
    get = (lambda col: int(row[col] or 0)) if row else (lambda col: 0)
    checked = get("rows_checked")
    fields = [FieldRow(f, Share.of(get(f.blank), get(f.out_of), rule), shown(get(f.out_of), rule)) for f in FIELDS]
    vague = [(label, Share.of(get(col), checked, rule)) for label, col in VAGUE_CODES]
    timing = [(label, Share.of(get(col), checked, rule)) for label, col in TIMING]
    rejected = shown_rejects(rejects, get("rows_rejected"), rule)
    loaded = shown(get("rows_loaded"), rule)
    history = [(m, submission_status(site.months.get(m))) for m in _months_to(month, HISTORY_MONTHS)]
    report = SiteReport(site, month, row, history, total_of((loaded, rejected.total)), loaded, rejected.total,
                        fields, vague, timing, rejected, [])
    report.fixes = _fixes(report)
    return report


# -- the league table and the gaps -------------------------------------------------------------------------------

@dataclass
class LeagueRow:
    site: Site
    status: str
    received: Count         # as the site's report prints it
    cells: Count            # the field values the month's rows should hold: the sum of the report's shown figures
    blank: Count            # of them, blank: likewise
    score_range: tuple[float, float] | None     # completeness, lowest and highest the shown figures allow
    unknown_method: Share
    on_time: int            # months of the last GAP_MONTHS whose file came on time (not a count of people)
    rank: int | None = None

    @property
    def has_rows(self) -> bool:
        return self.score_range is not None

    @property
    def score(self) -> float | None:
        """Overall completeness, when the shown figures give it exactly (no part withheld)."""
        if self.score_range is None or self.score_range[0] != self.score_range[1]:
            return None
        return self.score_range[0]

    @property
    def score_mid(self) -> float:
        return 0.0 if self.score_range is None else sum(self.score_range) / 2


def _bounds(c: Count, rule) -> tuple[int, int]:
    """The least and most a shown count stands for, as far as the score goes: a withheld count 1 to the
    threshold, a rounded one taken as printed (the score is worked out from the shown counts)."""
    return (1, rule.threshold) if c.withheld else (c.value, c.value)


def completeness_range(fields: list[FieldRow], rule) -> tuple[float, float] | None:
    """The share of field values given, out of all the month's rows should hold, from the report's shown figures
    only: each withheld figure taken as anything from 1 to the threshold, so the score is a range then."""
    cells = [_bounds(f.applies_to, rule) for f in fields]
    blank = [_bounds(f.blank.count, rule) for f in fields if f.applies_to.value != 0]
    cells_lo, cells_hi = sum(c[0] for c in cells), sum(c[1] for c in cells)
    if not cells_hi:
        return None
    blank_lo, blank_hi = sum(b[0] for b in blank), sum(b[1] for b in blank)
    low = max(0.0, 100.0 * (1 - blank_hi / cells_lo)) if cells_lo else 0.0
    high = max(0.0, 100.0 * (1 - blank_lo / cells_hi))
    return low, high


def score_label(r: LeagueRow) -> str:
    if r.score_range is None:
        return "–"
    low, high = r.score_range
    if low == high:
        return pct_label(low)
    low, high = math.floor(low), math.ceil(high)
    return f"{low}%" if low == high else f"{low}–{high}%"


def league_row(site: Site, month: str, rule, rejects: dict[str, int] | None = None) -> LeagueRow:
    """A site's line, every figure taken from its report as printed: the totals are sums of shown figures."""
    report = site_report(site, month, rejects or {}, rule)
    row = report.row
    get = (lambda col: int(row[col] or 0)) if row else (lambda col: 0)
    on_time = sum(submission_status(site.months.get(m)) == "on time" for m in _months_to(month, GAP_MONTHS))
    applies = [f for f in report.fields if f.applies_to.value != 0]
    return LeagueRow(site, submission_status(row), report.received,
                     total_of(f.applies_to for f in report.fields), total_of(f.blank.count for f in applies),
                     completeness_range(report.fields, rule) if report.has_rows else None,
                     Share.of(get("assault_method_unknown_rows"), get("rows_checked"), rule), on_time)


def rank_league(rows: list[LeagueRow]) -> list[LeagueRow]:
    """Highest score first, a score range by its middle; sites without loaded rows last, unranked. Ties share a
    rank."""
    def key(r: LeagueRow):
        return (2, 0.0) if not r.has_rows else (0, -round(r.score_mid, 1))
    ordered = sorted(rows, key=lambda r: (key(r), -r.on_time, r.site.name))
    previous, rank = None, 0
    for position, r in enumerate(ordered, 1):
        if key(r)[0] == 2:
            continue
        if key(r) != previous:
            rank, previous = position, key(r)
        r.rank = rank
    return ordered


def submission_gaps(sites: dict[str, Site], month: str) -> list[dict]:
    """Sites whose file was missing or late in GAP_LIMIT or more of the last GAP_MONTHS months."""
    months = _months_to(month, GAP_MONTHS)
    gaps = []
    for site in sorted(sites.values(), key=lambda s: s.name):
        statuses = [submission_status(site.months.get(m)) for m in months]
        missed = sum(s in ("missing", "not loaded") for s in statuses)
        late = sum(s == "late" for s in statuses)
        if missed + late >= GAP_LIMIT:
            gaps.append({"site_code": site.code, "site_name": site.name, "trust_name": site.trust,
                         "months_missing": missed, "months_late": late,
                         **{m: s for m, s in zip(months, statuses)}})
    return gaps


# -- rendering and checking --------------------------------------------------------------------------------------

def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["pct"] = pct_label
    env.filters["month"] = month_label
    env.filters["short_month"] = _short_month
    env.filters["score"] = score_label
    return env


def tagged_counts(html: str) -> list[int]:
    """Every count a page prints (each tagged `class="count"`), as numbers."""
    return [n for _, n in figures.tagged_counts(html)]


def _checked(html: str, rule, where: str) -> str:
    check_counts(tagged_counts(html), rule, where)
    return html


def render_site_report(report: SiteReport, *, rule, built: date) -> str:
    return _checked(_environment().get_template("hospital_report.html.j2").render(
        r=report, site=report.site, month=report.month, rule=rule, built=built, fields=FIELDS,
        gap_months=GAP_MONTHS), rule, f"hospital report {report.month} {report.site.code}")


def render_league_table(rows: list[LeagueRow], month: str, *, rule, built: date) -> str:
    return _checked(_environment().get_template("hospital_league_table.html.j2").render(
        rows=rows, month=month, rule=rule, built=built, gap_months=GAP_MONTHS,
        months=_months_to(month, GAP_MONTHS)), rule, f"hospital league table {month}")


def render_gaps(gaps: list[dict], month: str, *, built: date) -> tuple[str, bytes]:
    months = _months_to(month, GAP_MONTHS)
    html = _environment().get_template("hospital_submission_gaps.html.j2").render(
        gaps=gaps, month=month, months=months, built=built, gap_months=GAP_MONTHS, gap_limit=GAP_LIMIT)
    columns = ["site_code", "site_name", "trust_name", "months_missing", "months_late", *months]
    return html, csv_bytes(columns, [[gap[c] for c in columns] for gap in gaps])


# -- the build ---------------------------------------------------------------------------------------------------

def build_hospital_reports(conn, area: Area, month: str, *, rule, printer,
                           sites: list[str] | None = None) -> list[Output]:
    """For the month 'YYYY-MM': per site, hospital_reports/<YYYY-MM>/<SITE>.html and .pdf (kind='hospital_report',
    audience='site:<SITE>', subject=SITE); a London league table hospital_reports/<YYYY-MM>/league_table.html
    and .pdf (kind='hospital_league_table', audience='istv_programme', subject='london'); and the list of sites
    that missed or were late in two of the last three months, hospital_reports/<YYYY-MM>/submission_gaps.html
    and .csv (kind='hospital_submission_gaps', audience='istv_programme')."""
    if not re.fullmatch(r"\d{4}-(0[1-9]|1[0-2])", month):
        raise ValueError(f"not a month: {month!r}")
    built = date.today()
    everyone = load_sites(conn, month)
    wanted = [everyone[code.upper()] for code in sites] if sites else list(everyone.values())
    rejects = rejects_by_category(conn, month)
    folder = f"hospital_reports/{month}"
    written: list[Output] = []

    def write(name: str, data, kind: str, title: str, subject: str, to: str) -> None:
        written.append(area.write(f"{folder}/{name}", data, kind=kind, title=title, period=month,
                                  subject=subject, audience=to))

    for site in wanted:
        html = render_site_report(site_report(site, month, rejects.get(site.code, {}), rule), rule=rule, built=built)
        title = f"ISTV data quality, {site.name}, {month_label(month)}"
        for suffix, data in ((".html", html), (".pdf", printer.pdf(html))):
            write(site.code + suffix, data, "hospital_report", title, site.code, audience.site(site.code))

    league = rank_league([league_row(site, month, rule, rejects.get(site.code, {})) for site in everyone.values()])
    html = render_league_table(league, month, rule=rule, built=built)
    title = f"ISTV data quality league table, London, {month_label(month)}"
    for suffix, data in ((".html", html), (".pdf", printer.pdf(html))):
        write("league_table" + suffix, data, "hospital_league_table", title, "london", audience.ISTV_PROGRAMME)

    html, table = render_gaps(submission_gaps(everyone, month), month, built=built)
    title = f"ISTV submission gaps, {month_label(month)}"
    for suffix, data in ((".html", html), (".csv", table)):
        write("submission_gaps" + suffix, data, "hospital_submission_gaps", title, "london", audience.ISTV_PROGRAMME)
    return written
