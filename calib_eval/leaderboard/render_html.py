"""Per-task tables -> one self-contained index.html (inline CSS and JS, no network).

The data travels as JSON in a `<script type="application/json">` tag; the page
script builds the table from it with DOM calls and `textContent` only, so no
name in a results file can inject markup. Images are relative paths to plots/.
"""
from __future__ import annotations

import html
import json
import re
from urllib.parse import quote

from calib_eval.leaderboard.page_items import has_items, page_items
from calib_eval.leaderboard.paired import MIN_CLASS_ITEMS, PAIRED_RESAMPLES, format_diff
from calib_eval.leaderboard.plot_files import PlotPaths
from calib_eval.leaderboard.records import NO_ADAPTER, Row
from calib_eval.leaderboard.table import (EXTRA_METRICS, METRICS, TaskTable, format_estimate, metric_value,
                                         raw_score_notes, scorer_notes)

PAGE_RESAMPLES = 2000  # the compare control's percentile bootstrap, in the page script
PAGE_SEED = 20261203

_CSS = """
body{font:13px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2330;background:#f6f7f9}
header{background:#1d2330;color:#fff;padding:18px 28px}
header h1{margin:0 0 4px;font-size:22px}header p{margin:0;color:#c9cfdb}
main{padding:18px 28px}
.controls{display:flex;gap:18px;align-items:center;flex-wrap:wrap;margin-bottom:12px}
.controls label{font-weight:600}.controls select,.controls input{margin-left:6px;padding:3px 6px}
#count{color:#5b6475}
#columns-box{margin-bottom:12px}#columns-box summary{font-weight:600;cursor:pointer}
#columns{display:flex;flex-wrap:wrap;gap:4px 14px;margin-top:6px}#columns label{font-weight:400}
table{border-collapse:collapse;width:100%;background:#fff;box-shadow:0 1px 3px rgba(0,0,0,.08)}
th,td{padding:5px 8px;border-bottom:1px solid #e6e8ec;text-align:left;vertical-align:top;white-space:nowrap}
td.wrap{white-space:normal;max-width:220px;overflow-wrap:break-word}
.ci{color:#6b7385;font-size:11px;margin-left:4px}td.best .ci{color:#3d6b47}
th{background:#eef0f4;cursor:pointer;user-select:none;position:sticky;top:0}
th:hover{background:#e1e5ec}th[aria-sort=ascending]::after{content:" \\25B2"}
th[aria-sort=descending]::after{content:" \\25BC"}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:700;background:#e7f5ea}
tbody tr:hover{background:#f3f6fb}
tr.stale td{color:#8a8f99}.stale-label{margin-left:6px;padding:0 4px;border-radius:3px;background:#f6e3b4;color:#6b4e00;font-size:11px}
.note{color:#5b6475;margin:10px 0}
.gallery{display:flex;flex-wrap:wrap;gap:16px;margin-top:18px}
.gallery figure{margin:0;background:#fff;padding:8px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
.gallery img{max-width:620px;display:block}.gallery figcaption{font-weight:600;margin-top:4px}
td.sep{font-weight:700}#compare{background:#fff;padding:10px 14px;margin:16px 0;box-shadow:0 1px 3px rgba(0,0,0,.08)}
#compare h2{font-size:15px;margin:0 0 8px}#compare select{max-width:360px}#cmp-out{font-weight:600}
"""

_JS = r"""
(function(){
  const data = JSON.parse(document.getElementById("leaderboard-data").textContent);
  const PLOT = /^plots\/[A-Za-z0-9._\/%+-]+\.png$/;  // only our own relative files become links
  const cols = [["task","task"],["model","model"],["adapter","adapter"],["scorer","scorer"],
    ["accuracy","accuracy"],["ece","ECE recal."],["ece_raw","ECE raw"],["auroc","AUROC"],["auroc_vs_best","\u0394AUROC vs best"],["brier","Brier"],
    ["prr","PRR"],["auprc_err","AUPRC (errors)"],["auprc_correct","AUPRC (correct)"],["nll","NLL"],
    ["ece_em","ECE (equal-mass)"],["rms_ce","RMS CE"],["smece","smooth ECE"],["sel_acc_50","sel. acc @50%"],
    ["sel_acc_80","sel. acc @80%"],["sel_acc_90","sel. acc @90%"],["abstain_coverage","conformal coverage"],
    ["n","n"],["hardware","hardware"],["date","date"],["plot","diagram"]];
  const metrics = new Set(data.metrics);
  const shown = new Set(cols.map(([k]) => k).filter(k => !data.optional.includes(k)));  // column chooser state
  const wrapping = new Set(["model","adapter","hardware"]);  // long free text; the rest stays on one line
  let sortKey = null, sortDir = 1;  // null: as built (by task, best ECE first)
  data.rows.forEach((r, i) => { r._i = i; });
  const el = (tag, text, cls) => { const e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text); if (cls) e.className = cls; return e; };
  function fillSelect(id, values){ const s = document.getElementById(id);
    values.forEach(v => { const o = el("option", v); o.value = v; s.appendChild(o); });
    s.addEventListener("change", render); }
  function value(row, key){ return metrics.has(key) ? row[key].value : row[key]; }
  function compare(a, b){
    if (sortKey === null) return a._i - b._i;
    const x = value(a, sortKey), y = value(b, sortKey), nx = x === null || x === undefined || x === "",
      ny = y === null || y === undefined || y === "";
    if (nx || ny) return nx && ny ? a._i - b._i : (nx ? 1 : -1);  // missing values always last
    const c = typeof x === "number" ? x - y : String(x).localeCompare(String(y));
    return c ? c * sortDir : a._i - b._i; }
  function cell(row, key){
    if (metrics.has(key)) { const td = el("td", null, "num" + (row[key].best ? " best" : "") + (row[key].sep ? " sep" : ""));
      const text = row[key].text, cut = text.indexOf(" ");
      td.appendChild(el("span", cut < 0 ? text : text.slice(0, cut)));
      if (cut >= 0) td.appendChild(el("span", text.slice(cut + 1), "ci"));
      return td; }
    if (key === "plot") { const td = el("td");
      if (row.plot && PLOT.test(row.plot)) { const a = el("a", "plot"); a.setAttribute("href", row.plot);
        a.setAttribute("target", "_blank"); td.appendChild(a); } else td.textContent = "\u2013";
      return td; }
    if (key === "model" && row.stale) { const td = el("td", row.model, "wrap");
      td.appendChild(el("span", "stale", "stale-label")); return td; }
    const text = key === "scorer" && !row.is_probability ? row.scorer + " \u2020" : row[key];
    return el("td", text === null || text === "" ? "\u2013" : text, key === "n" ? "num" : (wrapping.has(key) ? "wrap" : ""));
  }
  function render(){
    const task = document.getElementById("task").value, scorer = document.getElementById("scorer").value;
    const query = document.getElementById("search").value.toLowerCase();
    const rows = data.rows.filter(r => (!task || r.task === task) && (!scorer || r.scorer === scorer) &&
      (!query || (r.model + " " + r.adapter).toLowerCase().includes(query))).sort(compare);
    const body = document.getElementById("rows"); body.replaceChildren();
    rows.forEach(r => { const tr = el("tr", null, r.stale ? "stale" : undefined);
      visible().forEach(([k]) => tr.appendChild(cell(r, k))); body.appendChild(tr); });
    document.getElementById("count").textContent = rows.length + " of " + data.rows.length + " rows";
    document.querySelectorAll("th").forEach(th => th.setAttribute("aria-sort",
      th.dataset.key === sortKey ? (sortDir > 0 ? "ascending" : "descending") : "none"));
    const gallery = document.getElementById("gallery"); gallery.replaceChildren();
    Object.keys(data.scatter).sort().filter(t => !task || t === task).forEach(t => {
      if (!PLOT.test(data.scatter[t])) return; const fig = el("figure"); const img = el("img");
      img.setAttribute("src", data.scatter[t]); img.setAttribute("alt", "ECE vs AUROC on " + t);
      fig.appendChild(img); fig.appendChild(el("figcaption", t)); gallery.appendChild(fig); });
    const notes = data.notes.filter(n => !task || n.task === task).map(n => n.task + ": " + n.text);
    document.getElementById("notes").textContent = notes.length ?
      "\u2020 Raw score (is_probability false): ECE and Brier follow a calibration map fitted on held-out items \u2014 " + notes.join("; ") : "";
    const scorerNotes = data.scorer_notes.filter(n => !task || n.task === task).map(n => n.task + ": " + n.text);
    document.getElementById("scorer-notes").textContent = scorerNotes.length ? "Notes \u2014 " + scorerNotes.join("; ") : "";
  }
  function visible(){ return cols.filter(([k]) => shown.has(k)); }
  function buildHead(){ const head = document.getElementById("head"); head.replaceChildren();
    visible().forEach(([key, label]) => { const th = el("th", label); th.dataset.key = key;
      th.addEventListener("click", () => { sortDir = sortKey === key ? -sortDir : 1; sortKey = key; render(); });
      head.appendChild(th); }); }
  const chooser = document.getElementById("columns");
  cols.forEach(([key, label]) => { const box = el("input"); box.type = "checkbox"; box.checked = shown.has(key);
    box.dataset.key = key; box.addEventListener("change", () => {
      if (box.checked) shown.add(key); else shown.delete(key); buildHead(); render(); });
    const lab = el("label"); lab.appendChild(box); lab.appendChild(document.createTextNode(" " + label));
    chooser.appendChild(lab); });
  buildHead();
  fillSelect("task", data.tasks); fillSelect("scorer", data.scorers);
  document.getElementById("search").addEventListener("input", render);
  render();
  setupCompare(data);
})();
"""

# The compare control: the paired AUROC difference of any two rows, on the items both scored.
_COMPARE_JS = r"""
function setupCompare(data){
  const items = data.items || {}, blocks = items.blocks || {}, RESAMPLES = items.resamples, SEED = items.seed;
  const $ = id => document.getElementById(id);
  const option = (value, label) => { const o = document.createElement("option"); o.value = String(value);
    o.textContent = label; return o; };
  const label = r => r.model + (r.adapter ? " + " + r.adapter : "") + " / " + r.scorer + (r.stale ? " (stale)" : "");
  const usable = task => data.rows.filter(r => r.task === task && r.items && blocks[r.items])
    .sort((x, y) => label(x).localeCompare(label(y)));
  function decode(code){ const cut = code.indexOf(":"), w = Number(code.slice(0, cut)), s = code.slice(cut + 1);
    const out = new Int32Array(s.length / w);
    for (let i = 0; i < out.length; i++) out[i] = parseInt(s.substr(i * w, w), 36);
    return out; }
  function side(row){ const b = blocks[row.items];
    return {idx: decode(b.idx), rank: decode(b.ranks[row.scorer]), y: Array.from(b.correct, c => c === "1")}; }
  // Mann-Whitney AUROC from integer ranks, each item counted weight[i] times (ties count half)
  function auc(rank, y, weight, levels){ const pos = new Float64Array(levels), neg = new Float64Array(levels);
    for (let i = 0; i < rank.length; i++) if (weight[i]) (y[i] ? pos : neg)[rank[i]] += weight[i];
    let below = 0, sum = 0, np = 0, nn = 0;
    for (let l = 0; l < levels; l++){ sum += pos[l] * (below + 0.5 * neg[l]); below += neg[l]; np += pos[l]; nn += neg[l]; }
    return np > 0 && nn > 0 ? sum / (np * nn) : NaN; }
  function rng(seed){ let a = seed >>> 0; return () => { a = (a + 0x6D2B79F5) >>> 0; let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296; }; }
  function quantile(sorted, q){ const h = (sorted.length - 1) * q, lo = Math.floor(h);
    return sorted[lo] + (h - lo) * ((sorted[Math.min(lo + 1, sorted.length - 1)]) - sorted[lo]); }
  // paired percentile bootstrap of AUROC(A) - AUROC(B): both sides see the same resampled items
  function compare(rowA, rowB){ const A = side(rowA), B = side(rowB), where = new Map();
    B.idx.forEach((v, i) => where.set(v, i));
    const ra = [], ya = [], rb = [], yb = [];
    A.idx.forEach((v, i) => { if (where.has(v)) { const j = where.get(v);
      ra.push(A.rank[i]); ya.push(A.y[i]); rb.push(B.rank[j]); yb.push(B.y[j]); } });
    const n = ra.length, la = Math.max(0, ...ra) + 1, lb = Math.max(0, ...rb) + 1;
    const ones = new Int32Array(n).fill(1);
    const estimate = n ? auc(ra, ya, ones, la) - auc(rb, yb, ones, lb) : NaN;
    const sameLabels = ya.every((v, i) => v === yb[i]);
    if (!(n >= 2) || Number.isNaN(estimate)) return {n, estimate: null, low: null, high: null, sameLabels};
    const count = (y, v) => y.filter(c => c === v).length;
    const right = Math.min(count(ya, true), count(yb, true)), wrong = Math.min(count(ya, false), count(yb, false));
    const scarce = right <= wrong ? right + " correct" : wrong + " wrong";
    if (Math.min(right, wrong) < items.min_class) return {n, estimate, low: null, high: null, sameLabels, scarce};
    const draw = rng(SEED), weight = new Int32Array(n), diffs = [];
    for (let b = 0; b < RESAMPLES; b++){ weight.fill(0);
      for (let i = 0; i < n; i++) weight[Math.floor(draw() * n)] += 1;
      const d = auc(ra, ya, weight, la) - auc(rb, yb, weight, lb); if (!Number.isNaN(d)) diffs.push(d); }
    diffs.sort((x, y) => x - y);
    return {n, estimate, low: quantile(diffs, 0.025), high: quantile(diffs, 0.975), valid: diffs.length, sameLabels}; }
  const signed = (x, d) => (x >= 0 ? "+" : "\u2212") + Math.abs(x).toFixed(d);
  function show(){ const out = $("cmp-out"), a = data.rows[Number($("cmp-a").value)], b = data.rows[Number($("cmp-b").value)];
    if (!a || !b) { out.textContent = "No rows with per-item scores in this task."; out.dataset.result = ""; return; }
    if (a === b) { out.textContent = "Pick two different rows."; out.dataset.result = ""; return; }
    const r = compare(a, b); out.dataset.result = JSON.stringify(r);
    if (r.estimate === null) { out.textContent = r.n < 2 ? "These rows share " + r.n + " items: nothing to pair." :
      "AUROC is undefined on the shared items (all correct or all wrong)."; return; }
    if (r.low === null) { out.textContent = "AUROC(A) \u2212 AUROC(B) = " + signed(r.estimate, 3) + " on " + r.n +
      " shared items; no interval: only " + r.scarce + " answers among them on one side (an interval needs " +
      items.min_class + " correct and " + items.min_class + " wrong)."; return; }
    out.textContent = "AUROC(A) \u2212 AUROC(B) = " + signed(r.estimate, 3) + " [" + signed(r.low, 3) + ", " +
      signed(r.high, 3) + "] on " + r.n + " shared items: " + (r.low > 0 || r.high < 0 ?
      "separable (the 95% interval excludes 0)." : "not separable (the 95% interval includes 0).") +
      (r.sameLabels ? "" : " The rows' answers differ, so each side is scored against its own correctness."); }
  // defaults: the first row against its model's reference (the ΔAUROC column's pair), else the next row
  function fillRows(){ const rows = usable($("cmp-task").value);
    const first = rows.find(r => r.auroc_vs_best.value !== null) || rows[0];
    const ref = first && rows.find(r => r !== first && r.model === first.model && r.auroc_vs_best.reference);
    const picks = [first, ref || rows.find(r => r !== first) || first];
    ["cmp-a", "cmp-b"].forEach((id, k) => { const s = $(id); s.replaceChildren();
      rows.forEach(r => s.appendChild(option(r._i, label(r))));
      s.value = picks[k] ? String(picks[k]._i) : ""; });
    show(); }
  const tasks = data.tasks.filter(t => usable(t).length);
  if (!tasks.length) { $("compare").hidden = true; return; }
  tasks.forEach(t => $("cmp-task").appendChild(option(t, t)));
  $("cmp-task").value = tasks[0];
  $("cmp-task").addEventListener("change", fillRows);
  $("cmp-a").addEventListener("change", show); $("cmp-b").addEventListener("change", show);
  fillRows();
}
"""

PAGE_JS = _JS + _COMPARE_JS  # one script: the table calls setupCompare (a hoisted declaration)

_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>calib-eval leaderboard</title>
<style>{css}</style>
</head>
<body>
<header><h1>calib-eval leaderboard</h1><p>{summary}</p></header>
<main>
<div class="controls">
<label>Task<select id="task"><option value="">all tasks</option></select></label>
<label>Scorer<select id="scorer"><option value="">all scorers</option></select></label>
<label>Model<input id="search" type="search" placeholder="filter by name"></label>
<span id="count"></span>
</div>
<details id="columns-box"><summary>Columns</summary><div id="columns"></div></details>
<p class="note">Values: estimate [95% CI]. ECE and Brier: lower is better; AUROC and accuracy: higher is better.
NLL, equal-mass / RMS / smooth ECE: lower is better; PRR, AUPRC, selective accuracy: higher is better.
Conformal coverage: share of test items answered under the Learn-then-Test threshold (error rate among answered
&le; &alpha; with probability &ge; 1 &minus; &delta;).
Highlighted: best within the task. Click a column header to sort; choose columns under "Columns".</p>
<table><thead><tr id="head"></tr></thead><tbody id="rows"></tbody></table>
<p class="note">&Delta;AUROC vs best: AUROC minus that of the same model's best untrained scorer (no adapter, highest
AUROC; shown as &ldquo;&mdash; ref.&rdquo;), paired on the same items, with a 95% BCa interval from {resamples} paired
bootstrap resamples computed at build time; &#10003;: the interval excludes 0 (separable); &ldquo;n=&rdquo;: items in common,
when fewer than the row's; &ldquo;no CI&rdquo;: fewer than {min_class} correct or wrong answers among them, too few for
a bootstrap; &ndash;: no per-item scores kept for the row.</p>
<section id="compare"><h2>Compare two rows</h2>
<div class="controls">
<label>Task<select id="cmp-task"></select></label>
<label>A<select id="cmp-a"></select></label>
<label>B<select id="cmp-b"></select></label>
</div>
<p id="cmp-out"></p>
<p class="note">Paired AUROC difference on the items both rows scored (matched by item id, so rows of different models
compare on their shared items), computed in this page: 95% <em>percentile</em> bootstrap, {page_resamples} resamples of
items with a fixed seed, both rows on each resample. The table's &Delta;AUROC column uses BCa intervals from calib-eval's
Python bootstrap, so the two intervals can differ slightly.</p>
</section>
<p class="note" id="notes"></p>
<p class="note" id="scorer-notes"></p>
<p class="note" id="stale-note">{stale}</p>
<noscript><p>This page needs JavaScript for its table; README.md holds the same tables.</p></noscript>
<div class="gallery" id="gallery"></div>
</main>
<script type="application/json" id="leaderboard-data">{data}</script>
<script>{js}</script>
</body>
</html>
"""


def render_html(tables: list[TaskTable], plots: PlotPaths, sources: int, items: dict | None = None) -> str:
    rows = [row for table in tables for row in table.rows]
    summary = (f"{len(rows)} results over {len(tables)} task{'s' if len(tables) != 1 else ''}, "
               f"built from {sources} results file{'s' if sources != 1 else ''}")
    stale = sum(row.stale for row in rows)
    values = {"css": _CSS, "js": PAGE_JS, "summary": html.escape(summary),
              "data": json_for_script(page_data(tables, plots, items or {})),
              "resamples": f"{PAIRED_RESAMPLES:,}", "page_resamples": f"{PAGE_RESAMPLES:,}",
              "min_class": str(MIN_CLASS_ITEMS),
              "stale": (f"{stale} row{'s are' if stale != 1 else ' is'} stale (label &ldquo;stale&rdquo;): made by "
                        "another grader or metric code version than this calib-eval's; "
                        "<code>calib-eval leaderboard update</code> re-runs them." if stale else "")}
    # one pass, so nothing inserted is itself searched for placeholders (CSS and JS hold braces)
    return re.sub(r"\{(css|js|summary|data|stale|resamples|page_resamples|min_class)\}",
                  lambda m: values[m.group(1)], _PAGE)


def page_data(tables: list[TaskTable], plots: PlotPaths, items: dict | None = None) -> dict:
    """Everything the page script shows, as plain JSON-able values."""
    items = items or {}
    rows = [{**_row_data(row, best, plots), **_paired_data(row, diff, items)} for table in tables
            for row, best, diff in zip(table.rows, table.best, table.paired or (None,) * len(table.rows))]
    return {
        "rows": rows,
        "items": {**page_items(tables, items), "resamples": PAGE_RESAMPLES, "seed": PAGE_SEED,
                  "min_class": MIN_CLASS_ITEMS},
        "metrics": [*METRICS, "auroc_vs_best", *EXTRA_METRICS],
        "optional": list(EXTRA_METRICS),  # hidden until chosen in the column chooser
        "tasks": [t.task for t in tables],
        "scorers": sorted({r["scorer"] for r in rows}),
        "scatter": {task: quote(path, safe="/") for task, path in plots.scatter.items()},
        "notes": [{"task": t.task, "text": n} for t in tables for n in raw_score_notes(t.rows)],
        "scorer_notes": [{"task": t.task, "text": n} for t in tables for n in scorer_notes(t.rows)],
    }


def _row_data(row: Row, best: frozenset[str], plots: PlotPaths) -> dict:
    plot = plots.reliability.get(row.key)
    return {
        "task": row.task, "model": row.model, "scorer": row.scorer,
        "adapter": "" if row.adapter == NO_ADAPTER else row.adapter,
        **{m: {"value": metric_value(row, m), "text": format_estimate(getattr(row, m)), "best": m in best}
           for m in METRICS},
        **{m: {"value": metric_value(row, m), "text": _extended_text(row, m), "best": m in best}
           for m in EXTRA_METRICS},
        "n": row.n, "hardware": row.hardware, "date": row.created[:10],
        "is_probability": row.is_probability, "calibration": row.calibration, "stale": row.stale,
        "plot": quote(plot, safe="/") if plot else None,
    }


def _paired_data(row: Row, diff, items: dict) -> dict:
    """The ΔAUROC cell and, when the page holds the row's per-item ranks, the block they are in."""
    value = None if diff is None or diff.is_reference else diff.estimate
    return {"auroc_vs_best": {"value": value, "text": format_diff(diff, row.n), "best": False,
                              "sep": bool(diff is not None and diff.separable),
                              "reference": bool(diff is not None and diff.is_reference)},
            "items": row.source if has_items(row, items) else None}


def _extended_text(row: Row, metric: str) -> str:
    text = format_estimate(row.extended.get(metric))
    if metric == "abstain_coverage" and row.abstain_setting and metric_value(row, metric) is not None:
        text += f" {row.abstain_setting}"  # the page shows what follows the first space as small print
    return text


def json_for_script(payload) -> str:
    """JSON that cannot end its <script> element early (`</script>`, `<!--`) or be read as HTML."""
    text = json.dumps(payload, ensure_ascii=False, allow_nan=False, sort_keys=True)
    for char, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                          ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        text = text.replace(char, escaped)
    return text
