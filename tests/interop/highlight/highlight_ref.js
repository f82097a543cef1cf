"use strict";
// What the real @highlight-run/node (pinned in package.json) sends for the calls the C++ Highlight tests
// make, normalized so the C++ test can compare it with what beeline-cpp sends for the same calls.
//
//   node highlight_ref.js capture            runs the SDK against a loopback OTLP collector started here,
//                                            prints the normalized payloads (one JSON document)
//   node highlight_ref.js capture URL        the same, but sends to the collector at URL and prints nothing
//   node highlight_ref.js normalize FILE     FILE holds [{"path": "/v1/traces", "body": "<JSON text>"}, ...]
//                                            (bodies already gunzipped); prints them normalized the same way
//
// Normalized form: {"resource": {...}, "spans": [...], "metrics": [...], "logs": [...]}
//  - resource: only the attributes Highlight reads (highlight.project_id, service.name, service.version,
//    deployment.environment), merged over every request; SDK-specific ones (process.*, telemetry.*,
//    host.name) are left out.
//  - a span: name, kind, parent ("none", "remote" or the parent span's name), status code, attributes as
//    {key: value} (intValue as a string, as the protobuf JSON mapping allows both), events {name,
//    attributes}; ids and times dropped; `exception.stacktrace` replaced by "<stack>" (its text is the
//    language's own).
//  - a metric: name, type, data points {attributes, value}.
//  - a log: severity, body, attributes (`exception.stacktrace` replaced by "<stack>"), and the name of the
//    span it is tied to (or null).
// Nothing goes past 127.0.0.1.

for (const name of Object.keys(process.env)) {
  if (name.startsWith("OTEL_")) delete process.env[name];
}

const fs = require("fs");
const http = require("http");
const zlib = require("zlib");

const RESOURCE_KEYS = ["highlight.project_id", "service.name", "service.version", "deployment.environment"];

function anyValue(v) {
  if (v === undefined || v === null) return null;
  if ("intValue" in v) return { intValue: String(v.intValue) };
  if ("arrayValue" in v) return { arrayValue: (v.arrayValue.values || []).map(anyValue) };
  return v;
}

function attributes(list, stackKeys) {
  const out = {};
  for (const a of list || []) {
    out[a.key] = stackKeys.includes(a.key) ? "<stack>" : anyValue(a.value);
  }
  return out;
}

function normalize(requests) {
  const resource = {};
  const spans = [];
  const metrics = [];
  const logs = [];
  const spanNames = {};
  const rawLogs = [];
  for (const r of requests) {
    const body = JSON.parse(r.body);
    const groups = body.resourceSpans || body.resourceMetrics || body.resourceLogs || [];
    for (const g of groups) {
      for (const a of (g.resource && g.resource.attributes) || []) {
        if (RESOURCE_KEYS.includes(a.key)) resource[a.key] = anyValue(a.value);
      }
      for (const sc of g.scopeSpans || []) {
        for (const s of sc.spans || []) {
          spanNames[s.spanId] = s.name;
          spans.push(s);
        }
      }
      for (const sc of g.scopeMetrics || []) {
        for (const m of sc.metrics || []) {
          const type = ["gauge", "sum", "histogram"].find((t) => t in m);
          metrics.push({
            name: m.name,
            type,
            points: (m[type].dataPoints || []).map((p) => ({
              attributes: attributes(p.attributes, []),
              value: "asDouble" in p ? p.asDouble : Number(p.asInt),
            })),
          });
        }
      }
      for (const sc of g.scopeLogs || []) {
        for (const l of sc.logRecords || []) rawLogs.push(l);
      }
    }
  }
  const normSpans = spans.map((s) => ({
    name: s.name,
    kind: s.kind,
    parent: !s.parentSpanId ? "none" : spanNames[s.parentSpanId] || "remote",
    status: (s.status && s.status.code) || 0,
    attributes: attributes(s.attributes, []),
    events: (s.events || []).map((e) => ({
      name: e.name,
      attributes: attributes(e.attributes, ["exception.stacktrace"]),
    })),
  }));
  normSpans.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const l of rawLogs) {
    logs.push({
      severity: l.severityText,
      body: l.body && l.body.stringValue,
      attributes: attributes(l.attributes, ["exception.stacktrace"]),
      span: l.spanId ? spanNames[l.spanId] || "unknown" : null,
    });
  }
  return { resource, spans: normSpans, metrics, logs };
}

// The calls. The C++ test (tests/highlight/highlight_test.cpp, "interop") makes the same ones.
async function run(endpoint) {
  const { H } = require("@highlight-run/node");
  H.init({
    projectID: "interop-project",
    otlpEndpoint: endpoint,
    serviceName: "interop-service",
    serviceVersion: "1.2.3",
    environment: "test",
    disableConsoleRecording: true,
  });
  H.consumeError(new Error("boom é ✓"), "sess-1", "req-1", { "user.id": "u1", attempt: 3 });
  H.recordMetric({ name: "latency_ms", value: 12.5, tags: [{ name: "route", value: "/orders" }] });
  await H.runWithHeaders("highlight-ctx", { "x-highlight-request": "sess-2/req-2" }, async () => {
    H.log("loaded cart", "info", "sess-3", "req-3", { items: "4" });
  });
  await H.flush();
}

async function capture(url) {
  if (url) {
    await run(url);
    process.exit(0);
  }
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body = Buffer.concat(chunks);
      if (req.headers["content-encoding"] === "gzip") body = zlib.gunzipSync(body);
      requests.push({ path: req.url, body: body.toString("utf8"), gzip: req.headers["content-encoding"] === "gzip" });
      res.writeHead(200, { "content-type": "application/json" });
      res.end("{}");
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  await run(`http://127.0.0.1:${server.address().port}`);
  // Metrics and logs are exported by their own readers after the flush; give them a moment to land.
  const deadline = Date.now() + 3000;
  const paths = () => new Set(requests.map((r) => r.path));
  while (Date.now() < deadline && !["/v1/traces", "/v1/metrics", "/v1/logs"].every((p) => paths().has(p))) {
    await new Promise((r) => setTimeout(r, 20));
  }
  const out = normalize(requests);
  out.paths = [...paths()].sort();
  out.gzip = requests.every((r) => r.gzip);
  process.stdout.write(JSON.stringify(out) + "\n");
  process.exit(0);
}

const [mode, arg] = process.argv.slice(2);
if (mode === "normalize") {
  const out = normalize(JSON.parse(fs.readFileSync(arg, "utf8")));
  process.stdout.write(JSON.stringify(out) + "\n");
} else if (mode === "capture") {
  capture(arg).catch((e) => {
    console.error(e);
    process.exit(1);
  });
} else {
  console.error("usage: highlight_ref.js capture [URL] | normalize FILE");
  process.exit(2);
}
