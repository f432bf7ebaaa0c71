"""The AWS twin of the dashboards: a QuickSight Athena data source, a dataset per model, and the dashboard.

Create-or-update everywhere, so re-materializing is idempotent: create first, and on ``ResourceExistsException``
update (real QuickSight raises it; an emulator may accept the second create, which is idempotent too).
"""

from __future__ import annotations

from resources.catalog import TableDef
from resources.dashboards import Dashboards

QS_TYPES = {"string": "STRING", "bigint": "INTEGER", "int": "INTEGER", "double": "DECIMAL", "boolean": "BOOLEAN",
            "timestamp": "DATETIME", "date": "DATETIME"}
PREFIX = "clickstream"


def _visual(section: dict, dataset: str) -> dict | None:
    """A QuickSight visual for a section of the repo's dashboard definition."""
    visual_id = f"{PREFIX}-{section['id']}"
    title = {"Visibility": "VISIBLE", "FormatText": {"PlainText": section["title"]}}
    dim = lambda col: {"CategoricalDimensionField": {"FieldId": f"{visual_id}-{col}",  # noqa: E731
                                                     "Column": {"DataSetIdentifier": dataset, "ColumnName": col}}}
    measure = lambda col: {"NumericalMeasureField": {  # noqa: E731
        "FieldId": f"{visual_id}-{col}", "Column": {"DataSetIdentifier": dataset, "ColumnName": col},
        "AggregationFunction": {"SimpleNumericalAggregation": "SUM"}}}
    chart = section["chart"]
    if chart == "funnel":
        segment = "device_type" if section["id"].endswith("device") else "channel"
        return {"BarChartVisual": {"VisualId": visual_id, "Title": title, "ChartConfiguration": {
            "FieldWells": {"BarChartAggregatedFieldWells": {
                "Category": [dim(segment)],
                "Values": [measure(c) for c in ("product_view", "add_to_cart", "checkout", "purchase")]}},
            "Orientation": "HORIZONTAL"}}}
    if chart == "line":
        return {"LineChartVisual": {"VisualId": visual_id, "Title": title, "ChartConfiguration": {
            "FieldWells": {"LineChartAggregatedFieldWells": {
                "Category": [{"DateDimensionField": {"FieldId": f"{visual_id}-dt", "Column": {
                    "DataSetIdentifier": dataset, "ColumnName": "dt"}, "DateGranularity": "DAY"}}],
                "Values": [measure(c) for c in section["y"] if c != "conversion_rate"] or [measure("purchase")]}}}}}
    if chart == "bars":
        return {"BarChartVisual": {"VisualId": visual_id, "Title": title, "ChartConfiguration": {
            "FieldWells": {"BarChartAggregatedFieldWells": {
                "Category": [dim(section["label"])], "Values": [measure(section["value"])]}}}}}
    if chart == "heatmap":
        return {"HeatMapVisual": {"VisualId": visual_id, "Title": title, "ChartConfiguration": {
            "FieldWells": {"HeatMapAggregatedFieldWells": {
                "Rows": [dim("cohort_week")], "Columns": [dim("week_offset")],
                "Values": [measure("retained_users")]}}}}}
    if chart == "kpis":
        return {"KPIVisual": {"VisualId": visual_id, "Title": title, "ChartConfiguration": {
            "FieldWells": {"Values": [measure("sessions")]}}}}
    return None


class QuickSightDashboards(Dashboards):
    account_id: str
    database: str
    workgroup: str
    region: str | None = None
    endpoint_url: str | None = None

    def _qs(self):
        from resources.aws import client

        return client("quicksight", self.region, self.endpoint_url)

    def _arn(self, kind: str, name: str) -> str:
        from resources.aws import region

        return f"arn:aws:quicksight:{region(self.region)}:{self.account_id}:{kind}/{name}"

    def ensure_data_source(self) -> str:
        qs = self._qs()
        source_id = f"{PREFIX}-athena"
        params = {"AthenaParameters": {"WorkGroup": self.workgroup}}
        try:
            qs.create_data_source(AwsAccountId=self.account_id, DataSourceId=source_id, Name="Clickstream (Athena)",
                                  Type="ATHENA", DataSourceParameters=params)
        except qs.exceptions.ResourceExistsException:
            qs.update_data_source(AwsAccountId=self.account_id, DataSourceId=source_id, Name="Clickstream (Athena)",
                                  DataSourceParameters=params)
        return source_id

    def publish_dataset(self, name: str, table: TableDef) -> dict:
        qs = self._qs()
        source = self.ensure_data_source()
        dataset_id = f"{PREFIX}-{name}"
        spec = {
            "AwsAccountId": self.account_id,
            "DataSetId": dataset_id,
            "Name": f"Clickstream {name}",
            "ImportMode": "DIRECT_QUERY",
            "PhysicalTableMap": {name: {"RelationalTable": {
                "DataSourceArn": self._arn("datasource", source),
                "Catalog": "AwsDataCatalog",
                "Schema": self.database,
                "Name": table.name,
                "InputColumns": [{"Name": c.name, "Type": QS_TYPES.get(c.hive_type, "STRING")}
                                 for c in table.columns + table.partition_keys],
            }}},
        }
        try:
            qs.create_data_set(**spec)
        except qs.exceptions.ResourceExistsException:
            qs.update_data_set(**spec)
        return {"dataset_id": dataset_id, "dataset_arn": self._arn("dataset", dataset_id),
                "columns": len(table.columns) + len(table.partition_keys)}

    def publish_dashboard(self, definition: dict, data: dict[str, list[dict]], health: dict) -> dict:
        qs = self._qs()
        datasets = sorted({d for s in definition["sections"] for d in s.get("datasets", [])})
        visuals = [v for s in definition["sections"] if s.get("datasets")
                   for v in [_visual(s, s["datasets"][0])] if v]
        spec = {
            "AwsAccountId": self.account_id,
            "DashboardId": f"{PREFIX}-dashboard",
            "Name": definition["title"],
            "Definition": {
                "DataSetIdentifierDeclarations": [
                    {"Identifier": d, "DataSetArn": self._arn("dataset", f"{PREFIX}-{d}")} for d in datasets
                ],
                "Sheets": [{"SheetId": f"{PREFIX}-overview", "Name": "Overview", "Visuals": visuals}],
            },
        }
        try:
            qs.create_dashboard(**spec)
        except qs.exceptions.ResourceExistsException:
            qs.update_dashboard(**spec)
        return {"dashboard_id": spec["DashboardId"], "dashboard_arn": self._arn("dashboard", spec["DashboardId"]),
                "visuals": len(visuals), "datasets": len(datasets)}
