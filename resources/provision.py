"""``clickstream provision``: create the AWS resources of infra/clickstream.yaml through boto3, idempotently.

For emulators (moto's CloudFormation skips Firehose, Glue, Athena workgroups and alarms) and for people who prefer
no stack. ``clickstream deploy`` deploys the CloudFormation template itself on real AWS.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from resources.alarms import ALARMS, Alarm
from resources.metrics import NAMESPACE

TEMPLATE = Path(__file__).resolve().parent.parent / "infra" / "clickstream.yaml"
BYTES_SCANNED_CUTOFF = 10 * 1024**3  # per Athena query: a runaway query stops at 10 GB (~$0.05)
FIREHOSE_BUFFER_MB, FIREHOSE_BUFFER_SECONDS = 5, 300


def _exists(error) -> bool:
    code = error.response.get("Error", {}).get("Code", "")
    message = error.response.get("Error", {}).get("Message", "")
    return code in ("BucketAlreadyOwnedByYou", "EntityAlreadyExists", "AlreadyExistsException",
                    "ResourceInUseException") or "already exists" in message.lower()


def policies(raw: str, processed: str, stream_arn: str, account: str, region: str, database: str,
             workgroup: str, raw_prefix: str = "events") -> dict[str, dict]:
    """Least-privilege inline policies: each role gets only the actions and resources it uses."""
    raw_objects = f"arn:aws:s3:::{raw}/{raw_prefix}/*" if raw_prefix else f"arn:aws:s3:::{raw}/*"
    glue = [f"arn:aws:glue:{region}:{account}:catalog", f"arn:aws:glue:{region}:{account}:database/{database}",
            f"arn:aws:glue:{region}:{account}:table/{database}/*"]
    statement = lambda sid, actions, resources: {"Sid": sid, "Effect": "Allow", "Action": actions,  # noqa: E731
                                                 "Resource": resources}
    return {
        "firehose": {"Version": "2012-10-17", "Statement": [
            statement("WriteRawEvents", ["s3:PutObject", "s3:AbortMultipartUpload"],
                      [raw_objects, f"arn:aws:s3:::{raw}/errors/*"]),
            statement("LocateRawBucket", ["s3:GetBucketLocation", "s3:ListBucket"], [f"arn:aws:s3:::{raw}"]),
        ]},
        "pipeline": {"Version": "2012-10-17", "Statement": [
            statement("SendEvents", ["firehose:PutRecordBatch", "firehose:DescribeDeliveryStream"], [stream_arn]),
            statement("ReadRaw", ["s3:GetObject"], [raw_objects]),
            statement("ListBuckets", ["s3:ListBucket", "s3:GetBucketLocation"],
                      [f"arn:aws:s3:::{raw}", f"arn:aws:s3:::{processed}"]),
            statement("WriteProcessed", ["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                                         "s3:AbortMultipartUpload"], [f"arn:aws:s3:::{processed}/*"]),
            statement("Catalog", ["glue:GetDatabase", "glue:GetTable", "glue:CreateTable", "glue:UpdateTable",
                                  "glue:GetPartitions", "glue:BatchCreatePartition"], glue),
            statement("Query", ["athena:StartQueryExecution", "athena:GetQueryExecution",
                                "athena:GetQueryResults", "athena:StopQueryExecution"],
                      [f"arn:aws:athena:{region}:{account}:workgroup/{workgroup}"]),
            statement("Publish", ["quicksight:CreateDataSource", "quicksight:UpdateDataSource",
                                  "quicksight:CreateDataSet", "quicksight:UpdateDataSet",
                                  "quicksight:CreateDashboard", "quicksight:UpdateDashboard",
                                  "quicksight:DescribeDashboard"],
                      [f"arn:aws:quicksight:{region}:{account}:datasource/clickstream-*",
                       f"arn:aws:quicksight:{region}:{account}:dataset/clickstream-*",
                       f"arn:aws:quicksight:{region}:{account}:dashboard/clickstream-*"]),
            # PutMetricData has no resource-level permissions; the namespace condition narrows it instead.
            {"Sid": "Metrics", "Effect": "Allow", "Action": ["cloudwatch:PutMetricData"], "Resource": "*",
             "Condition": {"StringEquals": {"cloudwatch:namespace": NAMESPACE}}},
        ]},
        "quicksight": {"Version": "2012-10-17", "Statement": [
            statement("QueryThroughAthena", ["athena:StartQueryExecution", "athena:GetQueryExecution",
                                             "athena:GetQueryResults"],
                      [f"arn:aws:athena:{region}:{account}:workgroup/{workgroup}"]),
            statement("ReadCatalog", ["glue:GetDatabase", "glue:GetTable", "glue:GetPartitions"], glue),
            statement("ReadModels", ["s3:GetObject", "s3:PutObject"], [f"arn:aws:s3:::{processed}/*"]),
            statement("ListModels", ["s3:ListBucket", "s3:GetBucketLocation"], [f"arn:aws:s3:::{processed}"]),
        ]},
    }


def _bucket(s3, name: str, region: str, lifecycle: list[dict], tls_only: bool = True) -> None:
    from botocore.exceptions import ClientError

    try:
        if region == "us-east-1":
            s3.create_bucket(Bucket=name)
        else:
            s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    except ClientError as error:
        if not _exists(error):
            raise
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}, "BucketKeyEnabled": True}]})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": True, "BlockPublicPolicy": True, "RestrictPublicBuckets": True})
    if tls_only:
        s3.put_bucket_policy(Bucket=name, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "TlsOnly", "Effect": "Deny", "Principal": "*", "Action": "s3:*",
            "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_metrics_configuration(Bucket=name, Id="all", MetricsConfiguration={"Id": "all"})
    s3.put_bucket_lifecycle_configuration(Bucket=name, LifecycleConfiguration={"Rules": lifecycle})


def _role(iam, name: str, service: str, policy: dict) -> str:
    from botocore.exceptions import ClientError

    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"Service": service}, "Action": "sts:AssumeRole"}]}
    try:
        arn = iam.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    except ClientError as error:
        if not _exists(error):
            raise
        arn = iam.get_role(RoleName=name)["Role"]["Arn"]
    iam.put_role_policy(RoleName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy))
    return arn


def alarm_kwargs(alarm: Alarm) -> dict:
    base = {"AlarmName": alarm.name, "AlarmDescription": alarm.description, "ComparisonOperator": alarm.comparison,
            "Threshold": alarm.threshold, "EvaluationPeriods": alarm.evaluation_periods,
            "TreatMissingData": alarm.treat_missing}
    if alarm.ratio_of:
        stat = lambda i, name: {"Id": i, "ReturnData": False, "MetricStat": {  # noqa: E731
            "Metric": {"Namespace": alarm.namespace, "MetricName": name}, "Period": alarm.period_seconds,
            "Stat": alarm.statistic}}
        return {**base, "Metrics": [stat("part", alarm.metric), stat("whole", alarm.ratio_of),
                                    {"Id": "rate", "Expression": "part / whole", "ReturnData": True}]}
    return {**base, "Namespace": alarm.namespace, "MetricName": alarm.metric, "Statistic": alarm.statistic,
            "Period": alarm.period_seconds}


def dashboard_body(names: dict, region: str) -> dict:
    metric = lambda *m: list(m)  # noqa: E731
    widget = lambda title, metrics, y: {"type": "metric", "width": 12, "height": 6, "y": y, "properties": {  # noqa: E731
        "title": title, "region": region, "stat": "Sum", "period": 300, "metrics": metrics}}
    stream, wg = names["stream"], names["workgroup"]
    return {"widgets": [
        widget("Firehose delivery to S3", [metric("AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", stream),
                                           metric("AWS/Firehose", "DeliveryToS3.DataFreshness", "DeliveryStreamName",
                                                  stream), metric("AWS/Firehose", "ThrottledRecords",
                                                                  "DeliveryStreamName", stream)], 0),
        widget("Objects created", [metric("AWS/S3", "PutRequests", "BucketName", names["raw_bucket"], "FilterId",
                                          "all"), metric("AWS/S3", "PutRequests", "BucketName",
                                                         names["processed_bucket"], "FilterId", "all")], 6),
        widget("Athena", [metric("AWS/Athena", "TotalExecutionTime", "WorkGroup", wg),
                          metric("AWS/Athena", "ProcessedBytes", "WorkGroup", wg),
                          metric("AWS/Athena", "TotalExecutionTime", "WorkGroup", wg, "QueryState", "FAILED",
                                 {"stat": "SampleCount", "label": "failed queries"})], 12),
        widget("Pipeline", [metric(NAMESPACE, m) for m in ("RecordsLanded", "RowsClean", "RowsDuplicate",
                                                           "RowsQuarantined", "RowsLate", "QueryFailures",
                                                           "DeliveryFailed")], 18),
        widget("Freshness lag (s)", [metric(NAMESPACE, "FreshnessLagSeconds", "Asset", a) for a in (
            "raw/events", "processed/events", "processed/sessions", "quicksight/dashboard")], 24),
    ]}


def provision(names: dict, region: str, endpoint: str | None = None, log: Callable[[str], None] = print) -> dict:
    """Create or update every resource; safe to run again."""
    from resources.aws import client

    clients = {s: client(s, region, endpoint) for s in ("s3", "iam", "firehose", "glue", "athena", "cloudwatch",
                                                         "sts")}
    account = clients["sts"].get_caller_identity()["Account"]
    raw, processed = names["raw_bucket"], names["processed_bucket"]
    raw_prefix = names.get("raw_prefix", "events")
    firehose_prefix = f"{raw_prefix}/" if raw_prefix else ""
    # An emulator on plain HTTP would be locked out by the TLS-only policy (moto enforces it); real AWS gets it.
    tls_only = not (endpoint or "").startswith("http://")
    if not tls_only:
        log(f"{endpoint} speaks plain HTTP: the buckets' TLS-only policy is left out on this emulator")
    _buckets(clients["s3"], raw, processed, region, firehose_prefix, tls_only)
    log(f"buckets {raw}, {processed}: encrypted, private, TLS-only, lifecycle")
    stream_arn = f"arn:aws:firehose:{region}:{account}:deliverystream/{names['stream']}"
    docs = policies(raw, processed, stream_arn, account, region, names["database"], names["workgroup"], raw_prefix)
    firehose_role = _role(clients["iam"], "clickstream-firehose", "firehose.amazonaws.com", docs["firehose"])
    _role(clients["iam"], "clickstream-pipeline", "ec2.amazonaws.com", docs["pipeline"])
    _role(clients["iam"], "clickstream-quicksight", "quicksight.amazonaws.com", docs["quicksight"])
    log("IAM roles clickstream-firehose, clickstream-pipeline, clickstream-quicksight")
    _create_once(lambda: clients["firehose"].create_delivery_stream(
        DeliveryStreamName=names["stream"], DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": firehose_role, "BucketARN": f"arn:aws:s3:::{raw}", "Prefix": firehose_prefix,
            "ErrorOutputPrefix": "errors/!{firehose:error-output-type}/",
            "BufferingHints": {"SizeInMBs": FIREHOSE_BUFFER_MB, "IntervalInSeconds": FIREHOSE_BUFFER_SECONDS},
            # GZIP objects end in .gz; sealing and Athena read both (CLICKSTREAM_RAW_COMPRESSION=GZIP).
            "CompressionFormat": names.get("raw_compression", "UNCOMPRESSED"),
            "EncryptionConfiguration": {"NoEncryptionConfig": "NoEncryption"},
        }))
    log(f"Firehose stream {names['stream']} -> s3://{raw}/{firehose_prefix}")
    _query_layer(clients["glue"], clients["athena"], names)
    log(f"Glue database {names['database']}, Athena workgroup {names['workgroup']} (10 GB cut-off per query)")
    for alarm in ALARMS:
        clients["cloudwatch"].put_metric_alarm(**alarm_kwargs(alarm))
    clients["cloudwatch"].put_dashboard(DashboardName="clickstream",
                                        DashboardBody=json.dumps(dashboard_body(names, region)))
    log(f"{len(ALARMS)} CloudWatch alarms and the clickstream dashboard")
    return {"account": account, "stream_arn": stream_arn, "firehose_role": firehose_role}


def _create_once(create: Callable[[], object]) -> None:
    """Run a create call; one that exists already is left as it is (provisioning runs again safely)."""
    from botocore.exceptions import ClientError

    try:
        create()
    except ClientError as error:
        if not _exists(error):
            raise


def _buckets(s3, raw: str, processed: str, region: str, firehose_prefix: str, tls_only: bool) -> None:
    """Raw objects move to cheaper storage as they age; Athena's results and old versions expire."""
    _bucket(s3, raw, region, [
        {"ID": "raw-to-cheaper-storage", "Status": "Enabled", "Filter": {"Prefix": firehose_prefix},
         "Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}, {"Days": 90, "StorageClass": "GLACIER_IR"}],
         "NoncurrentVersionExpiration": {"NoncurrentDays": 30}}], tls_only)
    _bucket(s3, processed, region, [
        {"ID": "athena-results-expire", "Status": "Enabled", "Filter": {"Prefix": "_athena/"},
         "Expiration": {"Days": 7}},
        {"ID": "old-versions-expire", "Status": "Enabled", "Filter": {"Prefix": ""},
         "NoncurrentVersionExpiration": {"NoncurrentDays": 7}}], tls_only)


def _query_layer(glue, athena, names: dict) -> None:
    """The Glue database and the Athena workgroup, its results encrypted and each query cut off at 10 GB."""
    _create_once(lambda: glue.create_database(DatabaseInput={"Name": names["database"],
                                                             "Description": "Clickstream analytics tables"}))
    workgroup = {"ResultConfiguration": {"OutputLocation": names["athena_output"],
                                         "EncryptionConfiguration": {"EncryptionOption": "SSE_S3"}},
                 "EnforceWorkGroupConfiguration": True, "PublishCloudWatchMetricsEnabled": True,
                 "BytesScannedCutoffPerQuery": BYTES_SCANNED_CUTOFF}
    _create_once(lambda: athena.create_work_group(Name=names["workgroup"], Configuration=workgroup))


def deploy(region: str, stack: str = "clickstream", parameters: dict | None = None,
           log: Callable[[str], None] = print) -> str:
    """Create or update the CloudFormation stack of infra/clickstream.yaml on real AWS."""
    from botocore.exceptions import ClientError

    from resources.aws import client

    cfn = client("cloudformation", region)
    params = [{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()]
    body = TEMPLATE.read_text()
    try:
        cfn.create_stack(StackName=stack, TemplateBody=body, Parameters=params, Capabilities=["CAPABILITY_NAMED_IAM"])
        waiter = "stack_create_complete"
    except ClientError as error:
        if not _exists(error):
            raise
        try:
            cfn.update_stack(StackName=stack, TemplateBody=body, Parameters=params,
                             Capabilities=["CAPABILITY_NAMED_IAM"])
        except ClientError as update_error:
            if "No updates are to be performed" in str(update_error):
                log(f"stack {stack} is up to date")
                return stack
            raise
        waiter = "stack_update_complete"
    log(f"waiting for stack {stack} ...")
    cfn.get_waiter(waiter).wait(StackName=stack)
    return stack
