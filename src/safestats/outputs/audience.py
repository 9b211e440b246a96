"""Who may receive which output, decided by the agreements alone, through the same grants PostgreSQL enforces
(`policies.compiler.compile_grants`): an organisation receives an output only when its grants cover every cell
the output prints. An organisation without access (agreement not in force, checklist not passed) has no grants
and receives nothing.

- `trend:<variant>`: the quarterly trend reports holding the measures an organisation reads London-wide (a
  report compares a borough with London): per concept, the first source in `measures.MEASURES` whose released
  relation and column it is granted for every row. Organisations with the same measures share one variant.
- `core:<variant>`: the borough core dataset for violence, with the counts its grant on
  `agg_borough_violence_core_monthly` gives and for the boroughs it gives (all: every borough and London).
- `site:<ODS code>`: a hospital's data-quality report, to the organisation that runs the site (`sites:`).
- `istv_programme`: every hospital's report, the league table and the submission gaps, to the organisation that
  runs the ISTV programme (`programmes: [istv]`).
- `supplier:<agency>`: the rejects of the files an agency sent, to the organisation that supplies them
  (`supplies:`, the agency codes the extracts' file names carry)."""
from __future__ import annotations

import hashlib
from datetime import date

from safestats.outputs.measures import CORE_COUNTS, CORE_RELATION, MEASURES

ISTV_PROGRAMME = "istv_programme"


def site(code: str) -> str:
    return f"site:{code.upper()}"


def supplier(agency: str) -> str:
    return f"supplier:{agency.lower()}"


def _variant(parts) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:10]


def trend(keys: tuple[str, ...]) -> str:
    return f"trend:{_variant(keys)}"


def core(share: tuple) -> str:
    return f"core:{_variant(share)}"


def granted(org, grants) -> dict:
    """relation -> the organisation's RelationGrant, from compile_grants' list."""
    return {g.relation: g for g in grants if g.org_role == org.role}


def trend_share(grants_of_org: dict) -> tuple[str, ...]:
    """The measure keys an organisation's trend reports hold: per concept, the first source it reads London-wide."""
    keys, concepts = [], set()
    for m in MEASURES:
        g = grants_of_org.get(m.relation)
        if m.concept in concepts or g is None or g.row_codes is not None or m.column not in g.columns:
            continue
        concepts.add(m.concept)
        keys.append(m.key)
    return tuple(keys)


def core_share(grants_of_org: dict) -> tuple[tuple[str, ...], tuple[str, ...] | None] | None:
    """(count columns, borough codes or None for all of London) of the core dataset it may receive, or None."""
    g = grants_of_org.get(CORE_RELATION)
    columns = tuple(c for c in CORE_COUNTS if g is not None and c in g.columns)
    return (columns, g.row_codes) if columns else None


def audiences(org, today: date, grants) -> list[str]:
    """The audiences an organisation (policies.agreements.Organisation) belongs to today."""
    if not org.has_access(today):
        return []
    mine = granted(org, grants)
    found = set()
    if keys := trend_share(mine):
        found.add(trend(keys))
    if share := core_share(mine):
        found.add(core(share))
    found.update(site(code) for code in org.sites)
    if "istv" in org.programmes:
        found.add(ISTV_PROGRAMME)
    found.update(supplier(agency) for agency in org.supplies)
    return sorted(found)


def variants(organisations, today: date, grants) -> tuple[dict[str, tuple[str, ...]], dict[str, tuple]]:
    """The trend and core variants to make: audience -> measure keys, audience -> (columns, boroughs)."""
    trends, cores = {}, {}
    for org in organisations:
        if not org.has_access(today):
            continue
        mine = granted(org, grants)
        if keys := trend_share(mine):
            trends[trend(keys)] = keys
        if share := core_share(mine):
            cores[core(share)] = share
    return trends, cores


def receivers(audience: str) -> list[str]:
    """Every audience an output goes to (the manifest lists them; the outputs page serves an organisation a file
    when one of them is among its own): a site's report goes to the programme team too."""
    return [audience, ISTV_PROGRAMME] if audience.startswith("site:") else [audience]
