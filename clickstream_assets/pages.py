"""What a shop's pages are: page classes and the funnel's steps, defined once and passed to the SQL as parameters.

Trackers name pages their own way: our simulator sends URL paths (``/product/P1``, ``/checkout``), the original
project sends kinds (``product``, ``checkout``), a Shopify shop ``/products/…`` and ``/collections/…``. A page
belongs to the first class whose pattern matches it, in the order below; a page no class matches is ``other``.
Each funnel step is a pattern over ``<event_type>:<page_class>``, so a step can be an event anywhere
(``^add_to_cart:``), any event on a class of page (``:checkout$``) or both (``^view:product$``).

Patterns use the regular-expression syntax DuckDB (RE2), Athena (Java) and Python share: no look-arounds or
back-references. A shop overrides any of them in a JSON file named by ``$CLICKSTREAM_PAGES``
(``{"page_classes": {...}, "funnel_steps": {...}}``) or in the ``settings`` resource in the launchpad.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping

# A query string or fragment may follow any page; path classes also take deeper paths.
_TAIL = r"([/?#].*)?$"

PAGE_CLASSES: dict[str, str] = {
    "confirmation": r"^(/checkout/confirmation|/order-confirmation|/order/confirmation|/thank-?you|confirmation"
                    r"|order_confirmation|thank-?you)" + _TAIL,
    "checkout": r"^(/checkout|checkout)" + _TAIL,
    "cart": r"^(/cart|/basket|/bag|cart|basket)" + _TAIL,
    "product": r"^(/products?|/p|/item|products?|item)" + _TAIL,
    "category": r"^(/category|/categories|/collections?|/c|/shop|categor(y|ies)|collections?)" + _TAIL,
    "search": r"^(/search|search)" + _TAIL,
    "home": r"^(/|/index\.html?|/home|home|index)([?#].*)?$",
}
OTHER_PAGE_CLASS = "other"

# The four steps of the closed, ordered funnel, in order; sessions and funnel_daily have a column for each.
FUNNEL_STEPS: dict[str, str] = {
    "product_view": r"^view:product$",
    "add_to_cart": r"^add_to_cart:",
    "checkout": r"^[a-z_]+:checkout$",
    "purchase": r"^purchase:",
}

PAGES_FILE_ENV = "CLICKSTREAM_PAGES"
_MAX_PATTERN = 500
_UNSHARED_SYNTAX = re.compile(r"\(\?[=!<]|\\[1-9]")  # look-arounds and back-references: RE2 has neither


def check_pattern(name: str, pattern: str) -> str:
    """A pattern every engine can run, or a ValueError that says which and why."""
    if not isinstance(pattern, str) or not pattern or len(pattern) > _MAX_PATTERN:
        raise ValueError(f"{name}: a pattern must be a non-empty string of at most {_MAX_PATTERN} characters")
    if any(ord(c) < 32 for c in pattern):
        raise ValueError(f"{name}: a pattern may not hold control characters")
    if _UNSHARED_SYNTAX.search(pattern):
        raise ValueError(f"{name}: look-arounds and back-references do not run on DuckDB (RE2): {pattern!r}")
    try:
        re.compile(pattern)
    except re.error as error:
        raise ValueError(f"{name}: {pattern!r} is not a regular expression: {error}") from error
    return pattern


def check_page_config(page_classes: Mapping[str, str], funnel_steps: Mapping[str, str]) -> None:
    if list(page_classes) != list(PAGE_CLASSES):
        raise ValueError(f"page_classes must name exactly {', '.join(PAGE_CLASSES)} (in any order of patterns)")
    if set(funnel_steps) != set(FUNNEL_STEPS):
        raise ValueError(f"funnel_steps must name exactly {', '.join(FUNNEL_STEPS)}")
    for name, pattern in {**page_classes, **funnel_steps}.items():
        check_pattern(name, pattern)


def sql_params(page_classes: Mapping[str, str], funnel_steps: Mapping[str, str]) -> dict[str, str]:
    """The SQL's ``:<class>_page_pattern`` and ``:<step>_step_pattern`` parameters."""
    check_page_config(page_classes, funnel_steps)
    return {**{f"{name}_page_pattern": p for name, p in page_classes.items()},
            **{f"{name}_step_pattern": p for name, p in funnel_steps.items()}}


def load_page_config(path: str | None = None) -> dict[str, dict[str, str]]:
    """The defaults, overridden by the JSON file at ``path`` or ``$CLICKSTREAM_PAGES`` when there is one."""
    path = path or os.environ.get(PAGES_FILE_ENV)
    classes, steps = dict(PAGE_CLASSES), dict(FUNNEL_STEPS)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                override = json.load(handle)
        except (OSError, ValueError) as error:
            raise ValueError(f"{PAGES_FILE_ENV}={path}: {error}") from error
        unknown = set(override) - {"page_classes", "funnel_steps"}
        if unknown:
            raise ValueError(f"{path}: unknown keys {sorted(unknown)}; expected page_classes and funnel_steps")
        unknown_classes = set(override.get("page_classes", {})) - set(PAGE_CLASSES)
        if unknown_classes:
            raise ValueError(f"{path}: unknown page classes {sorted(unknown_classes)}; classes are "
                             f"{', '.join(PAGE_CLASSES)}")
        classes.update(override.get("page_classes", {}))
        steps.update(override.get("funnel_steps", {}))
    check_page_config(classes, steps)
    return {"page_classes": classes, "funnel_steps": steps}


def page_class(page: str, page_classes: Mapping[str, str] = PAGE_CLASSES) -> str:
    """The Python reference of the SQL's classification (tests recompute the models with it)."""
    for name, pattern in page_classes.items():
        if re.search(pattern, page):
            return name
    return OTHER_PAGE_CLASS
