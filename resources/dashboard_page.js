// The local dashboard's behaviour: filters, sums and ratios of sums, and plotly charts, all from the JSON block
// the page embeds. No network, no eval; every text from the data goes through textContent or plotly's escaping.
"use strict";
(function () {
  const payload = JSON.parse(document.getElementById("dashboard-data").textContent);
  const def = payload.definition;
  const DAY = 86400000;
  const datasets = {}, measures = {};
  def.datasets.forEach((d) => {
    const raw = payload.data[d.id];
    datasets[d.id] = Object.assign({}, d, {
      built: raw.built,
      rows: raw.built ? raw.rows.map((r) => Object.fromEntries(raw.columns.map((c, i) => [c, r[i]]))) : [],
    });
  });
  def.measures.forEach((m) => { measures[m.id] = m; });
  const form = document.querySelector("form.filters");
  const choices = def.filters.filter((f) => f.kind === "choice");

  // -- dates ------------------------------------------------------------------------------------------------
  const toDay = (s) => Date.parse(s.slice(0, 10) + "T00:00:00Z");
  const iso = (t) => new Date(t).toISOString().slice(0, 10);
  const monday = (s) => { const t = toDay(s); return iso(t - ((new Date(t).getUTCDay() + 6) % 7) * DAY); };
  const dailyDates = [];
  Object.values(datasets).forEach((d) => { if (d.grain === "day") d.rows.forEach((r) => dailyDates.push(r[d.date])); });
  dailyDates.sort();
  const first = dailyDates[0], last = dailyDates[dailyDates.length - 1];

  function grainOf(state) {
    if (!state.from || !state.to) return "day";
    const days = (toDay(state.to) - toDay(state.from)) / DAY + 1;
    return days <= 45 ? "day" : days <= 200 ? "week" : "month";
  }
  function bucket(s, grain) {
    if (grain === "day") return s.slice(0, 10);
    if (grain === "week") return monday(s);
    return s.slice(0, 7) + "-01";
  }

  // -- state and filtering ------------------------------------------------------------------------------------
  function state() {
    const s = { from: form.elements.from.value || first, to: form.elements.to.value || last, dims: {} };
    choices.forEach((f) => { s.dims[f.column] = form.elements[f.id].value; });
    return s;
  }
  function inRange(d, value, s) {
    if (!value || !s.from || !s.to) return false;
    // Weekly datasets (cohorts, lifecycle) keep a week when it overlaps the dates.
    const low = d.grain === "day" ? s.from : monday(s.from);
    return value >= low && value <= s.to;
  }
  function filtered(id, s) {
    const d = datasets[id];
    const ignored = Object.keys(s.dims).filter((c) => s.dims[c] && !d.dimensions.includes(c));
    const rows = d.rows.filter((r) => inRange(d, r[d.date], s) &&
      d.dimensions.every((c) => !s.dims[c] || r[c] === s.dims[c]));
    return { rows, ignored };
  }

  // -- measures: a sum, or a ratio of sums (never an average of ratios) ------------------------------------------
  function sum(rows, column) { let t = 0; rows.forEach((r) => { t += Number(r[column] || 0); }); return t; }
  function value(m, rows) {
    if (m.kind === "sum") return sum(rows, m.column);
    const den = sum(rows, m.denominator);
    return den ? sum(rows, m.numerator) / den : null;
  }
  // Money is never added across currencies: one figure per currency.
  function byCurrency(m, rows) {
    const d = datasets[m.dataset];
    if (m.format !== "money" || !d.currency) return [[null, value(m, rows)]];
    const groups = {};
    rows.forEach((r) => { (groups[r[d.currency]] = groups[r[d.currency]] || []).push(r); });
    const keys = Object.keys(groups).sort();
    return keys.length ? keys.map((c) => [c, value(m, groups[c])]) : [[null, null]];
  }
  const commas = (digits) => digits.replace(/\B(?=(\d{3})+(?!\d))/g, ",");
  function fixed(v, places) {
    const [whole, frac] = Math.abs(v).toFixed(places).split(".");
    return (v < 0 ? "-" : "") + commas(whole) + (frac ? "." + frac : "");
  }
  function format(v, fmt, currency) {
    if (v === null || v === undefined || Number.isNaN(v)) return "—";
    if (fmt === "percent") return (v * 100).toFixed(1) + "%";
    if (fmt === "money") return fixed(v, 2) + (currency ? " " + currency : "");
    if (fmt === "decimal") return fixed(v, 2);
    return fixed(Math.round(v), 0);
  }
  const AXIS_FORMAT = { percent: ".1%", money: ",.2f", decimal: ",.2f", count: ",d" };

  // -- charts ---------------------------------------------------------------------------------------------------
  const PALETTE = ["#2563eb", "#16a34a", "#ea580c", "#9333ea", "#0891b2", "#dc2626", "#ca8a04", "#475569"];
  const CONFIG = { displayModeBar: false, responsive: true };
  const phone = () => window.innerWidth < 600;
  function layout(extra) {
    return Object.assign({
      margin: { l: 56, r: 56, t: 8, b: 40 }, autosize: true, hovermode: "x unified",
      legend: { orientation: "h", y: -0.18 }, font: { size: 12 }, paper_bgcolor: "#fff", plot_bgcolor: "#fff",
    }, extra);
  }
  function plot(el, traces, lay) {
    // An axis set to undefined is not the same as no axis to plotly: drop the keys.
    Object.keys(lay).forEach((k) => { if (lay[k] === undefined) delete lay[k]; });
    // Clear a message, never a live plot: wiping plotly's DOM under it leaves react() nothing to redraw.
    if (!el.classList.contains("js-plotly-plot")) el.textContent = "";
    Plotly.react(el, traces, layout(lay), CONFIG);
  }
  function empty(el, text) { Plotly.purge(el); el.textContent = ""; const p = document.createElement("p");
    p.className = "empty"; p.textContent = text; el.appendChild(p); }
  function grouped(rows, key) {
    const out = new Map();
    rows.forEach((r) => { const k = key(r); if (!out.has(k)) out.set(k, []); out.get(k).push(r); });
    return out;
  }

  const draw = {
    timeseries(section, rows, el, s) {
      const grain = grainOf(s);
      const buckets = grouped(rows, (r) => bucket(r.dt, grain));
      const xs = [...buckets.keys()].sort();
      const traces = [], axes = {};
      section.measures.forEach((id, i) => {
        const m = measures[id];
        const axis = { left: "y", right: "y2", right2: "y3" }[(section.axes || {})[id] || "left"];
        axes[axis] = m.format;
        const series = new Map();
        xs.forEach((x, j) => byCurrency(m, buckets.get(x)).forEach(([c, v]) => {
          if (!series.has(c)) series.set(c, xs.map(() => null));
          series.get(c)[j] = v;
        }));
        series.forEach((ys, c) => traces.push({
          type: i === 0 && m.kind === "sum" ? "bar" : "scatter", mode: "lines+markers", x: xs, y: ys,
          name: m.label + (c ? " (" + c + ")" : ""), yaxis: axis, marker: { color: PALETTE[traces.length % 8] },
          hovertemplate: "%{y:" + AXIS_FORMAT[m.format] + "}",
        }));
      });
      const hover = { day: "%a %Y-%m-%d", week: "week of %Y-%m-%d", month: "%B %Y" }[grain];
      const every = Math.max(1, Math.ceil(xs.length / (phone() ? 4 : 8)));
      const dtick = grain === "month" ? "M" + every : (grain === "week" ? 7 : 1) * every * DAY;
      const right = (overlay, pos) => axes[overlay] ? { tickformat: AXIS_FORMAT[axes[overlay]], overlaying: "y",
        side: "right", rangemode: "tozero", showgrid: false, anchor: pos ? "free" : "x", position: pos } : undefined;
      plot(el, traces, {
        xaxis: { type: "date", hoverformat: hover, tick0: xs[0], dtick, tickformat: grain === "month" ? "%b %Y" : "%b %d",
          domain: [0, axes.y3 ? 0.88 : 1] },
        yaxis: { tickformat: AXIS_FORMAT[axes.y], rangemode: "tozero" }, yaxis2: right("y2"), yaxis3: right("y3", 1),
      });
      return grain;
    },
    funnel(section, rows, el) {
      // Grouped bars of each step's share of the segment's sessions: segments of any size compare at a glance.
      const groups = grouped(rows, (r) => r[section.by]);
      const order = [...groups.keys()].sort((a, b) => sum(groups.get(b), "sessions") - sum(groups.get(a), "sessions")
        || (a < b ? -1 : 1));
      const steps = section.steps.map((st) => st[1]);
      plot(el, order.map((k, i) => {
        const top = sum(groups.get(k), section.steps[0][0]) || 1;
        const counts = section.steps.map((st) => sum(groups.get(k), st[0]));
        return { type: "bar", orientation: "h", name: k, y: steps, x: counts.map((c) => c / top), customdata: counts,
          marker: { color: PALETTE[i % 8] }, hovertemplate: k + ": %{customdata:,d} (%{x:.1%})<extra></extra>" };
      }), { barmode: "group", hovermode: "y unified", margin: { l: phone() ? 104 : 120, r: 8, t: 8, b: 40 },
        xaxis: { tickformat: ".0%", range: [0, 1] }, yaxis: { autorange: "reversed" } });
    },
    breakdown(section, rows, el) {
      const groups = grouped(rows, (r) => r[section.by]);
      const [main, other] = section.measures.map((id) => measures[id]);
      const keys = [...groups.keys()].sort((a, b) => value(main, groups.get(b)) - value(main, groups.get(a)));
      const traces = [{ type: "bar", x: keys, y: keys.map((k) => value(main, groups.get(k))), name: main.label,
        marker: { color: PALETTE[0] }, hovertemplate: "%{y:" + AXIS_FORMAT[main.format] + "}" }];
      if (other) traces.push({ type: "scatter", mode: "markers", x: keys, y: keys.map((k) => value(other, groups.get(k))),
        name: other.label, yaxis: "y2", marker: { color: PALETTE[2], size: 10 },
        hovertemplate: "%{y:" + AXIS_FORMAT[other.format] + "}" });
      plot(el, traces, { yaxis: { tickformat: AXIS_FORMAT[main.format] }, yaxis2: other ? {
        tickformat: AXIS_FORMAT[other.format], overlaying: "y", side: "right", rangemode: "tozero", showgrid: false }
        : undefined });
    },
    top(section, rows, el) {
      const groups = grouped(rows, (r) => r[section.by]);
      const ms = section.measures.map((id) => measures[id]);
      const ranked = [...groups.keys()].map((k) => [k, ms.map((m) => value(m, groups.get(k)))])
        .sort((a, b) => b[1][0] - a[1][0] || b[1][1] - a[1][1] || (a[0] < b[0] ? -1 : 1))
        .slice(0, section.limit).reverse();
      plot(el, ms.map((m, i) => ({
        type: "bar", orientation: "h", y: ranked.map((r) => r[0]), x: ranked.map((r) => r[1][i]), name: m.label,
        marker: { color: PALETTE[i] }, visible: i === 0 ? true : "legendonly",
        hovertemplate: "%{y}: %{x:,d} " + m.label.toLowerCase() + "<extra></extra>",
      })), { hovermode: "closest", margin: { l: 80, r: 16, t: 8, b: 40 }, yaxis: { type: "category" } });
    },
    cohorts(section, rows, el) {
      const cohorts = [...new Set(rows.map((r) => r[section.cohort]))].sort().slice(-section.cohorts);
      const keep = rows.filter((r) => cohorts.includes(r[section.cohort]) && r[section.offset] < section.offsets);
      const offsets = [...new Set(keep.map((r) => r[section.offset]))].sort((a, b) => a - b);
      const cell = new Map(keep.map((r) => [r[section.cohort] + "|" + r[section.offset], r]));
      const size = new Map(keep.map((r) => [r[section.cohort], r[section.size]]));
      const z = cohorts.map((c) => offsets.map((o) => {
        const r = cell.get(c + "|" + o); return r && r[section.size] ? r[section.value] / r[section.size] : null;
      }));
      const labels = cohorts.map((c) => c + " (" + format(size.get(c), "count") + ")");
      // Week 0 is always 100%: scale the colours to the weeks after it, or they all look alike.
      const later = z.flatMap((row) => row.filter((v, j) => offsets[j] > 0 && v !== null));
      const top = later.length ? Math.max(...later) : 1;
      el.style.height = Math.max(220, 60 + 26 * cohorts.length) + "px";
      plot(el, [{ type: "heatmap", x: offsets.map((o) => "w" + o), y: labels, z, zmin: 0, zmax: top || 1,
        colorscale: [[0, "#eff6ff"], [1, "#1d4ed8"]], showscale: false, texttemplate: phone() ? "" : "%{z:.0%}",
        hovertemplate: "%{y}, %{x}: %{z:.1%} retained<extra></extra>", xgap: 2, ygap: 2 }],
      { hovermode: "closest", margin: { l: 150, r: 8, t: 8, b: 32 }, yaxis: { autorange: "reversed" },
        xaxis: { tickangle: 0, title: { text: "weeks since first seen", font: { size: 11 } } } });
    },
    sankey(section, rows, el) {
      const links = new Map();
      // The first few steps only, and one sink for every exit: past that a Sankey is noise, not paths.
      rows.filter((r) => r[section.step] <= (section.steps || 1e9)).forEach((r) => {
        const key = r[section.step] + "|" + r[section.source] + "|" + r[section.target];
        links.set(key, (links.get(key) || 0) + Number(r[section.value]));
      });
      const nodes = [], index = new Map();
      const node = (step, name) => { const k = name === section.sink ? name : step + "|" + name;
        if (!index.has(k)) { index.set(k, nodes.length); nodes.push(name); } return index.get(k); };
      const source = [], target = [], values = [];
      [...links.entries()].sort().forEach(([k, v]) => {
        const [step, from, to] = k.split("|");
        source.push(node(Number(step), from)); target.push(node(Number(step) + 1, to)); values.push(v);
      });
      plot(el, [{ type: "sankey", arrangement: "snap", node: { label: nodes, pad: 12, thickness: 14 },
        link: { source, target, value: values, hovertemplate: "%{source.label} → %{target.label}: %{value:,d} sessions<extra></extra>" } }],
      { hovermode: "closest", margin: { l: 8, r: 8, t: 8, b: 8 } });
    },
    stacked(section, rows, el) {
      const xs = [...new Set(rows.map((r) => r[section.x]))].sort();
      const groups = grouped(rows, (r) => r[section.series]);
      plot(el, [...groups.keys()].sort().map((k, i) => {
        const by = new Map(groups.get(k).map((r) => [r[section.x], r[section.value]]));
        // States listed as negative (dormant users) hang below the axis, as lifecycle charts show them; hidden ones
        // (dormant: everyone ever seen, it dwarfs the rest) start switched off in the legend, one click away.
        const sign = (section.negative || []).includes(k) ? -1 : 1;
        return { type: "bar", name: k, x: xs, y: xs.map((x) => sign * (by.get(x) || 0)), marker: { color: PALETTE[i % 8] },
          customdata: xs.map((x) => by.get(x) || 0), hovertemplate: "%{customdata:,d}",
          visible: (section.hidden || []).includes(k) ? "legendonly" : true };
      }), { barmode: "relative", xaxis: { type: "date", tickformat: "%b %d", hoverformat: "week of %Y-%m-%d",
        tick0: xs[0], dtick: 7 * DAY * Math.max(1, Math.ceil(xs.length / (phone() ? 4 : 8))) } });
    },
  };

  // -- render -------------------------------------------------------------------------------------------------
  function render() {
    const s = state();
    let grain = grainOf(s);
    def.sections.forEach((section) => {
      const el = document.getElementById(section.id);
      if (section.kind === "kpis") {
        section.measures.forEach((id) => {
          const m = measures[id], card = el.querySelector('[data-kpi="' + id + '"]'), b = card.querySelector("b");
          if (!datasets[m.dataset].built) {
            b.textContent = "—"; card.dataset.state = "absent"; card.dataset.value = "";
            card.title = "not built yet"; return;
          }
          const figures = byCurrency(m, filtered(m.dataset, s).rows);
          b.textContent = figures.map(([c, v]) => format(v, m.format, c)).join(" · ");
          card.dataset.state = "ok";
          card.dataset.value = figures.length === 1 ? (figures[0][1] === null ? "" : String(figures[0][1]))
            : JSON.stringify(Object.fromEntries(figures));
        });
        return;
      }
      if (!draw[section.kind] || !datasets[section.dataset].built) return;
      const chart = el.querySelector(".chart"), note = el.querySelector(".note");
      const { rows, ignored } = filtered(section.dataset, s);
      note.hidden = !ignored.length;
      note.textContent = ignored.length ? "Not split by " + ignored.join(" or ") + ": that filter does not apply here."
        : "";
      if (!rows.length) { empty(chart, "No data for these filters."); return; }
      const used = draw[section.kind](section, rows, chart, s);
      if (used) grain = used;
    });
    form.querySelector(".grain").textContent = "Charts by " + grain + " · " + s.from + " to " + s.to;
  }

  function setRange(preset) {
    const from = preset === "all" ? first : iso(Math.max(toDay(first), toDay(last) - (Number(preset) - 1) * DAY));
    form.elements.from.value = from;
    form.elements.to.value = last;
    form.querySelectorAll("[data-preset]").forEach((b) => b.setAttribute("aria-pressed", String(b.dataset.preset === String(preset))));
    render();
  }

  choices.forEach((f) => {
    const values = new Set();
    Object.values(datasets).forEach((d) => { if (d.dimensions.includes(f.column)) d.rows.forEach((r) => values.add(r[f.column])); });
    [...values].sort().forEach((v) => { const o = document.createElement("option"); o.value = v; o.textContent = v;
      form.elements[f.id].appendChild(o); });
    form.elements[f.id].addEventListener("change", render);
  });
  ["from", "to"].forEach((n) => {
    form.elements[n].min = first || ""; form.elements[n].max = last || "";
    form.elements[n].addEventListener("change", () => {
      form.querySelectorAll("[data-preset]").forEach((b) => b.setAttribute("aria-pressed", "false"));
      render();
    });
  });
  form.querySelectorAll("[data-preset]").forEach((b) => b.addEventListener("click", () => setRange(b.dataset.preset)));
  form.addEventListener("submit", (e) => e.preventDefault());
  if (first) setRange("all"); else render();
  document.body.dataset.ready = "true";
})();
