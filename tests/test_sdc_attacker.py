"""The differencing attacker on its own: the OpenSAFELY worked examples, released naively and by our rule,
and each kind of sum it reads (margins, wards against boroughs, sub-categories, a revised month)."""
from __future__ import annotations

from safestats.sdc.attacker import Cell, CellKey, Rule, attack

RULE = Rule(threshold=7, rounding_base=5)


def released(true: int) -> int | None:
    """Our rule, written out independently of the SQL macro."""
    if true == 0:
        return 0
    if true <= RULE.threshold:
        return None
    return int((true / RULE.rounding_base) + 0.5) * RULE.rounding_base


def cell(category, value, *, level="borough", code="E09000007", borough="E09000007", parent="all", total=False,
         suppression=None, month="2025-01", relation="agg_probe_monthly"):
    if value is None and suppression is None:
        suppression = "primary"
    return Cell(CellKey(relation, "probe_count", month, level, code, borough, category), value, suppression, total,
                None if category == "all" else parent, RULE)


def table(cells: dict[str, int], total: int | None, *, rounded: bool):
    """One area's category cells and their total, released naively (exact, small ones suppressed, the total
    of true counts) or by our rule (rounded, the total made from the released cells)."""
    out = []
    for category, true in cells.items():
        value = released(true) if rounded else (None if 1 <= true <= RULE.threshold else true)
        out.append(cell(category, value))
    shown_total = sum(c.released or 0 for c in out) if rounded else total
    out.append(cell("all", shown_total, total=True))
    return out


def test_a_total_that_reveals_a_suppressed_cell_is_caught_and_our_rule_defeats_it():
    # OpenSAFELY: cells 21 and 3 with the total 24 published; 24 - 21 gives the suppressed 3 back.
    naive = attack(table({"asthma": 21, "copd": 3}, 24, rounded=False))
    assert [(f.key.category_code, f.derived) for f in naive.findings if f.key.category_code == "copd"] == \
        [("copd", (3, 3))]
    assert attack(table({"asthma": 21, "copd": 3}, 24, rounded=True)).findings == []


def test_all_persons_minus_males_reveals_one_female_and_secondary_suppression_defeats_it():
    # OpenSAFELY: all persons 47, males 46: one female, whatever the female row shows.
    def release(persons, males, females, *, withhold):
        return [cell("persons", persons, parent=None), cell("male", males, parent="persons"),
                cell("female", None, parent="persons", suppression="secondary" if withhold else "primary")]

    naive = attack(release(47, 46, None, withhold=False))
    assert {(f.key.category_code, f.derived) for f in naive.findings} >= {("female", (1, 1))}
    rounded = attack(release(released(51), released(50), None, withhold=False))
    # rounding alone is not enough: read together, each of the three is pinned tighter than the rule allows
    assert {f.key.category_code: f.derived for f in rounded.findings} == \
        {"persons": (49, 52), "male": (48, 51), "female": (1, 4)}
    assert attack(release(released(51), None, None, withhold=True)).findings == []


def test_wards_are_read_against_their_borough():
    cells = [cell("theft", 10), cell("theft", 10, level="ward", code="E05000001"),
             cell("theft", None, level="ward", code="E05000002")]
    found = attack(cells).findings
    assert {f.key.geography_code for f in found} >= {"E05000002"}
    assert all("wards against their borough" in f.how for f in found)


def test_london_totals_of_true_counts_give_boroughs_away_but_totals_of_released_cells_do_not():
    def boroughs(counts):
        return [cell("theft", n, code=f"E090000{i:02d}", borough=f"E090000{i:02d}") for i, n in enumerate(counts, 1)]

    suppressed = cell("theft", None, code="E09000009", borough="E09000009")
    true_total = cell("theft", 129, level="london", code="E12000007", borough=None, total=True)
    found = attack([*boroughs([41, 42, 43]), suppressed, true_total]).findings
    assert ("E09000009", (3, 3)) in {(f.key.geography_code, f.derived) for f in found}
    released_total = cell("theft", 120, level="london", code="E12000007", borough=None, total=True)
    assert attack([*boroughs([40, 40, 40]), suppressed, released_total]).findings == []


def test_a_revised_month_is_read_against_its_previous_release():
    before = [cell("robbery", 12)]          # an old release that published the exact count
    after = [cell("robbery", 12)]
    found = attack(after, previous=before).findings
    assert found and "without the rule" in found[0].how
    # By the rule, a revision that added records cannot narrow anything.
    assert attack([cell("robbery", released(14))], previous=[cell("robbery", released(12))]).findings == []
    assert attack([cell("robbery", released(9))], previous=[cell("robbery", None)]).findings == []


def test_unrounded_or_small_figures_are_reported_as_breaking_the_rule():
    found = attack([cell("theft", 3), cell("drugs", 13), cell("burglary", 15)]).findings
    assert sorted(f.key.category_code for f in found) == ["drugs", "theft"]
