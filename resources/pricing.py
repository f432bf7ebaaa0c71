"""AWS list prices the cost figures use (us-east-1), one place each; override through the environment."""

from __future__ import annotations

import math
import os

ATHENA_USD_PER_TB = float(os.environ.get("CLICKSTREAM_ATHENA_USD_PER_TB", "5.0"))
ATHENA_MIN_BYTES_PER_QUERY = 10 * 1024**2  # Athena bills at least 10 MB a query
FIREHOSE_USD_PER_GB = float(os.environ.get("CLICKSTREAM_FIREHOSE_USD_PER_GB", "0.029"))
FIREHOSE_RECORD_INCREMENT = 5 * 1024  # each record is billed rounded up to 5 KB
S3_USD_PER_GB_MONTH = float(os.environ.get("CLICKSTREAM_S3_USD_PER_GB_MONTH", "0.023"))


def athena_cost(bytes_scanned: int, queries: int = 1) -> float:
    billed = max(bytes_scanned, ATHENA_MIN_BYTES_PER_QUERY * queries)
    return billed / 1024**4 * ATHENA_USD_PER_TB


def firehose_billed_bytes(record_bytes: int) -> int:
    return max(1, math.ceil(record_bytes / FIREHOSE_RECORD_INCREMENT)) * FIREHOSE_RECORD_INCREMENT


def firehose_cost(billed_bytes: int) -> float:
    return billed_bytes / 1024**3 * FIREHOSE_USD_PER_GB


def s3_month_cost(stored_bytes: int) -> float:
    return stored_bytes / 1024**3 * S3_USD_PER_GB_MONTH
