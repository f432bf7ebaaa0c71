"""Delivery loses nothing and doubles nothing: the local Firehose layout and real PutRecordBatch calls on moto."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import textwrap
from datetime import datetime, timezone

import boto3
import numpy as np
import pytest

from resources.faults import FaultyFirehoseClient
from resources.sinks import (
    FIREHOSE_AGGREGATE_RECORD_BYTES,
    FIREHOSE_MAX_RECORDS_PER_CALL,
    DeliveryError,
    FirehoseSink,
    LocalFirehoseSink,
    RecordPacker,
)
from tests.pipeline import arrival_of, raw_objects

T0 = datetime(2026, 11, 2, 10, tzinfo=timezone.utc).timestamp()


def records(n, start=0):
    return [json.dumps({"n": i, "pad": "x" * 50}) for i in range(start, start + n)]


def test_local_sink_buffers_by_seconds_and_never_spans_an_hour(warehouse):
    sink = LocalFirehoseSink(str(warehouse / "raw"), buffer_seconds=300, seed=1)
    for minute in range(0, 90):  # 10:00 .. 11:29, one batch a minute
        sink.send(records(10, minute * 10), now=T0 + minute * 60)
    sink.close()
    objects = raw_objects(warehouse)
    hours = {str(o.parent.relative_to(warehouse / "raw" / "events")) for o in objects}
    assert hours == {"2026/11/02/10", "2026/11/02/11"}
    assert len(objects) == 18  # 90 minutes in 5-minute buffers
    for obj in objects:
        assert obj.name.startswith("clickstream-events-1-2026-11-02-")
        assert f"{arrival_of(str(obj)):%Y/%m/%d/%H}" in str(obj)
    lines = [json.loads(x)["n"] for o in objects for x in o.read_text().splitlines()]
    assert sorted(lines) == list(range(900))
    assert not [p for p in (warehouse / "raw").rglob(".*")]


def test_local_sink_flushes_when_the_buffer_is_full(warehouse):
    sink = LocalFirehoseSink(str(warehouse / "raw"), buffer_bytes=10_000, seed=1)
    for i in range(20):
        sink.send(records(20, i * 20), now=T0 + i)
    sink.close()
    sizes = [o.stat().st_size for o in raw_objects(warehouse)]
    assert len(sizes) >= 3 and max(sizes) < 10_000 + 20 * 80
    assert sink.stats.delivered == 400 and sink.stats.objects == len(sizes)


def test_firehose_billing_rounds_each_record_up_to_5_kb(warehouse):
    sink = LocalFirehoseSink(str(warehouse / "raw"), seed=1)
    sink.send(["x" * 400] * 3, now=T0)  # small events: one 5 KB increment each
    assert sink.stats.billed_bytes == 3 * 5120
    sink.send(["y" * 5119, "z" * 5120, "w" * 12_000], now=T0)  # with the newline: 5120, 5121 and 12,001 bytes
    assert sink.stats.billed_bytes == (3 + 1 + 2 + 3) * 5120
    sink.close()


KILLED_PRODUCER = textwrap.dedent(
    """
    import json, sys
    from resources.sinks import LocalFirehoseSink
    acked = lambda key, count: print(json.dumps([key, count]), flush=True)
    sink = LocalFirehoseSink(sys.argv[1], buffer_bytes=20_000, seed=3, on_object=acked)
    n = 0
    while True:  # runs until killed
        sink.send([json.dumps({"n": n + i, "pad": "y" * 200}) for i in range(50)], now=1793534400.0 + n / 1000)
        n += 50
    """
)


def test_a_producer_killed_mid_buffer_loses_nothing_it_acknowledged(warehouse):
    root = warehouse / "raw"
    proc = subprocess.Popen(
        [sys.executable, "-c", KILLED_PRODUCER, str(root)], stdout=subprocess.PIPE, text=True,
        cwd=os.path.dirname(os.path.dirname(__file__)),
    )
    acked = []
    for line in proc.stdout:
        acked.append(json.loads(line))
        if len(acked) == 40:
            break
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for key, count in acked:
        lines = (root / key).read_text().splitlines()
        assert len(lines) == count
    # Whatever is visible is whole: complete lines of complete JSON, never a half-written object.
    visible = raw_objects(warehouse)
    assert len(visible) >= 40
    numbers = [json.loads(x)["n"] for o in visible for x in o.read_bytes().decode().splitlines()]
    assert sorted(numbers) == list(range(len(numbers)))


# -- Firehose on a real moto server -----------------------------------------------------------------------------


@pytest.fixture
def firehose(moto):
    s3 = boto3.client("s3", endpoint_url=moto)
    s3.create_bucket(Bucket="raw-bucket")
    client = boto3.client("firehose", endpoint_url=moto)
    client.create_delivery_stream(
        DeliveryStreamName="clickstream-events",
        DeliveryStreamType="DirectPut",
        ExtendedS3DestinationConfiguration={
            "RoleARN": "arn:aws:iam::123456789012:role/firehose",
            "BucketARN": "arn:aws:s3:::raw-bucket",
            "Prefix": "events/",
            "BufferingHints": {"SizeInMBs": 5, "IntervalInSeconds": 300},
        },
    )
    return client, s3


def delivered_lines(s3) -> list[str]:
    lines = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket="raw-bucket"):
        for obj in page.get("Contents", []):
            assert obj["Key"].startswith("events/")
            body = s3.get_object(Bucket="raw-bucket", Key=obj["Key"])["Body"].read().decode()
            assert body.endswith("\n")
            lines.extend(body[:-1].split("\n"))
    return lines


def test_ten_thousand_events_land_once_each_in_the_fewest_calls(firehose):
    client, s3 = firehose
    sink = FirehoseSink(client, "clickstream-events")
    sent = records(10_000)
    sink.send(sent)
    sink.close()
    assert sink.stats.calls == math.ceil(10_000 / FIREHOSE_MAX_RECORDS_PER_CALL) == 20
    lines = delivered_lines(s3)
    assert sorted(lines) == sorted(sent) and len(set(lines)) == 10_000


@pytest.mark.parametrize("failure_rate", [0.1, 0.5])
def test_partial_failures_and_throttling_are_retried_exactly(firehose, failure_rate):
    client, s3 = firehose
    faulty = FaultyFirehoseClient(client, record_failure_rate=failure_rate, throttle_rate=0.2, seed=11)
    sink = FirehoseSink(faulty, "clickstream-events", max_attempts=20, sleep=lambda s: None, seed=1)
    sent = records(3_000)
    sink.send(sent)
    sink.close()
    lines = delivered_lines(s3)
    assert len(lines) == len(set(lines)) == 3_000 and set(lines) == set(sent)
    assert sink.stats.delivered == 3_000 and sink.stats.failed == 0
    assert sink.stats.retried >= faulty.failed_records > 0
    assert faulty.throttled_calls > 0


def test_when_the_retry_bound_is_hit_the_error_says_how_many_were_lost(firehose):
    client, s3 = firehose
    delays = []
    faulty = FaultyFirehoseClient(client, record_failure_rate=1.0)
    sink = FirehoseSink(faulty, "clickstream-events", max_attempts=4, sleep=delays.append, base_delay=0.1)
    sink.send(records(200))
    with pytest.raises(DeliveryError, match=r"200 records not delivered .* after 4 attempts") as error:
        sink.close()
    assert error.value.undelivered == 200 and sink.stats.failed == 200
    assert sink.stats.calls == 4 and len(delays) == 3 and max(delays) <= 0.8  # bounded backoff with jitter
    assert delivered_lines(s3) == []


def test_a_record_over_the_size_limit_is_refused_loudly(firehose):
    client, _ = firehose
    sink = FirehoseSink(client, "clickstream-events")
    sink.send(["x" * (1000 * 1024 + 1), "{}"])
    with pytest.raises(DeliveryError, match="over Firehose's 1000 KiB record limit"):
        sink.close()
    assert sink.stats.delivered == 1


def test_a_hundred_thousand_records_land_whole_and_once(warehouse):
    # The buffer math at volume (benchmarks print the speed): every record lands once, as one line.
    sink = LocalFirehoseSink(str(warehouse / "raw"), seed=2)
    for i in range(100):
        sink.send(records(1000, i * 1000), now=T0 + i * 10)
    sink.close()
    landed = [line for p in (warehouse / "raw").rglob("*") if p.is_file() and not p.name.startswith(".")
              for line in p.read_bytes().splitlines()]
    assert sink.stats.delivered == 100_000
    assert len(landed) == 100_000 and len(set(landed)) == 100_000


# -- Aggregation: many events per Firehose record -----------------------------------------------------------------


def test_records_pack_whole_lines_and_carry_the_open_one_across_batches():
    packer = RecordPacker(1000)
    assert packer.pack(np.array([400, 400, 400])) == [(2, 800)] and packer.open_bytes == 400
    # The carried 400 bytes and 700 do not fit: that record closes; a line over the limit travels alone.
    assert packer.pack(np.array([700, 2500, 100])) == [(0, 400), (1, 700), (2, 2500)]
    assert packer.close() == 100 and packer.close() == 0


class RecordingClient:
    """Forwards to a real client and keeps the size of every record it was asked to put."""

    def __init__(self, client):
        self.client, self.sizes = client, []

    def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803 (boto3's names)
        self.sizes.extend(len(r["Data"]) for r in Records)
        return self.client.put_record_batch(DeliveryStreamName=DeliveryStreamName, Records=Records)


def test_aggregated_records_land_every_event_once_and_bill_a_tenth(firehose):
    client, s3 = firehose
    recording = RecordingClient(client)
    faulty = FaultyFirehoseClient(recording, record_failure_rate=0.3, throttle_rate=0.1, seed=5)
    sink = FirehoseSink(faulty, "clickstream-events", aggregate=True, max_attempts=30, sleep=lambda s: None, seed=2)
    sent = [json.dumps({"n": i, "pad": "x" * 380}) for i in range(5_000)]  # ~400-byte events, as ours
    for at in range(0, len(sent), 700):
        sink.send(sent[at : at + 700])
    sink.close()
    lines = delivered_lines(s3)
    assert len(lines) == 5_000 and sorted(lines) == sorted(sent)  # failed records were retried whole, once
    assert sink.stats.delivered == 5_000 and sink.stats.failed == 0 and faulty.failed_records > 0
    total = sum(len(s) + 1 for s in sent)
    # Full records: each leaves less than one line of its limit unused.
    limit = FIREHOSE_AGGREGATE_RECORD_BYTES
    assert math.ceil(total / limit) <= sink.stats.records <= math.ceil(total / (limit - 400))
    assert max(recording.sizes) <= FIREHOSE_AGGREGATE_RECORD_BYTES
    assert sink.stats.billed_bytes_unaggregated == 5_000 * 5120
    assert sink.stats.billed_bytes * 10 <= sink.stats.billed_bytes_unaggregated


def test_the_local_sink_reports_the_bill_both_ways(warehouse):
    sink = LocalFirehoseSink(str(warehouse / "raw"), seed=1, aggregate=True)
    sink.send(["x" * 399] * 3, now=T0)
    sink.close()
    assert sink.stats.records == 1 and sink.stats.billed_bytes == 5120  # one 1,200-byte record
    assert sink.stats.billed_bytes_unaggregated == 3 * 5120


@pytest.mark.parametrize("sizes", [[0], [1], [4096], [4095, 1], [3, 10_000, 4093], [5 * 1024 * 1024 + 17, 2 * 4096]])
def test_stream_writer_lands_exactly_the_bytes_sent_direct_or_through_the_page_cache(tmp_path, sizes):
    """Whole 4 KB blocks go direct, the rest through the page cache: every split lands the same bytes, and a
    buffer grown for a large object still writes a small one right."""
    from resources.files import StreamWriter

    rng = np.random.default_rng(len(sizes))
    parts = [rng.integers(0, 256, n, dtype=np.uint8).tobytes() for n in sizes]
    for direct in (True, False):
        writer = StreamWriter(direct=direct)
        for name, chunks in (("big", parts), ("small", [b"after a big one\n"])):
            path = tmp_path / f"{direct}-{name}"
            assert writer.write(str(path), [memoryview(c) for c in chunks]) == sum(map(len, chunks))
            assert path.read_bytes() == b"".join(chunks)


def test_stream_writer_falls_back_when_the_file_system_refuses_direct_io(tmp_path, monkeypatch):
    import errno

    from resources.files import StreamWriter

    real_open = os.open

    def refuse_direct(path, flags, *args):
        if flags & getattr(os, "O_DIRECT", 0):
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(os, "open", refuse_direct)
    writer = StreamWriter()
    for n in range(2):
        assert writer.write(str(tmp_path / f"o{n}"), [b"x" * 5000, b"y\n"]) == 5002
        assert (tmp_path / f"o{n}").read_bytes() == b"x" * 5000 + b"y\n"
    assert not writer.direct  # refused once, not tried for every object


def test_local_sink_objects_are_the_same_bytes_written_direct_or_buffered(tmp_path):
    objects = {}
    for direct in (True, False):
        root = tmp_path / f"direct-{direct}"
        sink = LocalFirehoseSink(str(root), buffer_bytes=8_000, seed=4)
        sink._files.direct = direct
        for i in range(40):
            sink.send(records(37, i * 37), now=T0 + i * 30)
        sink.close()
        objects[direct] = {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}
        assert sink.stats.delivered == 40 * 37
    assert objects[True] == objects[False] and len(objects[True]) > 10
    assert sorted(json.loads(x)["n"] for b in objects[True].values() for x in b.splitlines()) == list(range(1480))
