"""``clickstream``: produce and ingest events, run the demo. Errors are one line and a non-zero exit."""

from __future__ import annotations

import json
import os
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

from clickstream_assets.cli.parser import EXIT_USAGE, CliError, build_parser
from resources.profile import warehouse_path


def _sink(args, warehouse: Path, seed: int | None):
    if args.profile == "aws":
        from resources.aws import client
        from resources.sinks import FirehoseSink

        return FirehoseSink(
            client("firehose", args.region, args.endpoint_url, retries=1), args.stream_name, seed=seed,
            aggregate=getattr(args, "aggregate", False),
        )
    from resources.profile import raw_prefix
    from resources.sinks import LocalFirehoseSink

    return LocalFirehoseSink(str(warehouse / "raw"), stream_name=args.stream_name, seed=seed, prefix=raw_prefix(),
                             aggregate=getattr(args, "aggregate", False))


class _ProgressBar:
    def __init__(self, enabled: bool):
        self.enabled = enabled
        self.last = 0.0

    def __call__(self, done: int, total: int) -> None:
        now = time.monotonic()
        if not self.enabled or (now - self.last < 0.2 and done < total):
            return
        self.last = now
        width = 30
        filled = int(width * done / total) if total else width
        sys.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,} events")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _record_run(warehouse: Path, summary: dict) -> None:
    """Keep every producer run's summary beside the data: the completeness ledger reads them."""
    from clickstream_assets.ledger import record_producer_run
    from resources.storage import LocalStorage

    record_producer_run(LocalStorage(warehouse=str(warehouse)), summary)


def _print_producer_summary(summary: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps({k: v for k, v in summary.items() if k != "acknowledged"}))
        return
    malformed = summary.get("injected_malformed") or {}
    rows = [
        ("produced", f"{summary['produced']:,} events in {summary['sessions']:,} sessions"),
        ("records sent", f"{summary['records_sent']:,}"),
        ("delivered", f"{summary['delivered']:,}"),
        ("failed", f"{summary['failed']:,}"),
        ("retried", f"{summary['retried']:,} records ({summary['throttled_calls']:,} throttled calls)"),
        ("injected", f"{summary['injected_duplicates']:,} duplicates, {sum(malformed.values()):,} malformed "
         f"({', '.join(f'{k} {v}' for k, v in malformed.items() if v) or 'none'}), "
         f"{summary['injected_late']:,} late, {summary['injected_future']:,} future"),
        ("written", f"{summary['api_calls']:,} API calls / {summary['objects']:,} objects, {summary['bytes']:,} bytes"),
        ("firehose", f"{summary.get('firehose_records', 0):,} records, "
         f"{summary.get('firehose_billed_bytes', 0):,} bytes billed (${summary.get('firehose_cost_usd', 0):.4f}); "
         f"one record per event: {summary.get('firehose_billed_bytes_unaggregated', 0):,} bytes "
         f"(${summary.get('firehose_cost_usd_unaggregated', 0):.4f})"),
        ("time", f"{summary['seconds']:.2f} s, {summary['events_per_second']:,.0f} events/s"),
    ]
    if summary.get("first_event"):
        rows.append(("events span", f"{summary['first_event']} .. {summary['last_event']}"))
    for name, value in rows:
        print(f"{name:>13}: {value}")
    if summary.get("error"):
        print(f"{'error':>13}: {summary['error']}")


def cmd_produce(args) -> int:
    from clickstream_assets.producer.runner import produce_historical, produce_live
    from clickstream_assets.producer.simulator import Behaviour, Mess

    live = args.rate is not None or args.duration is not None
    historical = args.start is not None or args.days is not None or args.events_per_day is not None
    if live and historical:
        raise CliError("choose live mode (--rate, --duration) or historical mode (--start, --days, --events-per-day)")
    if live and (args.rate is None or args.duration is None):
        raise CliError("live mode needs both --rate and --duration")
    warehouse = warehouse_path(args.warehouse)
    mess = Mess(args.duplicate_rate, args.malformed_rate, args.late_rate, args.future_rate)
    progress = _ProgressBar(sys.stderr.isatty() and not args.json)
    sink = _sink(args, warehouse, seed=args.seed if not live else None)
    if live:
        summary = produce_live(
            sink, args.rate, args.duration, seed=args.seed, seed_offset=args.seed_offset, users=args.users,
            products=args.products, mess=mess, progress=progress, behaviour=Behaviour(currency=args.currency),
        )
    else:
        days = args.days or 1
        start = args.start or (datetime.now(timezone.utc).date() - timedelta(days=days))
        summary = produce_historical(
            sink, start, days, args.events_per_day or 10_000, seed=args.seed, users=args.users,
            products=args.products, mess=mess, progress=progress, behaviour=Behaviour(currency=args.currency),
        )
    result = summary.as_dict()
    result.update(profile=args.profile, stream_name=args.stream_name)
    if args.profile == "local":
        _record_run(warehouse, result)
    _print_producer_summary(result, args.json)
    return 1 if summary.error else 0


def cmd_ingest(args) -> int:
    warehouse = warehouse_path(args.warehouse)
    for name in args.files:
        if name != "-" and not Path(name).is_file():
            raise CliError(f"{name}: no such file")
    if not args.via_stream:
        return _ingest_history(args, warehouse)
    from clickstream_assets.producer.runner import ingest

    def lines():
        for name in args.files:
            if name == "-":
                yield from sys.stdin
            else:
                with open(name, encoding="utf-8", errors="surrogateescape") as handle:
                    yield from handle

    summary = ingest(_sink(args, warehouse, seed=None), lines()).as_dict()
    summary.update(profile=args.profile, stream_name=args.stream_name, sessions=0)
    if args.profile == "local":
        _record_run(warehouse, summary)
    _print_producer_summary(summary, args.json)
    return 1 if summary.get("error") else 0


def _ingest_history(args, warehouse: Path) -> int:
    from clickstream_assets.history import import_history, read_lines
    from clickstream_assets.partitions import calendar_start, extend_calendar
    from resources.profile import build_resources

    if args.endpoint_url:
        os.environ["AWS_ENDPOINT_URL"] = args.endpoint_url
    if args.region:
        os.environ["AWS_REGION"] = args.region
    os.environ["CLICKSTREAM_HOME"] = str(warehouse)
    storage = build_resources(args.profile, warehouse)["storage"]
    summary = import_history(storage, read_lines(args.files), args.stream_name)
    result = summary.as_dict()
    result.update(profile=args.profile, stream_name=args.stream_name)
    if args.profile == "local":
        _record_run(warehouse, result)
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "acknowledged"}))
        return 0
    print(f"{'imported':>13}: {summary.lines:,} lines into {summary.objects:,} objects ({summary.bytes:,} bytes) "
          f"in {summary.seconds:.2f} s")
    if summary.untimed_lines:
        print(f"{'untimed':>13}: {summary.untimed_lines:,} lines without a readable timestamp, placed beside their "
              "neighbours: sealing quarantines them with a reason")
    days = summary.days
    if days:
        first, last = days
        print(f"{'events span':>13}: {first} .. {last} (UTC), landed in their own arrival hours")
        if extend_calendar(first):
            print(f"{'calendar':>13}: now starts {first} (recorded in the warehouse)")
        if first.isoformat() < calendar_start():
            print(f"{'calendar':>13}: starts {calendar_start()}: set CLICKSTREAM_START_DATE={first} to keep the "
                  "earlier days")
        print(f"{'next':>13}: clickstream backfill --start {first} --end {last}")
    return 0


def cmd_metrics(args) -> int:
    from resources.alarms import ALARMS
    from resources.metrics import CloudWatchMetrics, LocalMetrics

    if args.profile == "aws":
        store = CloudWatchMetrics(endpoint_url=args.endpoint_url)
    else:
        warehouse = warehouse_path(args.warehouse)
        if not (warehouse / "metrics" / "metrics.db").exists():
            raise CliError(f"warehouse {warehouse} has no metrics yet: run clickstream demo or make ui first")
        store = LocalMetrics(warehouse=str(warehouse))
    recent = store.recent(hours=args.hours)
    latest: dict[tuple, object] = {}
    for point in recent:  # newest first: keep the first seen per metric and dimensions
        latest.setdefault((point.name, tuple(sorted(point.dimensions.items()))), point)
    if not args.by_partition:  # per asset: the latest value of each partition, summed (Count) or the max (else)
        from resources.metrics import MetricPoint

        grouped: dict[tuple, list] = {}
        for (name, dims), point in latest.items():
            asset = tuple((k, v) for k, v in dims if k != "Partition")
            grouped.setdefault((name, asset), []).append(point)
        latest = {
            key: MetricPoint(key[0], sum(p.value for p in pts) if pts[0].unit in ("Count", "Bytes")
                             else max(p.value for p in pts), pts[0].unit, dict(key[1]), max(p.timestamp for p in pts))
            for key, pts in grouped.items()
        }
    alarms = [{"name": a.name, "state": s, "reason": r} for a in ALARMS for s, r in [a.evaluate(recent)]]
    if args.json:
        print(json.dumps({
            "metrics": [{"name": p.name, "value": p.value, "unit": p.unit, "dimensions": p.dimensions,
                         "timestamp": p.timestamp.isoformat()} for p in latest.values()],
            "alarms": alarms}))
        return 0
    print(f"{'metric':<22} {'dimensions':<44} {'value':>14}  at")
    for (name, dims), point in sorted(latest.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        label = ", ".join(f"{k}={v}" for k, v in dims)
        print(f"{name:<22} {label[:44]:<44} {point.value:>14,.1f}  {point.timestamp:%Y-%m-%d %H:%M:%S}")
    print()
    for alarm in alarms:
        print(f"{alarm['state']:<6} {alarm['name']:<32} {alarm['reason']}")
    return 0


def cmd_backfill(args) -> int:
    from clickstream_assets.cli.demo import run_backfill

    if args.end < args.start:
        raise CliError(f"--end {args.end} is before --start {args.start}")
    warehouse = warehouse_path(args.warehouse)
    if not (warehouse / "raw").exists():
        raise CliError(f"warehouse {warehouse} has no raw events yet: run clickstream produce first")
    return run_backfill(warehouse, args.start, args.end)


def cmd_cost(args) -> int:
    from clickstream_assets.cli.cost import cost_report, print_report
    from resources.profile import build_resources

    warehouse = warehouse_path(args.warehouse)
    if args.profile == "local" and not (warehouse / "metrics" / "metrics.db").exists():
        raise CliError(f"warehouse {warehouse} has no cost records yet: run clickstream demo first")
    resources = build_resources(args.profile, warehouse)
    report = cost_report(resources["storage"], resources["metrics"], args.hours)
    if args.json:
        print(json.dumps(report))
    else:
        print_report(report)
    return 0


def cmd_provision(args) -> int:
    from resources.aws import endpoint_url, region
    from resources.profile import aws_names
    from resources.provision import provision

    result = provision(aws_names(), region(args.region), endpoint_url(args.endpoint_url))
    print(f"provisioned in account {result['account']}")
    return 0


def cmd_deploy(args) -> int:
    from resources.aws import region
    from resources.profile import aws_names
    from resources.provision import deploy

    names = aws_names()
    deploy(region(args.region), args.stack, {
        "RawBucketName": names["raw_bucket"], "ProcessedBucketName": names["processed_bucket"],
        "StreamName": names["stream"], "DatabaseName": names["database"], "WorkGroupName": names["workgroup"]})
    return 0


def cmd_demo(args) -> int:
    from clickstream_assets.cli.demo import run_demo

    return run_demo(warehouse_path(args.warehouse), args.days, args.events_per_day, args.seed)


COMMANDS = {"produce": cmd_produce, "ingest": cmd_ingest, "demo": cmd_demo, "metrics": cmd_metrics,
            "backfill": cmd_backfill, "cost": cmd_cost, "provision": cmd_provision,
            "deploy": cmd_deploy}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except CliError as error:
        sys.stderr.write(f"clickstream: error: {error}\n")
        return EXIT_USAGE
    except KeyboardInterrupt:
        sys.stderr.write("clickstream: interrupted\n")
        return 130
    except BrokenPipeError:  # `clickstream metrics | head` is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # one line for the user; the traceback only on request
        if getattr(args, "debug", False):
            raise
        message = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        sys.stderr.write(f"clickstream: error: {message}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
