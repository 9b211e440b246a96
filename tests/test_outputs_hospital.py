"""The hospital data-quality reports against the outputs world (ISTV files for 2024 Q4 and 2025 Q4): the mart's
rows reconcile with the loads, every count a report prints obeys the rule, the PDFs print, the submission gaps
are the sites the submissions mart says missed or were late twice in three months, the league table names every
site; and a count the rule could not have made stops a report being written."""
from __future__ import annotations

import csv
import html as html_text
import io
import math
import re
import subprocess
from dataclasses import replace
from datetime import date

import psycopg
import pytest
from outputs_world import ensure_outputs_world

from safestats import warehouse
from safestats.outputs import hospital_quality
from safestats.outputs.area import Area
from safestats.outputs.figures import RuleBroken, check_counts, default_rule
from safestats.outputs.hospital_quality import (
    FIELDS,
    Count,
    Site,
    build_hospital_reports,
    latest_month,
    reason_category,
    render_site_report,
    shown_rejects,
    site_report,
    submission_gaps,
    tagged_counts,
)
from safestats.outputs.pdf import Printer

MONTH = "2025-12"
FOLDER = f"hospital_reports/{MONTH}"


@pytest.fixture(scope="module")
def conn(cfg, bootstrap, contracts, tmp_path_factory):
    ensure_outputs_world(cfg, bootstrap, contracts, tmp_path_factory.mktemp("outputs-landing"))
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        yield conn


@pytest.fixture(scope="module")
def built(cfg, conn, tmp_path_factory):
    area = Area(tmp_path_factory.mktemp("hospital-outputs"))
    with Printer() as printer:
        outputs = build_hospital_reports(conn, area, MONTH, rule=default_rule(cfg), printer=printer)
    area.save()
    return area, {o.path: o for o in outputs}


@pytest.fixture(scope="module")
def site_codes(conn) -> list[str]:
    return [c for (c,) in conn.execute("select site_code from marts.dim_hospital_site order by 1").fetchall()]


def test_the_mart_reconciles_with_the_loads(conn):
    """Rows received = loaded + rejected per site and month, each equal to the current loads in raw._loads, and
    the field counts are over exactly the loaded rows."""
    mart = {(site, month): (received, loaded, rejected, checked) for site, month, received, loaded, rejected, checked
            in conn.execute("select site_code, to_char(submission_month, 'YYYY-MM'), rows_received, rows_loaded,"
                            " rows_rejected, rows_checked from marts.fct_ed_site_data_quality").fetchall()}
    loads = {(site, month): (read, loaded, rejected) for site, month, read, loaded, rejected in conn.execute(
        "select upper(agency), to_char(period, 'YYYY-MM'), sum(rows_read), sum(rows_loaded), sum(rows_rejected)"
        " from raw._loads where dataset = 'istv_assault_attendances' and status = 'loaded' group by 1, 2")}
    assert loads and set(loads) <= set(mart)
    for key, (received, loaded, rejected, checked) in mart.items():
        assert received == loaded + rejected, key
        assert checked == loaded, key
        assert (received, loaded, rejected) == loads.get(key, (0, 0, 0)), key
    assert sum(v[2] for v in mart.values()) > 0, "the world's files carry rejected rows"
    # one row per site and month of the submissions mart
    assert conn.execute("select count(*) from marts.fct_ed_site_submissions").fetchone()[0] == len(mart)
    assert latest_month(conn) == MONTH


def test_outputs_are_listed_for_their_audiences(built, site_codes):
    _, outputs = built
    for code in site_codes:
        for suffix in (".html", ".pdf"):
            out = outputs[f"{FOLDER}/{code}{suffix}"]
            assert (out.kind, out.audience, out.subject, out.period) == ("hospital_report", f"site:{code}", code,
                                                                         MONTH)
    for name, kind in (("league_table.html", "hospital_league_table"), ("league_table.pdf", "hospital_league_table"),
                       ("submission_gaps.html", "hospital_submission_gaps"),
                       ("submission_gaps.csv", "hospital_submission_gaps")):
        assert (outputs[f"{FOLDER}/{name}"].kind, outputs[f"{FOLDER}/{name}"].audience) == (kind, "istv_programme")
    assert len(outputs) == 2 * len(site_codes) + 4


def test_every_printed_count_obeys_the_rule(cfg, built, site_codes):
    area, _ = built
    rule = default_rule(cfg)
    pages = [f"{FOLDER}/{code}.html" for code in site_codes] + [f"{FOLDER}/league_table.html"]
    seen = 0
    for page in pages:
        html = (area.base / page).read_text()
        counts = tagged_counts(html)
        assert len(counts) == len(re.findall(r'class="count"', html)), page
        assert all(n == 0 or (n > rule.threshold and n % rule.rounding_base == 0) for n in counts), (page, counts)
        seen += len(counts)
        assert "[ftx]" not in html, f"{page}: free text in a report"
    assert seen > 28 * 10
    report = (area.base / f"{FOLDER}/{site_codes[0]}.html").read_text()
    assert "Completeness of each field" in report or "No file came" in report


def test_the_rejects_show_by_category_without_values(cfg, conn, tmp_path):
    site, month = conn.execute(
        "select site_code, to_char(submission_month, 'YYYY-MM') from marts.fct_ed_site_data_quality"
        " where submission_month >= '2025-10-01' and rows_rejected > 0"
        " order by submission_month desc, site_code limit 1").fetchone()
    area = Area(tmp_path)
    with Printer() as printer:
        build_hospital_reports(conn, area, month, rule=default_rule(cfg), printer=printer, sites=[site])
    area.save()
    html = (area.base / f"hospital_reports/{month}/{site}.html").read_text()
    assert "Arrival time ... is not a time of day" in html
    assert "25:10" not in html
    assert reason_category('Arrival time "25:10" is not a time of day') == "Arrival time ... is not a time of day"
    assert reason_category('Assault date "2025-13-01" is not a date; Arrival time "25:10 " is not a time of day'
                           ) == "several problems in one row (the site's rejects report lists each)"
    assert reason_category("Assault method is blank") == "Assault method is blank"


def test_the_pdfs_print(built, tmp_path, site_codes):
    area, _ = built
    for name in (site_codes[0], "league_table"):
        pdf = area.base / f"{FOLDER}/{name}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF")
        subprocess.run(["pdftoppm", "-png", "-r", "40", str(pdf), str(tmp_path / name)], check=True)
        assert len(list(tmp_path.glob(f"{name}*.png"))) >= 1


def test_the_submission_gaps_are_the_sites_the_submissions_mart_says(conn, built):
    area, _ = built
    expected = [code for (code,) in conn.execute(
        "select site_code from marts.fct_ed_site_submissions"
        " where submission_month between '2025-10-01' and '2025-12-01'"
        " group by site_code, site_name"
        " having count(*) filter (where not submitted or not loaded or arrived_late) >= 2"
        " order by site_name").fetchall()]
    listed = list(csv.DictReader(io.StringIO((area.base / f"{FOLDER}/submission_gaps.csv").read_text())))
    assert [row["site_code"] for row in listed] == expected
    html = (area.base / f"{FOLDER}/submission_gaps.html").read_text()
    assert all(code in html for code in expected)


def test_a_site_missing_or_late_twice_in_three_months_is_a_gap():
    def row(submitted: bool, late: bool = False) -> dict:
        return {"submitted": submitted, "loaded": submitted, "arrived_late": late}
    sites = {"A": Site("A", "Always on time", "T", {m: row(True) for m in ("2025-10", "2025-11", "2025-12")}),
             "B": Site("B", "Missed twice", "T", {"2025-10": row(True), "2025-11": row(False)}),
             "C": Site("C", "Late then missed", "T", {"2025-10": row(True, late=True), "2025-11": row(True)}),
             "D": Site("D", "Late once", "T", {"2025-10": row(True, late=True), "2025-11": row(True),
                                               "2025-12": row(True)})}
    gaps = submission_gaps(sites, MONTH)
    assert [(g["site_code"], g["months_missing"], g["months_late"]) for g in gaps] == [("C", 1, 1), ("B", 2, 0)]


def test_the_league_table_has_every_site(built, site_codes):
    area, _ = built
    html = (area.base / f"{FOLDER}/league_table.html").read_text()
    assert all(code in html for code in site_codes)
    assert "Completeness score" in html
    ranks = re.findall(r'<td class="num">(\d+)</td>\s*<td class="site">', html)
    assert ranks and ranks[0] == "1"


def test_a_count_the_rule_could_not_make_stops_the_report(cfg, conn):
    rule = default_rule(cfg)
    with pytest.raises(RuleBroken):
        check_counts([3], rule, "a raw count of 3")
    sites = hospital_quality.load_sites(conn, MONTH)
    site = next(s for s in sites.values() if s.months.get(MONTH, {}).get("rows_loaded"))
    report = site_report(site, MONTH, {}, rule)
    render_site_report(report, rule=rule, built=date.today())      # as built: passes
    with pytest.raises(RuleBroken):
        render_site_report(replace(report, received=Count(3)), rule=rule, built=date.today())
    with pytest.raises(RuleBroken):
        render_site_report(replace(report, loaded=Count(71)), rule=rule, built=date.today())


# -- no figure tells more than the counts the rule let through ----------------------------------------------------

ROW_FIELDS = [f.name for f in FIELDS if f.out_of == "rows_checked"]
OTHER_FIELD = next(f.name for f in FIELDS if f.out_of != "rows_checked")
OTHER_CODE = "Assault method 'Other' (98)"
UNBOUNDED = 10 ** 9


def printed_figures(html: str) -> dict[str, int | None]:
    """Every figure cell of a page (`data-figure`), as printed: a number, or None for withheld. A field that
    applies to no row prints 'none' for its rows and no blank count: its rows are 0 here."""
    found = {}
    for name, text in re.findall(r'data-figure="([^"]*)"[^>]*>([^<]*)<', html):
        text = text.strip()
        found[html_text.unescape(name)] = None if text == "withheld" else int(text.replace(",", ""))
    if f"applies:{ROW_FIELDS[0]}" in found:
        for f in FIELDS:
            found.setdefault(f"applies:{f.name}", 0)
    return found


def league_figures(html: str) -> dict[str, dict[str, int | None]]:
    rows = re.findall(r'<tr data-site="([^"]+)">(.*?)</tr>', html, flags=re.S)
    return {code: printed_figures(row) for code, row in rows}


def rule_interval(v: int | None, rule) -> tuple[int, int]:
    """What the rule lets a reader know of a count from its printed figure."""
    if v is None:
        return 1, rule.threshold
    if v == 0:
        return 0, 0
    return max(v - rule.rounding_base // 2, rule.threshold + 1), v + (rule.rounding_base - 1) // 2


def sum_or_withheld(values) -> int | None:
    values = list(values)
    return None if any(v is None for v in values) else sum(values)


def narrow(intervals: dict[str, tuple[int, int]], constraints) -> dict[str, tuple[int, int]]:
    """Interval propagation: each constraint is ({var: coefficient}, low, high) for low <= sum <= high; returns
    the tightest intervals every constraint together allows (what a reader can infer)."""
    box = dict(intervals)
    for _ in range(200):
        changed = False
        for coeffs, low, high in constraints:
            for var, a in coeffs.items():
                rest_min = sum(min(b * box[v][0], b * box[v][1]) for v, b in coeffs.items() if v != var)
                rest_max = sum(max(b * box[v][0], b * box[v][1]) for v, b in coeffs.items() if v != var)
                lo_ax, hi_ax = low - rest_max, high - rest_min
                lo, hi = (lo_ax / a, hi_ax / a) if a > 0 else (hi_ax / a, lo_ax / a)
                new = (max(box[var][0], math.ceil(lo - 1e-9)), min(box[var][1], math.floor(hi + 1e-9)))
                if new != box[var]:
                    box[var], changed = new, True
        if not changed:
            break
    return box


def inference(site: dict, league: dict, rule) -> tuple[dict, dict]:
    """From one site's printed figures and its league line: the counts' own rule intervals, and what every
    identity between them narrows those to. A printed total equal to the sum of the printed parts it is made of
    is a documented sum and adds no constraint; any other printed total is taken as the rule applied to the
    exact total."""
    own = {"L": rule_interval(site["loaded"], rule), "R": rule_interval(site["rejected"], rule),
           "O": rule_interval(site[f"code:{OTHER_CODE}"], rule)}
    cons = []
    for name in ROW_FIELDS:
        cons.append(({"L": 1}, *rule_interval(site[f"applies:{name}"], rule)))
    cons.append(({"O": 1}, *rule_interval(site[f"applies:{OTHER_FIELD}"], rule)))
    blanks = {f"b:{f.name}": site[f"blank:{f.name}"] for f in FIELDS if site[f"applies:{f.name}"] != 0}
    own.update({v: rule_interval(b, rule) for v, b in blanks.items()})
    reasons = {k: v for k, v in site.items() if k.startswith("reason:")}
    grouped = len(reasons) > 1 and all(v is None for v in reasons.values())
    for k, v in reasons.items():
        own[k] = (1, UNBOUNDED) if grouped else rule_interval(v, rule)
    if reasons and (len(reasons) == 1 or site["rejected"] != sum_or_withheld(reasons.values())):
        cons.append(({"R": -1, **dict.fromkeys(reasons, 1)}, 0, 0))
    if site["received"] != sum_or_withheld((site["loaded"], site["rejected"])):
        cons.append(({"L": 1, "R": 1}, *rule_interval(site["received"], rule)))
    applies = [site[f"applies:{f.name}"] for f in FIELDS]
    if league and league.get("field values", 0) != sum_or_withheld(applies):
        cons.append(({"L": len(ROW_FIELDS), "O": 1}, *rule_interval(league["field values"], rule)))
    if league and league.get("blank", 0) != sum_or_withheld(blanks.values()):
        cons.append((dict.fromkeys(blanks, 1), *rule_interval(league["blank"], rule)))
    return own, narrow(own, cons)


def test_the_old_figures_pinned_the_counts(cfg):
    """The inference finds what the review found in the old R1HKH report: 'Field values' 600 (the rule applied
    to 10 x rows + 'Other' rows) and 'rows with an assault date' 55 pin the rows at 60 and every blank."""
    rule = default_rule(cfg)
    own = {"L": rule_interval(60, rule), "O": (1, 7), "adm": (1, 7), "atm": rule_interval(10, rule), "ldm": (1, 7)}
    cons = [({"L": 10, "O": 1}, *rule_interval(600, rule)), ({"L": 1, "adm": -1}, *rule_interval(55, rule)),
            ({"adm": 1, "atm": 1, "ldm": 1}, *rule_interval(10, rule))]
    box = narrow(own, cons)
    assert box == {"L": (60, 60), "O": (1, 2), "adm": (3, 3), "atm": (8, 8), "ldm": (1, 1)}


def test_no_printed_figure_tells_more_than_the_rule_allows(cfg, built, site_codes):
    """Every total a report or the league table prints is the sum of the printed parts it is made of; no figure
    is the rule applied to a multiple of a count; and all the identities between the printed figures together
    never narrow a count below what its own printed figure says."""
    area, _ = built
    rule = default_rule(cfg)
    league = league_figures((area.base / f"{FOLDER}/league_table.html").read_text())
    assert set(league) == set(site_codes)
    checked = 0
    for code in site_codes:
        html = (area.base / f"{FOLDER}/{code}.html").read_text()
        assert "Rows with an assault date" not in html and "dated rows" not in html, code
        site, line = printed_figures(html), league[code]
        # received = loaded + rejected, as printed
        assert site["received"] == sum_or_withheld((site["loaded"], site["rejected"])), code
        assert line["received"] == site["received"], code
        # the reasons: one is the total; several shown add up to it; several with one withheld are all withheld
        reasons = [v for k, v in site.items() if k.startswith("reason:")]
        if len(reasons) == 1:
            assert reasons[0] == site["rejected"], code
        elif reasons and any(v is None for v in reasons):
            assert all(v is None for v in reasons), code
        elif reasons:
            assert site["rejected"] == sum(reasons), code
        if f"applies:{ROW_FIELDS[0]}" not in site:        # no loaded rows: nothing else to tie
            assert "field values" not in line, code
            continue
        checked += 1
        # the fields on every row apply to the loaded rows as printed; the other description to the 'Other' rows
        assert all(site[f"applies:{name}"] == site["loaded"] for name in ROW_FIELDS), code
        assert site[f"applies:{OTHER_FIELD}"] == site[f"code:{OTHER_CODE}"], code
        # the league's totals are the sums of the report's printed figures, not the rule applied to a sum
        applies = [site[f"applies:{f.name}"] for f in FIELDS]
        blanks = [site[f"blank:{f.name}"] for f in FIELDS if site[f"applies:{f.name}"] != 0]
        assert line["field values"] == sum_or_withheld(applies), code
        assert line["blank"] == sum_or_withheld(blanks), code
        # and what every identity lets a reader infer is never narrower than the rule's own interval
        own, inferred = inference(site, line, rule)
        for var, (lo, hi) in own.items():
            assert inferred[var][0] == lo and inferred[var][1] >= min(hi, rule.threshold), (code, var, inferred[var])
            if hi < UNBOUNDED:
                assert inferred[var] == (lo, hi), (code, var, inferred[var], (lo, hi))
    assert checked >= 10


def test_the_reasons_never_pin_the_rejected_rows(cfg):
    rule = default_rule(cfg)
    one = shown_rejects({"a": 3}, 3, rule)
    assert one.total.withheld and one.reasons == [("a", Count(None))]
    shown_all = shown_rejects({"a": 8, "b": 8}, 16, rule)
    assert shown_all.total == Count(20) and [c for _, c in shown_all.reasons] == [Count(10), Count(10)]
    some_withheld = shown_rejects({"a": 40, "b": 3}, 43, rule)
    assert some_withheld.total == Count(45) and all(c.withheld for _, c in some_withheld.reasons)
    # a withheld total with two reasons would say it is at least 2; a total of 10 with seven reasons, each at most 6
    assert shown_rejects({"a": 2, "b": 1}, 3, rule).reasons_withheld
    assert shown_rejects({f"r{i}": 1 for i in range(6)} | {"big": 4}, 10, rule).reasons_withheld
    assert not shown_rejects({f"r{i}": 1 for i in range(5)} | {"big": 5}, 10, rule).reasons_withheld
