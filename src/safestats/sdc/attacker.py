"""The differencing attacker `safestats sdc check` runs against a release before it is published.

It knows what every reader knows: each released figure and the rule that made it (a suppressed count lies in
1..threshold, a released count r in the band of counts that round to r, an unrounded figure is exact), and how
the figures fit together (cells add up to their margins; a borough's wards, its 'no ward' cell included, add up
to the borough; sub-categories to their category; a month revised since its last release holds at least what
it held). From those sums it narrows every figure's interval by constraint propagation until nothing moves,
and reports each figure it pins down more tightly than the rule allows: to fewer possible values than the
rounding base, and fewer than its own evidence left.
"""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

UNBOUNDED = 10 ** 15
WARDS = "the wards against their borough"


@dataclass(frozen=True)
class Rule:
    threshold: int = 7
    rounding_base: int = 5

    def band(self, released: int | None, suppression: str | None) -> tuple[int, int]:
        """The true counts that release as `released` under this rule."""
        if released is None:
            return (0, UNBOUNDED) if suppression == "secondary" else (1, self.threshold)
        if released == 0:
            return 0, 0
        if self.breaks(released):
            return released, released   # not made by the rule: as exact as it looks
        base = self.rounding_base
        return max(self.threshold + 1, released - base // 2), released + base - base // 2 - 1

    def breaks(self, released: int | None) -> bool:
        """A released figure the rule could not have made: a small count, or one not rounded."""
        return released is not None and (1 <= released <= self.threshold or released % self.rounding_base != 0)


@dataclass(frozen=True)
class CellKey:
    relation: str
    count_column: str
    month: str
    geography_level: str
    geography_code: str
    borough_code: str | None
    category_code: str

    def describe(self) -> str:
        return (f"{self.relation}.{self.count_column} {self.month} {self.geography_level} {self.geography_code}"
                f" category {self.category_code}")


@dataclass
class Cell:
    key: CellKey
    released: int | None
    suppression: str | None
    is_total: bool
    parent_category_code: str | None
    rule: Rule


@dataclass
class Finding:
    key: CellKey
    released: int | None
    evidence: tuple[int, int]            # what the figure alone says
    derived: tuple[int, int]             # what the attacker narrowed it to
    how: str

    def text(self) -> str:
        shown = "suppressed" if self.released is None else str(self.released)
        lo, hi = self.derived
        pinned = f"exactly {lo}" if lo == hi else f"{lo}..{hi}"
        return f"{self.key.describe()}: released {shown}, recovered as {pinned} ({self.how})"


@dataclass
class Attack:
    findings: list[Finding] = field(default_factory=list)
    cells: int = 0
    constraints: int = 0


def _sums(cells: list[Cell]) -> list[tuple[CellKey, list[CellKey], str]]:
    """(parent, children, what) for every sum a reader can see in the released rows."""
    sums = []
    by_key = {c.key: c for c in cells}
    # categories into their parent category, at the same area
    groups: dict[tuple, list[CellKey]] = defaultdict(list)
    for c in cells:
        if c.parent_category_code is not None:
            k = c.key
            groups[(k.relation, k.count_column, k.month, k.geography_level, k.geography_code, k.borough_code,
                    c.parent_category_code)].append(k)
    for (rel, col, month, level, code, borough, parent), children in groups.items():
        parent_key = CellKey(rel, col, month, level, code, borough, parent)
        if parent_key in by_key:
            sums.append((parent_key, children, "the categories against their total"))
    # wards into their borough, boroughs into London, for each category
    wards: dict[tuple, list[CellKey]] = defaultdict(list)
    boroughs: dict[tuple, list[CellKey]] = defaultdict(list)
    london: dict[tuple, CellKey] = {}
    for c in cells:
        k = c.key
        if k.geography_level == "ward":
            wards[(k.relation, k.count_column, k.month, k.borough_code, k.category_code)].append(k)
        elif k.geography_level == "borough":
            boroughs[(k.relation, k.count_column, k.month, k.category_code)].append(k)
        elif k.geography_level == "london":
            london[(k.relation, k.count_column, k.month, k.category_code)] = k
    for (rel, col, month, borough, category), children in wards.items():
        parent_key = CellKey(rel, col, month, "borough", borough, borough, category)
        if parent_key in by_key:
            sums.append((parent_key, children, WARDS))
    for group, children in boroughs.items():
        if group in london:
            sums.append((london[group], children, "the boroughs against London"))
    return sums


def _informative(release: list[Cell], sums) -> set[CellKey]:
    """The figures that are evidence: every cell, and every total that is not the sum of released cells
    (a total of true counts is what lets a suppressed cell be subtracted out)."""
    by_key = {c.key: c for c in release}
    made_from_released: dict[CellKey, bool] = {}
    for parent, children, what in sums:
        p = by_key[parent]
        if p.is_total and what != WARDS:   # a borough total is made from its categories, not its wards
            ok = p.released == sum(by_key[k].released or 0 for k in children)
            made_from_released[parent] = made_from_released.get(parent, True) and ok
    return {c.key for c in release if not c.is_total or made_from_released.get(c.key) is False}


def attack(cells: list[Cell], previous: list[Cell] | None = None) -> Attack:
    """Every figure of `cells` the attacker pins down beyond its rule; `previous` is the release before this
    one (its figures for months both hold are joined by 'a revision only adds records')."""
    previous = previous or []
    result = Attack(cells=len(cells))
    bounds: dict[tuple, list[int]] = {}
    how: dict[tuple, str] = {}
    sums: list[tuple[tuple, list[tuple], str]] = []
    informative: dict[str, set[CellKey]] = {}
    for tag, release in (("new", cells), ("old", previous)):
        release_sums = _sums(release)
        informative[tag] = _informative(release, release_sums)
        for c in release:
            evidence = c.key in informative[tag]
            bounds[(tag, c.key)] = list(c.rule.band(c.released, c.suppression)) if evidence else [0, UNBOUNDED]
        sums += [((tag, p), [(tag, k) for k in kids], what) for p, kids, what in release_sums]
    new_keys = {c.key for c in cells}
    revisions = [(("old", c.key), ("new", c.key)) for c in previous
                 if c.key in new_keys and c.key in informative["old"] and c.key in informative["new"]]
    result.constraints = len(sums) + len(revisions)
    evidence = {k: tuple(v) for k, v in bounds.items()}

    def tighten(k, lo, hi, why):
        b = bounds[k]
        changed = False
        if lo > b[0]:
            b[0], changed = lo, True
        if hi < b[1]:
            b[1], changed = hi, True
        if changed:
            how[k] = why
        return changed

    for _ in range(100):
        moved = False
        for parent, children, what in sums:
            lo_sum = sum(bounds[k][0] for k in children)
            open_ended = sum(1 for k in children if bounds[k][1] >= UNBOUNDED)
            hi_finite = sum(bounds[k][1] for k in children if bounds[k][1] < UNBOUNDED)
            moved |= tighten(parent, lo_sum, UNBOUNDED if open_ended else hi_finite, what)
            p_lo, p_hi = bounds[parent]
            for k in children:
                k_open = bounds[k][1] >= UNBOUNDED
                others_lo = lo_sum - bounds[k][0]
                if open_ended - k_open:
                    others_hi = None
                else:
                    others_hi = hi_finite - (0 if k_open else bounds[k][1])
                lower = p_lo - others_hi if others_hi is not None else 0
                upper = p_hi - others_lo if p_hi < UNBOUNDED else UNBOUNDED
                moved |= tighten(k, lower, upper, what)
        for old, new in revisions:
            if bounds[old][0] <= bounds[new][1]:   # consistent with a revision that only added records
                moved |= tighten(new, bounds[old][0], UNBOUNDED, "the month's previous release")
                moved |= tighten(old, 0, bounds[new][1], "the month's revised release")
        if not moved:
            break

    for c in cells:
        k = ("new", c.key)
        if c.key not in informative["new"]:
            continue
        lo, hi = bounds[k]
        if c.rule.breaks(c.released):
            result.findings.append(Finding(c.key, c.released, evidence[k], (lo, hi),
                                           "released without the rule: a small or unrounded count"))
            continue
        own_lo, own_hi = evidence[k]
        if lo <= hi and hi - lo < min(own_hi - own_lo, c.rule.rounding_base - 1):
            result.findings.append(Finding(c.key, c.released, evidence[k], (lo, hi), "differencing " + how[k]))
    return result
