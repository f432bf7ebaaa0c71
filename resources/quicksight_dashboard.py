"""The repo's dashboard definition, translated into QuickSight: custom-SQL datasets, visuals, parameters, filters.

Each definition dataset becomes a DIRECT_QUERY dataset whose SQL is the same file the local page runs (Athena
dialect already; table names qualified with the Glue database), so both twins add up the same rows. Each measure
is a sum of a column, or a ratio of two sums as a calculated field of the analysis (never an average of ratios),
formatted as the page formats it. Each section kind maps to one QuickSight visual type, in the definition's order;
the filters become parameters (From, To, Device, Channel) with sheet controls, and filter groups: the dates reach
every visual (at the dataset's grain, so a week overlapping the dates stays, as on the page), a choice reaches
exactly the visuals whose dataset has its column and the others say so in their subtitle, as the page's note does.
"""

from __future__ import annotations

from datetime import datetime, timezone

import sqlglot
from sqlglot import exp
from sqlglot.optimizer.annotate_types import annotate_types
from sqlglot.optimizer.qualify import qualify

from resources.catalog import load_ddl
from resources.dashboard_spec import datasets, measures, section_datasets
from resources.sql import load_sql

PREFIX = "clickstream"
SHEET = f"{PREFIX}-overview"
QS_TYPES = {"VARCHAR": "STRING", "CHAR": "STRING", "TEXT": "STRING", "BIGINT": "INTEGER", "INT": "INTEGER",
            "DOUBLE": "DECIMAL", "DECIMAL": "DECIMAL", "FLOAT": "DECIMAL", "BOOLEAN": "BOOLEAN",
            "DATE": "DATETIME", "TIMESTAMP": "DATETIME"}
PARAMETERS = {"date_range": ("From", "To")}
# The page opens on all the dates: From before any data, To today (a rolling date, so it never goes stale).
DATE_DEFAULTS = ({"StaticValues": [datetime(2000, 1, 1, tzinfo=timezone.utc)]},
                 {"RollingDate": {"Expression": "truncDate('DD', now())"}})
GRAINS = {"day": "DAY", "week": "WEEK"}
FORMATS = {"percent": {"PercentageDisplayFormatConfiguration": {"DecimalPlacesConfiguration": {
    "DecimalPlaces": 1}}}, "money": {"NumberDisplayFormatConfiguration": {"DecimalPlacesConfiguration": {
        "DecimalPlaces": 2}}}}


def dataset_id(dataset: dict) -> str:
    return f"{PREFIX}-dash-{dataset['id']}"


def custom_sql(dataset: dict, database: str) -> tuple[str, list[dict]]:
    """The dataset's SQL with its tables qualified by ``database``, and its output columns typed from the DDL."""
    tree = sqlglot.parse_one(load_sql(dataset["query"]), read="athena")
    schema = {}
    for name in dataset["tables"]:
        table = load_ddl(name, {"raw": "s3://x", "processed": "s3://x", "raw_events": "s3://x/"})
        schema[name] = {c.name: c.hive_type.upper() for c in table.columns + table.partition_keys}
    typed = annotate_types(qualify(tree.copy(), schema=schema, dialect="athena"), schema=schema)
    columns = [{"Name": s.alias_or_name, "Type": QS_TYPES.get(s.type.this.name if s.type else "", "STRING")}
               for s in typed.selects]
    for table in tree.find_all(exp.Table):
        table.set("db", exp.to_identifier(database))
    return tree.sql("athena"), columns


def _column(ds: str, name: str) -> dict:
    return {"DataSetIdentifier": ds, "ColumnName": name}


def _format(kind: str) -> dict:
    return {"FormatConfiguration": {"FormatConfiguration": FORMATS[kind]}} if kind in FORMATS else {}


class _Visuals:
    """Builds visuals for one definition, collecting the calculated fields they need."""

    def __init__(self, definition: dict):
        self.definition = definition
        self.measures = measures(definition)
        self.datasets = datasets(definition)
        self.calculated: dict[tuple[str, str], str] = {}  # (dataset, name) -> expression, for CalculatedFields

    def ratio(self, fid: str, ds: str, name: str, numerator: str, denominator: str, fmt: str) -> dict:
        """A ratio of sums as a named calculated field (aggregated, so it is not summed again), formatted."""
        self.calculated[(ds, name)] = f"sum({{{numerator}}}) / sum({{{denominator}}})"
        return {"NumericalMeasureField": {"FieldId": fid, "Column": _column(ds, name), **_format(fmt)}}

    def measure(self, fid: str, measure_id: str) -> dict:
        m = self.measures[measure_id]
        if m["kind"] == "sum":
            return {"NumericalMeasureField": {"FieldId": fid, "Column": _column(m["dataset"], m["column"]),
                                              "AggregationFunction": {"SimpleNumericalAggregation": "SUM"},
                                              **_format(m["format"])}}
        return self.ratio(fid, m["dataset"], m["id"], m["numerator"], m["denominator"], m["format"])

    @staticmethod
    def dim(fid: str, ds: str, col: str, date: str | None = None) -> dict:
        if date:
            return {"DateDimensionField": {"FieldId": fid, "Column": _column(ds, col), "DateGranularity": date}}
        return {"CategoricalDimensionField": {"FieldId": fid, "Column": _column(ds, col)}}

    def build(self, section: dict) -> list[dict]:
        vid = f"{PREFIX}-{section['id']}"
        title = {"Visibility": "VISIBLE", "FormatText": {"PlainText": section["title"]}}
        kind, ds = section["kind"], section.get("dataset")
        if kind == "kpis":
            return [{"KPIVisual": {"VisualId": f"{vid}-{m}", "Title": {
                "Visibility": "VISIBLE", "FormatText": {"PlainText": self.measures[m]["label"]}},
                "ChartConfiguration": {"FieldWells": {"Values": [self.measure(f"{vid}-{m}-v", m)]}}}}
                for m in section["measures"]]
        if kind == "timeseries":
            date = self.datasets[ds]["date"]
            first, rest = section["measures"][0], section["measures"][1:]
            return [{"ComboChartVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
                "FieldWells": {"ComboChartAggregatedFieldWells": {
                    "Category": [self.dim(f"{vid}-x", ds, date, "WEEK")],
                    "BarValues": [self.measure(f"{vid}-{first}", first)],
                    "LineValues": [self.measure(f"{vid}-{m}", m) for m in rest]}}}}}]
        if kind == "funnel":
            return [{"BarChartVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
                "Orientation": "HORIZONTAL", "BarsArrangement": "CLUSTERED",
                "FieldWells": {"BarChartAggregatedFieldWells": {
                    "Category": [self.dim(f"{vid}-by", ds, section["by"])],
                    "Values": [{"NumericalMeasureField": {
                        "FieldId": f"{vid}-{col}", "Column": _column(ds, col),
                        "AggregationFunction": {"SimpleNumericalAggregation": "SUM"}}}
                        for col, _ in section["steps"]]}}}}}]
        if kind == "breakdown":
            first, rest = section["measures"][0], section["measures"][1:]
            return [{"ComboChartVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
                "FieldWells": {"ComboChartAggregatedFieldWells": {
                    "Category": [self.dim(f"{vid}-by", ds, section["by"])],
                    "BarValues": [self.measure(f"{vid}-{first}", first)],
                    "LineValues": [self.measure(f"{vid}-{m}", m) for m in rest]}}}}}]
        if kind == "top":
            first = section["measures"][0]
            return [{"BarChartVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
                "Orientation": "HORIZONTAL",
                "FieldWells": {"BarChartAggregatedFieldWells": {
                    "Category": [self.dim(f"{vid}-by", ds, section["by"])],
                    "Values": [self.measure(f"{vid}-{m}", m) for m in section["measures"]]}},
                "SortConfiguration": {
                    "CategorySort": [{"FieldSort": {"FieldId": f"{vid}-{first}", "Direction": "DESC"}}],
                    "CategoryItemsLimit": {"ItemsLimit": section["limit"], "OtherCategories": "EXCLUDE"}}}}}]
        if kind == "cohorts":
            return [{"HeatMapVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
                "FieldWells": {"HeatMapAggregatedFieldWells": {
                    "Rows": [self.dim(f"{vid}-cohort", ds, section["cohort"])],
                    "Columns": [self.dim(f"{vid}-offset", ds, section["offset"])],
                    "Values": [self.ratio(f"{vid}-rate", ds, f"{section['id']}_share", section["value"],
                                          section["size"], "percent")]}},
                "SortConfiguration": {"HeatMapRowItemsLimitConfiguration": {
                    "ItemsLimit": section["cohorts"], "OtherCategories": "EXCLUDE"},
                    "HeatMapRowSort": [{"FieldSort": {"FieldId": f"{vid}-cohort", "Direction": "DESC"}}]}}}}]
        if kind == "sankey":
            return [{"SankeyDiagramVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
                "FieldWells": {"SankeyDiagramAggregatedFieldWells": {
                    "Source": [self.dim(f"{vid}-source", ds, section["source"])],
                    "Destination": [self.dim(f"{vid}-target", ds, section["target"])],
                    "Weight": [{"NumericalMeasureField": {
                        "FieldId": f"{vid}-value", "Column": _column(ds, section["value"]),
                        "AggregationFunction": {"SimpleNumericalAggregation": "SUM"}}}]}}}}}]
        if kind == "stacked":
            return [{"BarChartVisual": {"VisualId": vid, "Title": title, "ChartConfiguration": {
                "BarsArrangement": "STACKED", "FieldWells": {"BarChartAggregatedFieldWells": {
                    "Category": [self.dim(f"{vid}-x", ds, section["x"], "WEEK")],
                    "Colors": [self.dim(f"{vid}-series", ds, section["series"])],
                    "Values": [{"NumericalMeasureField": {
                        "FieldId": f"{vid}-value", "Column": _column(ds, section["value"]),
                        "AggregationFunction": {"SimpleNumericalAggregation": "SUM"}}}]}}}}}]
        return []


def _visual_dataset(visual: dict) -> str | None:
    found = [v for v in _walk(visual) if isinstance(v, dict) and "DataSetIdentifier" in v]
    return found[0]["DataSetIdentifier"] if found else None


def _walk(node):
    yield node
    children = node.values() if isinstance(node, dict) else node if isinstance(node, list) else []
    for child in children:
        yield from _walk(child)


def dashboard_definition(definition: dict, available: set[str], dataset_arn, health_note: str) -> dict:
    """The QuickSight ``Definition`` for the sections whose datasets are ``available`` (ids of definition
    datasets whose tables exist), in the definition's order; the rest are listed in a text box."""
    builder = _Visuals(definition)
    visuals, skipped, boxes = [], [], []
    for section in definition["sections"]:
        needs = section_datasets(definition, section)
        if section["kind"] == "health":
            boxes.append({"SheetTextBoxId": f"{PREFIX}-{section['id']}",
                          "Content": f"<text-box>{section['title']}: {health_note}</text-box>"})
        elif section["kind"] == "kpis":
            # Each KPI is its own visual: the ones over built datasets show, the others wait.
            shown = [m for m in section["measures"] if builder.measures[m]["dataset"] in available]
            skipped += [m for m in section["measures"] if m not in shown]
            visuals += builder.build({**section, "measures": shown})
        elif all(d in available for d in needs):
            visuals += builder.build(section)
        else:
            skipped.append(section["id"])
    if skipped:
        boxes.append({"SheetTextBoxId": f"{PREFIX}-not-built",
                      "Content": f"<text-box>Not built yet: {', '.join(skipped)}</text-box>"})
    used = sorted({d for v in visuals for d in [_visual_dataset(v)] if d})
    by_ds: dict[str, list[str]] = {}
    for v in visuals:
        by_ds.setdefault(_visual_dataset(v), []).append(next(iter(v.values()))["VisualId"])
    params, controls, groups = [], [], []
    for f in definition["filters"]:
        if f["kind"] == "date_range":
            names = PARAMETERS["date_range"]
            for name, default in zip(names, DATE_DEFAULTS):
                params.append({"DateTimeParameterDeclaration": {"Name": name, "TimeGranularity": "DAY",
                                                                "DefaultValues": default}})
                controls.append({"DateTimePicker": {"ParameterControlId": f"{PREFIX}-{name.lower()}",
                                                    "Title": name, "SourceParameterName": name}})
            for ds in used:
                column = builder.datasets[ds]["date"]
                groups.append(_group(f"{f['id']}-{ds}", by_ds[ds], {"TimeRangeFilter": {
                    "FilterId": f"{PREFIX}-{f['id']}-{ds}", "Column": _column(ds, column),
                    "RangeMinimumValue": {"Parameter": names[0]}, "RangeMaximumValue": {"Parameter": names[1]},
                    "IncludeMinimum": True, "IncludeMaximum": True, "NullOption": "NON_NULLS_ONLY",
                    "TimeGranularity": GRAINS[builder.datasets[ds]["grain"]]}}))
            continue
        name = f["label"]
        params.append({"StringParameterDeclaration": {"ParameterValueType": "SINGLE_VALUED", "Name": name,
                                                      "DefaultValues": {"StaticValues": []}}})
        with_column = [ds for ds in used if f["column"] in builder.datasets[ds]["dimensions"]]
        if with_column:
            controls.append({"Dropdown": {
                "ParameterControlId": f"{PREFIX}-{f['id']}", "Title": name, "SourceParameterName": name,
                "Type": "SINGLE_SELECT", "SelectableValues": {"LinkToDataSetColumn": _column(with_column[0],
                                                                                               f["column"])}}})
        for ds in with_column:
            groups.append(_group(f"{f['id']}-{ds}", by_ds[ds], {"CategoryFilter": {
                "FilterId": f"{PREFIX}-{f['id']}-{ds}", "Column": _column(ds, f["column"]),
                "Configuration": {"CustomFilterConfiguration": {
                    "MatchOperator": "EQUALS", "ParameterName": name, "NullOption": "NON_NULLS_ONLY",
                    "SelectAllOptions": "FILTER_ALL_VALUES"}}}}))
    _note_unfiltered(visuals, definition, builder)
    return {
        "DataSetIdentifierDeclarations": [{"Identifier": d, "DataSetArn": dataset_arn(d)} for d in used],
        "CalculatedFields": [{"DataSetIdentifier": ds, "Name": name, "Expression": expression}
                             for (ds, name), expression in sorted(builder.calculated.items()) if ds in used],
        "ParameterDeclarations": params,
        "FilterGroups": groups,
        "Sheets": [{"SheetId": SHEET, "Name": definition["title"], "Visuals": visuals,
                    "ParameterControls": controls, "TextBoxes": boxes}],
    }


def _note_unfiltered(visuals: list[dict], definition: dict, builder: _Visuals) -> None:
    """A visual over a dataset without a choice filter's column says that filter does not apply to it."""
    for visual in visuals:
        dimensions = builder.datasets[_visual_dataset(visual)]["dimensions"]
        ignored = [f["label"].lower() for f in definition["filters"]
                   if f["kind"] == "choice" and f["column"] not in dimensions]
        if ignored:
            next(iter(visual.values()))["Subtitle"] = {"Visibility": "VISIBLE", "FormatText": {
                "PlainText": f"Not split by {' or '.join(ignored)}: that filter does not apply here."}}


def _group(gid: str, visual_ids: list[str], flt: dict) -> dict:
    return {"FilterGroupId": f"{PREFIX}-{gid}", "Filters": [flt], "CrossDataset": "SINGLE_DATASET",
            "Status": "ENABLED", "ScopeConfiguration": {"SelectedSheets": {"SheetVisualScopingConfigurations": [
                {"SheetId": SHEET, "Scope": "SELECTED_VISUALS", "VisualIds": visual_ids}]}}}
