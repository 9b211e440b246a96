"""Who may receive which output, decided by the agreements (access_policies/organisations/) alone.

- `partners`: the quarterly trend reports. Every figure in them is a released cell, so every organisation
  whose agreement is in force receives them.
- `violence_core`: the borough core dataset for violence, to organisations whose agreement names
  `borough_violence_core` (at either level: the files hold released cells only).
- `site:<ODS code>`: a hospital's data-quality report, to the organisation that runs the site (`sites:`).
- `istv_programme`: every hospital's report, the league table and the submission gaps, to the organisation that
  runs the ISTV programme (`programmes: [istv]`).
- `supplier:<agency>`: the rejects of the files an agency sent, to the organisation that supplies them
  (`supplies:`, the agency codes the extracts' file names carry).

An organisation without access (agreement not in force, checklist not passed) receives nothing."""
from __future__ import annotations

from datetime import date

PARTNERS = "partners"
VIOLENCE_CORE = "violence_core"
ISTV_PROGRAMME = "istv_programme"


def site(code: str) -> str:
    return f"site:{code.upper()}"


def supplier(agency: str) -> str:
    return f"supplier:{agency.lower()}"


def audiences(org, today: date) -> list[str]:
    """The audiences an organisation (policies.agreements.Organisation) belongs to today."""
    if not org.has_access(today):
        return []
    found = {PARTNERS}
    if "borough_violence_core" in org.datasets:
        found.add(VIOLENCE_CORE)
    found.update(site(code) for code in org.sites)
    if "istv" in org.programmes:
        found.add(ISTV_PROGRAMME)
    found.update(supplier(agency) for agency in org.supplies)
    return sorted(found)


def receivers(audience: str) -> list[str]:
    """Every audience an output goes to (the manifest lists them; the outputs page serves an organisation a file
    when one of them is among its own): a site's report goes to the programme team too."""
    return [audience, ISTV_PROGRAMME] if audience.startswith("site:") else [audience]
