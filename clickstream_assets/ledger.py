"""What each sealed arrival hour holds and what each built day took: small JSON records in the processed area.

A seal manifest says exactly which raw objects an hour held when it was sealed and how many of their records
belong to each event day. A day's ledger says which sealed hours it read and what became of every record.
Together they decide which hours a day reads and when a day is stale (late records arrived after it was built).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone

from resources.catalog import check_partition_value
from resources.storage import Storage

MANIFESTS = "_manifests/raw_events"
LEDGERS = "_ledger/events"


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


@dataclass
class SealManifest:
    arrival_hour: str  # YYYY-MM-DD-HH
    sealed_at: str
    objects: list[dict] = field(default_factory=list)  # key, bytes, records
    records: int = 0
    bytes: int = 0
    unparsed: int = 0  # lines that are not a JSON object (reason malformed_json)
    by_day: dict[str, int] = field(default_factory=dict)  # event day -> records routed to it
    reasons: dict[str, int] = field(default_factory=dict)  # reason -> records
    sanitized_objects: int = 0  # objects with bytes that are not UTF-8, escaped before classification
    sealed_with: str = ""  # fingerprint of the classification (SQL and parameters): a change re-stages the hour

    @property
    def empty(self) -> bool:
        return not self.objects


@dataclass
class DayLedger:
    dt: str
    built_at: str
    hours: dict[str, str]  # arrival hour -> sealed_at of the manifest read
    taken: int  # records the sealed hours routed to this day (from the manifests)
    clean: int  # rows in the written clean partition
    duplicates: int  # valid records removed as repeats of an event_id
    quarantined: int  # rows in the written quarantine partition
    late: int  # records that arrived after the day closed (end of day + late window)
    valid: int = 0
    reasons: dict[str, int] = field(default_factory=dict)

    @property
    def reconciles(self) -> bool:
        return self.taken == self.clean + self.duplicates + self.quarantined


def _json(record: dict) -> bytes:
    return json.dumps(record, indent=1, sort_keys=True).encode()


def write_manifests(storage: Storage, manifests: list[SealManifest]) -> None:
    """The manifests of the hours just sealed, in the file of their arrival day (``<day>.json``) beside those of
    the day's other hours, each day's file replaced whole (days side by side). A file per day, not per hour: a
    half-year backfill wrote 3,604 files, and every reader of the manifests read them all. The day's other hours
    are read and written back under a lock, so seals of different hours of one day never drop each other's."""
    days = sorted({check_partition_value(m.arrival_hour)[:10] for m in manifests})
    with storage.exclusive("processed", f"{MANIFESTS}/.lock"):
        sealed = read_manifests(storage, days)  # hour files of these days (written before day files) fold in
        sealed.update({m.arrival_hour: m for m in manifests})
        storage.write_many("processed", {
            f"{MANIFESTS}/{day}.json": _json({"hours": {h: asdict(m) for h, m in sealed.items() if h[:10] == day}})
            for day in days
        })


def _read_all(storage: Storage, prefix: str) -> list[dict]:
    """Every JSON record under a prefix of the processed area, in key order."""
    return [json.loads(storage.read_bytes("processed", o.key)) for o in storage.list("processed", prefix)]


def read_manifests(storage: Storage, days: list[str] | None = None) -> dict[str, SealManifest]:
    """The seal manifests of every arrival hour, or only of the hours of arrival ``days`` (one listing either way;
    only the wanted ones are read), by hour. A warehouse sealed before manifests were kept by day also holds a file
    per hour (``<day>-<HH>.json``): where an hour is in both, the later seal counts."""
    wanted = (tuple(f"{MANIFESTS}/{check_partition_value(d)}{end}" for d in days for end in (".json", "-"))
              if days is not None else (MANIFESTS,))
    found: dict[str, SealManifest] = {}
    for key in [o.key for o in storage.list("processed", MANIFESTS) if o.key.startswith(wanted)]:
        record = json.loads(storage.read_bytes("processed", key))
        for fields in record["hours"].values() if "hours" in record else [record]:
            manifest = SealManifest(**fields)
            earlier = found.get(manifest.arrival_hour)
            if earlier is None or manifest.sealed_at >= earlier.sealed_at:
                found[manifest.arrival_hour] = manifest
    return dict(sorted(found.items()))


def hours_holding(manifests: dict[str, SealManifest], days: list[str]) -> list[str]:
    """The sealed hours with records for any of ``days``, however late they arrived."""
    wanted = set(days)
    return sorted(h for h, m in manifests.items() if wanted & set(m.by_day))


def write_ledgers(storage: Storage, ledgers: list[DayLedger]) -> None:
    storage.write_many("processed", {f"{LEDGERS}/dt={check_partition_value(d.dt)}.json": _json(asdict(d))
                                     for d in ledgers})


def read_ledgers(storage: Storage) -> dict[str, DayLedger]:
    return {d["dt"]: DayLedger(**d) for d in _read_all(storage, LEDGERS)}


def sum_reasons(ledgers: list[DayLedger]) -> dict[str, int]:
    """Quarantined records by reason code over several days."""
    total: dict[str, int] = {}
    for ledger in ledgers:
        for reason, n in ledger.reasons.items():
            total[reason] = total.get(reason, 0) + n
    return dict(sorted(total.items()))


def stale_days(storage: Storage, manifests: dict[str, SealManifest] | None = None) -> dict[str, list[str]]:
    """Built days that sealed hours have records for which the build did not read: day -> those hours."""
    manifests = read_manifests(storage) if manifests is None else manifests
    holding = hours_by_day(manifests)
    stale: dict[str, list[str]] = {}
    for dt, ledger in read_ledgers(storage).items():
        for hour in holding.get(dt, []):
            if ledger.hours.get(hour) != manifests[hour].sealed_at:
                stale.setdefault(dt, []).append(hour)
    return stale


def hours_by_day(manifests: dict[str, SealManifest]) -> dict[str, list[str]]:
    """Event day -> the sealed hours with records for it, in the manifests' order: looked up per day, rather than
    every hour scanned for every day (a half-year: 177 days x 3,604 hours)."""
    holding: dict[str, list[str]] = {}
    for hour, manifest in manifests.items():
        for day, records in manifest.by_day.items():
            if records:
                holding.setdefault(day, []).append(hour)
    return holding


def unbuilt_days(storage: Storage, manifests: dict[str, SealManifest] | None = None) -> dict[str, list[str]]:
    """Days that sealed hours hold records for but that were never built: day -> those hours."""
    manifests = read_manifests(storage) if manifests is None else manifests
    built = set(read_ledgers(storage))
    unbuilt: dict[str, list[str]] = {}
    for hour, manifest in sorted(manifests.items()):
        for dt, records in manifest.by_day.items():
            if records and dt not in built:
                unbuilt.setdefault(dt, []).append(hour)
    return unbuilt


PRODUCER_RUNS = "_producer_runs"


def record_producer_run(storage: Storage, summary: dict) -> str:
    """Keep every producer run's summary beside the data (the completeness ledger reads them)."""
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    key = f"{PRODUCER_RUNS}/{stamp}-{summary.get('mode', 'run')}.json"
    storage.write_bytes("processed", key, json.dumps(summary, indent=1, default=str).encode())
    return key


def read_producer_runs(storage: Storage) -> list[dict]:
    return _read_all(storage, PRODUCER_RUNS)
