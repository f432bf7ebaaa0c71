"""The AWS twin of the dashboards: a QuickSight Athena data source, a dataset per model, and the dashboard.

Create-or-update everywhere, so re-materializing is idempotent: create first, and on ``ResourceExistsException``
update (real QuickSight raises it; an emulator may accept the second create, which is idempotent too).
"""

from __future__ import annotations

from resources.catalog import TableDef
from resources.dashboard_spec import DashboardInputs
from resources.dashboards import Dashboards
from resources.quicksight_dashboard import custom_sql, dashboard_definition, dataset_id

QS_TYPES = {"string": "STRING", "bigint": "INTEGER", "int": "INTEGER", "double": "DECIMAL", "boolean": "BOOLEAN",
            "timestamp": "DATETIME", "date": "DATETIME"}
PREFIX = "clickstream"


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

    def publish_custom_dataset(self, dataset: dict, source: str) -> str:
        """A DIRECT_QUERY dataset over the definition dataset's SQL: QuickSight runs it on Athena per visual."""
        qs = self._qs()
        sql, columns = custom_sql(dataset, self.database)
        spec = {
            "AwsAccountId": self.account_id, "DataSetId": dataset_id(dataset),
            "Name": f"Clickstream dashboard {dataset['id']}", "ImportMode": "DIRECT_QUERY",
            "PhysicalTableMap": {dataset["id"]: {"CustomSql": {
                "DataSourceArn": self._arn("datasource", source), "Name": dataset["id"],
                "SqlQuery": sql, "Columns": columns}}},
        }
        try:
            qs.create_data_set(**spec)
        except qs.exceptions.ResourceExistsException:
            qs.update_data_set(**spec)
        return spec["DataSetId"]

    def publish_dashboard(self, inputs: DashboardInputs) -> dict:
        """Never calls ``inputs.rows``: QuickSight queries Athena itself, so no query runs here for it."""
        qs = self._qs()
        definition = inputs.definition
        available = [d for d in definition["datasets"] if set(d["tables"]) <= inputs.tables]
        source = self.ensure_data_source()  # once, not once per dataset
        ids = {d["id"]: self.publish_custom_dataset(d, source) for d in available}
        body = dashboard_definition(
            definition, set(ids), lambda d: self._arn("dataset", ids[d]),
            "the pipeline's health is the CloudWatch dashboard 'clickstream' and its alarms (the ledger and "
            "freshness metrics the local page shows).")
        spec = {"AwsAccountId": self.account_id, "DashboardId": f"{PREFIX}-dashboard", "Name": definition["title"],
                "Definition": body}
        try:
            qs.create_dashboard(**spec)
        except qs.exceptions.ResourceExistsException:
            qs.update_dashboard(**spec)
        sheet = body["Sheets"][0]
        return {"dashboard_id": spec["DashboardId"], "dashboard_arn": self._arn("dashboard", spec["DashboardId"]),
                "visuals": len(sheet["Visuals"]), "datasets": len(ids), "parameters": len(body["ParameterDeclarations"]),
                "filter_groups": len(body["FilterGroups"])}
