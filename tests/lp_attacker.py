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
    known = known or {}
    index = {c.key: i for i, c in enumerate(cells)}
    sums = _sums(cells)
    informative = _informative(cells, sums)
    lo, hi = np.zeros(len(cells)), np.full(len(cells), float(BIG))
    for c in cells:
        i = index[c.key]
        if c.key in informative:
            b_lo, b_hi = c.rule.band(c.released, c.suppression)
            lo[i], hi[i] = b_lo, min(b_hi, BIG)
        if c.key in known:
            lo[i], hi[i] = max(lo[i], known[c.key][0]), min(hi[i], known[c.key][1])
    rows = [(index[p], [index[k] for k in kids]) for p, kids, _ in sums]
    rows += [(index[a], [index[b]]) for a, b in (links or []) if a in index and b in index]
    matrix = lil_matrix((len(rows), len(cells)))
    for r, (parent, children) in enumerate(rows):
        matrix[r, parent] = 1
        for k in children:
            matrix[r, k] -= 1
    constraints = [LinearConstraint(matrix.tocsr(), 0, 0)] if rows else []
    integrality, bounds = np.ones(len(cells)), Bounds(lo, hi)
    findings, solved = [], 0
    for c in cells:
        if c.key not in informative or c.released == 0 or c.rule.breaks(c.released):
            continue
        own_lo, own_hi = c.rule.band(c.released, c.suppression)
        if c.key in known:   # what the reader knew before: its own records, as far as they tell
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
