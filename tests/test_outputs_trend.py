"""The quarterly trend reports against the outputs world (2024 Q4 and 2025 Q4 released), in two editions (the
Met's measures and a borough's): every printed count is re-derived from the released cells its tag names and
obeys the rule, a report holds its edition's measures and no other's, the PDF prints on more than one page,
2025 Q4 compares with a year before and 2024 Q4 says it cannot; and a planted small count, or a count outside
the edition, stops a report being made."""
from __future__ import annotations

import html as markup
import re
import subprocess
from datetime import date

import psycopg
import pytest
from outputs_world import ensure_outputs_world
from psycopg import sql

from safestats import warehouse
from safestats.outputs import audience, trend_report
from safestats.outputs.area import Area
from safestats.outputs.figures import RuleBroken, default_rule
from safestats.outputs.measures import BY_KEY, MEASURES
from safestats.outputs.pdf import Printer
from safestats.outputs.trend_report import (
    EDITION_NOTE,
    LONDON,
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
MET = ("violence_with_injury", "knife_crime", "robbery", "anti_social_behaviour", "deliberate_fires")
BOROUGH = ("street_violence", "street_robbery", "street_anti_social_behaviour", "ambulance_violence", "ed_assault")
EDITIONS = {audience.trend(MET): MET, audience.trend(BOROUGH): BOROUGH}
CHANGE = re.compile(r'<td class="change">(.*?)</td>', re.S)
ROW_LABEL = re.compile(r'<td>([^<]*)<span class="source">')


@pytest.fixture(scope="module")
def built(cfg, bootstrap, contracts, tmp_path_factory):
    ensure_outputs_world(cfg, bootstrap, contracts, tmp_path_factory.mktemp("outputs-landing"))
    area = Area(tmp_path_factory.mktemp("trend-outputs"))
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn, Printer() as printer:
        quarters = {keys: completed_quarters(conn, keys) for keys in (None, MET, BOROUGH)}
        outputs = [o for q in QUARTERS
                   for o in build_trend_reports(conn, area, q, rule=default_rule(cfg), printer=printer,
                                                variants=EDITIONS, boroughs=SUBJECTS)]
    area.save()
    return area, quarters, outputs


@pytest.fixture(scope="module")
def builder(cfg, built):
    with psycopg.connect(warehouse.dbt_endpoint(cfg).conninfo(), autocommit=True) as conn:
        yield conn


def _edition(aud: str) -> str:
    return aud.removeprefix("trend:")


def _html(area: Area, quarter: str, aud: str, subject: str) -> str:
    return (area.base / "trend_reports" / quarter / _edition(aud) / f"{subject}.html").read_text()


def _pages():
    return [(q, aud, s) for q in QUARTERS for aud in EDITIONS for s in SUBJECTS]


def test_both_quarters_are_complete_and_every_report_is_written(built):
    area, quarters, outputs = built
    for keys in (None, MET, BOROUGH):
        assert {"2024Q4", "2025Q4"} <= set(quarters[keys]), keys
    assert sorted(o.path for o in outputs) == sorted(f"trend_reports/{q}/{_edition(aud)}/{s}.{ext}"
                                                     for q, aud, s in _pages() for ext in ("html", "pdf"))
    assert {(o.kind, o.audience) for o in outputs} == {("trend_report", aud) for aud in EDITIONS}
    for aud in EDITIONS:
        camden = next(o for o in outputs if o.path == f"trend_reports/2025Q4/{_edition(aud)}/E09000007.pdf")
        assert (camden.subject, camden.period, camden.audience) == ("E09000007", "2025Q4", aud)
        assert camden.title == "Community safety trends, Camden, Oct–Dec 2025"


def test_every_printed_count_is_the_sum_of_the_released_cells_it_names(built, builder):
    area, _, _ = built
    columns = {m.relation: m.column for m in MEASURES}
    checked = 0
    for quarter, aud, subject in _pages():
        for attrs, shown in tagged_counts(_html(area, quarter, aud, subject)):
            relation, months = attrs["data-relation"], attrs["data-months"].split(",")
            assert len(months) == 3
            total, cells = builder.execute(
                sql.SQL("select coalesce(sum({}), 0), count(*) from {} where geography_level = %s"
                        " and geography_code = %s and category_level = %s and category_code = %s"
                        " and to_char(incident_month, 'YYYY-MM') = any(%s)").format(
                    sql.Identifier(columns[relation]), sql.Identifier("release", relation)),
                (attrs["data-level"], attrs["data-geography"], attrs["data-category-level"],
                 attrs["data-category"], months)).fetchone()
            assert cells == 3, (quarter, aud, subject, attrs)
            assert shown == total, (quarter, aud, subject, attrs)
            checked += 1
    assert checked >= 2 * 3 * 5 * 2     # at least this quarter's five measures in each report of each edition


def test_no_printed_count_breaks_the_rule(built):
    area, _, _ = built
    counts = [n for q, aud, s in _pages() for _, n in tagged_counts(_html(area, q, aud, s))]
    assert counts
    assert not [n for n in counts if 1 <= n <= 7]
    assert not [n for n in counts if n % 5]


def test_a_report_holds_exactly_its_editions_measures(built):
    area, _, _ = built
    for quarter, aud, subject in _pages():
        keys = EDITIONS[aud]
        mine = [BY_KEY[k] for k in keys]
        html = _html(area, quarter, aud, subject)
        text = markup.unescape(html).lower()
        where = (quarter, aud, subject)
        assert [markup.unescape(label) for label in ROW_LABEL.findall(html)] == [m.label for m in mine], where
        assert CHANGE.findall(html) and len(CHANGE.findall(html)) == len(keys), where
        tags = {(a["data-relation"], a["data-category-level"], a["data-category"]) for a, _ in tagged_counts(html)}
        assert tags <= {(m.relation, m.category_level, m.category_code) for m in mine}, where
        if quarter == "2025Q4" and subject == LONDON:
            assert len(tags) == len(keys), where
        assert EDITION_NOTE.lower() in text, where
        for other in MEASURES:
            if other.key in keys:
                continue
            if other.label not in {m.label for m in mine}:
                assert other.label.lower() not in text, (where, other.label)
            if other.phrase not in {m.phrase for m in mine}:
                assert other.phrase.lower() not in text, (where, other.phrase)
            if other.relation not in {m.relation for m in mine}:
                assert other.relation not in html, (where, other.relation)
            if other.dataset not in {m.dataset for m in mine}:
                assert other.dataset.lower() not in text, (where, other.dataset)
            assert f'data-category="{other.category_code}"' not in html or other.category_code in {
                m.category_code for m in mine}, (where, other.key)


def test_the_pdf_prints_with_the_data_notes_on_a_page_of_their_own(built, tmp_path):
    area, _, _ = built
    for aud in EDITIONS:
        for subject in ("london", "E09000007"):
            pdf = area.base / "trend_reports" / "2025Q4" / _edition(aud) / f"{subject}.pdf"
            assert pdf.read_bytes().startswith(b"%PDF")
            name = f"{_edition(aud)}-{subject}"
            subprocess.run(["pdftoppm", "-png", "-r", "20", str(pdf), str(tmp_path / name)], check=True)
            assert len(list(tmp_path.glob(f"{name}-*.png"))) >= 2


def test_2025q4_compares_with_a_year_before_and_2024q4_says_it_cannot(built):
    area, _, _ = built
    for aud, keys in EDITIONS.items():
        for subject in SUBJECTS:
            later = CHANGE.findall(_html(area, "2025Q4", aud, subject))
            assert len(later) == len(keys)
            assert [c for c in later if "%" in c], (aud, subject)
            earlier_html = _html(area, "2024Q4", aud, subject)
            earlier = CHANGE.findall(earlier_html)
            assert earlier and all("not available" in c for c in earlier), (aud, subject)
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
    _, html = build_report(_planted(15), "E09000007", MET, rule=rule, built=date(2026, 1, 15))
    assert ">15<sup" in html and "includes a month withheld under the disclosure rule" in html
    with pytest.raises(RuleBroken, match=r"\[3\]"):
        build_report(_planted(3), "E09000007", MET, rule=rule, built=date(2026, 1, 15))
    _, other = build_report(_planted(3), "E09000007", BOROUGH, rule=rule, built=date(2026, 1, 15))
    assert "Robbery" in other and 'data-relation="agg_recorded_crimes_monthly"' not in other


def test_one_measure_makes_a_report_too():
    _, html = build_report(_planted(15), LONDON, ("ambulance_violence",), rule=Rule(7, 5), built=date(2026, 1, 15))
    assert ROW_LABEL.findall(html) == ["Ambulance violence dispatches"]
    assert html.count('class="panels"') == 1 and html.count('<div class="key">') == 1


def test_a_count_outside_the_edition_is_refused():
    counts = tagged_counts('<td class="count" data-relation="agg_recorded_crimes_monthly" data-category-level='
                           '"category" data-category="robbery">40</td>')
    trend_report.check_edition(counts, [BY_KEY["robbery"]], "here")
    with pytest.raises(ValueError, match="outside the edition"):
        trend_report.check_edition(counts, [BY_KEY["street_robbery"]], "here")


def test_editions_are_checked_before_anything_is_read():
    rule = Rule(7, 5)
    for variants in ({"trend:0000000000": MET},                           # not the edition's audience
                     {audience.trend(MET[::-1]): MET[::-1]},              # not in MEASURES order
                     {audience.trend(("robbery", "street_robbery")): ("robbery", "street_robbery")},  # one concept
                     {audience.trend(("no_such",)): ("no_such",)}):
        with pytest.raises(ValueError):
            build_trend_reports(None, None, "2025Q4", rule=rule, printer=None, variants=variants)


def test_a_source_not_yet_released_does_not_hold_back_the_others(monkeypatch):
    held = {f"2025-{m:02d}" for m in range(1, 13)}
    monkeypatch.setattr(trend_report, "released_months", lambda conn, measures=MEASURES: {
        m.relation: set() if m.relation == "agg_recorded_crimes_monthly" else held for m in measures})
    assert completed_quarters(None) == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert completed_quarters(None, BOROUGH) == ["2025Q1", "2025Q2", "2025Q3", "2025Q4"]
    assert completed_quarters(None, ("robbery",)) == []


def test_tagged_counts_read_separators_and_marks():
    html = ('<p><span class="count" data-relation="r">1,250<sup class="mark">†</sup></span> and '
            '<td class="count num" data-relation="s">40</td></p>')
    assert [(a["data-relation"], n) for a, n in tagged_counts(html)] == [("r", 1250), ("s", 40)]
    assert trend_report.quarter_label("2025Q4") == "Oct–Dec 2025"
