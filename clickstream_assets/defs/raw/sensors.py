"""The arrival sensor: seals arrival hours once closed (by sealing their day) and builds the event days their records
belong to."""

import hashlib
import json
from datetime import date, datetime, timedelta, timezone

import dagster as dg

from clickstream_assets.defs.plan import EVENT_DAY_KEYS, SEAL_KEYS, range_tags
from clickstream_assets.ledger import read_manifests, stale_days, unbuilt_days
from clickstream_assets.partitions import daily_event, hour_of, hour_start
from clickstream_assets.sealing import arrival_hour_of, hour_prefix, raw_objects
from clickstream_assets.settings import PipelineSettings
from resources.storage import Storage


def _digest(*parts: object) -> str:
    return hashlib.sha1(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:12]


def _hours_between(first: str, last: str) -> list[str]:
    start = hour_start(first)
    end = hour_start(last)
    return [hour_of(start + timedelta(hours=h)) for h in range(int((end - start).total_seconds() // 3600) + 1)]


def plan_arrivals(
    storage: Storage,
    now: datetime,
    cursor: str | None,
    grace_minutes: int = 10,
    live_minutes: int = 0,
):
    """Run requests for closed hours whose objects differ from their seal, and for days with new or late records.
    With ``live_minutes``, an hour still open is sealed too, at most that often; sealing it again once it closes
    makes its days stale, so they are rebuilt with everything.

    The cursor is the earliest hour not yet sealed and closed: hours before it are never listed again.
    """
    state = json.loads(cursor) if cursor else {}
    current = hour_of(now)
    if state.get("from_hour"):
        first = state["from_hour"]
    else:
        hours = sorted(arrival_hour_of(storage, o.key) for o in raw_objects(storage))
        if not hours:
            return [], json.dumps({"from_hour": None})
        first = hours[0]
    manifests = read_manifests(storage)
    to_seal, next_from = _hours_to_seal(storage, manifests, _hours_between(first, current), now, grace_minutes,
                                        live_minutes)
    requests = _seal_requests(to_seal) + _day_requests(storage, manifests, now)
    pending = [h for h, _ in to_seal]
    from_hour = min([*pending, next_from or current]) if pending or next_from else current
    return requests, json.dumps({"from_hour": from_hour})


def _hours_to_seal(storage: Storage, manifests, hours: list[str], now: datetime, grace_minutes: int,
                   live_minutes: int) -> tuple[list[tuple[str, list[str]]], str | None]:
    """The hours whose objects differ from their seal (closed ones, and open ones every ``live_minutes``) with
    their object keys, and the first hour still open."""
    to_seal, next_from = [], None
    for hour in hours:
        objects = storage.list("raw", hour_prefix(storage, hour))
        closed = hour_start(hour) + timedelta(hours=1, minutes=grace_minutes) <= now
        manifest = manifests.get(hour)
        sealed = {o["key"] for o in manifest.objects} if manifest else set()
        changed = bool(objects) and {o.key for o in objects} != sealed
        if closed:
            if changed:
                to_seal.append((hour, [o.key for o in objects]))
            continue
        next_from = next_from or hour
        if changed and live_minutes and _minutes_since_seal(manifest, now) >= live_minutes:
            to_seal.append((hour, [o.key for o in objects]))
    return to_seal, next_from


def _seal_requests(to_seal: list[tuple[str, list[str]]]) -> list[dg.RunRequest]:
    """One sealing run per block of consecutive arrival days holding hours to seal, keyed by the objects it takes
    (the run re-stages only those hours: the others of the days still match their seal)."""
    requests = []
    for block in _contiguous(sorted({h[:10] for h, _ in to_seal})):
        keys = [k for h, ks in to_seal if h[:10] in block for k in ks]
        requests.append(dg.RunRequest(
            run_key=f"seal:{block[0]}:{block[-1]}:{_digest(keys)}",
            asset_selection=list(SEAL_KEYS),
            tags={**range_tags(block[0], block[-1]), "clickstream/reason": "new objects"},
        ))
    return requests


def _day_requests(storage: Storage, manifests, now: datetime) -> list[dg.RunRequest]:
    """Days follow their sealed hours: built the first time records land for them (so live data reaches the
    dashboard as each hour closes), rebuilt when an hour sealed after the build adds records."""
    requests = []
    calendar = set(daily_event.get_partition_keys(current_time=now))
    builds = [("new", "first records", unbuilt_days(storage, manifests)),
              ("late", "late records", stale_days(storage, manifests))]
    for kind, why, days in builds:
        # A day not on the calendar yet (an event a few minutes past midnight) is built once its partition exists.
        for day, hours in sorted(d for d in days.items() if d[0] in calendar):
            stamps = sorted((h, manifests[h].sealed_at) for h in hours)
            requests.append(dg.RunRequest(
                run_key=f"{kind}:{day}:{_digest(stamps)}",
                asset_selection=list(EVENT_DAY_KEYS),
                partition_key=day,
                tags={"clickstream/reason": f"{why} in {len(hours)} sealed hours"},
            ))
    return requests


def _minutes_since_seal(manifest, now: datetime) -> float:
    if manifest is None:
        return float("inf")
    return (now - datetime.fromisoformat(manifest.sealed_at)).total_seconds() / 60


def _contiguous(days: list[str]) -> list[list[str]]:
    blocks: list[list[str]] = []
    for day in sorted(days):
        previous = blocks[-1][-1] if blocks else None
        if previous and date.fromisoformat(day) - date.fromisoformat(previous) == timedelta(days=1):
            blocks[-1].append(day)
        else:
            blocks.append([day])
    return blocks


@dg.sensor(
    name="arrival_sensor",
    asset_selection=list(SEAL_KEYS + EVENT_DAY_KEYS),
    default_status=dg.DefaultSensorStatus.STOPPED,
    minimum_interval_seconds=60,
    description="Seals each arrival hour once it is closed plus a grace period, builds the event days its records "
    "belong to, and rebuilds any day that received late records after it was built.",
)
def arrival_sensor(context: dg.SensorEvaluationContext, storage: Storage, settings: PipelineSettings):
    requests, cursor = plan_arrivals(storage, datetime.now(timezone.utc), context.cursor,
                                     settings.seal_grace_minutes, settings.live_seal_minutes)
    context.update_cursor(cursor)
    return requests or dg.SkipReason("no new objects in closed hours and no late records")
