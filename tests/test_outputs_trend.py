"""The quarterly trend reports against the outputs world (2024 Q4 and 2025 Q4 released): every printed count is
re-derived from the released cells its tag names and obeys the rule, the PDF prints on more than one page, 2025 Q4
compares with a year before and 2024 Q4 says it cannot; and a planted small count stops a report being made."""
from __future__ import annotations

import re
import subprocess
from datetime import date

import psycopg
import pytest
from outputs_world import ensure_outputs_world
from psycopg import sql

from safestats import warehouse
from safestats.outputs import trend_report
from safestats.outputs.area import Area
from safestats.outputs.figures import RuleBroken, default_rule
from safestats.outputs.pdf import Printer
from safestats.outputs.trend_report import (
    LONDON,
    MEASURES,
    Place,
    Released,
    build_report,
    build_trend_reports,
    completed_quarters,
    tagged_counts,
)
from safestats.sdc.attacker import Rule

QUARTERS = ("2024Q4", "2025Q4")
SUBJECTS = ["london", "E09000007", "E09000012"]
CHANGE = re.compile(r'<td class="change">(.*?)</td>', re.S)


@pytest.fixture(scope="module")
def built(cfg, bootstrap, contracts, tmp_path_factory):
    ensure_outputs_world(cfg, bootstrap, contracts, tmp_path_factory.mktemp("outputs-landing"))
    area = Area(tmp_path_factory.mktemp("trend-outputs"))
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn, Printer() as printer:
        quarters = completed_quarters(conn)
        outputs = [o for q in QUARTERS
                   for o in build_trend_reports(conn, area, q, rule=default_rule(cfg), printer=printer,
                                                boroughs=SUBJECTS)]
    area.save()
    return area, quarters, outputs


@pytest.fixture(scope="module")
def builder(cfg, built):
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        yield conn


def _html(area: Area, quarter: str, subject: str) -> str:
    return (area.base / "trend_reports" / quarter / f"{subject}.html").read_text()


def test_both_quarters_are_complete_and_every_report_is_written(built):
    area, quarters, outputs = built
    assert {"2024Q4", "2025Q4"} <= set(quarters)
    assert sorted(o.path for o in outputs) == sorted(f"trend_reports/{q}/{s}.{ext}" for q in QUARTERS
                                                     for s in SUBJECTS for ext in ("html", "pdf"))
    assert {(o.kind, o.audience) for o in outputs} == {("trend_report", "partners")}
    camden = next(o for o in outputs if o.path == "trend_reports/2025Q4/E09000007.pdf")
    assert (camden.subject, camden.period) == ("E09000007", "2025Q4")
    assert camden.title == "Community safety trends, Camden, Oct–Dec 2025"


def test_every_printed_count_is_the_sum_of_the_released_cells_it_names(built, builder):
    area, _, _ = built
    columns = {m.relation: m.column for m in MEASURES}
    checked = 0
    for quarter in QUARTERS:
        for subject in SUBJECTS:
            for attrs, shown in tagged_counts(_html(area, quarter, subject)):
                relation, months = attrs["data-relation"], attrs["data-months"].split(",")
                assert len(months) == 3
                total, cells = builder.execute(
                    sql.SQL("select coalesce(sum({}), 0), count(*) from {} where geography_level = %s"
                            " and geography_code = %s and category_level = %s and category_code = %s"
                            " and to_char(incident_month, 'YYYY-MM') = any(%s)").format(
                        sql.Identifier(columns[relation]), sql.Identifier("release", relation)),
                    (attrs["data-level"], attrs["data-geography"], attrs["data-category-level"],
                     attrs["data-category"], months)).fetchone()
                assert cells == 3, (quarter, subject, attrs)
                assert shown == total, (quarter, subject, attrs)
                checked += 1
    assert checked >= 3 * 7 * 2     # at least this quarter's seven measures in each report


def test_no_printed_count_breaks_the_rule(built):
    area, _, _ = built
    counts = [n for q in QUARTERS for s in SUBJECTS for _, n in tagged_counts(_html(area, q, s))]
    assert counts
    assert not [n for n in counts if 1 <= n <= 7]
    assert not [n for n in counts if n % 5]


def test_the_pdf_prints_with_the_data_notes_on_a_page_of_their_own(built, tmp_path):
    area, _, _ = built
    for subject in ("london", "E09000007"):
        pdf = area.base / "trend_reports" / "2025Q4" / f"{subject}.pdf"
        assert pdf.read_bytes().startswith(b"%PDF")
        subprocess.run(["pdftoppm", "-png", "-r", "20", str(pdf), str(tmp_path / subject)], check=True)
        assert len(list(tmp_path.glob(f"{subject}-*.png"))) >= 2


def test_2025q4_compares_with_a_year_before_and_2024q4_says_it_cannot(built):
    area, _, _ = built
    for subject in SUBJECTS:
        later = CHANGE.findall(_html(area, "2025Q4", subject))
        assert len(later) == len(MEASURES)
        assert [c for c in later if "%" in c], subject
        earlier_html = _html(area, "2024Q4", subject)
        earlier = CHANGE.findall(earlier_html)
        assert earlier and all("not available" in c for c in earlier), subject
        assert "No comparison with the same quarter last year (Oct–Dec 2023) is available" in earlier_html


def _planted(robbery_october: int | None) -> Released:
    """A quarter of released-looking cells for London and Camden, with Camden's robbery in October planted."""
    months = ["2025-10", "2025-11", "2025-12"]
    places = {LONDON: Place(LONDON, "london", "E12000007", "London", 9_000_000),
              "E09000007": Place("E09000007", "borough", "E09000007", "Camden", 210_000)}
    cells = {m.key: {(p.code, mo): 100 for p in places.values() for mo in months} for m in MEASURES}
    cells["robbery"][("E09000007", "2025-10")] = robbery_october
    cells["robbery"][("E09000007", "2025-11")] = None
    cells["robbery"][("E09000007", "2025-12")] = 0
    return Released("2025Q4", cells, {m.relation: set(months) for m in MEASURES}, places, "population", "a release")


def test_a_planted_small_count_stops_the_report():
    rule = Rule(threshold=7, rounding_base=5)
    _, html = build_report(_planted(15), "E09000007", rule=rule, built=date(2026, 1, 15))
    assert ">15<sup" in html and "includes a month withheld under the disclosure rule" in html
    with pytest.raises(RuleBroken, match=r"\[3\]"):
        build_report(_planted(3), "E09000007", rule=rule, built=date(2026, 1, 15))


def test_tagged_counts_read_separators_and_marks():
    html = ('<p><span class="count" data-relation="r">1,250<sup class="mark">†</sup></span> and '
            '<td class="count num" data-relation="s">40</td></p>')
    assert [(a["data-relation"], n) for a, n in tagged_counts(html)] == [("r", 1250), ("s", 40)]
    assert trend_report.quarter_label("2025Q4") == "Oct–Dec 2025"
