"""Dashboards made for each agreement (safestats.superset.dashboards), without a database: which form of each
chart an organisation gets from the columns its role reads, and that the repo's dashboards are well formed."""
from __future__ import annotations

import pytest

from safestats.config import PROJECT_DIR
from safestats.superset import dashboards
from safestats.superset.assets import Column, Relation
from safestats.superset.dashboards import Viewer

CORE = Relation("marts", "fct_borough_violence_core", [
    Column("incident_month", "date"), Column("borough_name", "text"), Column("police_violence_count", "bigint"),
    Column("ed_assault_attendance_count", "bigint")],
    metrics=[{"metric_name": "count", "expression": "count(*)"},
             {"metric_name": "sum__police_violence_count", "expression": 'sum("police_violence_count")'},
             {"metric_name": "sum__ed_assault_attendance_count",
              "expression": 'sum("ed_assault_attendance_count")'}])
AGG = Relation("marts", "agg_borough_violence_core_monthly", CORE.columns, metrics=CORE.metrics)
RELATIONS = {r.qualified: r for r in (CORE, AGG)}
ALL = frozenset(c.name for c in CORE.columns)
POLICE_ONLY = frozenset({"incident_month", "borough_name", "police_violence_count"})

SPEC = {"title": "Violence", "slug": "violence", "rows": [[
    {"title": "Police violence", "dataset": CORE.qualified, "viz_type": "line",
     "params": {"x_axis": "incident_month", "metrics": ["sum__police_violence_count"]},
     "aggregate": {"dataset": AGG.qualified}},
    {"title": "A&E assaults", "dataset": CORE.qualified, "viz_type": "line",
     "params": {"x_axis": "incident_month", "metrics": ["sum__ed_assault_attendance_count"]},
     "aggregate": {"dataset": AGG.qualified}},
    {"title": "A&E assaults by borough", "dataset": CORE.qualified, "viz_type": "table",
     "params": {"groupby": ["borough_name"], "metrics": ["sum__ed_assault_attendance_count"]}},
]]}


def tailored(readable: dict) -> dict | None:
    viewer = Viewer("org", "An organisation", "SafeStats org org", readable)
    return dashboards.tailor(SPEC, viewer, dashboards.can_read(RELATIONS))


def charts(made: dict) -> dict[str, str]:
    return {c["title"]: c["dataset"] for row in made["rows"] for c in row}


def test_each_chart_comes_at_the_most_detailed_level_the_role_reads():
    made = tailored({CORE.qualified: POLICE_ONLY, AGG.qualified: ALL})
    assert charts(made) == {"Police violence": CORE.qualified,
                            "A&E assaults (released aggregates)": AGG.qualified}
    assert made["slug"] == "violence-org" and made["title"] == "Violence: An organisation"


def test_a_chart_no_form_of_which_the_role_reads_is_left_out_and_an_empty_dashboard_is_not_made():
    assert charts(tailored({CORE.qualified: ALL})) == {
        "Police violence": CORE.qualified, "A&E assaults": CORE.qualified, "A&E assaults by borough": CORE.qualified}
    assert charts(tailored({AGG.qualified: ALL})) == {"Police violence (released aggregates)": AGG.qualified,
                                                      "A&E assaults (released aggregates)": AGG.qualified}
    assert tailored({CORE.qualified: frozenset({"borough_name"})}) is None
    assert tailored({}) is None


def test_the_columns_a_chart_reads_include_its_metrics_filters_and_ordering():
    params = {"metrics": ["sum__police_violence_count", {"expressionType": "SQL",
                                                         "sqlExpression": "max(ed_assault_attendance_count)"}],
              "adhoc_filters": [{"expressionType": "SQL", "sqlExpression": "borough_name <> 'x'"}],
              "order_by_cols": ['["incident_month", false]']}
    metrics = {m["metric_name"]: m["expression"] for m in CORE.metrics}
    assert dashboards.chart_columns(params, [c.name for c in CORE.columns], metrics, None) == ALL


def test_a_maps_point_and_a_pivots_rows_and_columns_are_columns_it_reads():
    columns = ["incident_month", "borough_name", "police_violence_count", "latitude", "longitude", "ward_name"]
    deck = {"spatial": {"type": "latlong", "latCol": "latitude", "lonCol": "longitude"},
            "point_radius_fixed": {"type": "metric", "value": {"expressionType": "SQL",
                                                                "sqlExpression": "sum(police_violence_count)"}},
            "tooltip_contents": ["ward_name"]}
    assert dashboards.chart_columns(deck, columns, {}, None) == {"latitude", "longitude", "ward_name",
                                                                 "police_violence_count"}
    pivot = {"groupbyRows": ["borough_name"], "groupbyColumns": ["incident_month"], "metrics": ["count"]}
    assert dashboards.chart_columns(pivot, columns, {"count": "count(*)"}, None) == {"borough_name",
                                                                                     "incident_month"}


def test_a_month_filter_applies_to_the_charts_of_its_dataset_but_not_to_data_up_to():
    spec = {"title": "Hotspots", "slug": "hotspots",
            "filters": [{"name": "Month", "dataset": AGG.qualified, "column": "incident_month"},
                        {"name": "Unused", "dataset": "marts.elsewhere", "column": "x"}],
            "rows": [[{"title": "By borough", "dataset": AGG.qualified, "viz_type": "table", "params": {}},
                      {"title": "Core", "dataset": CORE.qualified, "viz_type": "table", "params": {}}]]}
    made = dashboards.files(dashboards.with_data_up_to(spec, RELATIONS), RELATIONS)
    board = next(f for name, f in made.items() if name.startswith("dashboards/"))
    chart_ids = {c["meta"]["sliceName"]: c["meta"]["chartId"] for c in board["position"].values()
                 if isinstance(c, dict) and c.get("type") == "CHART"}
    [month] = board["metadata"]["native_filter_configuration"]
    assert month["name"] == "Month" and month["requiredFirst"] and month["controlValues"]["defaultToFirstItem"]
    assert sorted(month["scope"]["excluded"]) == sorted([chart_ids["Data up to"], chart_ids["Core"]])
    assert len(set(chart_ids.values())) == 3


def test_a_month_filter_may_read_its_values_from_a_smaller_relation_and_still_applies_to_its_datasets_charts():
    spec = {"title": "Hotspots", "slug": "hotspots",
            "filters": [{"name": "Month", "dataset": CORE.qualified, "column": "incident_month",
                         "values_from": AGG.qualified}],
            "rows": [[{"title": "Core", "dataset": CORE.qualified, "viz_type": "table", "params": {}},
                      {"title": "By borough", "dataset": AGG.qualified, "viz_type": "table", "params": {}}]]}
    board = next(f for name, f in dashboards.files(spec, RELATIONS).items() if name.startswith("dashboards/"))
    chart_ids = {c["meta"]["sliceName"]: c["meta"]["chartId"] for c in board["position"].values()
                 if isinstance(c, dict) and c.get("type") == "CHART"}
    [month] = board["metadata"]["native_filter_configuration"]
    assert month["targets"] == [{"column": {"name": "incident_month"},
                                 "datasetUuid": dashboards.asset_uuid("dataset", AGG.qualified)}]
    assert month["scope"]["excluded"] == [chart_ids["By borough"]]
    # a viewer whose role cannot read the smaller relation gets the values from the filter's own dataset
    viewer = Viewer("org", "An organisation", "SafeStats org org", {CORE.qualified: ALL})
    [own] = dashboards.tailor(spec, viewer, dashboards.can_read(RELATIONS))["filters"]
    assert own == {"name": "Month", "dataset": CORE.qualified, "column": "incident_month"}
    viewer = Viewer("org", "An organisation", "SafeStats org org", {CORE.qualified: ALL, AGG.qualified: ALL})
    assert dashboards.tailor(spec, viewer, dashboards.can_read(RELATIONS))["filters"] == spec["filters"]


def test_data_up_to_reads_the_first_chart_on_a_mart_not_a_virtual_dataset():
    joined = Relation("marts", "hotspots_map", CORE.columns, kind="virtual", sql="select * from a join b using (c)")
    relations = {**RELATIONS, joined.qualified: joined}
    spec = {"title": "Hotspots", "slug": "hotspots",
            "rows": [[{"title": "Map", "dataset": joined.qualified, "viz_type": "table", "params": {}}],
                     [{"title": "Core", "dataset": CORE.qualified, "viz_type": "table", "params": {}}]]}
    assert dashboards.with_data_up_to(spec, relations)["rows"][0][0]["dataset"] == CORE.qualified
    only_virtual = {**spec, "rows": spec["rows"][:1]}
    assert dashboards.with_data_up_to(only_virtual, relations)["rows"][0][0]["dataset"] == joined.qualified


def test_a_virtual_dataset_is_read_whole_or_not_at_all():
    virtual = Relation("marts", "metrics_x", [Column("metric_time__month", "date"), Column("rate", "numeric")],
                       kind="virtual", sql="select 1")
    spec = {"title": "M", "slug": "m", "rows": [[{"title": "Rate", "dataset": virtual.qualified,
                                                  "viz_type": "line", "params": {"metrics": ["rate"]}}]]}
    check = dashboards.can_read({virtual.qualified: virtual})
    whole = Viewer("a", "A", "A", {virtual.qualified: frozenset({"metric_time__month", "rate"})})
    assert dashboards.tailor(spec, whole, check) is not None
    assert dashboards.tailor(spec, Viewer("b", "B", "B", {}), check) is None


def test_the_repo_dashboards_are_well_formed_and_their_aggregate_forms_read_released_marts():
    specs = dashboards.load(PROJECT_DIR / "superset" / "assets")
    assert specs
    for source, spec in specs:
        for row in spec["rows"]:
            for chart in row:
                if "aggregate" in chart:
                    assert chart["aggregate"]["dataset"].startswith("marts.agg_"), (source.name, chart["title"])


def test_a_chart_without_a_dataset_is_refused_with_its_file(tmp_path):
    (tmp_path / "dashboards").mkdir()
    (tmp_path / "dashboards" / "bad.yml").write_text("title: T\nslug: t\nrows:\n  - - {title: C, viz_type: line}\n")
    with pytest.raises(dashboards.DashboardError, match="bad.yml.*needs `dataset`"):
        dashboards.load(tmp_path)
