"use strict";
// Reference output for trace propagation, from the real Node packages.
//
//   node propagation_ref.js > propagation_ref.json
//
// Reads propagation_cases.json (next to this script). For every context in
// `contexts` it prints the header values the Node side makes, and for every
// header value in `headers` (plus every header Node made for a context) it
// prints what the Node side reads from it. The codecs are:
//
//   - honeycomb-beeline's `honeycomb`, `w3c` and `aws` objects
//     (marshalTraceContext / unmarshalTraceContext / httpTracePropagationHook),
//     and its default incoming rule (lib/instrumentation/trace-util
//     getTraceContext) for the `default` header sets;
//   - @opentelemetry/core's W3CTraceContextPropagator (inject / extract);
//   - @opentelemetry/propagator-aws-xray's AWSXRayPropagator (inject / extract).
//
// Whether the Honeycomb codec writes and reads `dataset=` is decided by the
// write key given to the beeline's configure (classic keys only, via
// libhoney.isClassic). The beeline can be configured once per process, so the
// work runs in two child processes of this script, one per key. Nothing goes
// over the network: the beeline's libhoney gets a transmission that refuses
// to send, and no span is ever started.
//
// Output: one JSON document (see tests/interop/README.md for its layout).
// propagation_parse.js reuses `parseHeaders` below for headers our C++ makes.

const fs = require("fs");
const path = require("path");
const { execFileSync } = require("child_process");

const CASES_FILE = path.join(__dirname, "propagation_cases.json");
const KEY_KINDS = ["classic", "non_classic"];

// ---------------------------------------------------------------------------
// Case values to JS values.

// A field value in the case file: a JSON string, number, boolean or null as
// itself; nested JSON as {"json": "<text>"}; a non-finite number as
// {"number": "NaN" | "Infinity" | "-Infinity"}.
function caseValue(v, where) {
  if (v === null || typeof v !== "object") return v;
  if (!Array.isArray(v) && typeof v.json === "string" && Object.keys(v).length === 1) {
    return JSON.parse(v.json);
  }
  if (!Array.isArray(v) && typeof v.number === "string" && Object.keys(v).length === 1) {
    const n = Number(v.number);
    if (!Number.isNaN(n) || v.number === "NaN") return n;
  }
  throw new Error(`${where}: a field value must be a JSON scalar, {"json": text} or {"number": text}`);
}

// The trace fields of a case context, as the object the beeline keeps
// (its customContext / traceContext).
function caseFields(c) {
  const obj = {};
  for (const entry of c.fields || []) {
    if (!Array.isArray(entry) || entry.length !== 2 || typeof entry[0] !== "string") {
      throw new Error(`context '${c.name}': a field must be [key, value]`);
    }
    if (entry[0] === "__proto__" || Object.prototype.hasOwnProperty.call(obj, entry[0])) {
      throw new Error(`context '${c.name}': unusable or duplicate key '${entry[0]}'`);
    }
    obj[entry[0]] = caseValue(entry[1], `context '${c.name}' field '${entry[0]}'`);
  }
  return obj;
}

// ---------------------------------------------------------------------------
// Node results to JSON.

// A beeline propagation context ({traceId, parentSpanId, dataset,
// customContext}) as JSON; null for "no context". customContext becomes
// {"object": [[key, value] or [key] when undefined, ...]} for a plain object
// (keys in the object's own order), {"other": value} for any other JSON value
// (array, number, string, boolean, null), null when undefined.
function beelineContext(r) {
  if (r === undefined || r === null) return null;
  if (typeof r !== "object") throw new Error(`unexpected result ${JSON.stringify(r)}`);
  const cc = r.customContext;
  let custom = null;
  if (cc !== undefined) {
    if (cc !== null && typeof cc === "object" && !Array.isArray(cc)) {
      custom = { object: Object.keys(cc).map((k) => (cc[k] === undefined ? [k] : [k, cc[k]])) };
    } else {
      custom = { other: cc };
    }
  }
  return {
    trace_id: r.traceId === undefined ? null : r.traceId,
    parent_id: r.parentSpanId === undefined ? null : r.parentSpanId,
    dataset: r.dataset === undefined ? null : r.dataset,
    custom_context: custom,
  };
}

// An OpenTelemetry span context as JSON; null for none.
function otelContext(sc) {
  if (!sc) return null;
  return {
    trace_id: sc.traceId,
    parent_id: sc.spanId,
    trace_flags: sc.traceFlags,
    tracestate: sc.traceState ? sc.traceState.serialize() : null,
  };
}

// f(), or {"throws": message} when it throws (never expected: the C++ test
// fails on it).
function guarded(f) {
  try {
    const r = f();
    return r === undefined ? null : r;
  } catch (e) {
    return { throws: String(e && e.message ? e.message : e) };
  }
}

// ---------------------------------------------------------------------------
// The worker: one configured beeline, every codec.

function worker(kind, job) {
  const writeKey = job.write_keys[kind];
  const libhoney = require("libhoney");

  // libhoney calls `new transmission(options)`; no span is started here, so
  // any send is a bug in this script.
  class RefusingTransmission {
    constructor(options) {
      this.options = options;
    }
    sendEvent() {
      throw new Error("propagation_ref.js must not send events");
    }
    sendPresampledEvent() {
      throw new Error("propagation_ref.js must not send events");
    }
    flush() {
      return Promise.resolve();
    }
  }

  const beeline = require("honeycomb-beeline")({
    writeKey,
    // Non-classic keys take the dataset from the service name (and warn about a dataset).
    dataset: libhoney.isClassic(writeKey) ? "interop" : undefined,
    serviceName: "interop-svc",
    transmission: RefusingTransmission,
    disableInstrumentation: true,
  });
  const traceUtil = require("honeycomb-beeline/lib/instrumentation/trace-util");
  const api = require("@opentelemetry/api");
  const { W3CTraceContextPropagator, TraceState } = require("@opentelemetry/core");
  const { AWSXRayPropagator } = require("@opentelemetry/propagator-aws-xray");
  const w3cPropagator = new W3CTraceContextPropagator();
  const xrayPropagator = new AWSXRayPropagator();

  function otelInject(propagator, c) {
    const spanContext = {
      traceId: c.trace_id,
      spanId: c.parent_id,
      traceFlags: c.trace_flags === undefined ? 1 : c.trace_flags,
      isRemote: false,
    };
    if (c.tracestate) spanContext.traceState = new TraceState(c.tracestate);
    const carrier = {};
    const ctx = api.trace.setSpanContext(api.ROOT_CONTEXT, spanContext);
    propagator.inject(ctx, carrier, api.defaultTextMapSetter);
    return carrier;
  }

  function otelExtract(propagator, carrier) {
    const ctx = propagator.extract(api.ROOT_CONTEXT, carrier, api.defaultTextMapGetter);
    return otelContext(api.trace.getSpanContext(ctx));
  }

  const out = {
    write_key: writeKey,
    is_classic: libhoney.isClassic(writeKey),
    contexts: [],
    parsed: null,
  };

  for (const c of job.contexts || []) {
    const ctx = {
      traceId: c.trace_id,
      parentSpanId: c.parent_id,
      dataset: c.dataset || undefined,
      customContext: caseFields(c),
    };
    const w3cHook = guarded(() => beeline.w3c.httpTracePropagationHook(ctx));
    out.contexts.push({
      name: c.name,
      honeycomb: guarded(() => beeline.honeycomb.marshalTraceContext(ctx)),
      w3c_beeline: guarded(() => beeline.w3c.marshalTraceContext(ctx)),
      w3c_beeline_tracestate:
        w3cHook && !w3cHook.throws ? (w3cHook.tracestate === undefined ? null : w3cHook.tracestate) : w3cHook,
      w3c_otel: guarded(() => otelInject(w3cPropagator, c).traceparent),
      w3c_otel_tracestate: guarded(() => otelInject(w3cPropagator, c).tracestate),
      aws: guarded(() => beeline.aws.marshalTraceContext(ctx)),
      xray: guarded(() => otelInject(xrayPropagator, c)["x-amzn-trace-id"]),
    });
  }

  const h = job.headers || {};
  out.parsed = {
    honeycomb: (h.honeycomb || []).map((x) => {
      const r = guarded(() => beeline.honeycomb.unmarshalTraceContext(x.value));
      return {
        name: x.name,
        value: x.value,
        beeline: r && r.throws ? r : beelineContext(r),
        // Node re-marshalling what it read: what a Node service sends on.
        remarshal: r && !r.throws ? guarded(() => beeline.honeycomb.marshalTraceContext(r)) : null,
      };
    }),
    w3c: (h.w3c || []).map((x) => {
      const carrier = { traceparent: x.traceparent };
      if (x.tracestate !== undefined) carrier.tracestate = x.tracestate;
      const r = guarded(() => beeline.w3c.unmarshalTraceContext(x.traceparent, x.tracestate));
      return {
        name: x.name,
        traceparent: x.traceparent,
        tracestate: x.tracestate === undefined ? null : x.tracestate,
        beeline: r && r.throws ? r : beelineContext(r),
        otel: guarded(() => otelExtract(w3cPropagator, carrier)),
      };
    }),
    aws: (h.aws || []).map((x) => {
      const r = guarded(() => beeline.aws.unmarshalTraceContext(x.value));
      return { name: x.name, value: x.value, beeline: r && r.throws ? r : beelineContext(r) };
    }),
    xray: (h.xray || []).map((x) => ({
      name: x.name,
      value: x.value,
      otel: guarded(() => otelExtract(xrayPropagator, { "x-amzn-trace-id": x.value })),
    })),
    default: (h.default || []).map((x) => {
      // Node gives a request's header names in lowercase.
      const headers = {};
      for (const [n, v] of x.headers) headers[n.toLowerCase()] = v;
      const r = guarded(() => traceUtil.getTraceContext(undefined, { headers }));
      // {} is "no context"; `source` names the header, which our API does not report.
      const ctx = r && !r.throws && r.traceId === undefined ? null : r;
      return {
        name: x.name,
        headers: x.headers,
        beeline: ctx && ctx.throws ? ctx : beelineContext(ctx),
        source: ctx && !ctx.throws ? ctx.source : null,
      };
    }),
  };
  return out;
}

// ---------------------------------------------------------------------------
// Running the workers.

function runWorker(kind, job) {
  const text = execFileSync(process.execPath, [__filename, "--worker", kind], {
    input: JSON.stringify(job),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
    stdio: ["pipe", "pipe", "inherit"],
  });
  return JSON.parse(text);
}

function packageVersions() {
  const versions = {};
  for (const name of [
    "honeycomb-beeline",
    "libhoney",
    "@opentelemetry/api",
    "@opentelemetry/core",
    "@opentelemetry/propagator-aws-xray",
  ]) {
    // Read from the file: some packages do not export their package.json.
    const file = path.join(__dirname, "node_modules", name, "package.json");
    versions[name] = JSON.parse(fs.readFileSync(file, "utf8")).version;
  }
  return versions;
}

function readCases() {
  return JSON.parse(fs.readFileSync(CASES_FILE, "utf8"));
}

// Node's reading of `headers` ({honeycomb: [{name, value}], w3c: [{name,
// traceparent, tracestate?}], aws, xray, default: [{name, headers}]}), with
// the Honeycomb codec under both keys.
function parseHeaders(headers, writeKeys) {
  const results = {};
  for (const kind of KEY_KINDS) {
    results[kind] = runWorker(kind, { write_keys: writeKeys, headers });
  }
  return mergeParsed(results);
}

// One `parsed` object: honeycomb and default entries carry both keys' results;
// the other codecs do not depend on the key, and both workers must agree.
function mergeParsed(results) {
  const a = results.classic.parsed;
  const b = results.non_classic.parsed;
  for (const format of ["w3c", "aws", "xray"]) {
    if (JSON.stringify(a[format]) !== JSON.stringify(b[format])) {
      throw new Error(`${format} results depend on the write key`);
    }
  }
  const both = (format, keep) =>
    a[format].map((x, i) => {
      const merged = { name: x.name };
      for (const k of keep) merged[k] = x[k];
      merged.classic = {};
      merged.non_classic = {};
      for (const [k, v] of Object.entries(x)) if (!keep.includes(k)) merged.classic[k] = v;
      for (const [k, v] of Object.entries(b[format][i])) if (!keep.includes(k)) merged.non_classic[k] = v;
      return merged;
    });
  return {
    honeycomb: both("honeycomb", ["name", "value"]),
    w3c: a.w3c,
    aws: a.aws,
    xray: a.xray,
    default: both("default", ["name", "headers"]),
  };
}

// Every header Node made for a context, to be read back by Node (here) and by
// us (in the C++ test). Named "<context name> | <channel>".
function nodeMadeHeaders(contexts) {
  const headers = { honeycomb: [], w3c: [], aws: [], xray: [] };
  const str = (v) => typeof v === "string" && v !== "";
  for (const kind of KEY_KINDS) {
    for (const c of contexts[kind]) {
      if (str(c.honeycomb)) {
        headers.honeycomb.push({ name: `${c.name} | honeycomb_${kind}`, value: c.honeycomb });
      }
    }
  }
  for (const c of contexts.classic) {
    if (str(c.w3c_otel)) {
      const h = { name: `${c.name} | w3c_otel`, traceparent: c.w3c_otel };
      if (str(c.w3c_otel_tracestate)) h.tracestate = c.w3c_otel_tracestate;
      headers.w3c.push(h);
    }
    if (str(c.w3c_beeline)) {
      const h = { name: `${c.name} | w3c_beeline`, traceparent: c.w3c_beeline };
      if (str(c.w3c_beeline_tracestate)) h.tracestate = c.w3c_beeline_tracestate;
      headers.w3c.push(h);
    }
    if (str(c.aws)) headers.aws.push({ name: `${c.name} | aws`, value: c.aws });
    if (str(c.xray)) headers.xray.push({ name: `${c.name} | xray`, value: c.xray });
  }
  return headers;
}

function main() {
  const cases = readCases();
  const job = { write_keys: cases.write_keys, contexts: cases.contexts, headers: cases.headers };
  const results = {};
  for (const kind of KEY_KINDS) results[kind] = runWorker(kind, job);

  if (results.classic.is_classic !== true || results.non_classic.is_classic !== false) {
    throw new Error("libhoney.isClassic does not classify the write keys as propagation_cases.json says");
  }

  // Marshal results: the Honeycomb header under both keys; the rest do not
  // depend on the key.
  const contexts = results.classic.contexts.map((c, i) => {
    const n = results.non_classic.contexts[i];
    for (const k of ["w3c_beeline", "w3c_beeline_tracestate", "w3c_otel", "w3c_otel_tracestate", "aws", "xray"]) {
      if (JSON.stringify(c[k]) !== JSON.stringify(n[k])) {
        throw new Error(`${c.name}: ${k} depends on the write key`);
      }
    }
    const { honeycomb, ...rest } = c;
    return { name: c.name, honeycomb_classic: honeycomb, honeycomb_non_classic: n.honeycomb, ...rest };
  });

  const made = nodeMadeHeaders({
    classic: results.classic.contexts,
    non_classic: results.non_classic.contexts,
  });

  const doc = {
    tool: "propagation_ref.js",
    node_version: process.version,
    packages: packageVersions(),
    write_keys: {
      classic: { write_key: results.classic.write_key, is_classic: results.classic.is_classic },
      non_classic: { write_key: results.non_classic.write_key, is_classic: results.non_classic.is_classic },
    },
    contexts,
    parsed: mergeParsed(results),
    node_made: parseHeaders(made, cases.write_keys),
  };
  process.stdout.write(JSON.stringify(doc, null, 1) + "\n");
}

module.exports = { parseHeaders, readCases, KEY_KINDS };

if (require.main === module) {
  if (process.argv[2] === "--worker") {
    const job = JSON.parse(fs.readFileSync(0, "utf8"));
    process.stdout.write(JSON.stringify(worker(process.argv[3], job)));
  } else {
    main();
  }
}
