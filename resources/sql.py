"""The one loader of the SQL files in ``sql/`` (shipped as the package ``clickstream_sql``): where they are, how
a file is read, what its leading comment says, and every parameter a file may name, with its declared type.

The engines (DuckDB, Athena), the catalog's DDL reader and the models' descriptions all read SQL through here.
"""

from __future__ import annotations

import importlib.resources
import re
from collections.abc import Collection, Mapping
from datetime import date
from pathlib import Path

import sqlglot
from sqlglot import exp

# sql/ ships as the package clickstream_sql (pyproject maps it), so a wheel install finds it like a checkout.
SQL_ROOT = Path(str(importlib.resources.files("clickstream_sql")))
SQL_FILE = re.compile(r"^[a-z_]+/[a-z0-9_]+\.sql$")

DATE, WHOLE_NUMBER, PATTERN = "date", "whole number", "pattern"
_PAGES = ("home", "search", "category", "product", "cart", "checkout", "confirmation")
_STEPS = ("product_view", "add_to_cart", "checkout", "purchase")
# Every ``:name`` the SQL files use, with its type: nothing undeclared reaches a query.
PARAMETERS: dict[str, str] = {
    "first_day": DATE,
    "last_day": DATE,
    "calendar_start": DATE,
    "late_arrival_hours": WHOLE_NUMBER,
    "max_event_age_days": WHOLE_NUMBER,
    "gap_minutes": WHOLE_NUMBER,
    "funnel_window_seconds": WHOLE_NUMBER,
    "attribution_lookback_days": WHOLE_NUMBER,
    **{f"{page}_page_pattern": PATTERN for page in _PAGES},
    **{f"{step}_step_pattern": PATTERN for step in _STEPS},
}
_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_WHOLE_NUMBER = re.compile(r"^-?[0-9]{1,9}$")
IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,127}$")
PARTITION_VALUE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}(-[0-9]{2})?$")


def load_sql(sql_file: str) -> str:
    """The text of ``sql/<sql_file>``, e.g. ``models/sessions.sql``."""
    if not SQL_FILE.match(sql_file):
        raise ValueError(f"{sql_file!r} is not a file of sql/ like models/sessions.sql")
    return (SQL_ROOT / sql_file).read_text()


def parse(sql_file: str, handed_over: Collection[str] = ()) -> exp.Expression:
    """A SQL file parsed (Athena dialect), each table that ``sql/views/`` defines inlined as a subquery, except
    the relations handed over in memory (``handed_over``: the lines being sealed, locally)."""
    tree = sqlglot.parse_one(load_sql(sql_file), read="athena")
    for node in list(tree.find_all(exp.Table)):
        if node.name not in handed_over and (SQL_ROOT / "views" / f"{node.name}.sql").exists():
            node.replace(parse(f"views/{node.name}.sql", handed_over).subquery(node.alias_or_name))
    return tree


def sql_summary(sql_file: str) -> str:
    """The file's ``--`` comment lines joined: a model's documentation, shown in the UI."""
    return " ".join(line[2:].strip() for line in load_sql(sql_file).splitlines() if line.startswith("--"))


def check_identifier(name: str) -> str:
    """A table, column or parameter name we put into SQL or a path: lower-case letters, digits, underscores."""
    if not IDENTIFIER.match(name):
        raise ValueError(f"{name!r} is not a valid table or column name")
    return name


def check_partition_value(value: str) -> str:
    if not PARTITION_VALUE.match(value):
        raise ValueError(f"{value!r} is not a partition value like 2026-11-01 or 2026-11-01-13")
    return value


def check_params(params: Mapping[str, object]) -> dict[str, str]:
    """Each parameter as text, checked against its declared type: a real YYYY-MM-DD day, a whole number, or a
    regular expression of the shop's configuration (bound as a string, never pasted into SQL)."""
    checked = {}
    for name, value in params.items():
        kind = PARAMETERS.get(check_identifier(name))
        if kind is None:
            raise ValueError(f"parameter {name} is not declared in resources/sql.py PARAMETERS")
        text = str(value)
        if kind == PATTERN:
            if not 0 < len(text) <= 500 or any(ord(c) < 32 for c in text):
                raise ValueError(f"parameter {name} is not a pattern of 1 to 500 printable characters")
            re.compile(text)
        elif kind == DATE:
            if not _DATE.match(text):
                raise ValueError(f"parameter {name}={text!r} is not a date like 2026-11-01")
            date.fromisoformat(text)
        elif not _WHOLE_NUMBER.match(text):
            raise ValueError(f"parameter {name}={text!r} is not a whole number")
        checked[name] = text
    return checked
