"use strict";
// Reference output for W3C baggage, from @opentelemetry/core's W3CBaggagePropagator.
//
//   node baggage_ref.js > baggage_ref.json
//
// Reads baggage_cases.json (next to this script). For every case in `inject`
// it builds a Baggage from the entries (a value that is not a string is given
// as String(value), which is how the C++ side writes trace fields) and prints
// the `baggage` header the propagator writes (null when it writes none). For
// every case in `extract` it gives the header value (or the list of values,
// as several `baggage` headers) to the propagator and prints the entries it
// reads, in order, as [key, value] pairs (null when it reads no baggage,
// "error" when extract throws).

const fs = require("fs");
const path = require("path");
const api = require("@opentelemetry/api");
const { W3CBaggagePropagator } = require("@opentelemetry/core");

const propagator = new W3CBaggagePropagator();

// The conventions of baggage_cases.json: {"repeat", "times"} values and "generate"d cases.
function expand(value) {
  if (value !== null && typeof value === "object") return value.repeat.repeat(value.times);
  return value;
}

function generated(spec) {
  const entries = [];
  for (let i = 0; i < spec.count; i++) entries.push(["k" + i, "v".repeat(spec.value_bytes)]);
  return entries;
}

function caseEntries(c) {
  return c.generate ? generated(c.generate) : c.entries.map(([key, value]) => [key, expand(value)]);
}

function caseHeader(c) {
  return c.generate ? generated(c.generate).map(([k, v]) => k + "=" + v).join(",") : c.header;
}

function inject(entries) {
  const record = {};
  for (const [key, value] of entries) record[key] = { value: String(value) };
  const ctx = api.propagation.setBaggage(api.ROOT_CONTEXT, api.propagation.createBaggage(record));
  const carrier = {};
  propagator.inject(ctx, carrier, api.defaultTextMapSetter);
  return carrier.baggage === undefined ? null : carrier.baggage;
}

function extract(header) {
  let ctx;
  try {
    ctx = propagator.extract(api.ROOT_CONTEXT, { baggage: header }, api.defaultTextMapGetter);
  } catch (e) {
    return "error";
  }
  const baggage = api.propagation.getBaggage(ctx);
  if (!baggage) return null;
  return baggage.getAllEntries().map(([key, entry]) => [key, entry.value]);
}

function main() {
  const cases = JSON.parse(fs.readFileSync(path.join(__dirname, "baggage_cases.json"), "utf8"));
  const out = {
    tool: "baggage_ref.js",
    inject: cases.inject.map((c) => ({ name: c.name, header: inject(caseEntries(c)) })),
    extract: cases.extract.map((c) => ({ name: c.name, entries: extract(caseHeader(c)) })),
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

main();
