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
body{font:13px/1.4 system-ui,sans-serif;margin:0;color:#1d1d1f;background:#fafafa}
header{padding:10px 16px;background:#1f2933;color:#fff}header h1{font-size:16px;margin:0;display:inline}
header span{margin-left:12px;color:#cbd2d9}
main{display:flex;gap:12px;padding:12px 16px}
#left{flex:1;min-width:0}#detail{width:340px;flex:none;background:#fff;border:1px solid #ddd;padding:8px;
 font-size:12px;overflow-wrap:anywhere;align-self:flex-start;position:sticky;top:8px;max-height:95vh;overflow:auto}
table{border-collapse:collapse;width:100%;background:#fff}
th,td{text-align:left;padding:3px 6px;border-bottom:1px solid #eee;white-space:nowrap}
#trace-list tbody tr{cursor:pointer}#trace-list tbody tr:hover,#trace-list tr.selected{background:#e8f0fe}
td.err{color:#c62828;font-weight:600}td.num{text-align:right}code{font-family:ui-monospace,monospace}
section.trace{margin-top:14px;background:#fff;border:1px solid #ddd;padding:8px}
section.trace h2{font-size:14px;margin:0 0 6px}
.row{display:flex;align-items:center;height:20px;cursor:pointer;border-radius:3px}
.row:hover{background:#f1f3f4}.row.selected{background:#e8f0fe}
.name{width:30%;box-sizing:border-box;flex:none;overflow:hidden;text-overflow:ellipsis;white-space:nowrap}
.track{flex:1;position:relative;height:12px;background:#f5f5f5;margin:0 8px}
.bar{position:absolute;top:0;height:12px;min-width:1px;border-radius:2px;background:#3d7fd9}
.bar.error{background:#d93025}.mark{position:absolute;top:-2px;width:6px;height:16px;margin-left:-3px;
 background:#f9a825;border-radius:2px}
.dur{width:80px;flex:none;text-align:right;font-variant-numeric:tabular-nums}
.orphan{color:#b26a00;font-style:italic;height:20px}.skew{color:#b26a00}
#detail table td{white-space:normal;vertical-align:top}#detail td:first-child{color:#555}
</style></head><body>
<header><h1>beeline-view</h1><span id="summary"></span></header>
<main><div id="left">
<table id="trace-list"><thead><tr><th>Start (UTC)</th><th>Duration</th><th>Spans</th><th>Errors</th><th>Service</th>
<th>Root</th><th>Trace ID</th></tr></thead><tbody></tbody></table>
<div id="waterfalls"></div></div>
<aside id="detail">Click a span to see its fields.</aside></main>
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
const detail = document.getElementById('detail');
function showSpan(t, r, rowEl) {
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
function selectTrace(i) {
  document.querySelectorAll('#trace-list tr.selected').forEach(x => x.classList.remove('selected'));
  document.querySelectorAll('#trace-list tbody tr')[i].classList.add('selected');
  document.querySelectorAll('section.trace').forEach((s, k) => { s.hidden = k !== i; });
  const first = document.querySelector('#trace-' + i + ' .span-row');
  if (first) first.click();  // the root's fields, at once
}
const tbody = document.querySelector('#trace-list tbody');
const falls = document.getElementById('waterfalls');
DATA.traces.forEach((t, i) => {
  const tr = el('tr');
  tr.appendChild(el('td', null, t.start));
  tr.appendChild(el('td', 'num', t.duration));
  tr.appendChild(el('td', 'num', String(t.spans)));
  tr.appendChild(el('td', t.errors ? 'num err' : 'num', String(t.errors)));
  tr.appendChild(el('td', null, t.service));
  tr.appendChild(el('td', null, t.root));
  const idc = el('td'); idc.appendChild(el('code', null, t.id)); tr.appendChild(idc);
  tr.addEventListener('click', () => selectTrace(i));
  tbody.appendChild(tr);
  const sec = el('section', 'trace');
  sec.id = 'trace-' + i;
  sec.dataset.traceId = t.id;
  sec.hidden = i !== 0;
  sec.appendChild(el('h2', null, t.root + ' \u00b7 ' + t.service + ' \u00b7 ' + t.duration + ' \u00b7 ' + t.id));
  for (const r of t.rows) {
    if (r.orphan !== undefined) {
      const o = el('div', 'row orphan', '\u26a0 parent ' + r.orphan +
                   (r.cycle ? ' is in a cycle of parents' : ' never arrived'));
      o.style.paddingLeft = '4px';
      sec.appendChild(o);
      continue;
    }
    const row = el('div', 'row span-row');
    row.dataset.spanId = r.id;
    const name = el('div', 'name' + (r.skew ? ' skew' : ''), r.name);
    name.style.paddingLeft = (4 + 14 * Math.min(r.depth, 30)) + 'px';
    name.title = r.name;
    row.appendChild(name);
    const track = el('div', 'track');
    const bar = el('div', r.error ? 'bar error' : 'bar');
    bar.style.left = r.left + '%';
    bar.style.width = r.width + '%';
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
    row.addEventListener('click', () => showSpan(t, r, row));
    sec.appendChild(row);
  }
  falls.appendChild(sec);
});
if (DATA.traces.length) selectTrace(0);
document.getElementById('summary').textContent = DATA.traces.length + ' trace(s)' +
  (DATA.notes.length ? ' \u00b7 ' + DATA.notes.join(' \u00b7 ') : '');

function selftest() {
  const lines = [];
  let ok = true;
  DATA.traces.forEach((t, i) => {
    document.querySelectorAll('#trace-list tbody tr')[i].click();
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
    });
    const good = rows.length === expected.length && drawn === expected.length && shown === expected.length;
    ok = ok && good;
    lines.push('trace ' + t.id + ' spans=' + expected.length + ' rows=' + rows.length + ' drawn=' + drawn +
               ' fields_shown=' + shown + (good ? ' ok' : ' FAIL'));
  });
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
      out += fmt::format(",\"depth\":{},\"error\":{},\"skew\":{},\"left\":", r.depth, sp.error, r.skewed);
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
