"""What each sample column is for: where the rows are (borough, LSOA, ward), when (the period column),
what (the category), and what must not pass the privacy boundary (identifiers, free text, point locations).
Heuristics on the header and the sample's values; everything they decide is listed for a person to confirm
(checklist.py)."""
from __future__ import annotations

import csv
import re
from dataclasses import dataclass, field
from pathlib import Path

from safestats.scaffold.infer import FileName, InferredColumn

GSS = {"borough": re.compile(r"^E09\d{6}$", re.I), "lsoa": re.compile(r"^E01\d{6}$", re.I),
       "ward": re.compile(r"^E05\d{6}$", re.I)}
# Names the privacy leak scan refuses past the boundary (data-tests/assert_no_point_location_...), and
# headers that name an address or a place finer than an LSOA.
POINT_NAME = re.compile(r"^(.*_)?(longitude|latitude|lon|lng|lat|location|street|easting|northing|coordinates?"
                        r"|geom|geometry|point|context)$")
POINT_WORDS = re.compile(r"(postcode|post_code|address|street|uprn|usrn|easting|northing|house|flat|location"
                         r"|grid_ref|what3words)")
IDENTIFIER_NAME = re.compile(r"(^|_)(id|ref|reference|number|no|num|urn|crn|cad|nhs|case|incident_number)$")
CATEGORY_NAME = re.compile(r"(category|type|offence|class|kind|group|classification)")
PERIOD_NAME = re.compile(r"(date|month|when|period|time|reported|occurred)")
# Columns every scaffolded model adds itself: a sample column of the same name is renamed <name>_as_sent.
RESERVED = {"load_id", "source_row_number", "agency", "loaded_at", "load_period", "incident_month",
            "location_status", "borough_name", "incident_category_code"}
LARGEST_CATEGORY_COUNT = 50


@dataclass
class PlannedColumn:
    column: InferredColumn
    role: str                    # borough_code, borough_name, lsoa, ward, identifier, free_text, point, category, kept
    reason: str = ""             # why the role was chosen (printed in the checklist)

    @property
    def name(self) -> str:
        return self.column.name

    @property
    def type(self) -> str:
        return self.column.type


@dataclass
class DatasetPlan:
    name: str                    # the dataset: raw.<name>, suppressed.<name>, agreements name it
    agency: str
    agency_name: str
    file_name: FileName
    columns: list[PlannedColumn]
    period_column: str | None    # the contract's period column (None: the month comes from the file's name)
    sample_rows: int
    notes: list[str] = field(default_factory=list)

    # --- names, in the project's conventions (docs/architecture.md) ---------------------------------------
    @property
    def singular(self) -> str:
        return singular(self.name)

    @property
    def source(self) -> str:
        return self.name

    @property
    def table(self) -> str:
        return "records"

    @property
    def staging(self) -> str:
        return f"stg_{self.source}__{self.table}"

    @property
    def mart(self) -> str:
        return f"fct_{self.name}"

    @property
    def exclusions(self) -> str:
        return f"{self.name}_exclusions"

    @property
    def aggregate(self) -> str:
        return f"agg_{self.name}_monthly"

    @property
    def candidate(self) -> str:
        return f"candidate_{self.aggregate}"

    @property
    def key(self) -> str:
        return f"{self.singular}_key"

    @property
    def count_column(self) -> str:
        return f"{self.singular}_count"

    # --- roles ---------------------------------------------------------------------------------------------
    def role(self, role: str) -> PlannedColumn | None:
        return next((c for c in self.columns if c.role == role), None)

    def with_roles(self, *roles: str) -> list[PlannedColumn]:
        return [c for c in self.columns if c.role in roles]

    @property
    def borough(self) -> PlannedColumn | None:
        return self.role("borough_code") or self.role("borough_name")

    @property
    def category(self) -> PlannedColumn | None:
        return self.role("category")

    @property
    def ward_from(self) -> str | None:
        return "ward" if self.role("ward") else "lsoa" if self.role("lsoa") else None

    @property
    def period(self) -> PlannedColumn | None:
        return next((c for c in self.columns if c.name == self.period_column), None)


def singular(name: str) -> str:
    """community_reports -> community_report, bus_safety_incidents -> bus_safety_incident."""
    if name.endswith("ies"):
        return name[:-3] + "y"
    if name.endswith("s") and not name.endswith("ss"):
        return name[:-1]
    return name


def _share(values: list[str], pattern: re.Pattern) -> float:
    return sum(1 for v in values if pattern.match(v.strip())) / len(values) if values else 0.0


def place_name(text: str) -> str:
    """As macros/normalised_place_name.sql compares place names: no case, '&' = 'and', spaces collapsed."""
    return " ".join(text.casefold().replace("&", " and ").split())


def london_borough_names(project_dir: Path) -> set[str]:
    with (project_dir / "seeds" / "london_boroughs.csv").open(newline="") as fh:
        return {place_name(row["borough_name"]) for row in csv.DictReader(fh)}


def _is_free_text(col: InferredColumn) -> bool:
    present = col.present
    if col.type != "text" or not present:
        return False
    mean_length = sum(len(v) for v in present) / len(present)
    mean_words = sum(len(v.split()) for v in present) / len(present)
    distinct_share = len(col.distinct) / len(present)
    return mean_length >= 30 or max(len(v) for v in present) >= 100 or (distinct_share > 0.5 and mean_words >= 3)


def classify(col: InferredColumn, borough_names: set[str]) -> tuple[str, str]:
    """(role, reason) of one column."""
    present = col.present
    if col.type in ("latitude", "longitude"):
        return "point", f"{col.type}: a point location"
    for role, pattern in GSS.items():
        # mostly this level's GSS codes; with a header that names the level, half will do (the rest may be
        # Welsh or Scottish codes, or spelled otherwise)
        share = _share(present, pattern) if present else 0.0
        if share >= 0.9 or (share >= 0.5 and role in col.name):
            return ("borough_code" if role == "borough" else role), f"values are {role} GSS codes ({pattern.pattern})"
    if "borough" in col.name and present and sum(place_name(v) in borough_names for v in present) \
            >= 0.9 * len(present):
        return "borough_name", "values are London borough names (seeds/london_boroughs.csv)"
    if POINT_NAME.match(col.name) or POINT_WORDS.search(col.name):
        return "point", "the header names an address or a place finer than an LSOA"
    if IDENTIFIER_NAME.search(col.name) and present and len(col.distinct) >= 0.9 * len(present):
        return "identifier", "the header names a reference and its values are (almost) all different"
    if _is_free_text(col):
        return "free_text", "long or mostly different values: free text"
    if col.type == "text" and CATEGORY_NAME.search(col.name) and 2 <= len(col.distinct) <= LARGEST_CATEGORY_COUNT \
            and len(col.distinct) < len(present):
        return "category", f"the header names a category and it has {len(col.distinct)} values"
    return "kept", ""


def choose_period(columns: list[InferredColumn]) -> str | None:
    """The column rows are dated by: a month column, else a date or timestamp whose header says so, else the
    first dated column; None when the sample has none (the month is then the file's)."""
    dated = [c for c in columns if c.type in ("month", "date", "timestamp") and c.not_blank]
    dated = dated or [c for c in columns if c.type in ("month", "date", "timestamp")]
    for wanted in (lambda c: c.type == "month", lambda c: PERIOD_NAME.search(c.name), lambda c: True):
        found = next((c for c in dated if wanted(c)), None)
        if found:
            return found.name
    return None


def make_plan(name: str, agency: str, columns: list[InferredColumn], file_name: FileName, project_dir: Path,
              sample_rows: int) -> DatasetPlan:
    borough_names = london_borough_names(project_dir)
    planned, seen = [], set()
    for col in columns:
        role, reason = classify(col, borough_names)
        # one column per place role: a second borough / LSOA / ward column is kept as it is
        if role in ("borough_code", "borough_name", "lsoa", "ward", "category"):
            key = "borough" if role.startswith("borough") else role
            if key in seen:
                role, reason = "kept", f"a second {key} column: kept as sent"
            seen.add(key)
        planned.append(PlannedColumn(col, role, reason))
    plan = DatasetPlan(name=name, agency=agency, agency_name=agency.replace("-", " ").title(), file_name=file_name,
                       columns=planned, period_column=choose_period(columns), sample_rows=sample_rows)
    if plan.borough is None:
        plan.notes.append("no borough column was recognised: every row is counted in the exclusions as "
                          "no_borough until the staging model places rows in boroughs")
    if plan.period_column is None:
        plan.notes.append("no date or month column: rows are dated by the month in the file's name")
    return plan
