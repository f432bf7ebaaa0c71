"""The local dashboard: one self-contained HTML page with inline SVG charts (no script, no CDN, works offline).

Every value from the data is escaped: an event's text can never become markup. Chart marks carry their value in
``data-value`` so a browser test can compare what is drawn with the models' Parquet.
"""

from __future__ import annotations

from datetime import date, datetime
from html import escape

PALETTE = ("#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626")
STEPS = (("sessions", "Sessions"), ("product_view", "Viewed a product"), ("add_to_cart", "Added to cart"),
         ("checkout", "Reached checkout"), ("purchase", "Purchased"))

CSS = """
*{box-sizing:border-box}body{margin:0;font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;
color:#0f172a;background:#f1f5f9}header{padding:18px 24px;background:#0f172a;color:#f8fafc}
header h1{margin:0;font-size:20px}header p{margin:4px 0 0;color:#cbd5e1;font-size:12px}
main{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:16px;padding:16px;max-width:1600px;
margin:auto}section{background:#fff;border-radius:10px;padding:14px 16px;box-shadow:0 1px 2px #0001;min-width:0}
section.wide{grid-column:1/-1}h2{margin:0 0 10px;font-size:15px}svg{width:100%;height:auto;display:block}
svg text{font-size:11px;fill:#334155}.kpis{display:flex;flex-wrap:wrap;gap:12px}
.kpi{flex:1 1 140px;background:#f8fafc;border-radius:8px;padding:10px 12px}.kpi b{display:block;font-size:22px}
.kpi span{color:#64748b;font-size:12px}table{border-collapse:collapse;width:100%;font-size:12px}
th,td{padding:4px 6px;text-align:right;border-bottom:1px solid #e2e8f0}th:first-child,td:first-child{text-align:left}
.legend{display:flex;flex-wrap:wrap;gap:10px;font-size:12px;margin-top:6px}.legend i{display:inline-block;width:10px;
height:10px;border-radius:2px;margin-right:4px}.ok{color:#16a34a}.bad{color:#dc2626}.empty{color:#64748b}
.scroll{overflow-x:auto}@media (max-width:600px){main{grid-template-columns:1fr;padding:8px}header{padding:12px}}
"""


def fmt(value, kind: str = "count") -> str:
    if value is None:
        return "–"
    if kind == "percent":
        return f"{float(value) * 100:.1f}%"
    if isinstance(value, float) and kind != "count":
        return f"{value:,.1f}"
    if isinstance(value, (int, float)):
        return f"{round(value):,}"
    if isinstance(value, (date, datetime)):
        return value.isoformat()
    return str(value)


def _e(value) -> str:
    return escape(fmt(value) if not isinstance(value, str) else value, quote=True)


def _kpis(rows: list[dict]) -> str:
    row = rows[0] if rows else {}
    cards = [("sessions", "Sessions", "count"), ("purchases", "Purchasing sessions", "count"),
             ("conversion_rate", "Conversion", "percent"), ("cart_abandonment_rate", "Cart abandonment", "percent"),
             ("days", "Days", "count")]
    return '<div class="kpis">' + "".join(
        f'<div class="kpi" data-kpi="{k}" data-value="{escape(str(row.get(k)))}"><b>{escape(fmt(row.get(k), kind))}'
        f"</b><span>{escape(label)}</span></div>"
        for k, label, kind in cards
    ) + "</div>"


def _funnel(rows: list[dict]) -> str:
    if not rows:
        return '<p class="empty">No sessions yet.</p>'
    row_h, label_w, width = 18, 130, 640
    height = len(rows) * (len(STEPS) * row_h + 26)
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="funnel">']
    y = 0
    for row in rows:
        parts.append(f'<text x="0" y="{y + 13}" font-weight="600">{_e(row["segment"])}</text>')
        y += 18
        top = row["sessions"] or 1
        for i, (step, label) in enumerate(STEPS):
            value = row[step] or 0
            w = max(1.0, (width - label_w - 150) * value / top)
            share = value / top
            parts.append(
                f'<text x="8" y="{y + 12}">{escape(label)}</text>'
                f'<rect class="mark" data-series="{escape(str(row["segment"]))}" data-step="{step}" '
                f'data-value="{value}" x="{label_w}" y="{y + 2}" width="{w:.1f}" height="{row_h - 5}" rx="2" '
                f'fill="{PALETTE[i % len(PALETTE)]}"/>'
                f'<text x="{label_w + w + 6:.1f}" y="{y + 12}">{fmt(value)} ({share * 100:.1f}%)</text>'
            )
            y += row_h
        y += 8
    parts.append("</svg>")
    return "".join(parts)


def _line(rows: list[dict], section: dict) -> str:
    if not rows:
        return '<p class="empty">No days built yet.</p>'
    kind = section.get("format", "count")
    series = section["y"]
    width, height, left, bottom = 640, 240, 56, 28
    values = [r[s] for r in rows for s in series if r[s] is not None]
    top = max(values) if values else 1
    top = top if top > 0 else 1
    n = len(rows)
    x = lambda i: left + (width - left - 28) * (i / (n - 1) if n > 1 else 0.5)  # noqa: E731
    y = lambda v: 10 + (height - bottom - 10) * (1 - v / top)  # noqa: E731
    parts = [f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(section["title"])}">']
    for t in range(5):
        v = top * t / 4
        parts.append(f'<line x1="{left}" x2="{width}" y1="{y(v):.1f}" y2="{y(v):.1f}" stroke="#e2e8f0"/>'
                     f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end">{escape(fmt(v, kind))}</text>')
    step = max(1, n // 8)
    for i, r in enumerate(rows):
        if i % step == 0 or i == n - 1:
            parts.append(f'<text x="{x(i):.1f}" y="{height - 8}" text-anchor="middle">{_e(r[section["x"]])[5:]}</text>')
    for k, s in enumerate(series):
        color = PALETTE[k % len(PALETTE)]
        points = [(x(i), y(r[s])) for i, r in enumerate(rows) if r[s] is not None]
        if len(points) > 1:
            path = " ".join(f"{px:.1f},{py:.1f}" for px, py in points)
            parts.append(f'<polyline points="{path}" fill="none" stroke="{color}" stroke-width="2"/>')
        for i, r in enumerate(rows):
            if r[s] is not None:
                parts.append(f'<circle class="mark" data-series="{escape(s)}" data-x="{_e(r[section["x"]])}" '
                             f'data-value="{r[s]}" cx="{x(i):.1f}" cy="{y(r[s]):.1f}" r="3" fill="{color}">'
                             f"<title>{_e(r[section['x']])}: {escape(fmt(r[s], kind))}</title></circle>")
    parts.append("</svg>")
    legend = "".join(f'<span><i style="background:{PALETTE[k % len(PALETTE)]}"></i>{escape(s)}</span>'
                     for k, s in enumerate(series))
    return "".join(parts) + f'<div class="legend">{legend}</div>'


def _bars(rows: list[dict], section: dict) -> str:
    if not rows:
        return '<p class="empty">No data yet.</p>'
    label, value, extra = section["label"], section["value"], section.get("extra", [])
    width, row_h, label_w = 640, 24, 120
    top = max((r[value] or 0) for r in rows) or 1
    parts = [f'<svg viewBox="0 0 {width} {len(rows) * row_h + 4}" role="img" aria-label="{escape(section["title"])}">']
    for i, r in enumerate(rows):
        y = i * row_h
        w = max(1.0, (width - label_w - 330) * (r[value] or 0) / top)
        details = ", ".join(f"{k.replace('_', ' ')} {fmt(r[k], 'percent' if k.endswith('rate') else 'count')}"
                            for k in extra)
        parts.append(f'<text x="0" y="{y + 15}">{_e(r[label])}</text>'
                     f'<rect class="mark" data-series="{escape(str(r[label]))}" data-value="{r[value]}" '
                     f'x="{label_w}" y="{y + 4}" width="{w:.1f}" height="{row_h - 8}" rx="2" fill="{PALETTE[0]}"/>'
                     f'<text x="{label_w + w + 6:.1f}" y="{y + 15}">{fmt(r[value])} · {escape(details)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def _heatmap(rows: list[dict]) -> str:
    if not rows:
        return '<p class="empty">No cohorts yet.</p>'
    cohorts = sorted({r["cohort_week"] for r in rows})
    offsets = sorted({r["week_offset"] for r in rows})
    cell, left, width = 54, 110, 110 + 54 * (max(offsets) + 1)
    height = 22 + 26 * len(cohorts)
    parts = [f'<div class="scroll"><svg viewBox="0 0 {width} {height}" style="max-width:{width}px" '
             f'role="img" aria-label="retention">']
    for o in offsets:
        parts.append(f'<text x="{left + o * cell + cell / 2}" y="14" text-anchor="middle">week {o}</text>')
    by_key = {(r["cohort_week"], r["week_offset"]): r for r in rows}
    for i, c in enumerate(cohorts):
        y = 20 + i * 26
        size = next(r["cohort_users"] for r in rows if r["cohort_week"] == c)
        parts.append(f'<text x="0" y="{y + 16}">{_e(c)} ({fmt(size)})</text>')
        for o in offsets:
            r = by_key.get((c, o))
            if r is None:
                continue
            rate = r["retention_rate"]
            parts.append(f'<rect class="mark" data-series="{_e(c)}" data-x="{o}" data-value="{rate}" '
                         f'x="{left + o * cell}" y="{y}" width="{cell - 3}" height="23" rx="3" '
                         f'fill="rgba(37,99,235,{0.12 + 0.88 * rate:.3f})"/>'
                         f'<text x="{left + o * cell + cell / 2 - 1}" y="{y + 16}" text-anchor="middle" '
                         f'style="fill:{"#fff" if rate > 0.5 else "#0f172a"}">{rate * 100:.0f}%</text>')
    parts.append("</svg></div>")
    return "".join(parts)


def _health(health: dict) -> str:
    days = health.get("days", [])
    fresh = health.get("freshness", {})
    rows = "".join(
        f'<tr data-day="{_e(d["dt"])}"><td>{_e(d["dt"])}</td><td>{fmt(d["taken"])}</td><td>{fmt(d["clean"])}</td>'
        f'<td>{fmt(d["duplicates"])}</td><td>{fmt(d["quarantined"])}</td>'
        f'<td>{fmt(d["quarantine_rate"], "percent")}</td><td>{fmt(d["late"])}</td>'
        f'<td class="{"ok" if d["reconciles"] else "bad"}">{"yes" if d["reconciles"] else "NO"}</td></tr>'
        for d in days
    )
    facts = "".join(f"<li>{escape(k)}: <b>{_e(v)}</b></li>" for k, v in fresh.items())
    alarms = health.get("alarms", [])
    alarm_items = "".join(
        f'<li class="{"bad" if a["state"] == "ALARM" else "ok"}">{escape(a["name"])}: {escape(a["state"])}'
        f' ({escape(a.get("reason", ""))})</li>' for a in alarms
    )
    ledger = health.get("ledger")
    ledger_html = ""
    if ledger:
        hops = "".join(f'<td data-hop="{escape(k)}">{fmt(v)}</td>' for k, v in ledger["totals"].items())
        heads = "".join(f"<th>{escape(k.replace('_', ' '))}</th>" for k in ledger["totals"])
        gaps = "".join(f'<li class="bad">{escape(g)}</li>' for g in ledger["gaps"][:10])
        ledger_html = ('<div class="scroll"><table class="ledger"><thead><tr>' + heads + "</tr></thead><tbody><tr>"
                       + hops + "</tr></tbody></table></div>"
                       + (f"<ul>{gaps}</ul>" if gaps else '<p class="ok">Completeness ledger: no gaps.</p>'))
    return (f"<ul>{facts}</ul>" + (f"<ul>{alarm_items}</ul>" if alarm_items else "") + ledger_html
            + '<div class="scroll"><table><thead><tr><th>day</th><th>taken</th><th>clean</th><th>duplicates</th>'
            '<th>quarantined</th><th>quarantine rate</th><th>late</th><th>reconciles</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div>")


def render(definition: dict, data: dict[str, list[dict]], health: dict, generated_at: str) -> str:
    sections = []
    for section in definition["sections"]:
        rows = data.get(section["id"], [])
        chart = section["chart"]
        if chart == "kpis":
            body = _kpis(rows)
        elif chart == "funnel":
            body = _funnel(rows)
        elif chart == "line":
            body = _line(rows, section)
        elif chart == "bars":
            body = _bars(rows, section)
        elif chart == "heatmap":
            body = _heatmap(rows)
        else:
            body = _health(health)
        wide = " wide" if chart in ("kpis", "health") else ""
        sections.append(f'<section id="{escape(section["id"])}" class="{chart}{wide}">'
                        f"<h2>{escape(section['title'])}</h2>{body}</section>")
    return (
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
        "img-src data:\">"
        f"<title>{escape(definition['title'])}</title><style>{CSS}</style></head><body>"
        f"<header><h1>{escape(definition['title'])}</h1><p>Generated {escape(generated_at)} from the processed "
        "models · every figure is a Dagster asset</p></header>"
        f"<main>{''.join(sections)}</main></body></html>"
    )
