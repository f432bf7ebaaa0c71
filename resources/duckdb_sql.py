"""Athena SQL as DuckDB runs it. sqlglot transpiles the dialect; these rewrites cover where the two engines still
differ, in results (count_if over no rows) or in cost (parsing a JSON text twice)."""

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
    STRUCT in one parse, with the same conversions, and TRY makes malformed text NULL as before: a third less time
    classifying raw lines."""
    for node in list(tree.find_all(exp.TryCast)):
        inner = node.this.this if isinstance(node.this, exp.Try) else None
        if isinstance(inner, exp.ParseJSON) and node.to.is_type(exp.DataType.Type.STRUCT):
            fields = {f.name: f.args["kind"].sql("duckdb") for f in node.to.expressions}
            if all(isinstance(f, exp.ColumnDef) for f in node.to.expressions):
                structure = exp.Literal.string(json.dumps(fields))
                node.replace(exp.Try(this=exp.Anonymous(this="json_transform", expressions=[inner.this, structure])))


def referenced_tables(tree: exp.Expression) -> set[str]:
    """The tables a query reads, not counting its own CTEs."""
    ctes = {cte.alias for cte in tree.find_all(exp.CTE)}
    return {t.name for t in tree.find_all(exp.Table)} - ctes
