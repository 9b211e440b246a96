"""An exact attacker for the tests: bounds on every suppressed or rounded cell by integer linear programming
(HiGHS through scipy.optimize.milp) over every sum a reader can see, with whatever the reader knows exactly."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.optimize import Bounds, LinearConstraint, milp
from scipy.sparse import lil_matrix

from safestats.sdc.attacker import UNBOUNDED, Cell, CellKey, _informative, _sums

BIG = 10 ** 6   # a count bound no month reaches: "unbounded" to the solver


@dataclass(frozen=True)
class LPFinding:
    key: CellKey
    released: int | None
    evidence: tuple[int, int]
    derived: tuple[int, int]


def lp_attack(cells: list[Cell], known: dict[CellKey, tuple[int, int]] | None = None,
              links: list[tuple[CellKey, CellKey]] | None = None) -> tuple[list[LPFinding], int]:
    """Every cell not known exactly that the integer programme pins down beyond its rule (to fewer values than
    the rounding base, than its own band and than what the reader knew); `known`: bounds on true counts the
    reader holds from its own records (lo == hi where it counts them exactly);
    `links`: pairs of cells that count the same records (a cross-dataset relation and its source).
    Returns (findings, programmes solved)."""
    sums = _sums(cells)
    keys = {c.key for c in cells}
    rows = [(p, list(kids)) for p, kids, _ in sums]
    rows += [(a, [b]) for a, b in (links or []) if a in keys and b in keys]
    return _solve(cells, rows, set(_informative(cells, sums)), known or {})


def lp_attack_by_component(cells: list[Cell], known: dict[CellKey, tuple[int, int]] | None = None,
                           links: list[tuple[CellKey, tuple[CellKey, ...]]] | None = None,
                           targets=None) -> tuple[list[LPFinding], int]:
    """lp_attack over many relations at once, fast enough for a month of every agg_ relation: the same
    integer programme cut into its independent parts. `links`: (a cell, the cells it counts the same records
    as), e.g. a borough core count and the category cells of its source; a linked cell is evidence unless it is
    the sum of the released cells it links to (as a total made from released cells is not).

    A total that is no evidence and that the reader does not know is a free variable (0..BIG). Each sum holding
    one tells nothing the other sums do not: the grid is complete, so a free total's sums only restate, through
    it, sums over the same cells the remaining ones already make (a borough's categories and its wards both add
    up, category by category, to the same ward x category cells). Those sums are dropped, a link to a free total
    is first read as a link to the categories under it, and what remains falls apart into small independent
    programmes (a borough's wards and its cell, per category), each solved on its own. `targets`: a predicate
    on cells, to bound only those (every cell otherwise)."""
    known = known or {}
    by_key = {c.key: c for c in cells}
    sums = _sums(cells)
    informative = set(_informative(cells, sums))
    categories = {p: kids for p, kids, what in sums if what == "the categories against their total"}
    for a, linked in links or []:
        if a in by_key and all(k in by_key for k in linked):
            if by_key[a].released != sum(by_key[k].released or 0 for k in linked):
                informative.add(a)
            else:
                informative.discard(a)

    def free(k: CellKey) -> bool:
        return k not in informative and k not in known

    def expand(k: CellKey) -> list[CellKey]:
        if free(k) and k in categories:
            return [leaf for kid in categories[k] for leaf in expand(kid)]
        return [k]

    rows = [(p, list(kids)) for p, kids, _ in sums]
    rows += [(a, [leaf for k in linked for leaf in expand(k)]) for a, linked in links or []
             if a in by_key and all(k in by_key for k in linked)]
    rows = [(p, kids) for p, kids in rows if not free(p) and not any(free(k) for k in kids)]
    # union-find over the cells the kept sums join
    parent: dict[CellKey, CellKey] = {}

    def root(k: CellKey) -> CellKey:
        while parent.setdefault(k, k) != k:
            parent[k] = parent[parent[k]]
            k = parent[k]
        return k

    for p, kids in rows:
        for k in kids:
            parent[root(k)] = root(p)
    parts: dict[CellKey, list[CellKey]] = {}
    for k in parent:
        parts.setdefault(root(k), []).append(k)
    part_rows: dict[CellKey, list] = {}
    for p, kids in rows:
        part_rows.setdefault(root(p), []).append((p, kids))
    findings, solved = [], 0
    for r, members in parts.items():
        if r not in part_rows:
            continue
        part_cells = [by_key[k] for k in members]
        part_known = {k: known[k] for k in members if k in known}
        # the part's own sums only; its cells are evidence as they were in the whole
        f, n = _solve(part_cells, part_rows[r], informative, part_known, targets)
        findings += f
        solved += n
    return findings, solved


def _solve(cells: list[Cell], rows: list[tuple[CellKey, list[CellKey]]], informative: set[CellKey],
           known: dict[CellKey, tuple[int, int]], targets=None) -> tuple[list[LPFinding], int]:
    index = {c.key: i for i, c in enumerate(cells)}
    lo, hi = np.zeros(len(cells)), np.full(len(cells), float(BIG))
    for c in cells:
        i = index[c.key]
        if c.key in informative:
            b_lo, b_hi = c.rule.band(c.released, c.suppression)
            lo[i], hi[i] = b_lo, min(b_hi, BIG)
        if c.key in known:
            lo[i], hi[i] = max(lo[i], known[c.key][0]), min(hi[i], known[c.key][1])
    matrix = lil_matrix((len(rows), len(cells)))
    for r, (p, kids) in enumerate(rows):
        matrix[r, index[p]] = 1
        for k in kids:
            matrix[r, index[k]] -= 1
    constraints = [LinearConstraint(matrix.tocsr(), 0, 0)] if rows else []
    integrality, bounds = np.ones(len(cells)), Bounds(lo, hi)
    findings, solved = [], 0
    for c in cells:
        if c.key not in informative or c.released == 0 or c.rule.breaks(c.released):
            continue
        if targets is not None and not targets(c):
            continue
        own_lo, own_hi = c.rule.band(c.released, c.suppression)
        if c.key in known:
            own_lo, own_hi = max(own_lo, known[c.key][0]), min(own_hi, known[c.key][1])
            if own_lo == own_hi:
                continue
        i, objective = index[c.key], np.zeros(len(cells))
        objective[i] = 1
        ends = []
        for sign in (1, -1):
            result = milp(sign * objective, constraints=constraints, integrality=integrality, bounds=bounds)
            solved += 1
            assert result.status == 0, f"{c.key.describe()}: {result.message}"
            ends.append(round(result.x[i]))
        d_lo, d_hi = ends
        if d_hi - d_lo < min(min(own_hi, UNBOUNDED) - own_lo, c.rule.rounding_base - 1):
            findings.append(LPFinding(c.key, c.released, (own_lo, own_hi), (d_lo, d_hi)))
    return findings, solved
