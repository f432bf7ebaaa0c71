"""Which profile runs (``local`` or ``aws``) and where the local warehouse lives: one place for both."""

from __future__ import annotations

import os
from pathlib import Path

PROFILES = ("local", "aws")
DEFAULT_WAREHOUSE = ".clickstream"


def current_profile() -> str:
    profile = os.environ.get("CLICKSTREAM_PROFILE", "local").strip().lower()
    if profile not in PROFILES:
        raise ValueError(f"CLICKSTREAM_PROFILE must be one of {', '.join(PROFILES)}, not {profile!r}")
    return profile


def warehouse_path(explicit: str | None = None) -> Path:
    """``--warehouse``, else ``$CLICKSTREAM_HOME``, else ``./.clickstream``; always absolute."""
    raw = explicit or os.environ.get("CLICKSTREAM_HOME") or DEFAULT_WAREHOUSE
    return Path(raw).expanduser().resolve()


def dagster_home(warehouse: Path) -> Path:
    """``$DAGSTER_HOME``, else ``<warehouse>/dagster`` so the CLI and ``make ui`` share runs."""
    return Path(os.environ.get("DAGSTER_HOME") or warehouse / "dagster").expanduser().resolve()


def ensure_dagster_home(warehouse: Path) -> Path:
    from resources.dagster_instance import write_instance_yaml

    home = dagster_home(warehouse)
    home.mkdir(parents=True, exist_ok=True)
    write_instance_yaml(home)
    os.environ["DAGSTER_HOME"] = str(home)
    return home


def raw_prefix() -> str:
    """Where deliveries land in the raw area: ``$CLICKSTREAM_RAW_PREFIX``, default ``events``; empty for Firehose's
    bare ``YYYY/MM/DD/HH/`` layout (a stream created without a custom prefix)."""
    from resources.storage import check_raw_prefix

    return check_raw_prefix(os.environ.get("CLICKSTREAM_RAW_PREFIX", "events"))


def _choice(variable: str, allowed: tuple[str, ...], default: str) -> str:
    value = os.environ.get(variable, default).strip().upper()
    if value not in allowed:
        raise ValueError(f"{variable} must be one of {', '.join(allowed)}, not {value!r}")
    return value


def aws_names() -> dict[str, str]:
    """Names of the AWS resources, from the environment, with the defaults infra/clickstream.yaml uses."""
    env = os.environ.get
    processed = env("CLICKSTREAM_PROCESSED_BUCKET", "clickstream-processed")
    return {
        "raw_bucket": env("CLICKSTREAM_RAW_BUCKET", "clickstream-raw"),
        "processed_bucket": processed,
        "stream": env("CLICKSTREAM_STREAM", "clickstream-events"),
        "database": env("CLICKSTREAM_GLUE_DATABASE", "clickstream"),
        "workgroup": env("CLICKSTREAM_ATHENA_WORKGROUP", "clickstream"),
        "athena_output": env("CLICKSTREAM_ATHENA_OUTPUT", f"s3://{processed}/_athena/"),
        "account_id": env("CLICKSTREAM_AWS_ACCOUNT_ID", env("AWS_ACCOUNT_ID", "")),
        "engine": env("CLICKSTREAM_ENGINE", "athena"),
        "raw_prefix": raw_prefix(),
        "raw_compression": _choice("CLICKSTREAM_RAW_COMPRESSION", ("UNCOMPRESSED", "GZIP"), "UNCOMPRESSED"),
    }


def build_resources(profile: str | None = None, warehouse: Path | None = None) -> dict:
    """The resource set of a profile: the same keys on both, only the twins differ. The pipeline's ``settings``
    resource is added by ``clickstream_assets.definitions`` (resources never import the assets' package)."""
    from resources.catalog import GlueCatalog, LocalCatalog
    from resources.dashboards import LocalDashboards
    from resources.delivery import FirehoseDelivery, LocalDelivery
    from resources.engine import DuckDBEngine
    from resources.metrics import CloudWatchMetrics, LocalMetrics
    from resources.storage import LocalStorage, S3Storage

    profile = profile or current_profile()
    warehouse = warehouse or warehouse_path()
    if profile == "aws":
        from resources.athena import AthenaEngine
        from resources.quicksight import QuickSightDashboards

        names = aws_names()
        endpoint = os.environ.get("AWS_ENDPOINT_URL") or None
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or None
        storage = S3Storage(raw_bucket=names["raw_bucket"], processed_bucket=names["processed_bucket"],
                            region=region, endpoint_url=endpoint, raw_prefix=names["raw_prefix"])
        catalog = GlueCatalog(database=names["database"], region=region, endpoint_url=endpoint)
        local_engine = DuckDBEngine(storage=storage, catalog=catalog, registers_writes=names["engine"] == "duckdb")
        engine = local_engine if names["engine"] == "duckdb" else AthenaEngine(
            storage=storage, catalog=catalog, local=local_engine, database=names["database"],
            workgroup=names["workgroup"], output_location=names["athena_output"], region=region,
            # boto3's own per-service variable, honoured here too since an explicit endpoint would override it.
            endpoint_url=os.environ.get("AWS_ENDPOINT_URL_ATHENA") or endpoint,
        )
        return {
            "storage": storage,
            "catalog": catalog,
            "engine": engine,
            "dashboards": QuickSightDashboards(account_id=names["account_id"], database=names["database"],
                                               workgroup=names["workgroup"], region=region, endpoint_url=endpoint),
            "metrics": CloudWatchMetrics(region=region, endpoint_url=endpoint),
            "delivery": FirehoseDelivery(stream_name=names["stream"], region=region, endpoint_url=endpoint),
        }
    storage = LocalStorage(warehouse=str(warehouse), raw_prefix=raw_prefix())
    catalog = LocalCatalog(warehouse=str(warehouse))
    return {
        "storage": storage,
        "catalog": catalog,
        "engine": DuckDBEngine(storage=storage, catalog=catalog),
        "dashboards": LocalDashboards(warehouse=str(warehouse)),
        "metrics": LocalMetrics(warehouse=str(warehouse)),
        "delivery": LocalDelivery(warehouse=str(warehouse), raw_prefix=storage.raw_prefix,
                                  stream_name=os.environ.get("CLICKSTREAM_STREAM", "clickstream-events")),
    }
