"use strict";
// Reference OTLP/HTTP JSON request, from the real OpenTelemetry JS exporter.
//
// The spans are described once, in a neutral form (SPANS below). The script
// builds them with the real SDK (@opentelemetry/sdk-trace-base) using fixed
// ids and times, exports them with the real OTLPTraceExporter (HTTP, JSON) to
// a loopback server started here, and prints one JSON document:
//
//   {"versions", "resource_input", "scope_input", "spans_input",
//    "request", "request_gzip"}
//
// `spans_input`, `resource_input` and `scope_input` are what a C++ test feeds
// our exporter; `request` is what Node sent for them. See README.md.
//
// Nothing goes past 127.0.0.1. The output is the same on every run except
// the port in the Host header.

// The SDK and the exporter read OTEL_* variables (sampler, limits, headers,
// compression, endpoint). Drop them so the output does not depend on the
// caller's environment.
for (const name of Object.keys(process.env)) {
  if (name.startsWith("OTEL_")) delete process.env[name];
}

const fs = require("fs");
const http = require("http");
const path = require("path");
const vm = require("vm");
const zlib = require("zlib");

const api = require("@opentelemetry/api");
const { TraceState } = require("@opentelemetry/core");
const { Resource } = require("@opentelemetry/resources");
const {
  BasicTracerProvider,
  AlwaysOnSampler,
} = require("@opentelemetry/sdk-trace-base");
const {
  ATTR_SERVICE_NAME,
  ATTR_SERVICE_VERSION,
} = require("@opentelemetry/semantic-conventions");
const {
  OTLPTraceExporter,
} = require("@opentelemetry/exporter-trace-otlp-http");

// ---------------------------------------------------------------------------
// Neutral input.
//
// An attribute is {key, type, value}. `type` is one of string, bool, int,
// double, string_array, bool_array, int_array, double_array. Ints are safe
// JavaScript integers. Doubles are never integral: JS cannot tell 2.0 from 2,
// so its encoder writes an intValue for them, and every double of magnitude
// 2^53 or more is integral. Times are nanoseconds since the Unix epoch, as
// decimal strings. Ids are lowercase hex.

const A = (key, type, value) => ({ key, type, value });

const RESOURCE = [
  A(ATTR_SERVICE_NAME, "string", "interop-otlp"),
  A(ATTR_SERVICE_VERSION, "string", "1.2.3"),
  A("deployment.environment", "string", "test"),
  A("res.string", "string", "a resource string"),
  A("res.bool", "bool", true),
  A("res.int", "int", 8),
  A("res.double", "double", 0.75),
  A("res.string_array", "string_array", ["x", "y"]),
  A("res.bool_array", "bool_array", [false, true]),
  A("res.int_array", "int_array", [1, 2, 3]),
  A("res.double_array", "double_array", [0.5, 1.5]),
];

const SCOPE = { name: "beeline-cpp-interop", version: "0.1.0" };

const TRACE_A = "5b8efff798038103d269b633813fc60c";
const TRACE_B = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACE_C = "0af7651916cd43dd8448eb211c80319c";

const SPANS = [
  {
    name: "GET /checkout",
    kind: "SERVER",
    trace_id: TRACE_A,
    span_id: "eee19b7ec3c1b174",
    parent: { type: "none" },
    trace_state: null,
    start_time_unix_nano: "1700000000100000001",
    end_time_unix_nano: "1700000000900000009",
    attributes: [
      A("http.request.method", "string", "GET"),
      A("str.empty", "string", ""),
      A(
        "str.escapes",
        "string",
        'quote " backslash \\ slash / newline \n tab \t ctrl \u0001 e-acute \u00e9 check \u2713 emoji \u{1F600}',
      ),
      A("bool.true", "bool", true),
      A("bool.false", "bool", false),
      A("int.positive", "int", 42),
      A("int.negative", "int", -7),
      A("int.zero", "int", 0),
      A("int.max_safe", "int", 9007199254740991),
      A("double.plain", "double", 3.25),
      A("double.negative", "double", -0.5),
      A("double.small", "double", 1e-7),
      A("double.tiny", "double", 1.5e-300),
      A("double.fraction", "double", 123456789.125),
      A("string_array", "string_array", ["a", "b", ""]),
      A("bool_array", "bool_array", [true, false, true]),
      A("int_array", "int_array", [1, -2, 3]),
      A("double_array", "double_array", [0.5, 1.25, -2.75]),
      A("empty_array", "string_array", []),
    ],
    events: [
      {
        name: "request.received",
        time_unix_nano: "1700000000100000500",
        attributes: [
          A("bytes", "int", 512),
          A("ratio", "double", 0.25),
          A("cached", "bool", false),
          A("route", "string", "/checkout"),
          A("tags", "string_array", ["t1", "t2"]),
        ],
      },
      {
        name: "no attributes",
        time_unix_nano: "1700000000200000000",
        attributes: [],
      },
    ],
    links: [],
    status: { code: "UNSET", message: null },
  },
  {
    name: "charge card",
    kind: "CLIENT",
    trace_id: TRACE_A,
    span_id: "00f067aa0ba902b7",
    parent: { type: "local", span_id: "eee19b7ec3c1b174" },
    trace_state: null,
    start_time_unix_nano: "1700000000200000002",
    end_time_unix_nano: "1700000000400000004",
    attributes: [
      A("server.address", "string", "payments.internal"),
      A("server.port", "int", 8443),
    ],
    events: [
      // Made by span.recordException(new Error("boom"), time). The attributes
      // here are what the SDK recorded; see exceptionEvent().
      { record_exception: true, time_unix_nano: "1700000000300000003" },
    ],
    links: [],
    status: { code: "ERROR", message: "card declined" },
  },
  {
    name: "SELECT orders",
    kind: "INTERNAL",
    trace_id: TRACE_A,
    span_id: "53995c3f42cd8ad8",
    parent: { type: "local", span_id: "eee19b7ec3c1b174" },
    trace_state: null,
    start_time_unix_nano: "1700000000450000000",
    end_time_unix_nano: "1700000000500000000",
    attributes: [A("db.system", "string", "postgresql")],
    events: [],
    links: [],
    status: { code: "OK", message: null },
  },
  {
    name: "publish order.created",
    kind: "PRODUCER",
    trace_id: TRACE_A,
    span_id: "b7ad6b7169203331",
    parent: { type: "local", span_id: "eee19b7ec3c1b174" },
    trace_state: null,
    start_time_unix_nano: "1700000000600000000",
    end_time_unix_nano: "1700000000700000000",
    attributes: [A("messaging.destination.name", "string", "orders")],
    events: [],
    links: [],
    status: { code: "UNSET", message: null },
  },
  {
    name: "consume order.created",
    kind: "CONSUMER",
    trace_id: TRACE_B,
    span_id: "d75597dee50b0cac",
    parent: {
      type: "remote",
      span_id: "a2fb4a1d1a96d312",
      trace_flags: 1,
    },
    // Inherited from the remote parent's context.
    trace_state: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    start_time_unix_nano: "1700000001000000000",
    end_time_unix_nano: "1700000001250000000",
    attributes: [A("messaging.operation.type", "string", "process")],
    events: [
      {
        name: "message.acked",
        time_unix_nano: "1700000001200000000",
        attributes: [A("attempt", "int", 1)],
      },
    ],
    links: [
      {
        trace_id: TRACE_A,
        span_id: "b7ad6b7169203331",
        trace_flags: 1,
        trace_state: "vendor=abc",
        attributes: [
          A("link.reason", "string", "producer"),
          A("link.index", "int", 0),
          A("link.weight", "double", 0.5),
          A("link.sampled", "bool", true),
        ],
      },
      {
        trace_id: TRACE_C,
        span_id: "b9c7c989f97918e1",
        trace_flags: 0,
        trace_state: null,
        attributes: [],
      },
    ],
    status: { code: "OK", message: null },
  },
  {
    name: "store order",
    kind: "INTERNAL",
    trace_id: TRACE_B,
    span_id: "1a2b3c4d5e6f7081",
    parent: { type: "local", span_id: "d75597dee50b0cac" },
    // A child inherits its parent's trace state.
    trace_state: "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7",
    start_time_unix_nano: "1700000001100000000",
    end_time_unix_nano: "1700000001150000000",
    attributes: [],
    events: [],
    links: [],
    status: { code: "UNSET", message: null },
  },
];

// ---------------------------------------------------------------------------
// Neutral form -> OpenTelemetry JS.

const KINDS = {
  INTERNAL: api.SpanKind.INTERNAL,
  SERVER: api.SpanKind.SERVER,
  CLIENT: api.SpanKind.CLIENT,
  PRODUCER: api.SpanKind.PRODUCER,
  CONSUMER: api.SpanKind.CONSUMER,
};
const STATUS = {
  UNSET: api.SpanStatusCode.UNSET,
  OK: api.SpanStatusCode.OK,
  ERROR: api.SpanStatusCode.ERROR,
};

function fail(message) {
  throw new Error(`otlp_ref: ${message}`);
}

function checkScalar(type, v, key) {
  const ok =
    (type === "string" && typeof v === "string") ||
    (type === "bool" && typeof v === "boolean") ||
    (type === "int" && Number.isSafeInteger(v)) ||
    (type === "double" && Number.isFinite(v) && !Number.isInteger(v));
  if (!ok) fail(`attribute ${key}: ${JSON.stringify(v)} is not a ${type}`);
}

function toJsAttributes(list) {
  const out = {};
  for (const { key, type, value } of list) {
    if (Object.prototype.hasOwnProperty.call(out, key)) fail(`duplicate ${key}`);
    // JS objects list integer-like keys first, which would reorder them.
    if (/^\d+$/.test(key)) fail(`integer-like key ${key}`);
    if (type.endsWith("_array")) {
      if (!Array.isArray(value)) fail(`attribute ${key} is not an array`);
      for (const v of value) checkScalar(type.slice(0, -"_array".length), v, key);
    } else {
      checkScalar(type, value, key);
    }
    out[key] = value;
  }
  return out;
}

function toHrTime(nanos) {
  const n = BigInt(nanos);
  const second = 1000000000n;
  return [Number(n / second), Number(n % second)];
}

function toTraceState(text) {
  if (text == null) return undefined;
  const state = new TraceState(text);
  if (state.serialize() !== text) fail(`trace state ${text} does not round-trip`);
  return state;
}

// A real Error whose stack does not name this file's path or Node's internals:
// compiled under a fixed file name, with one frame.
function boomError() {
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 1;
  try {
    return vm.runInThisContext('new Error("boom")', {
      filename: "otlp_ref_boom.js",
    });
  } finally {
    Error.stackTraceLimit = limit;
  }
}

// Hands out the ids the neutral form asks for, one span at a time.
class FixedIdGenerator {
  constructor() {
    this.traceId = null;
    this.spanId = null;
  }
  generateTraceId() {
    if (this.traceId == null) fail("unexpected generateTraceId");
    const id = this.traceId;
    this.traceId = null;
    return id;
  }
  generateSpanId() {
    if (this.spanId == null) fail("unexpected generateSpanId");
    const id = this.spanId;
    this.spanId = null;
    return id;
  }
}

function buildSpans() {
  const ids = new FixedIdGenerator();
  const provider = new BasicTracerProvider({
    resource: new Resource(toJsAttributes(RESOURCE)),
    sampler: new AlwaysOnSampler(),
    idGenerator: ids,
  });
  const tracer = provider.getTracer(SCOPE.name, SCOPE.version);

  const started = new Map(); // span_id -> SDK span
  const finished = [];
  for (const spec of SPANS) {
    let ctx = api.ROOT_CONTEXT;
    if (spec.parent.type === "local") {
      const parent = started.get(spec.parent.span_id);
      if (!parent) fail(`${spec.name}: parent must come earlier`);
      ctx = api.trace.setSpan(ctx, parent);
    } else if (spec.parent.type === "remote") {
      ctx = api.trace.setSpanContext(ctx, {
        traceId: spec.trace_id,
        spanId: spec.parent.span_id,
        traceFlags: spec.parent.trace_flags,
        isRemote: true,
        traceState: toTraceState(spec.trace_state),
      });
    } else {
      ids.traceId = spec.trace_id;
    }
    ids.spanId = spec.span_id;

    const span = tracer.startSpan(
      spec.name,
      {
        kind: KINDS[spec.kind],
        attributes: toJsAttributes(spec.attributes),
        links: spec.links.map((link) => ({
          context: {
            traceId: link.trace_id,
            spanId: link.span_id,
            traceFlags: link.trace_flags,
            traceState: toTraceState(link.trace_state),
          },
          attributes: toJsAttributes(link.attributes),
        })),
        startTime: toHrTime(spec.start_time_unix_nano),
      },
      ctx,
    );
    const sc = span.spanContext();
    if (sc.traceId !== spec.trace_id || sc.spanId !== spec.span_id) {
      fail(`${spec.name}: got ids ${sc.traceId}/${sc.spanId}`);
    }
    const traceState = sc.traceState ? sc.traceState.serialize() : null;
    if (traceState !== spec.trace_state) {
      fail(`${spec.name}: got trace state ${traceState}`);
    }

    for (const event of spec.events) {
      const time = toHrTime(event.time_unix_nano);
      if (event.record_exception) {
        span.recordException(boomError(), time);
      } else {
        span.addEvent(event.name, toJsAttributes(event.attributes), time);
      }
    }
    if (spec.status.code !== "UNSET") {
      const status = { code: STATUS[spec.status.code] };
      if (spec.status.message != null) status.message = spec.status.message;
      span.setStatus(status);
    }
    span.end(toHrTime(spec.end_time_unix_nano));
    started.set(spec.span_id, span);
    finished.push(span);
  }
  return { provider, spans: finished };
}

// The neutral form of a span, with recorded exceptions spelled out as the
// SDK recorded them (name "exception" and its three attributes).
function exceptionEvent(sdkSpan, timeNanos) {
  const event = sdkSpan.events.find((e) => e.name === "exception");
  if (!event) fail(`${sdkSpan.name}: no exception event`);
  const attributes = [];
  for (const [key, value] of Object.entries(event.attributes)) {
    if (typeof value !== "string") fail(`exception attribute ${key}`);
    attributes.push(A(key, "string", value));
  }
  return {
    name: event.name,
    time_unix_nano: timeNanos,
    record_exception: true,
    attributes,
  };
}

function spansInput(sdkSpans) {
  return SPANS.map((spec, i) => {
    const parent =
      spec.parent.type === "none"
        ? { type: "none", span_id: null }
        : spec.parent.type === "local"
          ? { type: "local", span_id: spec.parent.span_id }
          : {
              type: "remote",
              span_id: spec.parent.span_id,
              trace_flags: spec.parent.trace_flags,
            };
    return {
      name: spec.name,
      kind: spec.kind,
      trace_id: spec.trace_id,
      span_id: spec.span_id,
      parent,
      trace_flags: sdkSpans[i].spanContext().traceFlags,
      trace_state: spec.trace_state,
      start_time_unix_nano: spec.start_time_unix_nano,
      end_time_unix_nano: spec.end_time_unix_nano,
      attributes: spec.attributes,
      events: spec.events.map((event) =>
        event.record_exception
          ? exceptionEvent(sdkSpans[i], event.time_unix_nano)
          : {
              name: event.name,
              time_unix_nano: event.time_unix_nano,
              record_exception: false,
              attributes: event.attributes,
            },
      ),
      links: spec.links,
      status: spec.status,
    };
  });
}

// ---------------------------------------------------------------------------
// Loopback capture.

function startServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      }
      requests.push({
        method: req.method,
        path: req.url,
        httpVersion: req.httpVersion,
        headers,
        raw: Buffer.concat(chunks),
      });
      const body = "{}";
      res.writeHead(200, {
        "Content-Type": "application/json",
        "Content-Length": Buffer.byteLength(body),
      });
      res.end(body);
    });
  });
  return new Promise((resolve, reject) => {
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => resolve({ server, requests }));
  });
}

function exportOnce(port, spans, compression) {
  const exporter = new OTLPTraceExporter({
    url: `http://127.0.0.1:${port}/v1/traces`,
    headers: { "x-honeycomb-team": "interop-key" },
    compression,
    timeoutMillis: 5000,
  });
  return new Promise((resolve, reject) => {
    exporter.export(spans, (result) => {
      exporter.shutdown().then(() => {
        if (result.code === 0) resolve();
        else reject(result.error || new Error("export failed"));
      }, reject);
    });
  });
}

function packageVersions() {
  const versions = { node: process.version };
  for (const name of [
    "@opentelemetry/api",
    "@opentelemetry/core",
    "@opentelemetry/resources",
    "@opentelemetry/sdk-trace-base",
    "@opentelemetry/semantic-conventions",
    "@opentelemetry/exporter-trace-otlp-http",
    "@opentelemetry/otlp-exporter-base",
    "@opentelemetry/otlp-transformer",
  ]) {
    // Read from the file: some packages do not export their package.json.
    const file = path.join(__dirname, "node_modules", name, "package.json");
    versions[name] = JSON.parse(fs.readFileSync(file, "utf8")).version;
  }
  return versions;
}

function headerValue(request, name) {
  const found = request.headers.find(([n]) => n.toLowerCase() === name);
  return found ? found[1] : undefined;
}

async function main() {
  const { provider, spans } = buildSpans();
  const { server, requests } = await startServer();
  const { port } = server.address();
  try {
    await exportOnce(port, spans, "none");
    await exportOnce(port, spans, "gzip");
  } finally {
    server.closeAllConnections();
    server.close();
    await provider.shutdown();
  }
  if (requests.length !== 2) fail(`expected 2 requests, got ${requests.length}`);
  const [plain, gzipped] = requests;
  if (headerValue(plain, "content-encoding") !== undefined) {
    fail("plain request has a Content-Encoding");
  }
  if (headerValue(gzipped, "content-encoding") !== "gzip") {
    fail("gzip request has no Content-Encoding: gzip");
  }
  const gunzipped = zlib.gunzipSync(gzipped.raw);

  const out = {
    versions: packageVersions(),
    resource_input: RESOURCE,
    scope_input: { name: SCOPE.name, version: SCOPE.version, schema_url: null },
    spans_input: spansInput(spans),
    request: {
      method: plain.method,
      path: plain.path,
      http_version: plain.httpVersion,
      headers: plain.headers,
      body_length: plain.raw.length,
      body: JSON.parse(plain.raw.toString("utf8")),
    },
    request_gzip: {
      method: gzipped.method,
      path: gzipped.path,
      http_version: gzipped.httpVersion,
      headers: gzipped.headers,
      body_length: gzipped.raw.length,
      gunzipped_body_equals_plain_body: gunzipped.equals(plain.raw),
    },
  };
  process.stdout.write(JSON.stringify(out, null, 2) + "\n");
}

main().catch((err) => {
  process.stderr.write(`${err.stack || err}\n`);
  process.exit(1);
});
