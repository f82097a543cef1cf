"use strict";
// What the real libhoney (4.3.1) POSTs to Honeycomb's batch API for a few
// known events.
//
// The events have fixed timestamps, sample rates 1 and 5, and fields of every
// JSON type (strings with escapes and non-ASCII text, integers, fractions,
// booleans, null, objects, arrays). libhoney sends them with `sendPresampled`
// (so the sample rate is sent as given, never sampled away) and its real
// transmission (superagent over Node's http module).
//
// Usage:
//
//   node libhoney_batch.js --print-events
//     Prints the known events as a JSON array of {"time","samplerate","data"}.
//
//   node libhoney_batch.js [--url URL] [--align FILE]
//                          [--dataset NAME] [--write-key KEY]
//     Sends the events with libhoney to URL and prints one JSON object:
//     {"requests": [{method, path, headers, body}], "responses": [statuses
//     libhoney reported]}. Without --url, libhoney sends to a capturing HTTP
//     server inside this script (it answers like Honeycomb) and "requests"
//     holds what it captured; with --url, the server there records them.
//
//   --align FILE
//     FILE holds the batch body another sender (beeline-cpp) sent for the same
//     events. Event i takes its time (cut to milliseconds, libhoney's
//     precision) and the fields that sender owns (trace.trace_id,
//     trace.span_id, trace.parent_id, meta.span_type, duration_ms) from element
//     i, so that the two bodies can be compared field by field.
//
// Only `require("libhoney")` is used; nothing of it is copied here.

const fs = require("fs");
const http = require("http");
const Libhoney = require("libhoney");

const KNOWN_EVENTS = [
  {
    time: "2024-05-06T07:08:09.123Z",
    samplerate: 1,
    data: {
      name: "interop-0",
      "str.plain": "hello",
      "str.empty": "",
      "str.escapes":
          'quote " backslash \\ slash / newline \n tab \t cr \r ctrl \u0001 \u001f del \u007f',
      "str.unicode": "caf\u00e9 \u2603 \u{1F600} \u2028",
      "int.positive": 42,
      "int.negative": -7,
      "int.zero": 0,
      "int.big": 9007199254740991,
      "float.fraction": 3.25,
      "float.small": 1.5e-7,
      "float.large": 1.5e21,
      "float.negative": -0.001,
      "bool.true": true,
      "bool.false": false,
      "null.value": null,
      "obj.nested": {a: 1, b: [1, "x", null, true], c: {d: "e"}},
      "obj.empty": {},
      "arr.mixed": [1, 2.5, "three", false, null, {four: 4}],
      "arr.empty": [],
    },
  },
  {
    time: "2024-05-06T07:08:10.456Z",
    samplerate: 5,
    data: {
      name: "interop-1",
      "http.status_code": 200,
      "http.route": "/users/:id",
      "db.rows": 12,
      ratio: 0.1,
      ok: true,
    },
  },
  {
    time: "2024-05-06T07:08:11.000Z",
    samplerate: 1,
    data: {
      name: "interop-2",
      error: "boom",
      "error.detail": null,
    },
  },
];

// The fields beeline-cpp owns on every event (not settable by a user): taken
// over with --align.
const OWNED = [
  "trace.trace_id", "trace.span_id", "trace.parent_id", "meta.span_type",
  "duration_ms"
];

function parseArgs(argv) {
  const args = {dataset: "interop", writeKey: "interop-write-key"};
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--print-events")
      args.printEvents = true;
    else if (a === "--url")
      args.url = argv[++i];
    else if (a === "--align")
      args.align = argv[++i];
    else if (a === "--dataset")
      args.dataset = argv[++i];
    else if (a === "--write-key")
      args.writeKey = argv[++i];
    else
      throw new Error(`unknown argument ${a}`);
  }
  return args;
}

// RFC 3339 with any number of fraction digits, cut to milliseconds (what a
// JavaScript Date holds).
function toDate(text) {
  const m = /^(.*T\d\d:\d\d:\d\d)(?:\.(\d+))?Z$/.exec(text);
  if (!m) throw new Error(`unexpected time ${text}`);
  const ms = ((m[2] || "") + "000").slice(0, 3);
  return new Date(`${m[1]}.${ms}Z`);
}

function eventsToSend(alignFile) {
  const events = KNOWN_EVENTS.map((e) => ({
                                    time: toDate(e.time),
                                    samplerate: e.samplerate,
                                    data: Object.assign({}, e.data),
                                  }));
  if (!alignFile) return events;
  const other = JSON.parse(fs.readFileSync(alignFile, "utf8"));
  if (other.length !== events.length) {
    throw new Error(
        `--align: ${other.length} events, expected ${events.length}`);
  }
  events.forEach((e, i) => {
    e.time = toDate(other[i].time);
    for (const k of OWNED) {
      if (Object.prototype.hasOwnProperty.call(other[i].data, k))
        e.data[k] = other[i].data[k];
    }
  });
  return events;
}

// A stand-in for Honeycomb: records each request and answers one 202 per event.
function captureServer() {
  const requests = [];
  const server = http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      const body = Buffer.concat(chunks).toString("utf8");
      const headers = [];
      for (let i = 0; i < req.rawHeaders.length; i += 2) {
        headers.push([req.rawHeaders[i], req.rawHeaders[i + 1]]);
      }
      requests.push({method: req.method, path: req.url, headers, body});
      let n = 0;
      try {
        n = JSON.parse(body).length;
      } catch (e) {
        n = 0;
      }
      res.writeHead(200, {"Content-Type": "application/json"});
      res.end(JSON.stringify(Array.from({length: n}, () => ({status: 202}))));
    });
  });
  return new Promise((resolve) => {
    server.listen(0, "127.0.0.1", () => resolve({server, requests}));
  });
}

async function main() {
  const args = parseArgs(process.argv.slice(2));
  if (args.printEvents) {
    process.stdout.write(JSON.stringify(KNOWN_EVENTS) + "\n");
    return;
  }
  const events = eventsToSend(args.align);

  let capture = null;
  let url = args.url;
  if (!url) {
    capture = await captureServer();
    url = `http://127.0.0.1:${capture.server.address().port}`;
  }

  const responses = [];
  const hny = new Libhoney({
    writeKey: args.writeKey,
    dataset: args.dataset,
    apiHost: url,
    batchSizeTrigger: 100,  // one batch for all the events
    batchTimeTrigger: 10,
    responseCallback: (rs) => {
      for (const r of rs)
        responses.push(
            r.status_code === undefined ? String(r.error) : r.status_code);
    },
  });
  for (const e of events) {
    const ev = hny.newEvent();
    ev.add(e.data);
    ev.timestamp = e.time;
    ev.sampleRate = e.samplerate;
    ev.sendPresampled();
  }
  await hny.flush();

  if (capture) capture.server.close();
  process.stdout.write(
      JSON.stringify({requests: capture ? capture.requests : [], responses}) +
      "\n");
}

main().catch((e) => {
  process.stderr.write(`libhoney_batch.js: ${e.stack || e}\n`);
  process.exit(1);
});
