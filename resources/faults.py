"""A fault-injecting wrapper around a Firehose client: emulators never fail, real Firehose does.

Used by tests and benchmarks to prove that retries lose nothing and double nothing.
"""

from __future__ import annotations

import random

from botocore.exceptions import ClientError


class FaultyFirehoseClient:
    """Forwards ``put_record_batch`` to a real client, failing some records or whole calls on purpose.

    - ``record_failure_rate``: each record fails alone (not forwarded; ``ErrorCode`` in its response slot and
      ``FailedPutCount`` set), as Firehose does under partial failure;
    - ``throttle_rate``: the whole call raises ``ServiceUnavailableException`` before anything is delivered.
    """

    def __init__(self, client, record_failure_rate: float = 0.0, throttle_rate: float = 0.0, seed: int = 0):
        self.client = client
        self.record_failure_rate = record_failure_rate
        self.throttle_rate = throttle_rate
        self.rng = random.Random(seed)
        self.calls = 0
        self.failed_records = 0
        self.throttled_calls = 0

    def put_record_batch(self, DeliveryStreamName: str, Records: list[dict]):  # noqa: N803 (boto3's names)
        self.calls += 1
        if self.throttle_rate and self.rng.random() < self.throttle_rate:
            self.throttled_calls += 1
            raise ClientError(
                {"Error": {"Code": "ServiceUnavailableException", "Message": "Slow down (injected)"}},
                "PutRecordBatch",
            )
        failed = [self.rng.random() < self.record_failure_rate for _ in Records]
        passing = [r for r, f in zip(Records, failed) if not f]
        if passing:
            response = self.client.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=passing)
            ids = iter(response["RequestResponses"])
        else:
            ids = iter(())
        self.failed_records += sum(failed)
        return {
            "FailedPutCount": sum(failed),
            "Encrypted": False,
            "RequestResponses": [
                {"ErrorCode": "ServiceUnavailableException", "ErrorMessage": "injected"} if f else next(ids)
                for f in failed
            ],
        }

    def __getattr__(self, name):
        return getattr(self.client, name)
