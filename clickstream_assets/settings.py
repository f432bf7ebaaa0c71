"""Pipeline settings a user tunes, one resource so every asset and check reads the same figures."""

import os

import dagster as dg

from clickstream_assets.pages import FUNNEL_STEPS, PAGE_CLASSES, load_page_config, sql_params


class PipelineSettings(dg.ConfigurableResource):
    """Thresholds and windows: defaults suit a shop; set them in the UI's launchpad or the environment."""

    # A day counts as complete once its arrival hours plus this many later ones are sealed.
    late_arrival_hours: int = 6
    # The live-stream guard: an event older than this when it arrives is quarantined (bad_timestamp). History
    # imported with `clickstream ingest` lands in its own events' hours, so it is never this old at arrival.
    max_event_age_days: int = 30
    # Warn when more than this share of a day's records is quarantined.
    quarantine_rate_threshold: float = 0.02
    # Sessions are keyed by the session_id sent; flag sessions idle longer than this inside.
    session_gap_minutes: int = 30
    # A materialization that scans more than its budget fails its scan_budget check (bytes; per asset overrides).
    scan_budget_bytes: int = 10 * 1024**3
    scan_budgets: dict[str, int] = {}
    # Planted truth: how many standard errors a measured rate may stray from the simulator's before failing.
    planted_truth_z: float = 4.5

    # Mean order value measured by the models may stray this far (relative) from the one the simulator sent.
    planted_value_tolerance: float = 0.02

    # What the shop's pages are and what the funnel counts (clickstream_assets/pages.py explains the patterns).
    page_classes: dict[str, str] = dict(PAGE_CLASSES)
    funnel_steps: dict[str, str] = dict(FUNNEL_STEPS)
    # The funnel's conversion window: each step must follow the first product view within this many seconds.
    # 0 is the session itself (the default): a funnel never spans sessions.
    funnel_window_seconds: int = 0
    # Attribution looks back over the user's sessions of this many days before an order.
    attribution_lookback_days: int = 30

    # The arrival sensor seals an hour this long after it closes: Firehose flushes a buffer up to 5 minutes late.
    seal_grace_minutes: int = 10
    # Off (0) by default: sealing the open hour early puts the dashboard minutes behind instead of an hour, but
    # re-reads the hour's raw JSON each time (on Athena the sealing scan is the largest line of the bill).
    live_seal_minutes: int = 0
    # The producer sensor's slices: events per second, for this many seconds each.
    producer_rate: float = 20.0
    producer_slice_seconds: float = 60.0

    def page_params(self) -> dict[str, str]:
        """The page and funnel patterns, the funnel window and the attribution lookback, as the models' SQL
        parameters (each SQL file receives only those it names)."""
        if self.funnel_window_seconds < 0 or self.attribution_lookback_days < 0:
            raise ValueError("funnel_window_seconds and attribution_lookback_days cannot be negative")
        return {**sql_params(self.page_classes, self.funnel_steps),
                "funnel_window_seconds": str(self.funnel_window_seconds),
                "attribution_lookback_days": str(self.attribution_lookback_days)}

    def budget_for(self, asset: str) -> int:
        return self.scan_budgets.get(asset, self.scan_budget_bytes)


# Environment variables a deployment sets instead of the launchpad; read when the resources are built.
ENVIRONMENT = {
    "seal_grace_minutes": ("CLICKSTREAM_SEAL_GRACE_MINUTES", int),
    "live_seal_minutes": ("CLICKSTREAM_LIVE_SEAL_MINUTES", int),
    "producer_rate": ("CLICKSTREAM_PRODUCER_RATE", float),
    "producer_slice_seconds": ("CLICKSTREAM_PRODUCER_SLICE_SECONDS", float),
}


def load_settings(**overrides) -> PipelineSettings:
    """The settings of this deployment: the shop's page config (pages.py), the environment, then ``overrides``."""
    from_env = {field: kind(os.environ[name]) for field, (name, kind) in ENVIRONMENT.items() if os.environ.get(name)}
    return PipelineSettings(**{**load_page_config(), **from_env, **overrides})
