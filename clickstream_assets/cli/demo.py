"""``clickstream demo``: a week of a shop's traffic through the whole asset graph, on the local profile.

Produces the 7 days before today x 50,000 events with light mess, and today's traffic up to the current hour, then
materializes every asset in four runs on the warehouse's Dagster instance (the one ``make ui`` shows), and prints
what a user would look at first. Ending at the current hour, and starting the warehouse's calendar on the demo's
first day, is what leaves that UI green: every partition holds data and the newest data is fresh, as in a shop
that has been running for a week.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import date, datetime, timedelta, timezone
from multiprocessing import get_context
from pathlib import Path

from resources.profile import ensure_dagster_home


def _produce(warehouse: Path, start: date, until: datetime, events_per_day: int, seed: int):
    """Produce once per warehouse: a second demo rebuilds the events the first produced (never a second copy of
    them); returns the first and last day they cover, what to tell the user and the run's summary (None when
    reused)."""
    from clickstream_assets.producer.runner import produce_historical
    from clickstream_assets.producer.simulator import Mess
    from resources.sinks import LocalFirehoseSink

    earlier = sorted((warehouse / "producer_runs").glob("demo-*.json"))
    if earlier:
        params = json.loads(earlier[-1].read_text()).get("parameters", {})
        first = date.fromisoformat(params["start"])
        last = datetime.fromisoformat(params["until"]).date() if "until" in params else (
            first + timedelta(days=params["days"] - 1))
        return first, last, (f"reusing the events already produced ({earlier[-1].name}; a new CLICKSTREAM_HOME "
                             "gets a week ending now)"), None
    days = (until.date() - start).days + 1
    marker = warehouse / "producer_runs" / f"demo-{start}-{until:%Y-%m-%dT%H}-{events_per_day}-seed{seed}.json"
    mess = Mess(duplicate_rate=0.01, malformed_rate=0.005, late_rate=0.01, future_rate=0.0)
    sink = LocalFirehoseSink(str(warehouse / "raw"), seed=seed)
    summary = produce_historical(sink, start, days, events_per_day, seed=seed, mess=mess, until=until).as_dict()
    summary.update(profile="local", stream_name=sink.stream_name)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(json.dumps(summary, indent=1))
    return start, until.date(), (f"produced {summary['produced']:,} events ({summary['records_sent']:,} records "
                                 f"with mess) in {summary['seconds']:.1f} s"), summary


def _record(resources: dict, summary: dict | None) -> None:
    """The producer's run in the warehouse's ledger (here, where Dagster is loaded: the producer's process never
    imports it)."""
    if summary is not None:
        from clickstream_assets.ledger import record_producer_run

        record_producer_run(resources["storage"], summary)


def run_demo(
    warehouse: Path,
    days: int = 7,
    events_per_day: int = 50_000,
    seed: int = 1,
    out: Callable[[str], None] = print,
) -> int:
    started = time.perf_counter()
    until = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    start = until.date() - timedelta(days=days)
    start_calendar(warehouse, start, out)
    # The producer runs in a second process while this one loads Dagster and the definitions (seconds of imports
    # and SQL lineage): on two cores the two overlap. It needs neither, and nothing here reads raw data yet.
    with ProcessPoolExecutor(max_workers=1, mp_context=get_context("spawn")) as producer:
        produced = producer.submit(_produce, warehouse, start, until, events_per_day, seed)
        prepared = _prepare(warehouse)
        first, last, message, summary = produced.result()
    out(message)
    _record(prepared[0], summary)
    resources, outcomes = build_range(warehouse, first, last, out, prepared)
    _print_build_summary(resources, outcomes, warehouse, out)
    blocking = [c for o in outcomes for c in o.blocking_failed]
    out(f"\nfinished in {time.perf_counter() - started:.1f} s")
    return 1 if blocking or not all(o.success for o in outcomes) else 0


def start_calendar(warehouse: Path, first_day: date, out: Callable[[str], None] = print) -> None:
    """A new warehouse's calendar starts on the demo's first day, so the UI shows no empty partitions before it.

    Written before anything imports ``clickstream_assets.partitions``, which reads it once (``CALENDAR_FILE``
    there); a warehouse that already has a calendar or raw data keeps its own."""
    calendar = warehouse / "calendar.json"
    if calendar.exists() or (warehouse / "raw").exists():
        return
    warehouse.mkdir(parents=True, exist_ok=True)
    calendar.write_text(json.dumps({"start": first_day.isoformat()}))
    out(f"calendar: starts {first_day} (the demo's first day)")


def _prepare(warehouse: Path) -> tuple[dict, object]:
    """The warehouse's resources and the project's definitions, on its Dagster instance."""
    os.environ["CLICKSTREAM_HOME"] = str(warehouse)
    ensure_dagster_home(warehouse)
    from clickstream_assets.definitions import build_definitions
    from resources.profile import build_resources

    resources = build_resources("local", warehouse)
    return resources, build_definitions(resources)


def build_range(warehouse: Path, start: date, last: date, out: Callable[[str], None] = print, prepared=None):
    """Seal the arrival days of [start, last] (and the late ones after), then build, rebuild and publish: the
    plan's four runs on the warehouse's Dagster instance, whatever the number of days."""
    resources, defs = prepared or _prepare(warehouse)
    import dagster as dg

    from clickstream_assets.cli.runs import arrival_range, run_plan

    arrival_days = arrival_range(start, last)
    if arrival_days is None:
        raise ValueError(f"no arrival days from {start} yet")
    days = lambda: (start.isoformat(), _extend_to_routed_days(resources, start, last, out))  # noqa: E731
    return resources, run_plan(defs, dg.DagsterInstance.get(), arrival_days, days, out)


def _extend_to_routed_days(resources: dict, start: date, last: date, out) -> str:
    """Records of the last day keep arriving after midnight (sessions run past it, devices deliver late): build
    every day the sealed hours hold records for, up to today, so none is left unbuilt."""
    from clickstream_assets.ledger import read_manifests

    today = datetime.now(timezone.utc).date()
    routed = {d for m in read_manifests(resources["storage"]).values() for d in m.by_day if d > last.isoformat()}
    extra = sorted(d for d in routed if d <= today.isoformat())
    if extra:
        out(f"also building {', '.join(extra)}: sealed hours hold records for them")
        return extra[-1]
    return last.isoformat()


def run_backfill(warehouse: Path, start: date, last: date, out: Callable[[str], None] = print) -> int:
    """``clickstream backfill``: the same four runs over days a user already produced or ingested."""
    started = time.perf_counter()
    resources, outcomes = build_range(warehouse, start, last, out)
    _print_build_summary(resources, outcomes, warehouse, out)
    out(f"\nfinished in {time.perf_counter() - started:.1f} s")
    blocking = [c for o in outcomes for c in o.blocking_failed]
    return 1 if blocking or not all(o.success for o in outcomes) else 0


def _print_build_summary(resources: dict, outcomes, warehouse: Path, out) -> None:
    engine = resources["engine"]
    checks = {k: v for o in outcomes for k, v in o.checks.items()}
    try:
        per_day, _ = engine.query("dashboard/conversion_over_time.sql", {})
        top, _ = engine.query("dashboard/top_products.sql", {})
    except LookupError:
        per_day = top = None
    from clickstream_assets.ledger import read_ledgers

    ledgers = read_ledgers(resources["storage"])
    if per_day is not None:
        out("\nday          events   sessions  conversion")
        for row in per_day.to_pylist():
            day = row["dt"].isoformat()
            events = ledgers[day].clean if day in ledgers else 0
            out(f"{day}  {events:>8,}  {row['sessions']:>9,}  {row['conversion_rate'] * 100:>9.2f}%")
        out("\ntop products    purchases     views")
        for row in top.to_pylist()[:5]:
            out(f"{row['product_id']:<14} {row['purchases']:>10,} {row['views']:>9,}")
    _print_revenue(resources, out)
    from clickstream_assets.defs.processed.completeness import read_report

    report = read_report(resources["storage"])
    if report:
        t = report["totals"]
        out(f"\nledger: produced {t['produced']:,} -> accepted {t['accepted']:,} -> landed {t['landed']:,} -> sealed "
            f"{t['sealed']:,} -> taken {t['taken']:,} = clean {t['clean']:,} + duplicates {t['duplicates']:,} + "
            f"quarantined {t['quarantined']:,}; gaps: {len(report['gaps'])}")
    failed = sorted(k for k, v in checks.items() if not v)
    out(f"\nchecks: {sum(checks.values())} passed, {len(failed)} failed" + (f" ({', '.join(failed)})" if failed else ""))
    stale = sorted(k for o in outcomes for k, v in o.freshness.items() if not v)
    if stale:
        out(f"freshness: {', '.join(stale)} behind policy (the demo's traffic is historical; turn on producer_sensor "
            "and arrival_sensor in the UI for live data)")
    out(f"dashboard: {warehouse / 'dashboard' / 'index.html'}")
    out("Dagster UI over the same runs and data: make ui  (then open http://127.0.0.1:3000)")


def _print_revenue(resources: dict, out) -> None:
    """Revenue as the models measure it, cut four ways, beside what the simulator sent."""
    from clickstream_assets.ledger import read_producer_runs

    try:
        totals, _ = resources["engine"].query("checks/revenue_reconcile.sql", {})
        measured, _ = resources["engine"].query("checks/planted_revenue.sql", {})
    except LookupError:
        return
    t, m = totals.to_pylist()[0], measured.to_pylist()[0]
    if not t["orders"]:
        return
    cuts = [t["orders_revenue"], t["product_revenue"], t["first_touch_revenue"], t["last_non_direct_revenue"]]
    out(f"\nrevenue {float(t['orders_revenue']):,.2f} from {t['orders']:,} orders, average order value "
        f"{float(t['orders_revenue']) / t['orders']:,.2f}; by order, product, first touch, last non-direct: "
        + ("all equal" if len(set(cuts)) == 1 else "DIFFER " + ", ".join(f"{float(c):,.2f}" for c in cuts)))
    runs = [r for r in read_producer_runs(resources["storage"]) if (r.get("behaviour") or {}).get("revenue")]
    if runs:
        sent = runs[-1]["behaviour"]["revenue"]
        out(f"planted vs measured: mean order value {sent['mean_order_value']:,.2f} vs "
            f"{float(m['revenue']) / m['orders']:,.2f}; orders per purchasing session "
            f"{sent['orders_per_purchasing_session']:.4f} vs {m['orders'] / max(m['purchasing_sessions'], 1):.4f}")
