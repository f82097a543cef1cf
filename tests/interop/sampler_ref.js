"use strict";
// Reference output for the deterministic sampler.
//
// Calls the real sampler shipped in honeycomb-beeline and prints one line per
// (rate, trace id) case:
//
//   <rate>\t<trace_id>\t<0|1>
//
// All ids come from fixed lists or a fixed-seed PRNG, so the output is
// byte-identical on every run. Output is UTF-8.

const makeSampler = require("honeycomb-beeline/lib/deterministic_sampler");

const RATES = [1, 2, 3, 10, 17, 100, 1000, 2.5, 0];

// xorshift32 (Marsaglia), fixed seed. Returns uint32 values.
function xorshift32(seed) {
  let x = seed >>> 0;
  return function next() {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x;
  };
}

function hex32(n) {
  return (n >>> 0).toString(16).padStart(8, "0");
}

function buildIds() {
  const ids = ["hello", "world", "this5", "7f042f75651d9782dcff93a45fa99be0"];
  const next = xorshift32(12345);

  // 2000 W3C/Honeycomb style ids: 32 lowercase hex chars.
  for (let i = 0; i < 2000; i++) {
    ids.push(hex32(next()) + hex32(next()) + hex32(next()) + hex32(next()));
  }

  // 200 AWS X-Ray style ids: "1-5f84c7a1-<24 hex>".
  for (let i = 0; i < 200; i++) {
    ids.push("1-5f84c7a1-" + hex32(next()) + hex32(next()) + hex32(next()));
  }

  // Non-ASCII ids: the sampler hashes the UTF-8 encoding of the string.
  ids.push(
    "tr\u00e9ce-\u4e2d\u6587", // 2-byte and 3-byte sequences
    "\u00fcber-trace",
    "\u{1F41D}-bee", // 4-byte sequence (surrogate pair in JS)
    "\u0442\u0440\u0430\u0441\u0441\u0438\u0440\u043e\u0432\u043a\u0430"
  );

  for (const id of ids) {
    if (/[\t\r\n]/.test(id)) {
      throw new Error("trace id contains a tab or newline: " + JSON.stringify(id));
    }
  }
  return ids;
}

function main() {
  const ids = buildIds();
  const lines = [];
  for (const rate of RATES) {
    const sample = makeSampler(rate);
    for (const id of ids) {
      const res = sample({ "trace.trace_id": id });
      if (res.sampleRate !== rate) {
        throw new Error(`sampler returned sampleRate ${res.sampleRate}, expected ${rate}`);
      }
      lines.push(`${rate}\t${id}\t${res.shouldSample ? 1 : 0}`);
    }
  }
  process.stdout.write(lines.join("\n") + "\n");
}

main();
