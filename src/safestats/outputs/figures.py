"""The disclosure rule as the outputs apply it. Every count an output prints is either a sum of released
cells (read from `release.*`, the cells the attacker passed) or, for data-quality counts that never went
through the release, the rule applied here: 1 to the threshold withheld, everything else rounded to the base.
`check_counts` is run over every output before it is published, over the counts `tagged_counts` reads from the
page itself (every count a report prints is an element with class `count`)."""
from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from html.parser import HTMLParser

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


class _Counts(HTMLParser):
    """The tagged counts of a page: each element with class `count`, its attributes and its text."""

    def __init__(self):
        super().__init__()
        self.found: list[tuple[dict[str, str], str]] = []
        self._open: list[tuple[str, dict[str, str] | None, list[str]]] = []

    def handle_starttag(self, tag, attrs):
        attrs = {k: v or "" for k, v in attrs}
        tagged = "count" in attrs.get("class", "").split()
        self._open.append((tag, attrs if tagged else None, []))

    def handle_endtag(self, tag):
        while self._open:
            name, attrs, text = self._open.pop()
            if attrs is not None:
                self.found.append((attrs, "".join(text)))
            if name == tag:
                break

    def handle_data(self, data):
        for _, attrs, text in self._open:
            if attrs is not None:
                text.append(data)


def tagged_counts(html: str) -> list[tuple[dict[str, str], int]]:
    """Every count a page prints, as (its tag's attributes, the number): '1,250†' reads as 1250."""
    parser = _Counts()
    parser.feed(html)
    parser.close()
    out = []
    for attrs, text in parser.found:
        digits = re.sub(r"[,\s†]", "", text)
        if not digits.isdigit():
            raise ValueError(f"a tagged count that is not a number: {text!r}")
        out.append((attrs, int(digits)))
    return out
