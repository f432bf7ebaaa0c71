"""boto3 clients from the standard chain (AWS_PROFILE, AWS_REGION, credentials), with an optional emulator endpoint."""

from __future__ import annotations

import os


def region(explicit: str | None = None) -> str:
    return explicit or os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


def endpoint_url(explicit: str | None = None) -> str | None:
    return explicit or os.environ.get("AWS_ENDPOINT_URL") or None


def client(service: str, region_name: str | None = None, endpoint: str | None = None, retries: int | None = None):
    """A boto3 client. ``retries=1`` turns botocore's own retries off where we retry precisely ourselves."""
    import boto3
    from botocore.config import Config

    config = Config(retries={"total_max_attempts": retries, "mode": "standard"}) if retries else None
    return boto3.session.Session().client(
        service, region_name=region(region_name), endpoint_url=endpoint_url(endpoint), config=config
    )
