"""The dashboard definition both twins render: filters, datasets, measures and sections, each with a ``kind``.

Nothing is guessed from an id or a title: a section says what it is (``kpis``, ``timeseries``, ``funnel``, ...),
a measure says how it adds up (``sum`` of a column, or ``ratio`` of two sums), a dataset names the SQL file
(Athena dialect) that both the local page and QuickSight read. ``validate`` fails loudly on a definition that
refers to something it does not declare, so a typo cannot become a blank chart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

FILTER_KINDS = {"date_range", "choice"}
DATASET_KINDS = {"query"}
GRAINS = {"day", "week"}  # what one value of a dataset's date column stands for
MEASURE_KINDS = {"sum", "ratio"}
FORMATS = {"count", "percent", "money", "decimal"}
SECTION_KINDS = {"kpis", "timeseries", "funnel", "breakdown", "top", "cohorts", "sankey", "stacked", "health"}


class DefinitionError(ValueError):
    pass


def _by_id(items: list[dict], what: str) -> dict[str, dict]:
    out: dict[str, dict] = {}
    for item in items:
        if item["id"] in out:
            raise DefinitionError(f"{what} {item['id']!r} is declared twice")
        out[item["id"]] = item
    return out


def validate(definition: dict) -> dict:
    """Checks every kind and every reference; returns the definition unchanged."""
    filters = _by_id(definition["filters"], "filter")
    datasets = _by_id(definition["datasets"], "dataset")
    measures = _by_id(definition["measures"], "measure")
    _by_id(definition["sections"], "section")
    for f in filters.values():
        if f["kind"] not in FILTER_KINDS:
            raise DefinitionError(f"filter {f['id']}: unknown kind {f['kind']!r}")
    for d in datasets.values():
        if d["kind"] not in DATASET_KINDS:
            raise DefinitionError(f"dataset {d['id']}: unknown kind {d['kind']!r}")
        if d.get("grain") not in GRAINS:
            raise DefinitionError(f"dataset {d['id']}: grain must be one of {sorted(GRAINS)}, not {d.get('grain')!r}")
    for m in measures.values():
        if m["kind"] not in MEASURE_KINDS or m["format"] not in FORMATS:
            raise DefinitionError(f"measure {m['id']}: unknown kind or format")
        if m["dataset"] not in datasets:
            raise DefinitionError(f"measure {m['id']}: no dataset {m['dataset']!r}")
        if m["kind"] == "ratio" and not (m.get("numerator") and m.get("denominator")):
            raise DefinitionError(f"measure {m['id']}: a ratio needs a numerator and a denominator")
    for s in definition["sections"]:
        if s["kind"] not in SECTION_KINDS:
            raise DefinitionError(f"section {s['id']}: unknown kind {s['kind']!r}")
        if "dataset" in s and s["dataset"] not in datasets:
            raise DefinitionError(f"section {s['id']}: no dataset {s['dataset']!r}")
        for m in s.get("measures", []):
            if m not in measures:
                raise DefinitionError(f"section {s['id']}: no measure {m!r}")
            if s["kind"] != "kpis" and measures[m]["dataset"] != s["dataset"]:
                raise DefinitionError(f"section {s['id']}: measure {m!r} is over another dataset")
    return definition


def datasets(definition: dict) -> dict[str, dict]:
    return {d["id"]: d for d in definition["datasets"]}


def measures(definition: dict) -> dict[str, dict]:
    return {m["id"]: m for m in definition["measures"]}


def section_datasets(definition: dict, section: dict) -> list[str]:
    """The datasets a section reads (a KPI strip reads those of its measures)."""
    if section["kind"] == "kpis":
        by_id = measures(definition)
        return sorted({by_id[m]["dataset"] for m in section["measures"]})
    return [section["dataset"]] if "dataset" in section else []


@dataclass
class DashboardInputs:
    """What a twin needs to publish. ``rows`` runs a dataset's query (None when its table is not built yet);
    only the local twin calls it, so QuickSight, which queries Athena itself, costs no dashboard queries here."""

    definition: dict
    rows: Callable[[dict], list[dict] | None]
    health: Callable[[], dict]
    tables: frozenset[str] = field(default_factory=frozenset)  # model tables this code base builds
