"""Clickstream analytics for e-commerce as Dagster assets."""

import warnings

# BackfillPolicy is beta in Dagster 1.13 but is what makes a 30-day backfill one run; we choose it knowingly. Set
# here, when the package is first imported: Dagster's loader imports the defs/ modules inside catch_warnings, which
# would drop a filter set there once loading ends.
warnings.filterwarnings("ignore", message=r".*`backfill_policy`.*beta")
warnings.filterwarnings("ignore", message=r".*`owners`.*beta")
