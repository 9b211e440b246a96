"""The SQL and YAML a planned dataset needs, rendered from the templates in templates/ (Jinja with `[[ ]]` and
`[% %]`, so the dbt Jinja they hold, `{{ ref(...) }}`, passes through as it is)."""
from __future__ import annotations

import dataclasses
import textwrap
from dataclasses import dataclass, field
from pathlib import Path

import jinja2

from safestats.scaffold.plan import DatasetPlan, PlannedColumn

TEMPLATES = Path(__file__).with_name("templates")

# template -> where its output goes, relative to the project ({n}: the dataset's name)
FILES = {
    "sources.yml.j2": "models/staging/{n}/_{n}__sources.yml",
    "staging_models.yml.j2": "models/staging/{n}/_{n}__models.yml",
    "staging.sql.j2": "models/staging/{n}/stg_{n}__records.sql",
    "suppressed.sql.j2": "models/suppressed/{n}.sql",
    "suppressed.yml.j2": "models/suppressed/_{n}__suppressed.yml",
    "mart.sql.j2": "models/marts/{n}/fct_{n}.sql",
    "mart.yml.j2": "models/marts/{n}/_{n}__models.yml",
    "exclusions.sql.j2": "models/quality/{n}_exclusions.sql",
    "exclusions.yml.j2": "models/quality/_{n}__quality.yml",
    "candidate.sql.j2": "models/disclosure/candidate_agg_{n}_monthly.sql",
    "candidate.yml.j2": "models/disclosure/_{n}__disclosure.yml",
    "aggregate.sql.j2": "models/marts/aggregates/agg_{n}_monthly.sql",
    "aggregate.yml.j2": "models/marts/aggregates/_{n}__aggregates.yml",
    "semantic.yml.j2": "semantic/{n}.yml",
    "dataset.md.j2": "docs/datasets/{n}.md",
}

ROLE_TREATMENT = {
    "identifier": "as a keyed HMAC pseudonym (`{name}_pseudo_id`)",
    "free_text": "**dropped** (free text)",
    "point": "**dropped** (point location or address)",
    "borough_code": "as `borough_code`, if a London borough",
    "borough_name": "as `borough_code` (the seed's code for the name), if a London borough",
    "lsoa": "as `lsoa_code`",
    "ward": "as `ward_code`",
    "category": "kept as sent (the aggregate's category)",
    "kept": "kept as sent",
}
PLACE_RENAMES = {"lsoa": "lsoa_code", "ward": "ward_code"}


def paths(name: str) -> list[str]:
    """Every file the scaffold writes for a dataset, relative to the project."""
    return [target.format(n=name) for target in FILES.values()]


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES), undefined=jinja2.StrictUndefined, keep_trailing_newline=True,
        variable_start_string="[[", variable_end_string="]]", block_start_string="[%", block_end_string="%]",
        comment_start_string="[#", comment_end_string="#]", autoescape=False)


def yaml_scalar(text: str) -> str:
    """A header as a YAML flow scalar: quoted when plain YAML would misread it."""
    plain = text and text[0].isalnum() and not any(c in text for c in ":#{}[],&*!|>'\"%@`") \
        and text.lower() not in ("yes", "no", "true", "false", "null", "on", "off", "~")
    return text if plain else "'" + text.replace("'", "''") + "'"


def meaning(c: PlannedColumn) -> str:
    """What the scaffold knows a column means (a person describes it properly)."""
    base = {"identifier": "a reference of the record (an identifier)", "free_text": "free text",
            "point": "a location (address or point)", "borough_code": "GSS code of the borough",
            "borough_name": "borough name", "lsoa": "GSS code of the LSOA", "ward": "GSS code of the ward",
            "category": "a category"}.get(c.role)
    return f"{c.column.header}, as sent" + (f": {base}" if base else "") + " (inferred from the sample)."


def describe(c: PlannedColumn) -> str:
    return yaml_scalar(meaning(c))


def sensitivity(c: PlannedColumn) -> str | None:
    return {"identifier": "identifier", "free_text": "free_text", "point": "point_location"}.get(c.role)


def treatment(c: PlannedColumn) -> str:
    if c.role in ("kept", "category") and c.type in ("time", "timestamp"):
        return f"reduced to the hour (`{c.name}_hour`)" + (f" and the date (`{c.name}_date`)"
                                                            if c.type == "timestamp" else "")
    return ROLE_TREATMENT[c.role].format(name=c.name)


# --- staging --------------------------------------------------------------------------------------------------

def staged_line(c: PlannedColumn) -> str:
    value = f"source.{c.name}"
    if c.role in ("borough_code", "lsoa", "ward"):
        return f"upper({{{{ nullif_blank('{value}') }}}}) as {c.name}"
    if c.type == "text" or c.role == "identifier":
        return f"{{{{ nullif_blank('{value}') }}}} as {c.name}"
    return f"{{{{ extract_value('{value}', '{c.type}') }}}} as {c.name}"


# --- the privacy boundary --------------------------------------------------------------------------------------

@dataclass
class OutColumn:
    name: str
    line: str                     # its select line in the suppressed model
    description: str
    meta: str = ""
    tests: str = ""               # its column tests in the suppressed model (not_null apart)
    not_null: bool = False        # never NULL in the suppressed model (the model's not_null_columns test)
    mart_tests: list[str] = field(default_factory=list)
    mart_not_null: bool = False   # never NULL in the mart
    in_mart: bool = True


def _month_line(plan: DatasetPlan) -> str:
    period = plan.period
    if period is None:
        return "records.load_period as incident_month"
    if period.type == "month":
        return f"records.{period.name} as incident_month"
    return f"date_trunc('month', records.{period.name})::date as incident_month"


def _borough_lines(plan: DatasetPlan) -> tuple[list[OutColumn], str]:
    borough = plan.borough
    status = ("case\n            when boroughs.borough_code is not null then 'london'\n"
              f"            when records.{borough.name} is null then 'no_borough'\n"
              "            else 'outside_london'\n        end as location_status") if borough else \
        "'no_borough' as location_status"
    columns = [
        OutColumn("borough_code", "boroughs.borough_code",
                  "GSS code of the London borough; NULL unless location_status is 'london'.",
                  meta="{geography_level: borough}",
                  tests="\n          - relationships:\n              arguments:"
                        "\n                to: ref('london_boroughs')\n                field: borough_code",
                  mart_not_null=True,
                  mart_tests=["- relationships:\n              arguments:\n"
                              "                to: ref('london_boroughs')\n                field: borough_code"]),
        OutColumn("location_status", status, "london, outside_london or no_borough.", not_null=True,
                  tests="\n          - accepted_values:\n              arguments:\n"
                        "                values: [london, outside_london, no_borough]", in_mart=False),
    ]
    if borough is None:
        join = "false"
    elif borough.role == "borough_code":
        join = f"records.{borough.name} = boroughs.borough_code"
    else:
        join = (f"{{{{ normalised_place_name('records.{borough.name}') }}}}"
                " = {{ normalised_place_name('boroughs.borough_name') }}")
    return columns, join


def _own_lines(c: PlannedColumn) -> list[OutColumn]:
    """What one sample column becomes past the boundary (nothing, for free text and points)."""
    value = f"records.{c.name}"
    note = f"{c.column.header} as sent"
    if c.role in ("free_text", "point", "borough_code", "borough_name"):
        return []
    if c.role == "identifier":
        return [OutColumn(f"{c.name}_pseudo_id", f"{{{{ pseudonymise('{value}::text') }}}} as {c.name}_pseudo_id",
                          f"Keyed pseudonym of {c.column.header} (hex HMAC-SHA256, per-install key).",
                          meta="{sensitivity: pseudonym}")]
    if c.role in PLACE_RENAMES:
        name = PLACE_RENAMES[c.role]
        level = "lsoa" if c.role == "lsoa" else "ward"
        shown = "LSOA" if level == "lsoa" else level
        return [OutColumn(name, value if name == c.name else f"{value} as {name}",
                          f"GSS code of the {shown} ({c.column.header}).", meta=f"{{geography_level: {level}}}")]
    if c.type == "timestamp":
        return [OutColumn(f"{c.name}_date", f"{value}::date as {c.name}_date", f"Date of {note}."),
                OutColumn(f"{c.name}_hour", f"extract(hour from {value})::integer as {c.name}_hour",
                          f"Hour of {note} (0-23): the time of day is kept to the hour.")]
    if c.type == "time":
        return [OutColumn(f"{c.name}_hour", f"extract(hour from {value})::integer as {c.name}_hour",
                          f"Hour of {note} (0-23): the time of day is kept to the hour.")]
    return [OutColumn(c.name, value, f"{note}.", not_null=c.column.not_blank, mart_not_null=c.column.not_blank)]


def suppressed_columns(plan: DatasetPlan) -> tuple[list[OutColumn], str]:
    borough_columns, join = _borough_lines(plan)
    columns = [
        OutColumn(plan.key, f"{{{{ row_key('records.load_id', 'records.source_row_number') }}}} as {plan.key}",
                  "Stable row key, md5 of the load id and the row's number in its file.",
                  tests=" [unique]", not_null=True, mart_tests=["- unique"], mart_not_null=True),
        OutColumn("load_id", "records.load_id", "The ingest load the row arrived in.", not_null=True,
                  in_mart=False),
        OutColumn("source_row_number", "records.source_row_number", "Number of the row within its file.",
                  not_null=True, in_mart=False),
        OutColumn("agency", "records.agency", f"Agency whose extract the row came from ({plan.agency}).",
                  not_null=True, mart_not_null=True),
        OutColumn("incident_month", _month_line(plan), "Month of the record (first day of the month).",
                  not_null=True, mart_not_null=True),
        *borough_columns,
    ]
    for c in plan.columns:
        columns += _own_lines(c)
    return columns, join


def boundary_summary(plan: DatasetPlan) -> str:
    parts = []
    for role, what in (("identifier", "pseudonymised"), ("free_text", "dropped as free text"),
                       ("point", "dropped as point locations or addresses")):
        names = [c.column.header for c in plan.with_roles(role)]
        if names:
            parts.append(f"{', '.join(names)} {what}")
    parts.append("times kept to the hour" if any(c.type in ("time", "timestamp") for c in plan.columns)
                 else "every other column kept")
    return "; ".join(parts) + "."


def mart_columns(plan: DatasetPlan, columns: list[OutColumn]) -> list[OutColumn]:
    out = []
    for col in columns:
        if not col.in_mart:
            continue
        if col.name == "borough_code":
            col = dataclasses.replace(col, description="GSS code of the London borough of the record.")
        out.append(col)
        if col.name == "borough_code":
            out.append(OutColumn("borough_name", "boroughs.borough_name", "Name of the borough.",
                                 mart_not_null=True))
    out.append(OutColumn("incident_category_code", "", "Category of the incident taxonomy ('other' until this "
                         "dataset's categories are mapped: see the checklist).",
                         mart_not_null=True,
                         mart_tests=["- relationships:\n              arguments:\n"
                                     "                to: ref('incident_categories')\n"
                                     "                field: incident_category_code"]))
    return out


def mart_lines(columns: list[OutColumn]) -> list[str]:
    lines = []
    for col in columns:
        if col.name == "incident_category_code":
            continue
        lines.append("boroughs.borough_name" if col.name == "borough_name" else f"london_records.{col.name}")
    return lines


def sdc_arguments(plan: DatasetPlan) -> str:
    """The macro's arguments, one group a line: the fact, dataset and count column, then the options."""
    lines = [f"'{plan.mart}', '{plan.name}', '{plan.count_column}'"]
    options = ([f"category_column='{plan.category.name}'"] if plan.category else []) + \
        ([f"ward_from='{plan.ward_from}'"] if plan.ward_from else [])
    if options:
        lines.append(", ".join(options))
    return "\n    " + ",\n    ".join(lines) + "\n"


def comment(text: str, width: int = 110) -> str:
    """Text as SQL comment lines."""
    return "\n".join("-- " + line for line in textwrap.wrap(text, width - 3))


def staged_month(plan: DatasetPlan) -> str:
    return f"date_trunc('month', {plan.period.name})" if plan.period else "load_period"


def context(plan: DatasetPlan, checklist: str) -> dict:
    columns, join = suppressed_columns(plan)
    in_mart = mart_columns(plan, columns)
    return {
        "plan": plan, "describe": describe, "meaning": meaning, "sensitivity": sensitivity, "treatment": treatment,
        "yaml_scalar": yaml_scalar,
        "staged": [staged_line(c) for c in plan.columns],
        "suppressed_lines": [c.line for c in columns], "suppressed_columns": columns, "borough_join": join,
        "boundary_summary": boundary_summary(plan),
        "boundary_comment": comment(f"The privacy boundary for {plan.name}: {boundary_summary(plan)} Scaffolded by "
                                    "`safestats dev new-dataset`: confirm each column's treatment "
                                    f"(docs/datasets/{plan.name}.md)."),
        "mart_columns": in_mart, "mart_lines": mart_lines(in_mart),
        "mart_column_list": ", ".join(f"`{c.name}`" for c in in_mart),
        "staged_month": staged_month(plan), "sdc_arguments": sdc_arguments(plan),
        "category_description": (f"The category ({plan.category.column.header} as sent)" if plan.category
                                 else "The incident taxonomy category"),
        "label": plan.name.replace("_", " ").capitalize(),
        "checklist": checklist,
    }


def render(plan: DatasetPlan, checklist: str) -> dict[str, str]:
    """{relative path: text} of every file the dataset needs."""
    env = _environment()
    ctx = context(plan, checklist)
    return {target.format(n=plan.name): env.get_template(template).render(ctx)
            for template, target in FILES.items()}
