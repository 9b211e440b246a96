"""The disclosure rule as the outputs apply it. Every count an output prints is either a sum of released
cells (read from `release.*`, the cells the attacker passed) or, for data-quality counts that never went
through the release, the rule applied here: 1 to the threshold withheld, everything else rounded to the base.
`check_counts` is run over every output before it is published."""
from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from safestats.config import Settings, settings
from safestats.sdc.attacker import Rule
from safestats.sdc.relations import rules


def default_rule(cfg: Settings | None = None) -> Rule:
    return rules((cfg or settings()).project_dir)[1]


def shown_count(n: int | None, rule: Rule) -> int | None:
    """An exact count as an output may print it: None (withheld) for 1..threshold, else rounded half up."""
    if n is None or 1 <= n <= rule.threshold:
        return None
    base = rule.rounding_base
    return int((Decimal(n) / base).quantize(Decimal(1), rounding=ROUND_HALF_UP)) * base


class RuleBroken(ValueError):
    pass


def check_counts(counts, rule: Rule, where: str) -> None:
    """Refuse to publish an output with a count the rule could not have made (1..threshold, or not rounded)."""
    bad = sorted({c for c in counts if c is not None and rule.breaks(int(c))})
    if bad:
        raise RuleBroken(f"{where}: counts {bad[:10]} break the disclosure rule "
                         f"(1-{rule.threshold} withheld, others rounded to {rule.rounding_base})")
