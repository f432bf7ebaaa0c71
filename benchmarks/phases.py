"""One benchmark phase per process, so its peak RSS is its own. Prints one JSON object."""

from __future__ import annotations

import argparse
import json
import resource
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

DAY = date(2026, 11, 2)
NOW = datetime(2026, 11, 25, tzinfo=timezone.utc)


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def produce(warehouse: Path, events: int, days: int, malformed_rate: float = 0.0) -> dict:
    from clickstream_assets.producer.runner import produce_historical
    from clickstream_assets.producer.simulator import Mess
    from resources.sinks import LocalFirehoseSink

    sink = LocalFirehoseSink(str(warehouse / "raw"), seed=1)
    cpu = time.process_time()
    mess = Mess(malformed_rate=malformed_rate) if malformed_rate else None
    summary = produce_historical(sink, DAY, days, events // days, seed=1, now=NOW, mess=mess)
    return {"events": summary.produced, "seconds": summary.seconds, "events_per_s": summary.events_per_second,
            **_cpu(summary, time.process_time() - cpu), "objects": summary.objects, "raw_bytes": summary.bytes}


def _cpu(summary, cpu_seconds: float) -> dict:
    """CPU seconds of every thread (producer and disk writers) beside the wall clock: on a shared machine the
    process may get only part of its core, and events per CPU second is what one whole core would do."""
    return {"cpu_seconds": round(cpu_seconds, 3), "events_per_cpu_s": round(summary.produced / cpu_seconds, 1),
            "share_of_core": round(cpu_seconds / summary.seconds, 2) if summary.seconds else None}


def produce_discard(events: int, days: int) -> dict:
    """The producer alone: the same lines, handed to a sink that drops them (no disk, no fsync)."""
    from clickstream_assets.producer.runner import produce_historical
    from resources.sinks import DeliveryStats, Sink

    class Discard(Sink):
        def __init__(self):
            self.stats = DeliveryStats()

        def send_lines(self, parts, lengths, now=None):
            self.stats.delivered += len(lengths)
            self.stats.bytes += sum(len(p) for p in parts)

        def flush(self):
            pass

    cpu = time.process_time()
    summary = produce_historical(Discard(), DAY, days, events // days, seed=1, now=NOW)
    return {"events": summary.produced, "seconds": summary.seconds, "events_per_s": summary.events_per_second,
            **_cpu(summary, time.process_time() - cpu), "bytes": summary.bytes}


def firehose(events: int, aggregate: bool = True) -> dict:
    """PutRecordBatch calls for a stream of real events, through a client that only counts (no network)."""
    from clickstream_assets.producer.runner import produce_historical
    from resources.sinks import FIREHOSE_MAX_RECORDS_PER_CALL, FirehoseSink

    class CountingClient:
        calls: list[int] = []
        sizes: list[int] = []

        def put_record_batch(self, DeliveryStreamName, Records):  # noqa: N803
            self.calls.append(len(Records))
            self.sizes.append(sum(len(r["Data"]) for r in Records))
            return {"FailedPutCount": 0, "RequestResponses": [{"RecordId": "x"}] * len(Records)}

    client = CountingClient()
    sink = FirehoseSink(client, "bench", aggregate=aggregate)
    summary = produce_historical(sink, DAY, 1, events, seed=1, now=NOW)
    records = sum(client.calls)
    full = sum(1 for c in client.calls if c == FIREHOSE_MAX_RECORDS_PER_CALL)
    return {"events": events, "aggregate": aggregate, "records": records, "calls": len(client.calls),
            "mean_records_per_call": records / len(client.calls),
            "full_calls_of_500": full, "max_call_bytes": max(client.sizes),
            "billed_bytes": summary.firehose_billed_bytes, "cost_usd": summary.firehose_cost_usd,
            "billed_bytes_one_record_per_event": summary.firehose_billed_bytes_unaggregated,
            "cost_usd_one_record_per_event": summary.firehose_cost_usd_unaggregated}


def _resources(warehouse: Path):
    from resources.profile import build_resources

    return build_resources("local", warehouse)


def load_settings():
    from clickstream_assets.settings import load_settings

    return load_settings()


def clean(warehouse: Path, days: int) -> dict:
    from clickstream_assets.defs.processed.events import build_days
    from clickstream_assets.partitions import hour_of
    from clickstream_assets.sealing import seal_hours

    res = _resources(warehouse)

    settings = load_settings()
    hours = [hour_of(datetime(DAY.year, DAY.month, DAY.day) + timedelta(hours=h))
             for h in range(24 * days + 6)]
    day_keys = [(DAY + timedelta(days=d)).isoformat() for d in range(days)]
    started, cpu, usage = time.perf_counter(), time.process_time(), resource.getrusage(resource.RUSAGE_SELF)
    sealed = seal_hours(res["storage"], res["engine"], hours, "2026-11-01")
    sealed_at = time.perf_counter()
    built = build_days(res["storage"], res["engine"], settings, day_keys)
    finished, cpu = time.perf_counter(), time.process_time() - cpu
    used = resource.getrusage(resource.RUSAGE_SELF)
    records = sum(m.records for m in sealed.manifests)
    # CPU seconds of all threads beside the wall clock: on a shared machine the wall clock also counts the others.
    return {"records": records, "clean_rows": built.clean.rows, "seal_seconds": sealed_at - started,
            "clean_seconds": finished - sealed_at, "total_seconds": finished - started, "cpu_seconds": cpu,
            # The kernel's share: mostly zeroing the fresh pages that engine, Arrow and sort buffers first touch.
            "kernel_cpu_seconds": used.ru_stime - usage.ru_stime, "page_faults": used.ru_minflt - usage.ru_minflt,
            "events_per_s": records / (finished - started), "raw_json_bytes": sum(m.bytes for m in sealed.manifests),
            "staged_bytes": sealed.staged_bytes, "clean_parquet_bytes": built.clean.bytes,
            "reconciles": all(d.reconciles for d in built.ledgers)}


def seal_read(warehouse: Path, days: int) -> dict:
    """The seal's first step alone: the days' raw objects read and split into the chunks of lines the engine is
    handed, one chunk at a time as a seal reads them, with the kernel's share of the CPU (zeroing fresh pages)."""
    from clickstream_assets.partitions import hour_of
    from clickstream_assets.sealing import _chunks, _read_chunk, list_hours

    storage = _resources(warehouse)["storage"]
    hours = [hour_of(datetime(DAY.year, DAY.month, DAY.day) + timedelta(hours=h)) for h in range(24 * days + 6)]
    listing = list_hours(storage, hours)
    started, usage, lines = time.perf_counter(), resource.getrusage(resource.RUSAGE_SELF), 0
    for chunk in _chunks(listing):
        lines += _read_chunk(storage, listing, chunk).lines.num_rows
    seconds, used = time.perf_counter() - started, resource.getrusage(resource.RUSAGE_SELF)
    cpu = used.ru_utime - usage.ru_utime + used.ru_stime - usage.ru_stime
    return {"lines": lines, "seconds": seconds, "cpu_seconds": cpu, "kernel_cpu_seconds": used.ru_stime - usage.ru_stime,
            "page_faults": used.ru_minflt - usage.ru_minflt}


def classify_strangers(events: int) -> dict:
    """The seal's classification alone (sql/transform/stage_raw.sql on the local engine), over another tracker's
    lines in memory: the original project's 11 fields written by json.dumps, off the fast path for our own shape."""
    import pyarrow as pa

    from clickstream_assets.sealing import split_lines
    from tests.strangers import stranger_events

    sent = stranger_events(DAY, 1, max(1, events * 2 // 7), seed=3)  # ~3.5 events a session
    key = "events/2026/11/02/23/clickstream-events-1-2026-11-02-23-59-00-0a0b0c0d-1111-4222-8333-444455556666"
    batch, _ = split_lines(key, "2026-11-02-23", b"\n".join(sent.lines) + b"\n")
    lines = pa.Table.from_batches(pa.Table.from_batches([batch]).to_batches(max_chunksize=32_768))
    params = {"calendar_start": "2026-11-01", "max_event_age_days": 30}
    with tempfile.TemporaryDirectory(prefix="classify-") as warehouse:
        engine = _resources(Path(warehouse))["engine"]
        engine.query("transform/stage_raw.sql", params, inputs={"raw_lines": lines.slice(0, 1000)})  # transpiled once
        started, cpu = time.perf_counter(), time.process_time()
        staged, _ = engine.query("transform/stage_raw.sql", params, inputs={"raw_lines": lines})
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
    return {"lines": lines.num_rows, "valid": staged.column("reason").null_count, "seconds": seconds,
            "cpu_seconds": cpu, "lines_per_cpu_s": lines.num_rows / cpu}


def copy_reference(warehouse: Path) -> dict:
    """The reference for raw -> clean: a plain DuckDB ``read_json`` of the same raw objects into zstd Parquet, with
    no classification, provenance, dedup or manifests, on the same threads our engine gets."""
    import duckdb

    con = duckdb.connect(config={"threads": 2})
    files = str(warehouse / "raw" / "events" / "**" / "*")
    with tempfile.TemporaryDirectory() as out:
        started, cpu = time.perf_counter(), time.process_time()
        con.execute(f"COPY (SELECT * FROM read_json('{files}', format = 'newline_delimited')) "
                    f"TO '{out}/events.parquet' (FORMAT parquet, COMPRESSION zstd)")
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu
        rows = con.execute(f"SELECT count(*) FROM '{out}/events.parquet'").fetchone()[0]
    return {"rows": rows, "seconds": seconds, "cpu_seconds": cpu, "events_per_s": rows / seconds}


def models(warehouse: Path, days: int) -> dict:
    from clickstream_assets.defs.glue.tables import register
    from clickstream_assets.defs.processed.models import MODELS

    res = _resources(warehouse)

    settings = load_settings()
    engine, catalog, storage = res["engine"], res["catalog"], res["storage"]
    day_keys = [(DAY + timedelta(days=d)).isoformat() for d in range(days)]
    register(catalog, storage, ["events"], day_keys)
    started, cpu = time.perf_counter(), time.process_time()
    per_model, per_model_cpu = {}, {}
    for model in MODELS:
        t, c = time.perf_counter(), time.process_time()
        params = {"first_day": day_keys[0], "last_day": day_keys[-1]} if model.partitioned else {}
        params.update(settings.page_params())
        engine.materialize(model.sql_file, params, model.name, day_keys if model.partitioned else [])
        register(catalog, storage, [model.name], day_keys if model.partitioned else [])
        per_model[model.name] = round(time.perf_counter() - t, 2)
        per_model_cpu[model.name] = round(time.process_time() - c, 2)
    seconds, cpu_seconds = time.perf_counter() - started, time.process_time() - cpu
    events = sum(r for r in [__import__("pyarrow.parquet").parquet.read_metadata(
        storage.resolve(f"{engine.table_def('events').partition_location(d)}/part-0.parquet")).num_rows
        for d in day_keys])
    import json as _json

    definition = _json.loads((Path(__file__).parent.parent / "clickstream_assets" / "defs" / "quicksight"
                              / "dashboard.json").read_text())
    dashboard_bytes = 0
    for dataset in definition["datasets"]:
        if set(dataset["tables"]) <= {m.name for m in MODELS}:
            dashboard_bytes += engine.query(dataset["query"], {})[1].bytes_scanned
    raw_bytes = sum(o.size for o in storage.list("raw", "events/"))
    # CPU seconds of every thread beside the wall clock: on a shared machine the wall clock also counts the others.
    return {"events": events, "seconds": seconds, "events_per_s": events / seconds, "per_model_seconds": per_model,
            "cpu_seconds": round(cpu_seconds, 2), "per_model_cpu_seconds": per_model_cpu,
            "dashboard_bytes_from_models": dashboard_bytes, "same_questions_from_raw_json_bytes": raw_bytes,
            "bytes_ratio": raw_bytes / max(1, dashboard_bytes)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("phase", choices=["produce", "produce-discard", "firehose", "firehose-plain", "clean",
                                          "seal-read", "classify-strangers", "copy-reference",
                                          "models"])
    parser.add_argument("--warehouse", type=Path)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--days", type=int, default=1)
    # Lines broken as real streams break them (cut short, wrong types, missing fields), quarantined by the seal.
    parser.add_argument("--malformed-rate", type=float, default=0.0)
    args = parser.parse_args()
    if args.phase == "produce":
        result = produce(args.warehouse, args.events, args.days, args.malformed_rate)
    elif args.phase == "produce-discard":
        result = produce_discard(args.events, args.days)
    elif args.phase in ("firehose", "firehose-plain"):
        result = firehose(args.events, aggregate=args.phase == "firehose")
    elif args.phase == "clean":
        result = clean(args.warehouse, args.days)
    elif args.phase == "seal-read":
        result = seal_read(args.warehouse, args.days)
    elif args.phase == "classify-strangers":
        result = classify_strangers(args.events)
    elif args.phase == "copy-reference":
        result = copy_reference(args.warehouse)
    else:
        result = models(args.warehouse, args.days)
    result["peak_rss_mb"] = round(peak_rss_mb(), 1)
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
