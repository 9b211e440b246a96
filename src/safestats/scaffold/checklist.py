"""The decisions the scaffold cannot make: printed, and written at the end of the dataset's docs page."""
from __future__ import annotations

import csv
from pathlib import Path

import yaml

from safestats.scaffold.plan import DatasetPlan
from safestats.scaffold.render import treatment

QUASI_IDENTIFIER_WORDS = ("age", "sex", "gender", "ethnic", "nationality", "religion", "disab", "birth")


def _taxonomy(project_dir: Path) -> list[str]:
    with (project_dir / "seeds" / "incident_categories.csv").open(newline="") as fh:
        return [row["incident_category_code"] for row in csv.DictReader(fh)]


def _organisations(project_dir: Path) -> list[str]:
    return sorted(p.name for p in (project_dir / "access_policies" / "organisations").glob("*.yml"))


def _sdc_defaults(project_dir: Path) -> dict:
    doc = yaml.safe_load((project_dir / "dbt_project.yml").read_text())
    return doc["vars"]["sdc_defaults"]


def privacy_items(plan: DatasetPlan) -> list[str]:
    lines = ["**Privacy treatment of each column** (`models/suppressed/{n}.sql`): confirm or change each "
             "default; drop or pseudonymise anything identifying the scaffold kept.".format(n=plan.name)]
    for c in plan.columns:
        why = f" ({c.reason})" if c.reason else ""
        lines.append(f"  - [ ] `{c.name}` ({c.column.header}, {c.type}): {treatment(c)}{why}")
    quasi = [c.name for c in plan.columns if any(w in c.name for w in QUASI_IDENTIFIER_WORDS)]
    if quasi:
        lines.append(f"  - [ ] {', '.join(quasi)} look like quasi-identifiers: band or generalise them "
                     "(macros/age_band.sql, macros/generalised_to_k.sql) and declare `meta.quasi_identifiers`")
    return lines


def agreement_items(plan: DatasetPlan, project_dir: Path) -> list[str]:
    orgs = ", ".join(f"`{o}`" for o in _organisations(project_dir)) or "(none yet)"
    return [f"**Agreements**: which Data Sharing Agreements in `access_policies/organisations/` include "
            f"`{plan.name}`, at which level and geography ({orgs}). Until one does, `marts.{plan.mart}` and "
            f"`marts.{plan.aggregate}` are under forced row-level security with no policy: nobody reads them.",
            f"  - [ ] add `{plan.name}: {{level: record, geography: own_area}}` (or `level: aggregate`, "
            "`geography: london`) under `datasets:` of each agreement that covers it, then "
            "`safestats policies apply` and `safestats superset sync`",
            f"  - [ ] withheld columns, if an agreement must not see some of `{plan.mart}`'s columns"]


def category_items(plan: DatasetPlan, project_dir: Path) -> list[str]:
    taxonomy = ", ".join(f"`{c}`" for c in _taxonomy(project_dir))
    lines = [f"**Category mapping to the incident taxonomy** (`seeds/incident_categories.csv`: {taxonomy}): "
             f"`marts.{plan.mart}.incident_category_code` is `'other'` for every row until a person maps the "
             "dataset's categories (a seed like `seeds/fire/lfb_incident_categories.csv`, joined in the mart)."]
    if plan.category:
        values = sorted(plan.category.column.distinct)
        lines.append(f"  - [ ] map each `{plan.category.name}` value seen in the sample: "
                     + ", ".join(f"`{v}`" for v in values))
        lines.append(f"  - [ ] confirm `{plan.category.name}` as the aggregate's category (its values are "
                     "published as they are, subject to suppression)")
    else:
        lines.append("  - [ ] no category column was obvious: the aggregate is by taxonomy category only; "
                     "name one (`category_column=` in the candidate) if the agency sends one")
    return lines


def group_size_items(plan: DatasetPlan, project_dir: Path) -> list[str]:
    rule = _sdc_defaults(project_dir)
    return [f"**Minimum group size**: the aggregate suppresses counts 1 to {rule['threshold']} and rounds the rest "
            f"to {rule['rounding_base']} (`sdc_defaults` in `dbt_project.yml`).",
            f"  - [ ] keep that, or set `sdc_datasets: {{{plan.name}: {{threshold: N, rounding_base: M}}}}`",
            "  - [ ] if the record-level mart could single people out, a k-anonymity minimum "
            "(`meta.quasi_identifiers`, `meta.min_group_size_var`, as `las_min_group_size`)"]


def contract_items(plan: DatasetPlan) -> list[str]:
    period = f"`{plan.period_column}`" if plan.period_column else "none (the month of the file's name)"
    lines = [f"**The contract** (`models/staging/{plan.name}/_{plan.name}__sources.yml`), inferred from "
             f"{plan.sample_rows} rows:",
             f"  - [ ] the file-name pattern `{plan.file_name.pattern}` and the agency's name "
             f"(`{plan.agency}: {plan.agency_name}`)",
             f"  - [ ] the period column: {period}" + (
                 f" (a {plan.period.type}: the ingest does not check it against the file's month; as `excel_date` "
                 "it would reject rows of another month)" if plan.period and plan.period.type in ("date", "timestamp")
                 else ""),
             "  - [ ] `required` (every column is, as inferred) and `not_blank` against the agency's specification; "
             "header aliases of older vintages",
             "  - [ ] descriptions of each column in the sources, staging, suppressed and mart YAML"]
    lines += [f"  - [ ] {note}" for note in plan.notes]
    return lines


def follow_up_items(plan: DatasetPlan) -> list[str]:
    return ["**Then**:",
            f"  - [ ] the new last models past the privacy boundary (`{plan.exclusions}`, `{plan.candidate}`, and "
            f"`{plan.mart}` if nothing reads it) in `macros/privacy_scan_depends_on.sql`, so the leak scans run "
            "after them (`tests/test_privacy_scans.py` says which are missing)",
            f"  - [ ] aggregate-level metric names for Superset: `marts.{plan.aggregate}` in "
            "`superset/assets/aggregate_metrics.yml`, if aggregate-only organisations should see "
            f"`{plan.count_column}`",
            f"  - [ ] a line in the README's dataset table; a synthetic generator (`src/safestats/synth/`) and a test "
            f"(`tests/test_dataset_{plan.name}.py`) for the agency's known dirt"]


def checklist(plan: DatasetPlan, project_dir: Path) -> str:
    items = [privacy_items(plan), agreement_items(plan, project_dir), category_items(plan, project_dir),
             group_size_items(plan, project_dir), contract_items(plan), follow_up_items(plan)]
    return "\n".join(f"{i}. {group[0]}\n" + "\n".join("   " + line.lstrip() for line in group[1:])
                     for i, group in enumerate(items, 1))
