"""What the aws profile asks of Athena, counted from the Athena test engine's query log (tests/athena_server.py).

A moto server and the test engine run on 127.0.0.1; 30 days of simulated events go through Firehose into S3, then
the pipeline's own steps run on the aws profile's default engine: sealing, clean events, every model, first as a
30-day backfill, then as one more day. Each step's statements and bytes scanned are read from the log, so the
figures are the engine's, not a guess. Bytes are whole Parquet files (the test engine reads every column); real
Athena reads only the columns a query names, so its bill is lower.
"""

from __future__ import annotations

import os
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone


@dataclass
class StepLog:
    step: str
    scope: str
    statements: int
    unloads: int
    bytes_scanned: int


@contextmanager
def _aws_twin():
    """moto and the Athena test engine, and the aws profile's environment pointed at them."""
    import logging

    from moto.server import ThreadedMotoServer

    from tests.athena_http import AthenaServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # moto logs every request

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    moto = f"http://{host}:{port}"
    saved = dict(os.environ)
    os.environ.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY="testing", AWS_DEFAULT_REGION="us-east-1",
                      AWS_REGION="us-east-1", AWS_ENDPOINT_URL=moto, CLICKSTREAM_AWS_ACCOUNT_ID="123456789012")
    os.environ.pop("CLICKSTREAM_ENGINE", None)
    try:
        with AthenaServer(moto) as athena:
            os.environ["AWS_ENDPOINT_URL_ATHENA"] = athena.url
            yield moto, athena.twin
    finally:
        os.environ.clear()
        os.environ.update(saved)
        server.stop()


def measure(days: int = 30, events_per_day: int = 2_000) -> tuple[int, list[StepLog]]:
    import boto3

    from clickstream_assets.defs.processed.events import build_days
    from clickstream_assets.defs.processed.models import MODELS
    from clickstream_assets.partitions import hour_of
    from clickstream_assets.producer.runner import produce_historical
    from clickstream_assets.sealing import seal_hours
    from clickstream_assets.settings import PipelineSettings
    from resources.profile import aws_names, build_resources
    from resources.provision import provision
    from resources.sinks import FirehoseSink

    logs: list[StepLog] = []
    with _aws_twin() as (moto, twin):
        names = aws_names()
        provision(names, "us-east-1", moto, log=lambda _: None)
        today = datetime.now(timezone.utc).date()
        start = today - timedelta(days=days)
        firehose = boto3.client("firehose", endpoint_url=moto)
        sent = produce_historical(FirehoseSink(firehose, names["stream"]), start, days, events_per_day, seed=3)
        resources = build_resources("aws")
        storage, engine = resources["storage"], resources["engine"]
        settings = PipelineSettings()
        all_days = [(start + timedelta(days=d)).isoformat() for d in range(days)]

        def step(name: str, scope: str, work) -> None:
            twin.log.clear()
            work()
            logs.append(StepLog(name, scope, len(twin.log), sum(e.unload for e in twin.log),
                                sum(e.bytes_scanned for e in twin.log)))

        now = datetime.now(timezone.utc)
        hours = [hour_of(now - timedelta(hours=h)) for h in (1, 0)]
        step("sealing", f"{days} days of events", lambda: seal_hours(storage, engine, hours, start.isoformat()))
        for scope, window in ((f"{days}-day backfill", all_days), ("one day", all_days[-1:])):
            step("clean events + quarantine", scope, lambda w=window: build_days(storage, engine, settings, w))
            for model in MODELS:
                window_days = window if model.partitioned else []
                params = {"first_day": window[0], "last_day": window[-1]} if window_days else {}
                params.update(settings.page_params())
                step(model.name, scope + ("" if model.partitioned else " (whole table)"),
                     lambda m=model, p=params, w=window_days: engine.materialize(m.sql_file, p, m.name, w))
    return sent.produced, logs


def render(produced: int, logs: list[StepLog]) -> str:
    rows = "\n".join(f"| {s.step} | {s.scope} | {s.statements} | {s.unloads} | {s.bytes_scanned:,} |" for s in logs)
    return f"""| step | scope | Athena statements | of which UNLOAD | bytes scanned |
|---|---|---|---|---|
{rows}

({produced:,} events over the days, measured by `python -m benchmarks.athena_log`.)"""


if __name__ == "__main__":
    print(render(*measure()))
