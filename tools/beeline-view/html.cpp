// The HTML view: one self-contained page (inline CSS and script, nothing fetched). Span data travels as JSON
// in a non-executed <script type="application/json"> with '<', '>' and '&' escaped, and the script puts it
// into the page with textContent only, so no field value can become markup. Opened with #selftest, the page
// clicks through every trace and span itself and writes what it found into #selftest (the DOM test reads it
// with headless Chromium).
#include "view.hpp"

#include <fmt/format.h>

namespace beeline::view {
namespace {

constexpr std::string_view page_head = R"(<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>beeline-view</title>
<style>
*{box-sizing:border-box}
html,body{height:100%}
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#f4f5f7;display:flex;
 flex-direction:column;overflow:hidden}
header{flex:none;padding:8px 16px;background:#1f2933;color:#fff;display:flex;align-items:baseline;gap:14px}
header h1{font-size:15px;margin:0}#summary{color:#cbd2d9}
main{flex:1;min-height:0;display:grid;grid-template-columns:minmax(520px,50%) minmax(0,1fr);gap:10px;padding:10px}
.pane{background:#fff;border:1px solid #d9dce1;border-radius:4px;min-height:0;min-width:0;display:flex;
 flex-direction:column}
.toolbar{flex:none;display:flex;align-items:center;gap:8px;padding:8px;border-bottom:1px solid #e6e8eb}
#filter{flex:1;font:inherit;padding:5px 8px;border:1px solid #c4c9d0;border-radius:4px}
#filter:focus{outline:2px solid #8ab4f8;border-color:#8ab4f8}#shown{color:#555;white-space:nowrap}
#list-scroll{flex:1;overflow:auto;min-height:0}
table{border-collapse:collapse;width:100%}
#trace-list{table-layout:fixed;font-size:12px;font-variant-numeric:tabular-nums}
#trace-list th,#trace-list td{padding:4px 5px}
#trace-list th{position:sticky;top:0;background:#f7f8fa;z-index:1;font-weight:600;color:#444}
th,td{text-align:left;padding:4px 6px;border-bottom:1px solid #eef0f2;white-space:nowrap;overflow:hidden;
 text-overflow:ellipsis}
#trace-list tbody tr{cursor:pointer}#trace-list tbody tr:hover{background:#f1f5fd}
#trace-list tr.selected{background:#dfe9fb}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}td.err{color:#c62828;font-weight:600}
td.s4{color:#b26a00;font-weight:600}td.s5{color:#c62828;font-weight:600}td.noroot{color:#b26a00;font-style:italic}
.dot{display:inline-block;width:9px;height:9px;border-radius:50%;margin-right:5px;vertical-align:baseline}
#no-match{padding:12px;color:#666}
code{font-family:ui-monospace,monospace;font-size:12px}
#trace-pane{display:grid;grid-template-columns:minmax(0,1fr);grid-template-rows:auto minmax(0,1fr) minmax(120px,32%)}
#trace-head{padding:8px 10px;border-bottom:1px solid #e6e8eb}
#trace-head h2{font-size:15px;margin:0 0 2px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#trace-head .meta{color:#555;font-size:12px;white-space:nowrap;overflow:hidden;text-overflow:ellipsis}
#trace-request{font-size:13px;color:#1d1d1f;margin-bottom:2px}#trace-request .s4{color:#b26a00;font-weight:600}
#trace-request .s5{color:#c62828;font-weight:600}#legend{margin-top:4px;font-size:12px}
#legend span{margin-right:12px;white-space:nowrap}
#waterfall{overflow:auto;min-height:0;padding:0 8px 8px}
.axis{position:sticky;top:0;background:#fff;z-index:2;height:24px;border-bottom:1px solid #d9dce1}
.tick{position:absolute;bottom:0;height:7px;border-left:1px solid #888}
.tick span{position:absolute;bottom:7px;left:0;transform:translateX(-50%);font-size:11px;color:#555;
 white-space:nowrap}
.tick.first span{transform:none}.tick.last span{transform:translateX(-100%)}
.row{display:flex;align-items:center;height:22px;cursor:pointer;border-radius:3px}
.row:hover{background:#f1f3f4}.row.selected{background:#dfe9fb}
.name{width:34%;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;padding-right:6px}
.name.err{color:#c62828;font-weight:600}.remote{color:#666;font-size:11px;margin-left:6px}
.track{flex:1;position:relative;height:22px;margin:0 8px;
 background-image:linear-gradient(to right,#eceef1 1px,transparent 1px);background-size:var(--tick,100%) 100%}
.bar{position:absolute;top:5px;height:12px;min-width:2px;border-radius:2px}
.bar.error{box-shadow:0 0 0 2px #d93025;background-image:repeating-linear-gradient(135deg,
 rgba(217,48,37,.55) 0 3px,transparent 3px 7px)}
.mark{position:absolute;top:3px;width:6px;height:16px;margin-left:-3px;background:#f9a825;border-radius:2px}
.dur{width:78px;flex:none;text-align:right;font-variant-numeric:tabular-nums;color:#333}
.axis .name,.axis .dur{visibility:hidden}
.orphan{color:#b26a00;font-style:italic;height:22px;padding-left:4px}.skew{color:#b26a00}
#detail{overflow:auto;border-top:1px solid #e6e8eb;padding:6px 10px;font-size:12px;overflow-wrap:anywhere}
#detail h3{font-size:13px;margin:2px 0 4px}
#detail table td{white-space:normal;vertical-align:top;overflow:visible}#detail td:first-child{color:#555;width:32%}
#selftest{display:none}
</style></head><body>
<header><h1>beeline-view</h1><span id="summary"></span></header>
<main>
<section class="pane" id="list-pane">
<div class="toolbar"><input id="filter" type="search" autocomplete="off"
 placeholder="Filter: service, path, status, span name, trace id..."><span id="shown"></span></div>
<div id="list-scroll"><table id="trace-list"><colgroup><col style="width:98px"><col style="width:96px">
<col><col style="width:64px"><col><col style="width:56px"><col style="width:72px"><col style="width:52px">
<col style="width:34px"></colgroup>
<thead><tr><th title="UTC">Start</th><th>Service</th><th>Root</th><th>Method</th><th>Path</th>
<th class="num">Status</th><th class="num">Duration</th><th class="num">Spans</th><th class="num">Err</th></tr></thead>
<tbody></tbody></table><div id="no-match" hidden>No trace matches the filter.</div></div>
</section>
<section class="pane" id="trace-pane">
<div id="trace-head"><h2 id="trace-title"></h2><div class="meta" id="trace-request"></div>
<div class="meta" id="trace-meta"></div><div id="legend"></div></div>
<div id="waterfall"></div>
<aside id="detail">Click a span to see its fields.</aside>
</section>
</main>
<pre id="selftest"></pre>
<script type="application/json" id="beeline-data">)";

constexpr std::string_view page_tail = R"(</script>
<script>
"use strict";
const DATA = JSON.parse(document.getElementById('beeline-data').textContent);
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}

// One colour per service, the same in every trace; red is left for errors.
const PALETTE = ['#4e79a7', '#59a14f', '#b07aa1', '#f28e2b', '#76b7b2', '#9c755f', '#edc948', '#8cd17d',
                 '#499894', '#d37295', '#86bcb6', '#a0cbe8'];
const colours = new Map();
function colourOf(service) {
  if (!colours.has(service)) {
    const n = colours.size;
    colours.set(service, n < PALETTE.length ? PALETTE[n] : 'hsl(' + Math.round(n * 137.508) % 360 + ',55%,48%)');
  }
  return colours.get(service);
}
DATA.traces.forEach(t => t.rows.forEach(r => { if (r.orphan === undefined) colourOf(r.service); }));

// Axis steps of 1, 2 or 5 times a power of ten, 4 to 10 of them across the trace.
function tickStep(windowNs) {
  let step = Math.pow(10, Math.floor(Math.log10(Math.max(windowNs, 1))));
  while (windowNs / step < 4) step /= 10;
  for (const m of [1, 2, 5, 10]) if (windowNs / (step * m) <= 10) return step * m;
  return step * 10;
}
function formatNs(ns) {
  const trim = x => String(+x.toFixed(2));
  if (ns === 0) return '0';
  if (ns < 1e3) return trim(ns) + 'ns';
  if (ns < 1e6) return trim(ns / 1e3) + '\u00b5s';
  if (ns < 1e9) return trim(ns / 1e6) + 'ms';
  return trim(ns / 1e9) + 's';
}

const detail = document.getElementById('detail');
function showSpan(r, rowEl) {
  document.querySelectorAll('.row.selected').forEach(x => x.classList.remove('selected'));
  rowEl.classList.add('selected');
  detail.replaceChildren();
  detail.dataset.spanId = r.id;
  detail.appendChild(el('h3', null, r.name));
  const tb = el('table');
  const add = (k, v) => { const tr = el('tr'); tr.appendChild(el('td', null, k)); tr.appendChild(el('td', null, v));
    tb.appendChild(tr); };
  add('trace.span_id', r.id);
  add('trace.parent_id', r.parent || '(root)');
  if (r.remote) add('called by', r.parent + ' (a span of the calling service, not in this input)');
  add('service', r.service);
  add('duration', r.dur);
  add('start', r.start_text);
  if (r.skew) add('clock skew', 'starts before its parent');
  for (const [k, v] of r.fields) add(k, v);
  for (const m of r.marks) {
    add(m.link ? 'link' : 'event @' + m.at, m.name);
    for (const [k, v] of m.fields) add('  ' + k, v);
  }
  detail.appendChild(tb);
}

const tbody = document.querySelector('#trace-list tbody');
const falls = document.getElementById('waterfall');
let selected = -1;
function selectTrace(i) {
  selected = i;
  const t = DATA.traces[i];
  document.querySelectorAll('#trace-list tr.selected').forEach(x => x.classList.remove('selected'));
  const tr = tbody.children[i];
  tr.classList.add('selected');
  tr.scrollIntoView({block: 'nearest'});
  document.querySelectorAll('section.trace').forEach((s, k) => { s.hidden = k !== i; });
  document.getElementById('trace-title').textContent = t.root;
  const request = document.getElementById('trace-request');
  request.replaceChildren();
  const what = [t.method, t.path].filter(x => x).join(' ');
  if (what) request.appendChild(el('span', null, what));
  if (t.status) {
    if (what) request.appendChild(document.createTextNode(' \u2192 '));
    request.appendChild(el('span', /^[45]\d\d$/.test(t.status) ? 's' + t.status[0] : null, t.status));
  }
  request.hidden = !what && !t.status;
  document.getElementById('trace-meta').textContent = t.service + ' \u00b7 ' + t.duration + ' \u00b7 ' +
    t.spans + ' span(s) \u00b7 ' + t.errors + ' error(s) \u00b7 ' + t.start + ' \u00b7 trace ' + t.id;
  const legend = document.getElementById('legend');
  legend.replaceChildren();
  for (const svc of t.services) {
    const chip = el('span');
    const dot = el('span', 'dot');
    dot.style.background = colourOf(svc);
    chip.appendChild(dot);
    chip.appendChild(document.createTextNode(svc || '(no service)'));
    legend.appendChild(chip);
  }
  falls.scrollTop = 0;
  const first = document.querySelector('#trace-' + i + ' .span-row');
  if (first) first.click();  // the root's fields, at once
}

DATA.traces.forEach((t, i) => {
  t.services = [];
  for (const r of t.rows) if (r.orphan === undefined && !t.services.includes(r.service)) t.services.push(r.service);
  t.search = [t.id, t.root, t.service, t.method, t.path, t.status]
    .concat(t.rows.map(r => r.orphan === undefined ? r.name + ' ' + r.service : '')).join('\n').toLowerCase();
  const tr = el('tr');
  tr.dataset.traceId = t.id;
  tr.title = 'trace ' + t.id;
  const start = el('td', 'start', t.start.slice(11, 23));
  start.title = t.start;
  tr.appendChild(start);
  const svc = el('td', 'service');
  const dot = el('span', 'dot');
  dot.style.background = colourOf(t.service);
  svc.appendChild(dot);
  svc.appendChild(document.createTextNode(t.service));
  svc.title = t.service;
  tr.appendChild(svc);
  const root = el('td', t.has_root ? 'root' : 'root noroot', t.root);
  root.title = t.root + (t.local_root ? ' (the service\'s local root: its caller is not in this input)' : '');
  tr.appendChild(root);
  tr.appendChild(el('td', 'method', t.method));
  const path = el('td', 'path', t.path);
  path.title = t.path;
  tr.appendChild(path);
  tr.appendChild(el('td', 'num status' + (/^[45]\d\d$/.test(t.status) ? ' s' + t.status[0] : ''), t.status));
  tr.appendChild(el('td', 'num', t.duration));
  tr.appendChild(el('td', 'num', String(t.spans)));
  tr.appendChild(el('td', t.errors ? 'num err' : 'num', String(t.errors)));
  tr.addEventListener('click', () => selectTrace(i));
  tbody.appendChild(tr);

  const sec = el('section', 'trace');
  sec.id = 'trace-' + i;
  sec.dataset.traceId = t.id;
  sec.hidden = true;
  const step = tickStep(t.window_ns);
  sec.style.setProperty('--tick', (step / t.window_ns * 100) + '%');
  const axis = el('div', 'row axis');
  axis.appendChild(el('div', 'name'));
  const ticks = el('div', 'track ticks');
  ticks.style.backgroundImage = 'none';
  const count = Math.floor(t.window_ns / step + 1e-9);
  for (let k = 0; k <= count; k++) {
    const tick = el('div', 'tick' + (k === 0 ? ' first' : '') + (k === count && k * step / t.window_ns > 0.95 ? ' last' : ''));
    tick.style.left = (k * step / t.window_ns * 100) + '%';
    tick.appendChild(el('span', null, formatNs(k * step)));
    ticks.appendChild(tick);
  }
  axis.appendChild(ticks);
  axis.appendChild(el('div', 'dur'));
  sec.appendChild(axis);
  for (const r of t.rows) {
    if (r.orphan !== undefined) {
      sec.appendChild(el('div', 'orphan', '\u26a0 parent ' + r.orphan +
                         (r.cycle ? ' is in a cycle of parents' : ' never arrived')));
      continue;
    }
    const row = el('div', 'row span-row');
    row.dataset.spanId = r.id;
    row.dataset.service = r.service;
    const name = el('div', 'name' + (r.skew ? ' skew' : '') + (r.error ? ' err' : ''), r.name);
    name.style.paddingLeft = (4 + 14 * Math.min(r.depth, 30)) + 'px';
    name.title = r.name + ' (' + r.service + ')';
    if (r.remote) name.appendChild(el('span', 'remote', '\u2196 called by ' + r.parent.slice(0, 8)));
    row.appendChild(name);
    const track = el('div', 'track');
    const bar = el('div', r.error ? 'bar error' : 'bar');
    bar.style.left = r.left + '%';
    bar.style.width = r.width + '%';
    bar.style.backgroundColor = colourOf(r.service);
    bar.title = r.service + ' \u00b7 ' + r.dur;
    track.appendChild(bar);
    for (const m of r.marks) {
      if (m.link) continue;
      const mk = el('div', 'mark');
      mk.style.left = m.left + '%';
      mk.title = m.name;
      track.appendChild(mk);
    }
    row.appendChild(track);
    row.appendChild(el('div', 'dur', r.dur));
    row.addEventListener('click', () => showSpan(r, row));
    sec.appendChild(row);
  }
  falls.appendChild(sec);
});

const filter = document.getElementById('filter');
function applyFilter() {
  const terms = filter.value.toLowerCase().split(/\s+/).filter(x => x);
  let shown = 0, firstShown = -1;
  DATA.traces.forEach((t, i) => {
    const hit = terms.every(w => t.search.includes(w));
    tbody.children[i].hidden = !hit;
    if (hit) { shown++; if (firstShown < 0) firstShown = i; }
  });
  document.getElementById('shown').textContent = shown + ' of ' + DATA.traces.length + ' traces';
  document.getElementById('no-match').hidden = shown > 0;
  if (firstShown >= 0 && (selected < 0 || tbody.children[selected].hidden)) selectTrace(firstShown);
}
filter.addEventListener('input', applyFilter);
document.addEventListener('keydown', e => {
  if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
  const visible = DATA.traces.map((t, i) => i).filter(i => !tbody.children[i].hidden);
  const at = visible.indexOf(selected);
  const next = visible[e.key === 'ArrowDown' ? Math.min(at + 1, visible.length - 1) : Math.max(at - 1, 0)];
  if (next !== undefined) { selectTrace(next); e.preventDefault(); }
});
// #trace=<id or prefix> opens that trace.
const wanted = location.hash.startsWith('#trace=') ? location.hash.slice(7).toLowerCase() : '';
const opened = wanted ? DATA.traces.findIndex(t => t.id.toLowerCase().startsWith(wanted)) : -1;
if (DATA.traces.length) selectTrace(Math.max(opened, 0));
applyFilter();
document.getElementById('summary').textContent = DATA.traces.length + ' trace(s)' +
  (DATA.notes.length ? ' \u00b7 ' + DATA.notes.join(' \u00b7 ') : '');

// #selftest: the page checks itself and writes what it found into #selftest (read back by the DOM test).
function selftest() {
  const lines = [];
  let ok = true;
  const check = (good, line) => { ok = ok && good; lines.push(line + (good ? ' ok' : ' FAIL')); };
  const vw = window.innerWidth, vh = window.innerHeight;
  const inside = r => r.left >= 0 && r.top >= 0 && r.right <= vw + 0.5 && r.bottom <= vh + 0.5;
  const box = r => [r.left, r.top, r.width, r.height].map(Math.round).join(',');
  const colourOfService = new Map();
  let coloursGood = true;
  DATA.traces.forEach((t, i) => {
    tbody.children[i].click();
    const sec = document.getElementById('trace-' + i);
    const rows = sec.querySelectorAll('.span-row');
    const expected = t.rows.filter(r => r.orphan === undefined);
    let drawn = 0, shown = 0;
    rows.forEach((row, k) => {
      const bar = row.querySelector('.bar');
      if (!sec.hidden && bar && bar.getBoundingClientRect().width >= 1) drawn++;
      row.click();
      const r = expected[k];
      const cells = Array.from(detail.querySelectorAll('tr')).map(tr => Array.from(tr.children).map(c => c.textContent));
      const has = (key, v) => cells.some(c => c[0] === key && c[1] === v);
      if (r && detail.dataset.spanId === r.id && has('trace.span_id', r.id) && r.fields.every(([key, v]) => has(key, v)))
        shown++;
      if (bar && !r.error) {
        const c = getComputedStyle(bar).backgroundColor;
        if (!colourOfService.has(r.service)) colourOfService.set(r.service, new Set());
        colourOfService.get(r.service).add(c);
      }
    });
    const good = rows.length === expected.length && drawn === expected.length && shown === expected.length;
    ok = ok && good;
    lines.push('trace ' + t.id + ' spans=' + expected.length + ' rows=' + rows.length + ' drawn=' + drawn +
               ' fields_shown=' + shown + (good ? ' ok' : ' FAIL'));
    // The axis: 0 at the left, increasing labels, the last one within the trace.
    const tickEls = Array.from(sec.querySelectorAll('.axis .tick'));
    const lefts = tickEls.map(x => parseFloat(x.style.left));
    const axisGood = tickEls.length >= 3 && tickEls[0].textContent === '0' &&
      lefts.every((v, k) => k === 0 || v > lefts[k - 1]) && lefts[lefts.length - 1] <= 100.0001 &&
      tickEls.every(x => x.getBoundingClientRect().width >= 0 && x.textContent.length > 0);
    check(axisGood, 'axis trace ' + t.id + ' ticks=' + tickEls.length + ' labels=' +
          tickEls.map(x => x.textContent).join('|'));
  });
  // Distinct services, distinct colours; one service, one colour.
  const seen = new Map();
  for (const [svc, set] of colourOfService) {
    if (set.size !== 1) coloursGood = false;
    const c = [...set][0];
    if (seen.has(c) && seen.get(c) !== svc) coloursGood = false;
    seen.set(c, svc);
  }
  check(coloursGood && colourOfService.size > 1,
        'colours services=' + colourOfService.size + ' distinct=' + new Set(seen.keys()).size);

  // Layout, with the first trace selected: the waterfall's first rows on screen beside or below the list,
  // the page itself not scrolling.
  if (DATA.traces.length) tbody.children[0].click();
  const list = document.getElementById('list-pane').getBoundingClientRect();
  const fall = document.getElementById('waterfall').getBoundingClientRect();
  const firstRows = Array.from(document.querySelectorAll('#trace-0 .span-row')).slice(0, 3);
  const rowsVisible = firstRows.length > 0 && firstRows.every(r => inside(r.getBoundingClientRect()));
  const firstListRow = tbody.children[0] ? tbody.children[0].getBoundingClientRect() : list;
  const apart = list.right <= fall.left + 0.5 || list.top >= fall.bottom - 0.5;
  const noScroll = document.documentElement.scrollHeight <= vh + 1 && document.documentElement.scrollWidth <= vw + 1;
  check(inside(fall) && rowsVisible && inside(firstListRow) && apart && noScroll && fall.height >= 150,
        'layout viewport=' + vw + 'x' + vh + ' list=' + box(list) + ' waterfall=' + box(fall) +
        (list.right <= fall.left + 0.5 ? ' beside' : ' below'));

  // The filter: each trace found by its id alone; a service name shows exactly the traces with a span of it;
  // nonsense shows none (and says so); cleared, all.
  const visibleIds = () => Array.from(tbody.children).filter(tr => !tr.hidden).map(tr => tr.dataset.traceId);
  const type = text => { filter.value = text; filter.dispatchEvent(new Event('input')); };
  let filterGood = true;
  for (const t of DATA.traces) {
    type(t.id);
    const v = visibleIds();
    if (v.length !== 1 || v[0] !== t.id || selected !== DATA.traces.indexOf(t)) filterGood = false;
  }
  const services = [...new Set(DATA.traces.flatMap(t => t.services))].filter(x => x);
  for (const svc of services) {
    type(svc);
    const want = DATA.traces.filter(t => t.search.includes(svc.toLowerCase())).map(t => t.id);
    if (visibleIds().join() !== want.join()) filterGood = false;
  }
  type('no-such-thing-\u2603');
  if (visibleIds().length !== 0 || document.getElementById('no-match').hidden) filterGood = false;
  type('');
  if (visibleIds().length !== DATA.traces.length) filterGood = false;
  check(filterGood, 'filter traces=' + DATA.traces.length + ' services=' + services.length);

  const injected = document.querySelectorAll('img,iframe,object,embed').length;
  if (injected || document.body.dataset.pwned) ok = false;
  lines.push('injected_elements=' + injected);
  lines.push(ok ? 'SELFTEST PASS' : 'SELFTEST FAIL');
  const out = document.getElementById('selftest');
  out.textContent = lines.join('\n');
  out.dataset.result = ok ? 'pass' : 'fail';
  if (DATA.traces.length) selectTrace(0);
}
if (location.hash === '#selftest') selftest();
</script>
</body></html>
)";

void pct(std::string& out, double v) {
  if (v < 0) v = 0;
  if (v > 100) v = 100;
  out += fmt::format("{:.4f}", v);
}

void fields_json(std::string& out, const std::vector<field>& fields) {
  out.push_back('[');
  for (std::size_t i = 0; i < fields.size(); ++i) {
    if (i) out.push_back(',');
    out.push_back('[');
    append_json_string(out, fields[i].key, true);
    out.push_back(',');
    append_json_string(out, fields[i].text, true);
    out.push_back(']');
  }
  out.push_back(']');
}

}  // namespace

void render_html(std::string& out, const std::vector<trace_tree>& traces, const input_counts& counts) {
  out += page_head;
  out += "{\"traces\":[";
  bool first_trace = true;
  for (const trace_tree& t : traces) {
    if (!first_trace) out.push_back(',');
    first_trace = false;
    const trace_summary& s = t.summary;
    const double window = static_cast<double>(t.window_ns());
    out += "{\"id\":";
    append_json_string(out, s.trace_id, true);
    out += ",\"root\":";
    append_json_string(out, s.has_root() ? s.root_name : "(no root)", true);
    out += fmt::format(",\"has_root\":{},\"local_root\":{},\"window_ns\":{}", s.has_root(), s.root_is_local,
                       t.window_ns());
    out += ",\"method\":";
    append_json_string(out, s.method, true);
    out += ",\"path\":";
    append_json_string(out, s.path, true);
    out += ",\"status\":";
    append_json_string(out, s.status, true);
    out += ",\"service\":";
    append_json_string(out, s.service, true);
    out += ",\"start\":";
    append_json_string(out, format_time(s.start_ns, 3), true);
    out += ",\"duration\":";
    append_json_string(out, format_duration(s.duration_ns()), true);
    out += fmt::format(",\"spans\":{},\"errors\":{},\"rows\":[", s.spans, s.errors);
    for (std::size_t i = 0; i < t.rows.size(); ++i) {
      const tree_row& r = t.rows[i];
      if (i) out.push_back(',');
      if (!r.s) {
        out += "{\"orphan\":";
        append_json_string(out, r.missing_parent, true);
        out += fmt::format(",\"cycle\":{}}}", r.cycle);
        continue;
      }
      const span& sp = *r.s;
      out += "{\"id\":";
      append_json_string(out, sp.span_id, true);
      out += ",\"parent\":";
      append_json_string(out, sp.parent_id, true);
      out += ",\"name\":";
      append_json_string(out, sp.name.empty() ? "(unnamed)" : sp.name, true);
      out += ",\"service\":";
      append_json_string(out, sp.service, true);
      out += fmt::format(",\"depth\":{},\"error\":{},\"skew\":{},\"remote\":{},\"left\":", r.depth, sp.error,
                         r.skewed, r.remote_parent);
      pct(out, static_cast<double>(sp.start_ns - t.t0) / window * 100);
      out += ",\"width\":";
      pct(out, static_cast<double>(sp.duration_ns) / window * 100);
      out += ",\"dur\":";
      append_json_string(out, format_duration(sp.duration_ns), true);
      out += ",\"start_text\":";
      append_json_string(out, format_time(sp.start_ns, 9), true);
      out += ",\"fields\":";
      fields_json(out, sp.fields);
      out += ",\"marks\":[";
      for (std::size_t k = 0; k < sp.annotations.size(); ++k) {
        const annotation& a = sp.annotations[k];
        if (k) out.push_back(',');
        out += fmt::format("{{\"link\":{},\"left\":", a.is_link);
        pct(out, static_cast<double>(a.time_ns - t.t0) / window * 100);
        out += ",\"at\":";
        append_json_string(out, format_duration(a.time_ns - sp.start_ns), true);
        out += ",\"name\":";
        append_json_string(out, a.name, true);
        out += ",\"fields\":";
        fields_json(out, a.fields);
        out.push_back('}');
      }
      out += "]}";
    }
    out += "]}";
  }
  out += "],\"notes\":[";
  bool first_note = true;
  auto note = [&](std::uint64_t n, std::string_view what) {
    if (!n) return;
    if (!first_note) out.push_back(',');
    first_note = false;
    append_json_string(out, fmt::format("{} {}", n, what), true);
  };
  note(counts.not_json + counts.truncated_last_line + counts.too_long + counts.not_span, "line(s) skipped");
  note(counts.duplicate_spans, "duplicate span(s) skipped");
  note(counts.orphans, "orphan span(s)");
  note(counts.clock_skew, "span(s) with clock skew");
  out += "]}";
  out += page_tail;
}

}  // namespace beeline::view
