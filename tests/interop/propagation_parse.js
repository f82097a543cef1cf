"use strict";
// Node's reading of header values made by our C++ code.
//
//   node propagation_parse.js <headers.json> > parsed.json
//
// <headers.json> has the layout of `headers` in propagation_cases.json:
//
//   {"honeycomb": [{"name", "value"}], "w3c": [{"name", "traceparent", "tracestate"?}],
//    "aws": [{"name", "value"}], "xray": [{"name", "value"}], "default": [{"name", "headers"}]}
//
// Prints one JSON document: the write keys used and `parsed`, laid out as the
// `parsed` member of propagation_ref.js's output (the same code makes both).
// The Honeycomb header is read with a classic and a non-classic write key, as
// propagation_cases.json gives them.

const fs = require("fs");
const { parseHeaders, readCases } = require("./propagation_ref.js");

function main() {
  const file = process.argv[2];
  if (!file) throw new Error("usage: node propagation_parse.js <headers.json>");
  const headers = JSON.parse(fs.readFileSync(file, "utf8"));
  const writeKeys = readCases().write_keys;
  const parsed = parseHeaders(headers, writeKeys);
  process.stdout.write(JSON.stringify({ tool: "propagation_parse.js", write_keys: writeKeys, parsed }) + "\n");
}

main();
