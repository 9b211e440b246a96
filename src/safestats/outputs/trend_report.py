"""The quarterly community-safety trend reports: one for London and one per borough, each an HTML page and its
PDF, in one edition per set of measures (`audience.trend`): an organisation receives the edition of the measures
its agreement gives it London-wide, and an edition holds those measures only, in its table, commentary, charts
and notes. Every count in them is a sum of released cells (`release.*`), tagged in the HTML with the cells it
sums so it can be re-derived, and checked against the disclosure rule, and against the edition's measures,
before the file is written. Changes are per cent, rates per 1,000 residents: neither is a count the rule would
have to withhold."""
from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from jinja2 import Environment, FileSystemLoader, StrictUndefined
from psycopg import sql

from safestats.outputs import audience, charts
from safestats.outputs.area import Area, Output
from safestats.outputs.figures import check_counts, tagged_counts
from safestats.outputs.measures import BY_KEY, MEASURES, Measure

LONDON = "london"
QUARTER = re.compile(r"^(\d{4})Q([1-4])$")
MONTH_ABBR = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MONTH_NAMES = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
               "November", "December")
TREND_MONTHS = 13
TEMPLATES = Path(__file__).parent / "templates"

EDITION_NOTE = "This edition holds the measures your organisation's agreement gives it London-wide."


def edition_measures(keys: Sequence[str]) -> tuple[Measure, ...]:
    """The measures of an edition's keys: known, in `MEASURES` order, one source per concept (a report never shows
    one thing twice from two sources)."""
    unknown = [k for k in keys if k not in BY_KEY]
    if unknown:
        raise ValueError(f"unknown measures {unknown} (known: {', '.join(BY_KEY)})")
    measures = tuple(BY_KEY[k] for k in keys)
    if list(measures) != sorted(measures, key=MEASURES.index) or len(set(keys)) != len(keys):
        raise ValueError(f"an edition's measures are listed once each, in MEASURES order: {tuple(keys)}")
    concepts = [m.concept for m in measures]
    if len(set(concepts)) != len(concepts):
        raise ValueError(f"two sources of one concept in {tuple(keys)}")
    if not measures:
        raise ValueError("an edition with no measures")
    return measures


# -- quarters and months ------------------------------------------------------------------------------------------

def _parse(quarter: str) -> tuple[int, int]:
    found = QUARTER.match(quarter)
    if not found:
        raise ValueError(f"not a quarter: {quarter!r} (e.g. 2025Q4)")
    return int(found[1]), int(found[2])


def quarter_months(quarter: str) -> list[str]:
    year, q = _parse(quarter)
    return [f"{year}-{m:02d}" for m in range(3 * q - 2, 3 * q + 1)]


def year_before(quarter: str) -> str:
    year, q = _parse(quarter)
    return f"{year - 1}Q{q}"


def quarter_label(quarter: str) -> str:
    """'Oct–Dec 2025'."""
    year, q = _parse(quarter)
    return f"{MONTH_ABBR[3 * q - 3]}–{MONTH_ABBR[3 * q - 1]} {year}"


def _month_label(month: str) -> str:
    year, mon = month.split("-")
    return f"{MONTH_ABBR[int(mon) - 1]} {year}"


def _shift(month: str, by: int) -> str:
    year, mon = map(int, month.split("-"))
    n = year * 12 + mon - 1 + by
    return f"{n // 12}-{n % 12 + 1:02d}"


def released_months(conn, measures: Sequence[Measure] = MEASURES) -> dict[str, set[str]]:
    """Each measure's relation -> the months it holds (a month is in `release.*` only once it was published; a
    relation not built or not released holds none)."""
    found = {}
    for relation in sorted({m.relation for m in measures}):
        if conn.execute("select to_regclass(%s) is null", (f"release.{relation}",)).fetchone()[0]:
            found[relation] = set()
            continue
        rows = conn.execute(sql.SQL("select distinct to_char(incident_month, 'YYYY-MM') from {}")
                            .format(sql.Identifier("release", relation))).fetchall()
        found[relation] = {r[0] for r in rows}
    return found


def completed_quarters(conn, keys: Sequence[str] | None = None) -> list[str]:
    """'2025Q4'-style quarters whose three months are all released (release.*) in every relation of the measures
    `keys` (an edition's; None: every measure) that holds any month. A relation not built or released yet holds
    none and is left out, so one missing source does not stop the others' reports; its measure reads
    `not available` in them."""
    measures = MEASURES if keys is None else edition_measures(keys)
    months = [held for held in released_months(conn, measures).values() if held]
    common = set.intersection(*months) if months else set()
    quarters = {f"{m[:4]}Q{(int(m[5:]) - 1) // 3 + 1}" for m in common}
    return sorted(q for q in quarters if set(quarter_months(q)) <= common)


# -- the released cells a build reads -----------------------------------------------------------------------------

@dataclass(frozen=True)
class Place:
    subject: str        # 'london' or the borough code: the report's name
    level: str          # geography_level in release.*
    code: str           # geography_code in release.*
    name: str
    population: int | None


@dataclass
class Released:
    """The cells one build reads, once: per measure, (geography code, month) -> count (None = withheld); the
    months each relation holds; the places and their populations."""
    quarter: str
    cells: dict[str, dict[tuple[str, str], int | None]]
    months: dict[str, set[str]]
    places: dict[str, Place]
    population_note: str
    release_note: str

    def boroughs(self) -> list[str]:
        return sorted(s for s in self.places if s != LONDON)


def _population(conn, quarter: str) -> tuple[dict[str, tuple[str | None, int]], str]:
    """Borough code -> (name, residents) for the quarter, from the public population the marts hold."""
    first = date.fromisoformat(quarter_months(quarter)[0] + "-01")
    year = first.year
    if conn.execute("select to_regclass('marts.dim_borough_population') is not null").fetchone()[0]:
        rows = conn.execute("select borough_code, borough_name, population, year from marts.dim_borough_population"
                            " where %s between applies_from_month and applies_to_month", (first,)).fetchall()
        source = "marts.dim_borough_population"
    else:
        rows = conn.execute("select distinct on (borough_code) borough_code, null, population, year"
                            " from seeds.borough_population where year <= %s order by borough_code, year desc",
                            (year,)).fetchall()
        source = "seeds.borough_population"
    years = sorted({r[3] for r in rows})
    note = (f"ONS mid-year population estimates (usual residents), {', '.join(map(str, years)) or 'none found'}, "
            f"from {source}; London is the sum of its 33 local authorities.")
    return {code: (name, pop) for code, name, pop, _ in rows}, note


def load(conn, quarter: str) -> Released:
    """Every cell a quarter's reports can print or chart: its months, the same months a year before and the
    trend window, at borough and London level."""
    months = released_months(conn)
    wanted = sorted(set(quarter_months(quarter)) | set(quarter_months(year_before(quarter)))
                    | {_shift(quarter_months(quarter)[-1], -i) for i in range(TREND_MONTHS)})
    first, last = date.fromisoformat(wanted[0] + "-01"), date.fromisoformat(wanted[-1] + "-01")
    cells: dict[str, dict[tuple[str, str], int | None]] = {}
    names: dict[str, str] = {}
    london_code = None
    for m in MEASURES:
        cells[m.key] = {}
        if not months[m.relation]:
            continue
        query = sql.SQL("select geography_level, geography_code, geography_name, to_char(incident_month, 'YYYY-MM'),"
                        " {column} from {relation} where geography_level in ('borough', 'london')"
                        " and category_level = %s and category_code = %s"
                        " and incident_month between %s and %s").format(
            column=sql.Identifier(m.column), relation=sql.Identifier("release", m.relation))
        for level, code, name, month, count in conn.execute(query, (m.category_level, m.category_code, first, last)):
            cells[m.key][(code, month)] = count
            if level == "borough":
                names.setdefault(code, name)
            else:
                london_code = code
    population, population_note = _population(conn, quarter)
    codes = sorted(names)
    places = {LONDON: Place(LONDON, "london", london_code or "E12000007", "London",
                            sum(p for _, p in population.values()) or None)}
    for code in codes:
        pop_name, pop = population.get(code, (None, None))
        places[code] = Place(code, "borough", code, pop_name or names[code], pop)
    release = conn.execute("select max(released_at) from release.releases").fetchone()[0] \
        if conn.execute("select to_regclass('release.releases') is not null").fetchone()[0] else None
    release_note = f"the release of {release:%d %B %Y}" if release else "the current release"
    return Released(quarter, cells, months, places, population_note, release_note)


# -- one report's figures -----------------------------------------------------------------------------------------

@dataclass(frozen=True)
class QuarterCount:
    """A measure's quarter at one place: the sum of its released cells, and whether that is the whole quarter."""
    measure: Measure
    place: Place
    months: tuple[str, ...]
    value: int | None
    state: str          # released, partial (a month withheld), withheld (all three), missing (not released)

    @property
    def printable(self) -> bool:
        return self.state in ("released", "partial")

    def tag(self) -> dict[str, str]:
        """The attributes a printed count carries: the released cells it is the sum of."""
        return {"data-relation": self.measure.relation, "data-level": self.place.level,
                "data-geography": self.place.code, "data-category-level": self.measure.category_level,
                "data-category": self.measure.category_code, "data-months": ",".join(self.months)}


def quarter_count(data: Released, measure: Measure, place: Place, quarter: str) -> QuarterCount:
    months = tuple(quarter_months(quarter))
    cells = data.cells[measure.key]
    if any(m not in data.months[measure.relation] or (place.code, m) not in cells for m in months):
        return QuarterCount(measure, place, months, None, "missing")
    values = [cells[(place.code, m)] for m in months]
    released = [v for v in values if v is not None]
    if not released:
        return QuarterCount(measure, place, months, None, "withheld")
    return QuarterCount(measure, place, months, sum(released), "released" if len(released) == 3 else "partial")


def _rate(count: QuarterCount) -> float | None:
    if not count.printable or not count.place.population:
        return None
    return count.value / count.place.population * 1000


@dataclass
class Row:
    measure: Measure
    this: QuarterCount
    last: QuarterCount
    change: float | None
    change_note: str            # why there is no change, when there is none
    rate: float | None
    london_rate: float | None
    rate_partial: bool = False
    london_partial: bool = False


def _change(this: QuarterCount, last: QuarterCount) -> tuple[float | None, str]:
    if this.state == "missing" or last.state == "missing":
        return None, "not available"
    if this.state != "released" or last.state != "released":
        return None, "not comparable"
    if last.value == 0:
        return None, "not available"
    return (this.value - last.value) / last.value * 100, ""


@dataclass
class Report:
    place: Place
    quarter: str
    rows: list[Row]             # one per measure of the report's edition, in MEASURES order
    sentences: list[list[tuple[str, QuarterCount | None]]] = field(default_factory=list)
    figures: list[dict] = field(default_factory=list)

    @property
    def is_london(self) -> bool:
        return self.place.subject == LONDON

    @property
    def measures(self) -> tuple[Measure, ...]:
        return tuple(r.measure for r in self.rows)


def report_rows(data: Released, place: Place, quarter: str, measures: Sequence[Measure]) -> list[Row]:
    london = data.places[LONDON]
    rows = []
    for m in measures:
        this = quarter_count(data, m, place, quarter)
        last = quarter_count(data, m, place, year_before(quarter))
        change, note = _change(this, last)
        in_london = quarter_count(data, m, london, quarter) if place.subject != LONDON else this
        rows.append(Row(m, this, last, change, note, _rate(this), _rate(in_london),
                        this.state == "partial", in_london.state == "partial"))
    return rows


# -- commentary ---------------------------------------------------------------------------------------------------

def rate_text(rate: float) -> str:
    """A rate per 1,000 to two decimals; a rate too small to show as 0.01 is not printed as nought."""
    return "<0.01" if 0 < rate < 0.005 else f"{rate:.2f}"


def _pct(change: float) -> str:
    return f"{abs(change):.0f}%"


def commentary(report: Report) -> list[list[tuple[str, QuarterCount | None]]]:
    """3-5 sentences, each a list of (text, count) pieces: a count is printed tagged, like the table's. Only
    figures the table shows; says where a comparison is not available."""
    rows, last_label = report.rows, quarter_label(year_before(report.quarter))
    out: list[list[tuple[str, QuarterCount | None]]] = []
    compared = sorted((r for r in rows if r.change is not None), key=lambda r: -abs(r.change))
    for r in compared[:3]:
        label = r.measure.label
        if round(r.change) == 0:
            out.append([(f"{label} was level with the same quarter last year (", None), ("", r.last),
                        (" then, ", None), ("", r.this), (" now).", None)])
        else:
            verb = "rose" if r.change > 0 else "fell"
            out.append([(f"{label} {verb} {_pct(r.change)} on the same quarter last year (from ", None),
                        ("", r.last), (" to ", None), ("", r.this), (").", None)])
    if len(compared) > 3:
        rest = compared[3:]
        small = max(abs(r.change) for r in rest)
        out.append([(f"The other {len(rest)} measures compared changed by {_pct(small)} or less.", None)])
    absent = [r for r in rows if r.change is None]
    if absent and not compared:
        out.append([(f"No comparison with the same quarter last year ({last_label}) is available: those months "
                     "are not all in the released data.", None)])
    elif absent:
        names = _join([r.measure.phrase for r in absent])
        out.append([(f"A comparison with {last_label} is not available for {names}.", None)])
    if not report.is_london:
        out += _against_london(report)
    if not compared:
        largest = sorted((r for r in rows if r.this.printable and r.this.value), key=lambda r: -r.this.value)[:2]
        if largest:
            first = largest[0]
            rate = f", {rate_text(first.rate)} per 1,000 residents" if first.rate is not None else ""
            out.insert(0, [(f"The largest volume this quarter was {first.measure.phrase} (", None), ("", first.this),
                           (f"{rate}).", None)])
            if len(largest) > 1:
                second = largest[1]
                rate = f", {rate_text(second.rate)} per 1,000" if second.rate is not None else ""
                out.insert(1, [(f"{second.measure.label} was next (", None), ("", second.this), (f"{rate}).", None)])
    partial = [r.measure.phrase for r in rows if r.this.state == "partial"]
    if partial:
        out.append([(f"This quarter's figures for {_join(partial)} include a month withheld under the disclosure "
                     "rule (marked †): they are the sum of the months released.", None)])
    return out[:5]


def _against_london(report: Report) -> list[list[tuple[str, QuarterCount | None]]]:
    both = [r for r in report.rows if r.measure.of_residents and r.rate is not None and r.london_rate]
    if not both:
        return []
    ratios = sorted(both, key=lambda r: -(r.rate / r.london_rate))
    top = ratios[0]
    name = report.place.name
    ratio = top.rate / top.london_rate
    if ratio >= 1.1:
        return [[(f"{name}'s rate of {top.measure.phrase} ({rate_text(top.rate)} per 1,000 residents) was "
                  f"{ratio:.1f} times London's ({rate_text(top.london_rate)}).", None)]]
    if all(r.rate < r.london_rate for r in both):
        return [[(f"{name}'s rates per 1,000 residents were below London's for every measure shown.", None)]]
    return [[(f"{name}'s rates per 1,000 residents were close to or below London's for every measure shown.", None)]]


def _join(items: list[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


# -- charts -------------------------------------------------------------------------------------------------------

def _trend_window(data: Released, quarter: str, measures: Sequence[Measure]) -> list[str]:
    """The trend months: the 13 to the quarter's end, less the leading months none of the measures holds."""
    end = quarter_months(quarter)[-1]
    window = [_shift(end, -i) for i in range(TREND_MONTHS - 1, -1, -1)]
    held = set().union(*(data.months.get(m.relation, set()) for m in measures))
    while window and window[0] not in held and window[0] not in quarter_months(quarter):
        window.pop(0)
    return window


def report_figures(data: Released, report: Report, panels: dict | None = None) -> list[dict]:
    """The report's figures: a monthly panel per measure, laid out on the page as small multiples, and the
    comparisons of its rows. A panel depends only on the place, the measure and the months, so `panels` (kept
    across one build) lets every edition holding a measure reuse the panel the first one drew."""
    place, quarter, measures = report.place, report.quarter, report.measures
    window = _trend_window(data, quarter, measures)
    panels = {} if panels is None else panels
    images = []
    for m in measures:
        key = (place.code, m.key, quarter, tuple(window))
        if key not in panels:
            cells = data.cells[m.key]
            series = charts.Series(m.label, window, [cells.get((place.code, mo)) for mo in window])
            panels[key] = charts.data_uri(charts.monthly_panel(series, quarter_months(quarter)))
        images.append({"src": panels[key], "alt": f"{m.label}, monthly counts, {place.name}"})
    key = "Shaded: the report's quarter. Gaps: a month withheld or not available."
    figures = [{
        "panels": images,
        "key": f"{place.name}: monthly counts of released cells. {key}",
        "caption": f"Monthly counts, {_month_label(window[0])} to {_month_label(window[-1])}, {place.name}. "
                   + ("Each panel has its own scale." if len(images) > 1 else "")
                   + ("" if len(images) % 2 else f" {key}"),
    }]
    rows = report.rows
    this_label, last_label = quarter_label(quarter), quarter_label(year_before(quarter))
    changes = [r.change for r in rows] if any(r.change is not None for r in rows) else None
    versus = not report.is_london and any(r.rate is not None and r.london_rate for r in rows)
    if changes is None and not versus:
        return figures
    caption = []
    if changes is not None:
        caption.append(f"{'Left: p' if versus else 'P'}er cent change, {this_label} on {last_label}, for measures "
                       "released in full in both quarters.")
    if versus:
        caption.append(f"{'Right' if changes is not None else 'Bars'}: {place.name}'s rate per 1,000 residents "
                       f"as a percentage of London's, {this_label} (figures: {place.name} v London).")
        caption += [f"{m.label} are counted at the hospital, so that rate is not one of residents."
                    for m in measures if not m.of_residents]
    figures.append({
        "src": charts.data_uri(charts.comparisons(
            [r.measure.label for r in rows], changes, [r.rate for r in rows] if versus else None,
            [r.london_rate for r in rows] if versus else None, last_label=last_label)),
        "caption": " ".join(caption),
    })
    return figures


# -- rendering and checking ---------------------------------------------------------------------------------------

@functools.cache
def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters["thousands"] = lambda n: f"{n:,}"
    env.filters["month"] = _month_label
    env.filters["rate"] = rate_text
    return env


def render(data: Released, report: Report, *, rule, built: date) -> str:
    """The report's page: its measures only, and the notes of their sources only."""
    quarter = report.quarter
    last = year_before(quarter)
    measures = report.measures
    return _environment().get_template("trend_report.html.j2").render(
        report=report, place=report.place, rows=report.rows, measures=measures,
        keys={m.key for m in measures}, relations={m.relation for m in measures}, rule=rule,
        title=title(report.place, quarter), quarter=quarter, this_label=quarter_label(quarter),
        last_label=quarter_label(last), this_long=_long_label(quarter), months=quarter_months(quarter),
        last_months=quarter_months(last), window=_trend_window(data, quarter, measures),
        any_partial=any(r.this.state == "partial" or r.last.state == "partial" or r.london_partial
                        for r in report.rows),
        missing_last=[r.measure for r in report.rows if r.last.state == "missing"],
        missing_this=[r.measure for r in report.rows if r.this.state == "missing"],
        edition_note=EDITION_NOTE, population_note=data.population_note, release_note=data.release_note,
        built=built)


def _long_label(quarter: str) -> str:
    year, q = _parse(quarter)
    return f"{MONTH_NAMES[3 * q - 3]} to {MONTH_NAMES[3 * q - 1]} {year}"


def title(place: Place, quarter: str) -> str:
    return f"Community safety trends, {place.name}, {quarter_label(quarter)}"


def _cells_of(measure: Measure) -> tuple[str, str, str]:
    return measure.relation, measure.category_level, measure.category_code


def check_edition(counts: list[tuple[dict[str, str], int]], measures: Sequence[Measure], where: str) -> None:
    """Refuses a page that prints a count of cells outside its edition's measures: its readers' agreements may not
    cover them."""
    allowed = {_cells_of(m) for m in measures}
    outside = sorted({(a.get("data-relation"), a.get("data-category-level"), a.get("data-category"))
                      for a, _ in counts} - allowed, key=str)
    if outside:
        raise ValueError(f"{where}: counts of cells outside the edition's measures: {outside}")


# -- the build ----------------------------------------------------------------------------------------------------

def build_report(data: Released, subject: str, keys: Sequence[str], *, rule, built: date | None = None,
                 panels: dict | None = None) -> tuple[Report, str]:
    """One report of the edition of measures `keys`: its HTML, every count checked against the rule and against
    the edition's measures. `panels`: the monthly panels drawn so far in this build (`report_figures`)."""
    measures = edition_measures(keys)
    place = data.places[subject]
    report = Report(place, data.quarter, report_rows(data, place, data.quarter, measures))
    report.sentences = commentary(report)
    report.figures = report_figures(data, report, panels)
    html = render(data, report, rule=rule, built=built or date.today())
    counts = tagged_counts(html)
    where = f"trend report {data.quarter} {subject} ({', '.join(keys)})"
    check_counts([n for _, n in counts], rule, where)
    check_edition(counts, measures, where)
    return report, html


def _report_html(data: Released, rule, subject: str, keys: Sequence[str], panels: dict) -> tuple[str, str]:
    """(title, checked HTML) of one report."""
    report, html = build_report(data, subject, keys, rule=rule, panels=panels)
    return title(report.place, data.quarter), html


def edition_subjects(data: Released, measures: Sequence[Measure]) -> list[str]:
    """London and every borough with a released cell of one of the measures."""
    codes = {code for m in measures for code, _ in data.cells[m.key]}
    return [LONDON, *(s for s in data.boroughs() if s in codes)]


def build_trend_reports(conn, area: Area, quarter: str, *, rule, printer, variants: dict[str, tuple[str, ...]],
                        boroughs: list[str] | None = None) -> list[Output]:
    """Writes trend_reports/<quarter>/<edition>/<london|E09...>.html and .pdf, for each edition of `variants`
    (audience `trend:<edition>` -> its measure keys, `audience.variants`), for London and every borough with a
    released cell of the edition's measures, or only the subjects listed ('london' or borough codes).

    One thread draws the charts and renders each page while this one prints the page before it (Chromium
    prints in its own process, so the two overlap); the panels are drawn once per place and measure."""
    editions = {}
    for aud, keys in variants.items():
        if aud != audience.trend(tuple(keys)):
            raise ValueError(f"{aud!r} is not the audience of the edition {tuple(keys)}")
        editions[aud] = edition_measures(keys)
    data = load(conn, quarter)
    if boroughs is None:
        subjects = {aud: edition_subjects(data, measures) for aud, measures in editions.items()}
    else:
        unknown = [s for s in boroughs if s not in data.places]
        if unknown:
            raise ValueError(f"no released cells for {unknown} (known: london and {len(data.places) - 1} boroughs)")
        subjects = {aud: list(boroughs) for aud in editions}
    order = list(dict.fromkeys(s for listed in subjects.values() for s in listed))
    jobs = [(aud, subject) for subject in order for aud in editions if subject in subjects[aud]]
    panels: dict = {}
    outputs = []
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="trend-pages") as pages:
        made = [pages.submit(_report_html, data, rule, subject, variants[aud], panels) for aud, subject in jobs]
        try:
            for (aud, subject), page in zip(jobs, made):
                name, html = page.result()
                path = f"trend_reports/{quarter}/{aud.removeprefix('trend:')}/{subject}"
                meta = dict(kind="trend_report", title=name, period=quarter, subject=subject, audience=aud)
                outputs.append(area.write(f"{path}.html", html, **meta))
                outputs.append(area.write(f"{path}.pdf", printer.pdf(html), **meta))
        finally:
            for page in made:
                page.cancel()
    return outputs
