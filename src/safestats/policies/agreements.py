"""Read and check access_policies/: organisations with their Data Sharing Agreements, and named users."""
from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import jsonschema

from safestats.policies import yaml_lines
from safestats.policies.catalogue import MartRelation, datasets

SLUG = re.compile(r"^[a-z][a-z0-9-]{1,40}$")
RESERVED_PREFIXES = ("pg_", "safestats", "org_", "postgres")


class AgreementError(ValueError):
    def __init__(self, problems: list[str]):
        super().__init__("access_policies/ has problems:\n" + "\n".join(f"  {p}" for p in problems))
        self.problems = problems


@dataclass(frozen=True)
class RowScope:
    """The rows an agreement reaches: those whose borough (GSS) or hospital site (ODS) code is one of `codes`."""
    by: str                                  # borough | site
    codes: tuple[str, ...]

    def describe(self) -> str:
        return ",".join(self.codes) if self.by == "borough" else "sites " + ",".join(self.codes)


@dataclass(frozen=True)
class DatasetAccess:
    dataset: str
    level: str                               # record | aggregate
    scope: RowScope | None                   # None: all of London
    withheld_columns: tuple[str, ...] = ()
    aggregate_scope: RowScope | None = None  # agg_ relations; None: all of London


@dataclass(frozen=True)
class Organisation:
    slug: str
    name: str
    type: str
    area: tuple[str, ...]
    dsa_reference: str
    signed_on: date | None
    expires_on: date
    checklist_passed_on: date | None
    approved_by: str | None
    datasets: dict = field(default_factory=dict)   # dataset -> DatasetAccess
    sites: tuple[str, ...] = ()                    # hospital sites (ODS codes) the organisation runs
    programmes: tuple[str, ...] = ()               # programmes it runs (istv: the hospitals' data quality)
    supplies: tuple[str, ...] = ()                 # agencies whose extracts it sends (their rejects go to it)

    @property
    def role(self) -> str:
        return "org_" + self.slug.replace("-", "_")

    def has_access(self, today: date) -> bool:
        """A signed, unexpired agreement and a passed security checklist, or no access at all."""
        return (self.signed_on is not None and self.signed_on <= today and self.expires_on >= today
                and self.checklist_passed_on is not None)


@dataclass(frozen=True)
class User:
    username: str
    organisation: str
    name: str
    email: str
    role: str
    purpose: str
    authorised_by: str
    authorised_on: date
    expires_on: date
    status: str = "active"                   # invited | active | suspended (governance.users)
    source: str = "import"                   # import (access_policies/users/) | web (an administrator)


@dataclass
class Agreements:
    organisations: dict[str, Organisation]
    users: dict[str, User]
    warnings: list[str]


def _schema_problems(doc, schema: dict, where: Path) -> list[str]:
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    return [f"{where}:{yaml_lines.line_at(doc, list(e.absolute_path))}: "
            f"{'/'.join(str(p) for p in e.absolute_path) or '(top)'}: {e.message}"
            for e in sorted(validator.iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))]


def _scope(geography, area: tuple[str, ...], sites: tuple[str, ...]) -> RowScope | None:
    if geography == "london":
        return None
    if geography == "own_sites":
        return RowScope("site", tuple(sorted(sites)))
    return RowScope("borough", tuple(sorted(area if geography == "own_area" else geography)))


def _date(text) -> date | None:
    return date.fromisoformat(text) if text else None


def load_agreements(policies_dir: Path, catalogue: dict[str, MartRelation]) -> Agreements:
    """Every organisation and user, checked; raises AgreementError listing every problem found."""
    problems, warnings = [], []
    known = datasets(catalogue)
    org_schema = json.loads((policies_dir / "schema" / "organisation.schema.json").read_text())
    user_schema = json.loads((policies_dir / "schema" / "users.schema.json").read_text())
    organisations: dict[str, Organisation] = {}
    for path in sorted((policies_dir / "organisations").glob("*.yml")):
        slug = path.stem
        doc = yaml_lines.load(path)
        if not SLUG.match(slug):
            problems.append(f"{path}:1: file name {slug!r} is not an organisation slug (a-z, 0-9, -)")
            continue
        found = _schema_problems(doc, org_schema, path)
        if found:
            problems.extend(found)
            continue
        area, sites = tuple(doc["area"]), tuple(doc.get("sites") or ())
        grants = {}
        for dataset, spec in doc["datasets"].items():
            line = doc["datasets"].line_of(dataset)
            if dataset not in known:
                problems.append(f"{path}:{line}: unknown dataset {dataset!r} (known: {', '.join(sorted(known))})")
                continue
            unknown = sorted(set(spec.get("withheld_columns", [])) - known[dataset])
            if unknown:
                problems.append(f"{path}:{line}: {dataset}: unknown column(s) {', '.join(unknown)}")
                continue
            if "own_area" in (spec["geography"], spec.get("aggregate_geography")) and not area:
                problems.append(f"{path}:{line}: {dataset}: geography own_area but the organisation has no area")
                continue
            if "own_sites" in (spec["geography"], spec.get("aggregate_geography")) and not sites:
                problems.append(f"{path}:{line}: {dataset}: geography own_sites but the organisation has no sites")
                continue
            scope = _scope(spec["geography"], area, sites)
            aggregate = _scope(spec.get("aggregate_geography", spec["geography"]), area, sites)
            grants[dataset] = DatasetAccess(dataset, spec["level"], scope,
                                            tuple(spec.get("withheld_columns", [])), aggregate)
        dsa, onboarding = doc["dsa"], doc["onboarding"]
        organisations[slug] = Organisation(
            slug=slug, name=doc["name"], type=doc["type"], area=area, dsa_reference=dsa["reference"],
            signed_on=_date(dsa["signed_on"]), expires_on=_date(dsa["expires_on"]),
            checklist_passed_on=_date(onboarding["security_checklist_passed_on"]),
            approved_by=onboarding["approved_by"], datasets=grants, sites=sites,
            programmes=tuple(doc.get("programmes") or ()), supplies=tuple(doc.get("supplies") or ()))

    users: dict[str, User] = {}
    for path in sorted((policies_dir / "users").glob("*.yml")):
        slug = path.stem
        doc = yaml_lines.load(path)
        if slug not in organisations:
            problems.append(f"{path}:1: no organisation {slug!r} (expected organisations/{slug}.yml)")
            continue
        found = _schema_problems(doc, user_schema, path)
        if found:
            problems.extend(found)
            continue
        org = organisations[slug]
        admins = {u["username"] for u in doc["users"] if u["role"] == "org_admin"}
        for i, spec in enumerate(doc["users"]):
            line = doc["users"].item_lines[i]
            username = spec["username"]
            if username.startswith(RESERVED_PREFIXES):
                problems.append(f"{path}:{line}: username {username!r} is reserved for the platform")
                continue
            if username in users:
                problems.append(f"{path}:{line}: username {username!r} is already a user of "
                                f"{users[username].organisation}")
                continue
            by = spec["authorised_by"]
            if spec["role"] == "org_admin":
                if by != org.approved_by and (by not in admins or by == username):
                    problems.append(f"{path}:{line}: {username} is authorised by {by!r}, who is neither another "
                                    f"org_admin of {slug} nor the platform approver ({org.approved_by})")
                    continue
            elif by not in admins:
                problems.append(f"{path}:{line}: {username} is authorised by {by!r}, who is not an org_admin "
                                f"of {slug}")
                continue
            expires = _date(spec["expires_on"])
            if expires > org.expires_on:
                warnings.append(f"{path}:{line}: {username} expires {expires} after the DSA ({org.expires_on}): "
                                f"capped at {org.expires_on}")
                expires = org.expires_on
            users[username] = User(username, slug, spec["name"], spec["email"], spec["role"], spec["purpose"],
                                   by, _date(spec["authorised_on"]), expires)
    if problems:
        raise AgreementError(problems)
    return Agreements(organisations, users, warnings)
