"""Freshness: a policy on every key asset, and a check per key asset that computes the lag, passes or fails against
the policy, and publishes the lag as ``FreshnessLagSeconds`` (dimension ``Asset``) to CloudWatch or the local store.

Two lags: since the newest materialization (is the pipeline running?) and since the newest data the asset holds
(is data arriving?). The check fails on the larger one.
"""

from datetime import datetime, timedelta, timezone

import dagster as dg

from clickstream_assets.ledger import read_ledgers, read_manifests
from resources.metrics import MetricPoint, Metrics
from resources.storage import Storage

# (warn after, fail after): raw data should keep arriving; built days are due once a day closes.
WINDOWS = {
    ("raw", "events"): (timedelta(hours=2), timedelta(hours=3)),
    ("processed", "events"): (timedelta(hours=26), timedelta(hours=30)),
    ("processed", "sessions"): (timedelta(hours=26), timedelta(hours=30)),
    ("quicksight", "dashboard"): (timedelta(hours=26), timedelta(hours=30)),
}
POLICIES = {k: dg.FreshnessPolicy.time_window(fail_window=f, warn_window=w) for k, (w, f) in WINDOWS.items()}


def policy(*key: str) -> dg.FreshnessPolicy | None:
    return POLICIES.get(tuple(key))


def newest_data(key: tuple[str, ...], storage: Storage) -> datetime | None:
    """The end of the newest hour (raw) or day (built tables) the asset holds data for."""
    if key == ("raw", "events"):
        manifests = [h for h, m in read_manifests(storage).items() if not m.empty]
        if not manifests:
            return None
        return datetime.strptime(max(manifests), "%Y-%m-%d-%H").replace(tzinfo=timezone.utc) + timedelta(hours=1)
    days = [d for d, ledger in read_ledgers(storage).items() if ledger.clean]
    if not days:
        return None
    return datetime.fromisoformat(max(days)).replace(tzinfo=timezone.utc) + timedelta(days=1)


def measure_lag(
    key: tuple[str, ...], last_materialized: datetime | None, storage: Storage, now: datetime
) -> tuple[float, float]:
    """(seconds since the newest materialization, seconds since the newest data); infinity when never."""
    materialized = (now - last_materialized).total_seconds() if last_materialized else float("inf")
    data_time = newest_data(key, storage)
    data = (now - data_time).total_seconds() if data_time else float("inf")
    return materialized, max(0.0, data)


def evaluate(key: tuple[str, ...], lag_seconds: float) -> tuple[bool, dg.AssetCheckSeverity]:
    """Pass when within the warn window; WARN between warn and fail; ERROR past the fail window."""
    warn, fail = (w.total_seconds() for w in WINDOWS[key])
    if lag_seconds <= warn:
        return True, dg.AssetCheckSeverity.WARN
    return False, dg.AssetCheckSeverity.ERROR if lag_seconds > fail else dg.AssetCheckSeverity.WARN


def freshness_check(key: tuple[str, ...]) -> dg.AssetChecksDefinition:
    asset_key = dg.AssetKey(list(key))

    @dg.asset_check(asset=asset_key, name="freshness_lag", description=(
        "Lag since the newest materialization and since the newest data, against the asset's freshness policy; "
        "published as FreshnessLagSeconds."))
    def _check(context: dg.AssetCheckExecutionContext, storage: Storage, metrics: Metrics) -> dg.AssetCheckResult:
        now = datetime.now(timezone.utc)
        event = context.instance.get_latest_materialization_event(asset_key)
        last = datetime.fromtimestamp(event.timestamp, tz=timezone.utc) if event else None
        materialized, data = measure_lag(key, last, storage, now)
        lag = max(materialized, data)
        published = lag if lag != float("inf") else 10 * 365 * 86400.0  # "never" as ten years: alarms still fire
        metrics.put([MetricPoint("FreshnessLagSeconds", published, "Seconds", {"Asset": asset_key.to_user_string()},
                                 now)])
        passed, severity = evaluate(key, lag)
        return dg.AssetCheckResult(
            passed=passed,
            severity=severity,
            metadata={
                "lag_since_materialization_s": round(materialized, 1) if materialized != float("inf") else -1,
                "lag_since_newest_data_s": round(data, 1) if data != float("inf") else -1,
                "fail_window_s": WINDOWS[key][1].total_seconds(),
            },
        )

    return _check


freshness_checks = [freshness_check(k) for k in POLICIES]

freshness_job = dg.define_asset_job(
    "freshness_checks",
    selection=dg.AssetSelection.checks(*freshness_checks),
    description="Measure every key asset's lag, check it against its policy and publish it.",
    # On ECS every run is a Fargate task, and this one runs every 5 minutes even when no data moves: the smallest
    # task (0.25 vCPU, 1 GB) instead of the run task definition's size keeps it a small line of the bill.
    tags={"ecs/cpu": "256", "ecs/memory": "1024"},
)

freshness_schedule = dg.ScheduleDefinition(
    job=freshness_job, cron_schedule="*/5 * * * *", default_status=dg.DefaultScheduleStatus.RUNNING
)
