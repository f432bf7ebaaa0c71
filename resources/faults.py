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

    def __init__(self, client, record_failure_rate: float = 0.0, throttle_rate: float = 0.0, seed: int = 0,
                 ghost_rate: float = 0.0):
        self.client = client
        self.record_failure_rate = record_failure_rate
        self.throttle_rate = throttle_rate
        # A "ghost" failure: the records were delivered but the answer says they failed (a timeout after the
        # write), so they are sent again and land twice. Only event_id dedupe can undo that.
        self.ghost_rate = ghost_rate
        self.ghost_records = 0
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
        ghosts = [not f and self.ghost_rate and self.rng.random() < self.ghost_rate for f in failed]
        passing = [r for r, f in zip(Records, failed) if not f]
        if any(ghosts):
            self.ghost_records += sum(ghosts)
            failed = [f or g for f, g in zip(failed, ghosts)]
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
