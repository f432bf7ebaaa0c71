"""When assets follow new data by themselves: declarative automation conditions by the shape of their inputs.

Dagster's ``eager()`` looks only at the latest time partition and waits while any upstream partition is missing.
Over daily data neither fits: a late record rebuilds an older day, whose models must follow, and a live warehouse
has days that will never exist (before the first event), so an asset over all days would wait forever. Assets whose
inputs are all unpartitioned use ``eager()`` as it is.
"""

import dagster as dg


def daily() -> dg.AutomationCondition:
    """A daily partition rebuilds when its upstream partition changes, whichever day it is."""
    return dg.AutomationCondition.eager().without(dg.AutomationCondition.in_latest_time_window()).with_label(
        "eager, any day"
    )


def _not_beside_its_inputs() -> dg.AutomationCondition:
    """Not requested in the tick that requests an input: automation runs daily and unpartitioned assets in separate,
    parallel runs, so it would read the input as it was. The next tick, after the input is built, requests it."""
    return ~dg.AutomationCondition.any_deps_match(dg.AutomationCondition.will_be_requested())


def over_days() -> dg.AutomationCondition:
    """An unpartitioned asset over daily ones rebuilds when any upstream day changes, once some upstream day
    exists, without waiting for days that will never exist."""
    return (
        dg.AutomationCondition.eager().without(~dg.AutomationCondition.any_deps_missing())
        & dg.AutomationCondition.any_deps_match(~dg.AutomationCondition.missing())
        & _not_beside_its_inputs()
    ).with_label("eager, over the days that exist")


def last() -> dg.AutomationCondition:
    """The end of the line (the dashboard): eager, once every input of this round is built, so it is built once
    with everything rather than once per input."""
    return (dg.AutomationCondition.eager() & _not_beside_its_inputs()).with_label("eager, after its inputs")
