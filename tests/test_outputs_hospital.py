"""The hospital data-quality reports against the outputs world (ISTV files for 2024 Q4 and 2025 Q4): the mart's
rows reconcile with the loads, every count a report prints obeys the rule, the PDFs print, the submission gaps
are the sites the submissions mart says missed or were late twice in three months, the league table names every
site; and a count the rule could not have made stops a report being written."""
from __future__ import annotations

import csv
import io
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
    Count,
    Site,
    build_hospital_reports,
    latest_month,
    reason_category,
    render_site_report,
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
