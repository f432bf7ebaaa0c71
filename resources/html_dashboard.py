"""The local dashboard: one self-contained, offline HTML file, interactive, under a strict Content-Security-Policy.

The page embeds three things: the models' rows as JSON (per day, device and channel, so the filters and the
KPIs add them up in the browser, ratios as ratios of sums), plotly.js from the ``plotly`` wheel's package data
(charts with hover and a Sankey, no CDN), and ``dashboard_page.js`` (filters, aggregation, charts). The two
scripts are allowed by their SHA-256 in the CSP; the JSON is a non-executing ``application/json`` block.
No 'unsafe-eval': plotly.js's only ``Function(...)`` calls are in trace types this page never draws (the WebGL
ones), which the browser tests prove by recording every CSP violation.

Every text from the data is escaped (HTML here, ``textContent`` in the script): an event's text never becomes
markup.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from html import escape
from importlib import resources as package_files
from pathlib import Path

from resources.dashboard_spec import measures, section_datasets

APP = Path(__file__).with_name("dashboard_page.js")

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
color:#0f172a;background:#f1f5f9}header{padding:14px 24px;background:#0f172a;color:#f8fafc}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#cbd5e1;font-size:12px}
form.filters{display:flex;flex-wrap:wrap;gap:8px 14px;align-items:end;padding:10px 24px;background:#fff;
border-bottom:1px solid #e2e8f0;position:sticky;top:0;z-index:5}form.filters label{display:flex;flex-direction:column;
font-size:12px;color:#475569;gap:2px}form.filters input,form.filters select,form.filters button{font:inherit;
padding:4px 6px;border:1px solid #cbd5e1;border-radius:6px;background:#fff;min-width:0}
form.filters .presets{display:flex;gap:4px;flex-wrap:wrap}form.filters button[aria-pressed=true]{background:#2563eb;
color:#fff;border-color:#2563eb}.grain{font-size:12px;color:#475569}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(min(100%,460px),1fr));gap:16px;padding:16px;
max-width:1600px;margin:auto}section{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px #0001;
min-width:0}section.wide{grid-column:1/-1}h2{margin:0 0 8px;font-size:15px}.chart{width:100%;height:320px}.chart.missing{height:auto}
.kpi-cards{display:flex;flex-wrap:wrap;gap:12px}.kpi{flex:1 1 150px;background:#f8fafc;border-radius:8px;padding:10px 12px}
.kpi b{display:block;font-size:22px;overflow-wrap:anywhere}.kpi span{color:#64748b;font-size:12px}
.note,.empty{color:#64748b;font-size:12px;margin:4px 0}.absent{color:#b45309;font-weight:600}
table{border-collapse:collapse;width:100%;font-size:12px}th,td{padding:4px 6px;text-align:right;
border-bottom:1px solid #e2e8f0}th:first-child,td:first-child{text-align:left}.ok{color:#16a34a}.bad{color:#dc2626}
.scroll{overflow-x:auto}details summary{cursor:pointer;margin:8px 0;color:#2563eb}
@media (max-width:600px){main{padding:8px;gap:10px}header,form.filters{padding:8px 10px}form.filters{position:static}.chart{height:280px}}
"""

FORMAT_NAMES = {"count": "count", "percent": "percent", "money": "money", "decimal": "decimal"}


def _plain(value):
    if isinstance(value, (date, datetime)):
        return value.isoformat()[:10]
    if isinstance(value, Decimal):
        return float(value)
    return value


def _columnar(rows: list[dict] | None) -> dict:
    """``{"columns": [...], "rows": [[...], ...]}``: a third of the bytes of one object per row."""
    if rows is None:
        return {"built": False}
    columns = list(rows[0]) if rows else []
    return {"built": True, "columns": columns, "rows": [[_plain(r[c]) for c in columns] for r in rows]}


def embed_json(value) -> str:
    """JSON safe inside a ``<script>`` block: no ``<`` can close it or open a comment."""
    return json.dumps(value, separators=(",", ":"), allow_nan=False).replace("<", "\\u003c")


def _sha256(text: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(text.encode()).digest()).decode()


@lru_cache(maxsize=1)
def plotly_js() -> str:
    return (package_files.files("plotly") / "package_data" / "plotly.min.js").read_text(encoding="utf-8")


def _fmt(value, kind: str = "count") -> str:
    if value is None:
        return "—"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if isinstance(value, (int, float)):
        return f"{round(value):,}"
    return str(_plain(value))


def _filters(definition: dict) -> str:
    parts = []
    for f in definition["filters"]:
        if f["kind"] == "date_range":
            presets = "".join(f'<button type="button" data-preset="{int(n)}">Last {int(n)} days</button>'
                              for n in f["presets_days"])
            parts.append(f'<label>From<input type="date" name="from"></label><label>To<input type="date" name="to">'
                         f'</label><div class="presets" role="group" aria-label="date presets">{presets}'
                         '<button type="button" data-preset="all">All</button></div>')
        else:
            parts.append(f'<label>{escape(f["label"])}<select name="{escape(f["id"])}" data-column="'
                         f'{escape(f["column"])}"><option value="">All</option></select></label>')
    return f'<form class="filters" aria-label="filters">{"".join(parts)}<span class="grain"></span></form>'


def _kpis(definition: dict, section: dict) -> str:
    by_id = measures(definition)
    cards = "".join(
        f'<div class="kpi" data-kpi="{escape(m)}" data-format="{escape(by_id[m]["format"])}">'
        f'<b>…</b><span>{escape(by_id[m]["label"])}</span></div>' for m in section["measures"]
    )
    return f'<div class="kpi-cards">{cards}</div>'


def _health(section: dict, health: dict) -> str:
    recent = int(section.get("recent_days", 14))
    days = health.get("days", [])

    def rows(items):
        return "".join(
            f'<tr data-day="{escape(_fmt(d["dt"]))}"><td>{escape(_fmt(d["dt"]))}</td><td>{_fmt(d["taken"])}</td>'
            f'<td>{_fmt(d["clean"])}</td><td>{_fmt(d["duplicates"])}</td><td>{_fmt(d["quarantined"])}</td>'
            f'<td>{_fmt(d["quarantine_rate"], "percent")}</td><td>{_fmt(d["late"])}</td>'
            f'<td class="{"ok" if d["reconciles"] else "bad"}">{"yes" if d["reconciles"] else "NO"}</td></tr>'
            for d in reversed(items))

    head = ("<thead><tr><th>day</th><th>taken</th><th>clean</th><th>duplicates</th><th>quarantined</th>"
            "<th>quarantine rate</th><th>late</th><th>reconciles</th></tr></thead>")
    sums = {k: sum(d[k] for d in days) for k in ("taken", "clean", "duplicates", "quarantined", "late")}
    bad_days = [d for d in days if not d["reconciles"]]
    totals = (f'<p class="ledger-totals" data-days="{len(days)}">{len(days)} days: {_fmt(sums["taken"])} records '
              f'taken, {_fmt(sums["clean"])} clean, {_fmt(sums["duplicates"])} duplicates, '
              f'{_fmt(sums["quarantined"])} quarantined, {_fmt(sums["late"])} late; '
              + (f'<span class="bad">{len(bad_days)} days do not reconcile</span>' if bad_days
                 else '<span class="ok">every day reconciles</span>') + "</p>")
    recent_table = f'<div class="scroll"><table class="recent">{head}<tbody>{rows(days[-recent:])}</tbody></table></div>'
    older = days[:-recent] if len(days) > recent else []
    folded = (f'<details class="older"><summary>{len(older)} earlier days</summary><div class="scroll">'
              f"<table>{head}<tbody>{rows(older)}</tbody></table></div></details>") if older else ""
    facts = "".join(f"<li>{escape(str(k))}: <b>{escape(_fmt(v))}</b></li>"
                    for k, v in health.get("freshness", {}).items())
    alarms = "".join(
        f'<li class="{"bad" if a["state"] == "ALARM" else "ok"}">{escape(a["name"])}: {escape(a["state"])}'
        f' ({escape(a.get("reason", ""))})</li>' for a in health.get("alarms", []))
    ledger, ledger_html = health.get("ledger"), ""
    if ledger:
        heads = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in ledger["totals"])
        hops = "".join(f'<td data-hop="{escape(k)}">{_fmt(v)}</td>' for k, v in ledger["totals"].items())
        gaps = "".join(f'<li class="bad">{escape(g)}</li>' for g in ledger["gaps"][:10])
        ledger_html = (f'<div class="scroll"><table class="ledger"><thead><tr>{heads}</tr></thead><tbody><tr>{hops}'
                       "</tr></tbody></table></div>"
                       + (f"<ul>{gaps}</ul>" if gaps else '<p class="ok">Completeness ledger: no gaps.</p>'))
    return (f"<ul>{facts}</ul>" + (f"<ul>{alarms}</ul>" if alarms else "") + ledger_html + totals
            + f"<h3>Last {min(recent, len(days))} days</h3>" + recent_table + folded)


def render(definition: dict, data: dict[str, list[dict] | None], health: dict, generated_at: str) -> str:
    """The page. ``data`` maps each dataset id to its rows, or None when its table is not built yet."""
    sections = []
    for section in definition["sections"]:
        kind = section["kind"]
        if kind == "kpis":
            body = _kpis(definition, section)
        elif kind == "health":
            body = _health(section, health)
        else:
            missing = [d for d in section_datasets(definition, section) if data.get(d) is None]
            body = (f'<p class="absent" data-state="absent">Not built yet: {escape(", ".join(missing))}.</p>'
                    if missing else "")
            body = (f'<p class="note" hidden></p><div class="chart{" missing" if missing else ""}" role="img" '
                    f'aria-label="{escape(section["title"])}">{body}</div>')
        wide = " wide" if kind in ("kpis", "health", "sankey") else ""
        sections.append(f'<section id="{escape(section["id"])}" class="{kind}{wide}" data-kind="{kind}">'
                        f"<h2>{escape(section['title'])}</h2>{body}</section>")
    payload = embed_json({"definition": definition,
                          "data": {d["id"]: _columnar(data.get(d["id"])) for d in definition["datasets"]}})
    library, app = plotly_js(), APP.read_text(encoding="utf-8")
    csp = (f"default-src 'none'; script-src '{_sha256(library)}' '{_sha256(app)}'; style-src 'unsafe-inline'; "
           "img-src data:; font-src data:")
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        f'<meta http-equiv="Content-Security-Policy" content="{escape(csp)}">'
        f"<title>{escape(definition['title'])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(definition['title'])}</h1><p>Generated {escape(generated_at)} from the processed "
        "models · every figure is a Dagster asset · hover a chart for its values</p></header>"
        f"{_filters(definition)}<main>{''.join(sections)}</main>"
        f'<script type="application/json" id="dashboard-data">{payload}</script>'
        f"<script>{library}</script><script>{app}</script></body></html>"
    )
