"""Dashboards made for each organisation's agreement.

A dashboard is written once, as YAML under superset/assets/dashboards/ (see its README). Sync makes one copy of
it for each organisation, holding only the charts that organisation's database role can read: each chart at
record level where the agreement gives it the chart's columns, else its `aggregate` form over a released `agg_`
mart where it can read that, else not at all. A copy left with no chart is not made, and each copy is shown to
its organisation's Superset role only (DASHBOARD_RBAC), so an analyst is offered exactly the dashboards their
agreement fills and never a chart that can only answer "permission denied". PostgreSQL still decides every row.
"""
from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import yaml

from safestats.superset.assets import Relation, asset_uuid

# Form-data keys whose value names one column or a list of columns.
COLUMN_KEYS = ("x_axis", "groupby", "columns", "all_columns", "entity", "series", "granularity_sqla", "groupbyRows",
               "groupbyColumns")
METRIC_KEYS = ("metric", "metrics", "percent_metrics", "secondary_metric", "timeseries_limit_metric")


class DashboardError(ValueError):
    pass


@dataclass(frozen=True)
class Viewer:
    """An organisation as its dashboards are made for it."""
    slug: str
    name: str
    role: str                                   # its Superset role
    readable: Mapping[str, frozenset[str]]      # relation (schema.name) -> the columns its database role reads


def load(assets_dir: Path) -> list[tuple[Path, dict]]:
    specs = [(p, yaml.safe_load(p.read_text())) for p in sorted((assets_dir / "dashboards").glob("*.yml"))]
    for source, spec in specs:
        validate(spec, source)
    return specs


def validate(spec: dict, source: Path) -> None:
    for key in ("title", "slug", "rows"):
        if key not in spec:
            raise DashboardError(f"{source}: a dashboard needs `{key}`")
    for row in spec["rows"]:
        for chart in row:
            for key in ("title", "dataset", "viz_type"):
                if key not in chart:
                    raise DashboardError(f"{source}: chart {chart.get('title', '?')!r} needs `{key}`")
            aggregate = chart.get("aggregate")
            if aggregate is not None and "dataset" not in aggregate:
                raise DashboardError(f"{source}: chart {chart['title']!r}: `aggregate` needs `dataset`")
    for picker in spec.get("filters", []):
        for key in ("name", "dataset", "column"):
            if key not in picker:
                raise DashboardError(f"{source}: filter {picker.get('name', '?')!r} needs `{key}`")


def _names(value) -> list[str]:
    if value is None:
        return []
    return [v for v in (value if isinstance(value, list) else [value]) if isinstance(v, str)]


def _metric_sql(metric, metrics: Mapping[str, str]) -> str:
    """The SQL of one form-data metric: a saved metric's expression, or an ad hoc metric's own."""
    if isinstance(metric, str):
        return metrics.get(metric, metric)
    if isinstance(metric, dict):
        if metric.get("expressionType") == "SQL":
            return metric.get("sqlExpression") or ""
        return (metric.get("column") or {}).get("column_name") or ""
    return ""


def chart_columns(params: dict, columns: list[str], metrics: Mapping[str, str], dttm: str | None) -> set[str]:
    """The dataset columns a chart's query reads: those its form data names, those its metrics' SQL mentions
    and the time column its filter is on."""
    used = {dttm} if dttm else set()
    for key in COLUMN_KEYS:
        used.update(c for c in _names(params.get(key)) if c in columns)
    for spec in params.get("order_by_cols") or []:
        used.add(json.loads(spec)[0])
    spatial = params.get("spatial") or {}      # deck.gl maps: the point's columns
    used.update(spatial[k] for k in ("latCol", "lonCol", "lonlatCol", "geohashCol") if spatial.get(k) in columns)
    used.update(c for c in _names(params.get("tooltip_contents")) if c in columns)
    chosen = [m for key in METRIC_KEYS
              for m in (params.get(key) if isinstance(params.get(key), list) else [params.get(key)])]
    radius = params.get("point_radius_fixed") or {}      # a deck.gl map sized by a metric
    if radius.get("type") == "metric":
        chosen.append(radius.get("value"))
    sql = " ".join(_metric_sql(m, metrics) for m in chosen)
    for condition in params.get("adhoc_filters") or []:
        used.update(c for c in _names(condition.get("subject")) if c in columns)
        sql += " " + (condition.get("sqlExpression") or "")
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql))
    return used | (words & set(columns))


def forms(chart: dict) -> list[dict]:
    """A chart's forms, most detailed first: as written (record level), then its `aggregate` form (its title
    says so unless it gives its own)."""
    record = {k: v for k, v in chart.items() if k != "aggregate"}
    aggregate = chart.get("aggregate")
    if aggregate is None:
        return [record]
    return [record, {**record, "title": f"{chart['title']} (released aggregates)", **aggregate,
                     "params": {**(chart.get("params") or {}), **(aggregate.get("params") or {})}}]


def tailor(spec: dict, viewer: Viewer, can_read) -> dict | None:
    """The dashboard as `viewer`'s agreement fills it: each chart in the first form `can_read(viewer, form)`
    allows, charts it cannot read left out, empty rows dropped; None when no chart is left."""
    rows = []
    for row in spec["rows"]:
        kept = [form for form in (next((f for f in forms(chart) if can_read(viewer, f)), None) for chart in row)
                if form is not None]
        if kept:
            rows.append(kept)
    if not rows:
        return None
    return {**spec, "title": f"{spec['title']}: {viewer.name}", "slug": f"{spec['slug']}-{viewer.slug}",
            "rows": rows, "filters": [_values_readable(picker, viewer, can_read) for picker in spec.get("filters", [])]}


def _values_readable(picker: dict, viewer: Viewer, can_read) -> dict:
    """The filter, reading its values from its own `dataset` when the viewer cannot read `values_from` (slower,
    but a pick list the viewer's role cannot fill would hold back every chart it scopes)."""
    source = picker.get("values_from")
    values = {"dataset": source, "viz_type": "table", "params": {"groupby": [picker["column"]], "metrics": []}}
    if source is None or can_read(viewer, values):
        return picker
    return {k: v for k, v in picker.items() if k != "values_from"}


def can_read(relations: Mapping[str, Relation]):
    """`can_read(viewer, chart)`: the chart's dataset is built and the viewer's database role reads every column
    its query does (a virtual dataset: all of them, since its SQL reads what it reads)."""
    def check(viewer: Viewer, chart: dict) -> bool:
        rel = relations.get(chart["dataset"])
        readable = viewer.readable.get(chart["dataset"])
        if rel is None or not readable:
            return False
        columns = [c.name for c in rel.columns]
        if rel.kind == "virtual":
            return readable >= set(columns)
        metrics = {m["metric_name"]: m["expression"] for m in rel.metrics}
        return chart_columns(_chart_params(chart, rel), columns, metrics, rel.dttm) <= readable
    return check


def _chart_params(chart: dict, rel: Relation) -> dict:
    params = {"viz_type": chart["viz_type"], "adhoc_filters": [], "extra_form_data": {}, "row_limit": 10000}
    if rel.dttm:
        params["adhoc_filters"] = [{"clause": "WHERE", "comparator": "No filter", "expressionType": "SIMPLE",
                                    "operator": "TEMPORAL_RANGE", "subject": rel.dttm}]
    params.update(chart.get("params") or {})
    return params


def files(spec: dict, relations: Mapping[str, Relation]) -> dict[str, dict]:
    """The chart and dashboard files of one (tailored) dashboard."""
    out: dict[str, dict] = {}
    placeholders: dict[str, tuple[int, str]] = {}     # chart title -> (its id in this file, its dataset)
    position: dict = {"DASHBOARD_VERSION_KEY": "v2",
                      "ROOT_ID": {"children": ["GRID_ID"], "id": "ROOT_ID", "type": "ROOT"},
                      "GRID_ID": {"children": [], "id": "GRID_ID", "parents": ["ROOT_ID"], "type": "GRID"},
                      "HEADER_ID": {"id": "HEADER_ID", "meta": {"text": spec["title"]}, "type": "HEADER"}}
    for r, row in enumerate(spec["rows"]):
        row_id = f"ROW-{r}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {"children": [], "id": row_id, "meta": {"background": "BACKGROUND_TRANSPARENT"},
                            "parents": ["ROOT_ID", "GRID_ID"], "type": "ROW"}
        for chart in row:
            rel = relations[chart["dataset"]]
            chart_uuid = asset_uuid("chart", f"{spec['slug']}/{chart['title']}")
            out[f"charts/{spec['slug']}__{chart_uuid[:8]}.yaml"] = {
                "slice_name": chart["title"], "description": chart.get("description"),
                "viz_type": chart["viz_type"], "params": _chart_params(chart, rel), "query_context": None,
                "cache_timeout": None, "certified_by": None, "certification_details": None,
                "uuid": chart_uuid, "version": "1.0.0", "dataset_uuid": asset_uuid("dataset", rel.qualified)}
            chart_id = f"CHART-{chart_uuid[:8]}"
            placeholders[chart["title"]] = (len(placeholders) + 1, chart["dataset"])
            position[row_id]["children"].append(chart_id)
            position[chart_id] = {"children": [], "id": chart_id, "parents": ["ROOT_ID", "GRID_ID", row_id],
                                  "type": "CHART",
                                  "meta": {"chartId": placeholders[chart["title"]][0], "sliceName": chart["title"],
                                           "uuid": chart_uuid,
                                           "width": chart.get("width", 12 // len(row)),
                                           "height": chart.get("height", 50)}}
    out[f"dashboards/{spec['slug']}.yaml"] = {
        "dashboard_title": spec["title"], "description": spec.get("description"), "css": "",
        "slug": spec["slug"], "uuid": asset_uuid("dashboard", spec["slug"]), "position": position,
        "metadata": {"color_scheme": "", "refresh_frequency": 0, "expanded_slices": {}, "label_colors": {},
                     "timed_refresh_immune_slices": [], "cross_filters_enabled": False,
                     "native_filter_configuration": native_filters(spec, placeholders),
                     "default_filters": "{}", "chart_configuration": {},
                     "shared_label_colors": [], "color_scheme_domain": []},
        "published": True, "certified_by": None, "certification_details": None, "version": "1.0.0"}
    return out


def native_filters(spec: dict, placeholders: Mapping[str, tuple[int, str]]) -> list[dict]:
    """The dashboard's `filters` as Superset native filters: a single-value pick list of `column`, its latest
    value chosen first, over the charts of `dataset` (not "Data up to", which says what the data holds). Its
    values are read from `values_from` when given: the distinct months of a record-level relation are a scan of
    every row of it, those of its monthly summary a scan of a few (Superset applies the pick to the charts in
    scope by the column's name). The scope names the charts left out by their ids in this file, which
    Superset's import maps to the real ones."""
    made = []
    for picker in spec.get("filters", []):
        in_scope = [title for title, (_, dataset) in placeholders.items()
                    if dataset == picker["dataset"] and title != DATA_UP_TO]
        if not in_scope:
            continue
        made.append({
            "id": f"NATIVE_FILTER-{asset_uuid('filter', spec['slug'] + '/' + picker['name'])[:12]}",
            "name": picker["name"], "description": picker.get("description", ""), "type": "NATIVE_FILTER",
            "filterType": "filter_select",
            "targets": [{"column": {"name": picker["column"]},
                         "datasetUuid": asset_uuid("dataset", picker.get("values_from", picker["dataset"]))}],
            "controlValues": {"enableEmptyFilter": True, "defaultToFirstItem": True, "multiSelect": False,
                              "searchAllOptions": False, "inverseSelection": False, "sortAscending": False},
            "defaultDataMask": {"extraFormData": {}, "filterState": {}, "ownState": {}},
            "requiredFirst": True,    # the charts wait for the latest value rather than load everything first
            "cascadeParentIds": [],
            "scope": {"rootPath": ["ROOT_ID"],
                      "excluded": [n for title, (n, _) in placeholders.items() if title not in in_scope]},
        })
    return made


DATA_UP_TO = "Data up to"
NO_DATA = "no data yet"


def with_data_up_to(spec: dict, relations: Mapping[str, Relation]) -> dict:
    """The dashboard with a first row saying the latest month its first chart's dataset holds for the viewer, and
    since when (the period its numbers cover), asked live (row-level security applies; a refresh empties the
    chart cache), so no one reads a stale or partial picture without knowing. The first chart that reads a mart
    rather than a virtual dataset: PostgreSQL reads a table's first and last month off its month index, but
    scans every row when the table is joined (the hotspot map's LSOAs with their centroids)."""
    charts = [chart for row in spec["rows"] for chart in row]
    first = next((chart for chart in charts if relations[chart["dataset"]].kind != "virtual"), charts[0])
    month = relations[first["dataset"]].dttm
    if month is None:
        return spec
    expression = (f"coalesce(to_char(max({month}), 'FMMonth YYYY') || ' (since ' || to_char(min({month}),"
                  f" 'FMMonth YYYY') || ')', '{NO_DATA}')")
    latest = {"title": DATA_UP_TO, "dataset": first["dataset"], "viz_type": "table", "width": 3, "height": 20,
              "params": {"query_mode": "aggregate", "groupby": [], "row_limit": 10, "include_search": False,
                         "metrics": [{"expressionType": "SQL", "label": DATA_UP_TO, "sqlExpression": expression}]}}
    return {**spec, "rows": [[latest], *spec["rows"]]}


@dataclass
class Made:
    files: dict[str, dict]
    roles: dict[str, list[str]]          # dashboard slug -> the Superset roles shown it
    titles: list[str]
    unfilled: list[str]                  # dashboards no organisation's agreement fills (or not built yet)


def make(specs: list[tuple[Path, dict]], relations: Mapping[str, Relation], viewers: list[Viewer]) -> Made:
    """Every dashboard for every organisation whose agreement fills at least one of its charts."""
    check = can_read(relations)
    made = Made({}, {}, [], [])
    for _, spec in specs:
        copies = 0
        for viewer in viewers:
            copy = tailor(spec, viewer, check)
            if copy is None:
                continue
            made.files.update(files(with_data_up_to(copy, relations), relations))
            made.roles[copy["slug"]] = [viewer.role]
            made.titles.append(copy["title"])
            copies += 1
        if not copies:
            made.unfilled.append(spec["title"])
    return made
