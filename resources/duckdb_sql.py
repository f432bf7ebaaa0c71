"""Athena SQL as DuckDB runs it. sqlglot transpiles the dialect; these rewrites cover where the two engines still
differ, in results (count_if over no rows) or in cost (parsing or printing a JSON text twice)."""

from __future__ import annotations

import json

from sqlglot import exp


def athena_count_if(tree: exp.Expression) -> None:
    """Athena's count_if counts nothing as 0; DuckDB's gives NULL over no rows, which made an empty day fail every
    check that counts violations. ``count(*) FILTER (WHERE …)`` is 0 on both."""
    for node in list(tree.find_all(exp.CountIf)):
        node.replace(exp.Filter(this=exp.Count(this=exp.Star()), expression=exp.Where(this=node.this)))


def parse_json_once(tree: exp.Expression) -> None:
    """Athena's ``try_cast(try(json_parse(x)) AS ROW(...))`` transpiles to DuckDB's ``json(x)`` (which parses the
    text and prints it again) cast to a STRUCT (which parses it once more). ``json_transform`` reads the text into the
    STRUCT in one parse, with the same conversions: a third less time classifying raw lines.

    Malformed text is NULL, as before, but is kept from ``json_transform`` by ``json_valid`` rather than caught by
    TRY alone: DuckDB's TRY runs a vector of 2,048 rows again row by row when one of them fails, so a stream with one
    line in a thousand cut short took three times as long to classify as a clean one. A text that opens with ``{``
    and closes with ``}`` skips that check: it is almost always an object, and a line cut short almost never ends so
    (a validating parse of every line had cost ~0.4 CPU-s per million). One that still fails is NULL through TRY."""
    for node in list(tree.find_all(exp.TryCast)):
        inner = node.this.this if isinstance(node.this, exp.Try) else None
        if isinstance(inner, exp.ParseJSON) and node.to.is_type(exp.DataType.Type.STRUCT):
            fields = {f.name: f.args["kind"].sql("duckdb") for f in node.to.expressions}
            if all(isinstance(f, exp.ColumnDef) for f in node.to.expressions):
                structure = exp.Literal.string(json.dumps(fields))
                text = inner.this
                # TRY catches what still fails: valid JSON that does not fit (a top-level array), or braced text that
                # is not JSON. Both are rare, so a vector is rarely run again row by row.
                transform = exp.Try(this=exp.Anonymous(this="json_transform", expressions=[text, structure]))
                braced = exp.and_(exp.Anonymous(this="starts_with", expressions=[text.copy(), exp.Literal.string("{")]),
                                  exp.Anonymous(this="ends_with", expressions=[text.copy(), exp.Literal.string("}")]))
                valid = exp.or_(braced, exp.Anonymous(this="json_valid", expressions=[text.copy()]))
                node.replace(exp.Case(ifs=[exp.If(this=valid, true=transform)]))


def json_text(tree: exp.Expression) -> None:
    """Athena's ``json_format(x)`` takes a JSON value (any other type is an error there) and gives its text. In DuckDB a
    JSON value is its text already, but sqlglot's ``to_json(x)`` prints it again: 17 times per line classified off the
    fast path (another tracker's events), ~10% of that classification."""
    for node in list(tree.find_all(exp.JSONFormat)):
        if node.args.get("is_json"):
            node.replace(exp.cast(node.this, exp.DataType.build("TEXT")))


def iso8601_without_exceptions(tree: exp.Expression) -> None:
    """Athena's ``try(from_iso8601_timestamp(x))`` transpiles to DuckDB's ``TRY(CAST(x AS TIMESTAMPTZ))``. A
    timestamp of the right shape that is no date (``2026-02-30T10:00:00Z``) makes the cast raise, and TRY then runs
    its vector of 2,048 rows again row by row: ~0.27 CPU-s per million lines when one in a thousand has such a date.
    ``TRY_CAST`` gives the same NULL without raising; only a column is rewritten, as TRY would also have caught an
    error of a larger expression inside it."""
    for node in list(tree.find_all(exp.Try)):
        if isinstance(node.this, exp.FromISO8601Timestamp) and isinstance(node.this.this, exp.Column):
            node.replace(exp.TryCast(this=node.this.this, to=exp.DataType.build("TIMESTAMPTZ", dialect="duckdb")))


def referenced_tables(tree: exp.Expression) -> set[str]:
    """The tables a query reads, not counting its own CTEs."""
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes
