"""Planted truth: the simulator's behaviour is recorded with each producer run; the models must measure it back.

A measured rate outside its binomial tolerance (z standard errors on its sample size) fails the check: a model
that miscounts, drops or double-counts shows up here even when every total reconciles. Revenue is held to what the
producer sent (its tally of orders and their value): mean order value and orders per purchasing session within a
relative tolerance, and the share of purchasing sessions that ordered again to the reorder rate, binomially.
"""

import math

import dagster as dg

from clickstream_assets.ledger import read_producer_runs
from clickstream_assets.settings import PipelineSettings
from resources.engine import Engine
from resources.storage import Storage

FUNNEL = dg.AssetKey(["processed", "funnel_daily"])


def planted(behaviour: dict, rate: str, segment: str) -> float | None:
    value = behaviour.get(rate)
    if isinstance(value, dict):
        return value.get(segment)
    return value


def compare(measured: list[dict], behaviour: dict, z: float) -> list[dict]:
    """One row per measured rate: planted p, measured p̂, tolerance and whether it holds."""
    rows = []
    for m in measured:
        p = planted(behaviour, m["rate"], m["segment"])
        n = m["trials"] or 0
        if p is None or n < 30:  # too few trials to say anything
            continue
        observed = m["successes"] / n
        tolerance = z * math.sqrt(p * (1 - p) / n)
        rows.append({"rate": m["rate"], "segment": m["segment"], "planted": p, "measured": round(observed, 5),
                     "trials": n, "tolerance": round(tolerance, 5), "holds": abs(observed - p) <= tolerance})
    return rows


def revenue_rows(engine: Engine, behaviour: dict, z: float, tolerance: float) -> list[dict]:
    """The revenue figures measured over the orders model, beside the ones the producer sent."""
    sent = behaviour.get("revenue")
    if not sent or not sent.get("orders"):
        return []
    try:
        found, _ = engine.query("checks/planted_revenue.sql", {})
    except LookupError:  # the orders model is not built yet: nothing to compare
        return []
    m = found.to_pylist()[0]
    if not m["orders"]:
        return []
    rows = compare([{"rate": "reorder_rate", "segment": "all", "trials": m["purchasing_sessions"],
                     "successes": m["reordering_sessions"]}], behaviour, z)
    measured = {"mean_order_value": float(m["revenue"]) / m["orders"],
                "orders_per_purchasing_session": m["orders"] / max(m["purchasing_sessions"], 1)}
    for name, value in measured.items():
        planted_value = sent[name]
        rows.append({"rate": name, "segment": sent.get("currency", "all"), "planted": planted_value,
                     "measured": round(value, 4), "trials": m["orders"],
                     "tolerance": round(tolerance * planted_value, 4),
                     "holds": abs(value - planted_value) <= tolerance * planted_value})
    return rows


def planted_truth_result(engine: Engine, storage: Storage, z: float,
                         value_tolerance: float = 0.02) -> dg.AssetCheckResult:
    runs = [r for r in read_producer_runs(storage) if r.get("behaviour") and r.get("mode") == "historical"]
    if not runs:
        return dg.AssetCheckResult(passed=True, check_name="planted_truth", asset_key=FUNNEL,
                                   metadata={"note": "no simulated producer run recorded: nothing planted to check"})
    behaviour = runs[-1]["behaviour"]
    measured, _ = engine.query("checks/planted_truth.sql", {})
    rows = compare(measured.to_pylist(), behaviour, z) + revenue_rows(engine, behaviour, z, value_tolerance)
    off = [f"{r['rate']}[{r['segment']}]: measured {r['measured']} vs planted {r['planted']} ± {r['tolerance']} "
           f"(n={r['trials']})" for r in rows if not r["holds"]]
    table = "| rate | segment | planted | measured | ± | n |\n|---|---|---|---|---|---|\n" + "\n".join(
        f"| {r['rate']} | {r['segment']} | {r['planted']} | {r['measured']} | {r['tolerance']} | {r['trials']} |"
        for r in rows)
    return dg.AssetCheckResult(passed=not off, check_name="planted_truth", asset_key=FUNNEL,
                               metadata={"rates_compared": len(rows), "outside_tolerance": "; ".join(off) or "none",
                                         "comparison": dg.MetadataValue.md(table)})


@dg.asset_check(asset=FUNNEL, name="planted_truth", additional_deps=[dg.AssetKey(["processed", "sessions"]),
                                                                     dg.AssetKey(["processed", "orders"])],
                description="The funnel, bounce and new-user rates the models measure match the rates the simulator "
                "planted, within a binomial tolerance; mean order value and orders per purchasing session match the "
                "orders it sent, within a relative tolerance.")
def planted_truth(engine: Engine, storage: Storage, settings: PipelineSettings) -> dg.AssetCheckResult:
    return planted_truth_result(engine, storage, settings.planted_truth_z, settings.planted_value_tolerance)
