"""The QuickSight twin as QuickSight would receive it, checked far beyond what moto (which keeps no definition and
accepts almost anything) can tell.

The requests ``publish_dashboard`` really sends are recorded off a real botocore client and checked against
botocore's service model: botocore's ParamValidator (field names, types, required members), then what it leaves
out (enum values, lengths, patterns). Then what QuickSight demands across a definition: declared datasets and
parameters, columns that exist in the dataset with the type the field needs, unique ids, filter scopes that name
real visuals. And what the one definition asks for: its sections, all six KPIs with the page's formats, and the
date, device and channel filters as parameters, controls and filters on every visual they apply to.
"""

from __future__ import annotations

import copy
import json
import re

import pytest
import sqlglot
from botocore.session import get_session
from botocore.validate import ParamValidator
from sqlglot import exp

from clickstream_assets.defs.processed.models import MODELS
from clickstream_assets.defs.quicksight.datasets import load_definition
from resources.dashboard_spec import DashboardInputs

MODEL = get_session().get_service_model("quicksight")
KPIS = ["sessions", "conversion_rate", "revenue", "orders", "average_order_value", "cart_abandonment_rate"]
FORMAT_KEYS = {"percent": "PercentageDisplayFormatConfiguration", "money": "NumberDisplayFormatConfiguration"}


def strict(value, shape, path: str, errors: list[str]) -> None:
    """What ParamValidator does not check: enums, max lengths and sizes, patterns, one member of a union."""
    meta, kind = shape.metadata, shape.type_name
    if kind == "structure":
        if getattr(shape, "is_union", False) and len(value) != 1:
            errors.append(f"{path}: a union takes exactly one member, not {sorted(value)}")
        for key, member in value.items():
            strict(member, shape.members[key], f"{path}.{key}", errors)
    elif kind == "list":
        if len(value) > meta.get("max", float("inf")):
            errors.append(f"{path}: {len(value)} items, at most {meta['max']}")
        for i, item in enumerate(value):
            strict(item, shape.member, f"{path}[{i}]", errors)
    elif kind == "map":
        for key, item in value.items():
            strict(key, shape.key, f"{path} key", errors)
            strict(item, shape.value, f"{path}[{key}]", errors)
    elif kind == "string":
        if shape.enum and value not in shape.enum:
            errors.append(f"{path}: {value!r} is not one of {shape.enum}")
        if len(value) > meta.get("max", float("inf")):
            errors.append(f"{path}: {len(value)} characters, at most {meta['max']}")
        if "pattern" in meta and not re.fullmatch(meta["pattern"], value, re.DOTALL):
            errors.append(f"{path}: {value!r} does not match {meta['pattern']}")
    elif kind in ("integer", "long", "double", "float"):
        if value > meta.get("max", float("inf")):
            errors.append(f"{path}: {value} is more than {meta['max']}")


def check_request(operation: str, params: dict) -> None:
    shape = MODEL.operation_model(operation).input_shape
    report = ParamValidator().validate(params, shape)
    assert not report.has_errors(), report.generate_report()
    errors: list[str] = []
    strict(params, shape, operation, errors)
    assert errors == []


def walk(node, path=()):
    yield path, node
    if isinstance(node, dict):
        for key, child in node.items():
            yield from walk(child, (*path, key))
    elif isinstance(node, list):
        for child in node:
            yield from walk(child, path)


@pytest.fixture
def sent(aws, monkeypatch):
    """The QuickSight calls of one publish_dashboard on the aws profile (against moto), as botocore built them."""
    import resources.aws
    from resources.profile import build_resources

    calls: list[tuple[str, dict]] = []
    original = resources.aws.client

    def recording(service, *args, **kwargs):
        made = original(service, *args, **kwargs)
        if service == "quicksight":
            made.meta.events.register("provide-client-params.quicksight.*",
                                      lambda params, model, **_: calls.append((model.name, copy.deepcopy(params))))
        return made

    monkeypatch.setattr(resources.aws, "client", recording)
    definition = load_definition()

    def no_query(*_):
        raise AssertionError("QuickSight queries Athena itself: publishing it must run no dashboard query")

    inputs = DashboardInputs(definition, no_query, no_query, frozenset(m.name for m in MODELS))
    build_resources("aws")["dashboards"].publish_dashboard(inputs)
    return definition, calls


def test_every_request_fits_the_quicksight_service_model(sent):
    _, calls = sent
    assert {name for name, _ in calls} >= {"CreateDataSource", "CreateDataSet", "CreateDashboard"}
    assert [name for name, _ in calls].count("CreateDataSource") == 1
    for name, params in calls:
        check_request(name, params)
    (dashboard,) = [p for n, p in calls if n == "CreateDashboard"]
    # The same definition must open as an analysis too (where a user edits it): its own shape, its own rules.
    check_request("CreateAnalysis", {"AwsAccountId": dashboard["AwsAccountId"], "AnalysisId": "clickstream-analysis",
                                     "Name": dashboard["Name"], "Definition": dashboard["Definition"]})


def test_the_definition_holds_together_and_matches_the_one_definition(sent):
    definition, calls = sent
    datasets = {p["DataSetId"]: p for n, p in calls if n == "CreateDataSet"}
    (body,) = [p["Definition"] for n, p in calls if n == "CreateDashboard"]
    sheet = body["Sheets"][0]

    # Every definition dataset is built by this code base, so every one is published, over qualified tables.
    assert len(datasets) == len(definition["datasets"])
    declared = {d["Identifier"]: d["DataSetArn"].rsplit("/", 1)[1] for d in body["DataSetIdentifierDeclarations"]}
    columns: dict[str, dict[str, str]] = {}
    for ident, dataset_id in declared.items():
        (table,) = datasets[dataset_id]["PhysicalTableMap"].values()
        columns[ident] = {c["Name"]: c["Type"] for c in table["CustomSql"]["Columns"]}
        tables = list(sqlglot.parse_one(table["CustomSql"]["SqlQuery"], read="athena").find_all(exp.Table))
        assert tables and all(t.db for t in tables), table["CustomSql"]["SqlQuery"]
    calculated = {(c["DataSetIdentifier"], c["Name"]): c["Expression"] for c in body["CalculatedFields"]}
    for (ident, name), expression in calculated.items():
        assert name not in columns[ident]  # a calculated field never shadows a column
        assert set(re.findall(r"\{(\w+)\}", expression)) <= {c for c, t in columns[ident].items()
                                                              if t in ("INTEGER", "DECIMAL")}

    # Each field reads a column its dataset has, of the type the field needs.
    needs = {"DateDimensionField": {"DATETIME"}, "TimeRangeFilter": {"DATETIME"}, "CategoryFilter": {"STRING"},
             "CategoricalDimensionField": {"STRING", "INTEGER", "DATETIME"},
             "NumericalMeasureField": {"INTEGER", "DECIMAL", "calculated"}, "LinkToDataSetColumn": {"STRING"}}
    field_ids, sorted_by, seen_kinds = [], [], set()
    for path, node in walk(body):
        if isinstance(node, dict) and "FieldId" in node:  # a field, or a sort naming one
            (field_ids if "Column" in node else sorted_by).append(node["FieldId"])
        column = node.get("Column", node) if isinstance(node, dict) and path and path[-1] in needs else None
        if column is not None:
            ident, name = column["DataSetIdentifier"], column["ColumnName"]
            kind = "calculated" if (ident, name) in calculated else columns[ident].get(name)
            assert kind in needs[path[-1]], f"{path[-1]} over {ident}.{name} ({kind})"
            seen_kinds.add(path[-1])
    assert seen_kinds == set(needs)
    assert len(field_ids) == len(set(field_ids)) and set(sorted_by) <= set(field_ids)
    visual_ids = [next(iter(v.values()))["VisualId"] for v in sheet["Visuals"]]
    assert len(visual_ids) == len(set(visual_ids))
    filter_ids = [f["FilterGroupId"] for f in body["FilterGroups"]]
    assert len(filter_ids) == len(set(filter_ids))

    # Parameters: declared once, each with a control; filters name declared parameters and real visuals.
    params = {next(iter(p.values()))["Name"] for p in body["ParameterDeclarations"]}
    assert params == {"From", "To", "Device", "Channel"}
    assert sorted(next(iter(c.values()))["SourceParameterName"] for c in sheet["ParameterControls"]) == sorted(params)
    referenced = {v for path, v in walk(body["FilterGroups"]) if path and path[-1] in ("ParameterName", "Parameter")}
    assert referenced == params
    scope = {}
    for group in body["FilterGroups"]:
        (visuals,) = [s["VisualIds"] for s in group["ScopeConfiguration"]["SelectedSheets"][
            "SheetVisualScopingConfigurations"]]
        assert set(visuals) <= set(visual_ids)
        scope.setdefault(group["FilterGroupId"].split("-")[1], set()).update(visuals)
    assert scope["date"] == set(visual_ids)  # the dates reach every visual
    by_visual = {next(iter(v.values()))["VisualId"]: v for v in sheet["Visuals"]}
    for choice in ("device", "channel"):
        for vid in set(visual_ids) - scope[choice]:  # out of a choice's reach: the visual says so
            assert "Not split by" in json.dumps(by_visual[vid]) and choice in json.dumps(by_visual[vid])
    assert "clickstream-kpis-sessions" in scope["device"] and "clickstream-products" not in scope["device"]

    # The one definition's sections in its order, all six KPIs formatted as on the page, the health box.
    kpis = [v["KPIVisual"] for v in sheet["Visuals"] if "KPIVisual" in v]
    assert [k["VisualId"] for k in kpis] == [f"clickstream-kpis-{k}" for k in KPIS]
    formats = {m["id"]: m["format"] for m in definition["measures"]}
    for kpi, measure in zip(kpis, KPIS):
        assert kpi["Title"]["FormatText"]["PlainText"] == next(m["label"] for m in definition["measures"]
                                                                if m["id"] == measure)
        if formats[measure] in FORMAT_KEYS:
            assert FORMAT_KEYS[formats[measure]] in json.dumps(kpi)
    titles = [next(iter(v.values()))["Title"]["FormatText"]["PlainText"] for v in sheet["Visuals"]
              if "KPIVisual" not in v]
    assert titles == [s["title"] for s in definition["sections"] if s["kind"] not in ("kpis", "health")]
    assert [b["SheetTextBoxId"] for b in sheet["TextBoxes"]] == ["clickstream-health"]  # nothing "not built yet"
    assert calculated[("funnel", "conversion_rate")] == "sum({purchase}) / sum({sessions})"  # a ratio of sums


def test_sections_over_models_not_built_yet_are_named_never_silently_missing():
    from resources.quicksight_dashboard import dashboard_definition

    definition = load_definition()
    built = {d["id"] for d in definition["datasets"]} - {"orders", "paths"}
    body = dashboard_definition(definition, built, lambda d: d, "health")
    sheet = body["Sheets"][0]
    kpis = [v["KPIVisual"]["VisualId"] for v in sheet["Visuals"] if "KPIVisual" in v]
    assert kpis == ["clickstream-kpis-sessions", "clickstream-kpis-conversion_rate",
                    "clickstream-kpis-cart_abandonment_rate"]
    (waiting,) = [b["Content"] for b in sheet["TextBoxes"] if b["SheetTextBoxId"] == "clickstream-not-built"]
    assert waiting == ("<text-box>Not built yet: revenue, orders, average_order_value, revenue, paths</text-box>")
    assert {d["Identifier"] for d in body["DataSetIdentifierDeclarations"]} == built
