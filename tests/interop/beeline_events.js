"use strict";
// Reference events from the real Node beeline.
//
// Configures honeycomb-beeline with a capturing transmission (a constructor
// passed as the libhoney `transmission` option, which libhoney supports), runs
// a fixed sequence of trace/span calls, and prints each event libhoney handed
// to its transmission, in send order, one JSON object per line:
//
//   {"data": {...}, "samplerate": N, "time": "<ISO 8601>"}
//
// The fields are taken from the event's own JSON form, which is what libhoney's
// base transmission puts in the batch body. Nothing goes over the network.
//
// Ids, timestamps, durations, hostname and node version change from run to run;
// the set of keys and the structure (parent/child links, span types) do not.

const captured = [];

// libhoney calls `new transmission(options)` and then sendEvent /
// sendPresampledEvent with a validated event; flush() must return a promise.
class CaptureTransmission {
  constructor(options) {
    this.options = options;
  }
  sendEvent(ev) {
    captured.push(ev);
  }
  sendPresampledEvent(ev) {
    captured.push(ev);
  }
  flush() {
    return Promise.resolve();
  }
}

const beeline = require("honeycomb-beeline")({
  writeKey: "abcdefabcdefabcdefabcdefabcdefab", // 32 hex chars: a classic key
  dataset: "interop",
  serviceName: "interop-svc",
  transmission: CaptureTransmission,
  disableInstrumentation: true,
});

function runFirstTrace() {
  const root = beeline.startTrace({ name: "root", "root.field": 1 });
  beeline.addTraceContext({ userID: 7 });
  const mid = beeline.startSpan({ name: "mid" });
  const leaf = beeline.startSpan({ name: "leaf" });
  beeline.addContext({ "leaf.field": "x" });
  beeline.finishSpan(leaf);
  const timer = beeline.startTimer("t");
  beeline.finishTimer(timer);
  beeline.finishSpan(mid);
  beeline.finishTrace(root);
}

function runSecondTrace() {
  const sub = beeline.startTrace(
    { name: "sub" },
    "7f042f75651d9782dcff93a45fa99be0",
    "c998e73e5420f609"
  );
  beeline.finishTrace(sub);
}

async function main() {
  runFirstTrace();
  runSecondTrace();
  await beeline.flush();

  const lines = captured.map((ev) => {
    // Same serialisation libhoney uses for the wire (ValidatedEvent#toJSON).
    const wire = JSON.parse(JSON.stringify(ev));
    return JSON.stringify({ data: wire.data, samplerate: wire.samplerate, time: wire.time });
  });
  process.stdout.write(lines.join("\n") + (lines.length ? "\n" : ""));
}

main().then(
  () => {
    process.exitCode = 0;
  },
  (err) => {
    console.error(err);
    process.exitCode = 1;
  }
);
