"""The pipeline's alarms, defined once: provisioned to CloudWatch, declared in infra/ (a test compares them) and
evaluated locally against the local metrics store, with the same rules."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone

from resources.metrics import NAMESPACE, MetricPoint


@dataclass(frozen=True)
class Alarm:
    name: str
    description: str
    metric: str
    statistic: str  # Maximum | Sum
    comparison: str  # GreaterThanThreshold | LessThanThreshold
    threshold: float
    period_seconds: int
    evaluation_periods: int
    treat_missing: str = "notBreaching"  # missing data for "no data" alarms breaches
    namespace: str = NAMESPACE
    ratio_of: str | None = None  # evaluate metric / ratio_of (a rate) instead of the metric alone

    def evaluate(self, recent: list[MetricPoint], now: datetime | None = None) -> tuple[str, str]:
        """ALARM or OK over the alarm's window, the way CloudWatch would, with a reason."""
        now = now or datetime.now(timezone.utc)
        window = self.period_seconds * self.evaluation_periods
        inside = [p for p in recent if (now - p.timestamp).total_seconds() <= window]
        values = [p.value for p in inside if p.name == self.metric]
        if not values:
            if self.treat_missing == "breaching":
                return "ALARM", f"no {self.metric} data in the last {window // 3600} h"
            return "OK", f"no {self.metric} data"
        value = max(values) if self.statistic == "Maximum" else sum(values)
        if self.ratio_of:
            base = sum(p.value for p in inside if p.name == self.ratio_of)
            value = value / base if base else 0.0
        breached = value > self.threshold if self.comparison == "GreaterThanThreshold" else value < self.threshold
        return ("ALARM" if breached else "OK"), f"{self.metric}{' rate' if self.ratio_of else ''} {value:g} " \
            f"{'>' if self.comparison == 'GreaterThanThreshold' else '<'} {self.threshold:g}: {breached}"


ALARMS = (
    Alarm("clickstream-stale-data", "A key asset is older than its freshness policy allows.",
          "FreshnessLagSeconds", "Maximum", "GreaterThanThreshold", 6 * 3600, 300, 1),
    Alarm("clickstream-delivery-failures", "Events were not delivered to Firehose after retries.",
          "DeliveryFailed", "Sum", "GreaterThanThreshold", 0, 300, 1),
    Alarm("clickstream-quarantine-rate", "More than 2% of the records taken from raw were quarantined.",
          "RowsQuarantined", "Sum", "GreaterThanThreshold", 0.02, 3600, 1, ratio_of="RecordsTaken"),
    Alarm("clickstream-query-failures", "A SQL model or transform failed.",
          "QueryFailures", "Sum", "GreaterThanThreshold", 0, 300, 1),
    Alarm("clickstream-no-data", "No records landed in raw for 3 hours.",
          "RecordsLanded", "Sum", "LessThanThreshold", 1, 3600, 3, treat_missing="breaching"),
)
