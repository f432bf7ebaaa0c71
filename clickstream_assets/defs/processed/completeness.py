"""``processed/completeness``: every count along the way, lined up per producer run, arrival hour and event day.

produced -> accepted by the delivery stream -> landed in raw objects -> taken by sealing -> routed to days ->
clean + duplicates + quarantined. Any gap fails the check and names the hop and the hour (or day).
"""

import json
from datetime import datetime, timedelta, timezone

import dagster as dg

from clickstream_assets import automation
from clickstream_assets.ledger import read_ledgers, read_manifests, read_producer_runs
from clickstream_assets.partitions import hour_start
from clickstream_assets.sealing import arrival_hour_of, object_buffer, raw_objects
from clickstream_assets.settings import PipelineSettings
from resources.storage import Storage

KEY = dg.AssetKey(["processed", "completeness"])
REPORT = "_ledger/completeness.json"


def _landed(storage: Storage, manifests) -> tuple[dict[str, int], list[str]]:
    """Lines per raw object now. An object its seal took as it stands (same key, same bytes) holds what the
    manifest counted; any other is counted by reading it where that is cheap (the local profile). On S3 the Dagster
    process reads no raw data, so such an object is reported unread, and a closed hour holding one is a gap."""
    sealed = {o["key"]: o for m in manifests.values() for o in m.objects}
    landed: dict[str, int] = {}
    unread: list[str] = []
    for info in raw_objects(storage):
        seal = sealed.get(info.key)
        if seal and seal["bytes"] == info.size:
            landed[info.key] = seal["records"]
        elif storage.local_root:
            landed[info.key] = object_buffer(storage, info.key, info.size).to_pybytes().count(b"\n")
        else:
            unread.append(info.key)
    return landed, unread


def build_completeness(storage: Storage, late_arrival_hours: int, now: datetime | None = None) -> dict:
    now = now or datetime.now(timezone.utc)
    runs = read_producer_runs(storage)
    manifests = read_manifests(storage)
    ledgers = read_ledgers(storage)
    gaps = _delivery_gaps(runs)
    hours = _hours(storage, runs, manifests, now, gaps)
    routed, days = _days(manifests, ledgers, late_arrival_hours, now, gaps)
    totals = {
        "produced": sum(r.get("records_sent", 0) for r in runs),
        "accepted": sum(r.get("delivered", 0) for r in runs),
        "landed": sum(h["landed"] for h in hours.values()),
        "sealed": sum(h["sealed"] for h in hours.values()),
        "routed_to_days": sum(routed.values()),
        "taken": sum(d["taken"] for d in days.values()),
        "clean": sum(d["clean"] for d in days.values()),
        "duplicates": sum(d["duplicates"] for d in days.values()),
        "quarantined": sum(d["quarantined"] for d in days.values()),
        "late": sum(d["late"] for d in days.values()),
    }
    return {"checked_at": now.isoformat(timespec="seconds"), "totals": totals, "hours": hours, "days": days,
            "gaps": gaps}


def _delivery_gaps(runs: list[dict]) -> list[str]:
    """Hop 1, the producer: every record sent was accepted or reported as failed."""
    gaps = []
    for run in runs:
        lost = run.get("records_sent", 0) - run.get("delivered", 0)
        if lost:
            gaps.append(f"delivery: a {run.get('mode')} run sent {run.get('records_sent')} records, the stream "
                        f"accepted {run.get('delivered')} ({lost} not delivered)")
    return gaps


def _hours(storage: Storage, runs: list[dict], manifests, now: datetime, gaps: list[str]) -> dict[str, dict]:
    """Hops 2 and 3 per arrival hour: what is in raw now, per object, against what the stream acknowledged; and a
    closed hour's records all taken by its seal. Appends the gaps found."""
    landed_by_object, unread = _landed(storage, manifests)
    for key in unread:
        hour = hour_start(arrival_hour_of(storage, key))
        if hour + timedelta(hours=1) > now:
            continue  # the open hour: not due for sealing yet
        gaps.append(f"sealing: hour {arrival_hour_of(storage, key)}: object {key.rsplit('/', 1)[-1]} is not sealed "
                    "as it stands (new or changed since its seal)")
    for run in runs:
        for key, records in (run.get("acknowledged") or {}).items():
            if key not in unread and landed_by_object.get(key, 0) != records:
                gaps.append(f"landing: hour {arrival_hour_of(storage, key)}: object {key.rsplit('/', 1)[-1]} was acknowledged with "
                            f"{records} records, raw holds {landed_by_object.get(key, 0)}")
    hours: dict[str, dict] = {}
    for key, records in landed_by_object.items():
        hours.setdefault(arrival_hour_of(storage, key), {"landed": 0, "sealed": 0})["landed"] += records
    for hour, manifest in manifests.items():
        hours.setdefault(hour, {"landed": 0, "sealed": 0})["sealed"] = manifest.records
    for hour, row in sorted(hours.items()):
        closed = hour_start(hour) + timedelta(hours=1) <= now
        row["pending"] = not closed
        if closed and row["landed"] != row["sealed"]:
            gaps.append(f"sealing: hour {hour}: {row['landed']} records landed, {row['sealed']} sealed")
    return hours


def _days(manifests, ledgers, late_arrival_hours: int, now: datetime,
          gaps: list[str]) -> tuple[dict[str, int], dict[str, dict]]:
    """Hops 4 and 5, days: what the seals route to a day is what the day took, and all of it has an outcome.
    Returns the records routed to each day and each day's row; appends the gaps found."""
    routed: dict[str, int] = {}
    for manifest in manifests.values():
        for day, n in manifest.by_day.items():
            routed[day] = routed.get(day, 0) + n
    days = {}
    for day in sorted(set(routed) | set(ledgers)):
        ledger = ledgers.get(day)
        due = datetime.fromisoformat(day).replace(tzinfo=timezone.utc) + timedelta(hours=24 + late_arrival_hours)
        row = {"routed": routed.get(day, 0), "taken": ledger.taken if ledger else 0,
               "clean": ledger.clean if ledger else 0, "duplicates": ledger.duplicates if ledger else 0,
               "quarantined": ledger.quarantined if ledger else 0, "late": ledger.late if ledger else 0,
               "pending": due > now}
        days[day] = row
        if row["routed"] != row["taken"] and not row["pending"]:
            gaps.append(f"building: day {day}: sealed hours hold {row['routed']} records for it, the last build "
                        f"took {row['taken']}")
        if ledger and not ledger.reconciles:
            gaps.append(f"outcomes: day {day}: taken {ledger.taken} != clean {ledger.clean} + duplicates "
                        f"{ledger.duplicates} + quarantined {ledger.quarantined}")
    return routed, days


@dg.asset(
    key=KEY,
    group_name="processed",
    kinds={"json"},
    deps=[dg.AssetDep(["raw", "events"]), dg.AssetDep(["processed", "events"])],
    check_specs=[dg.AssetCheckSpec("no_gaps", asset=KEY, description=(
        "Every count lines up from the producer to the clean events; a gap names the hop and the hour or day."))],
    automation_condition=automation.over_days(),
)
def completeness(storage: Storage, settings: PipelineSettings):
    """The completeness ledger: produced, accepted by the stream, landed in raw, sealed, routed to event days, and
    clean + duplicates + quarantined, per producer run, arrival hour and event day. Nothing any other clickstream
    product accounts for end to end."""
    report = build_completeness(storage, settings.late_arrival_hours)
    storage.write_bytes("processed", REPORT, json.dumps(report, indent=1).encode())
    totals = report["totals"]
    table = "| hop | records |\n|---|---|\n" + "\n".join(f"| {k} | {v:,} |" for k, v in totals.items())
    yield dg.MaterializeResult(metadata={**totals, "ledger": dg.MetadataValue.md(table),
                                         "gaps": len(report["gaps"])})
    yield dg.AssetCheckResult(check_name="no_gaps", passed=not report["gaps"],
                              metadata={"gaps": "\n".join(report["gaps"][:20]) or "none",
                                        "gap_count": len(report["gaps"])})


def read_report(storage: Storage) -> dict | None:
    if not storage.exists("processed", REPORT):
        return None
    return json.loads(storage.read_bytes("processed", REPORT))

