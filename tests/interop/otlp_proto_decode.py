#!/usr/bin/env python3
"""The independent check of beeline-cpp's OTLP protobuf encoder: decodes its bytes with the opentelemetry-proto
package's generated classes (the official schema) and compares them with the OTLP/JSON encoding of the same batch.

  otlp_proto_decode.py decode SIGNAL REQUEST.pb [JSON]
      Prints the decoded request as OTLP/JSON (hex ids, integer enums, defaults left out). With JSON (the file the
      JSON encoder wrote), also compares the two field by field, prints every difference on stderr and exits 1 if
      there is one.
  otlp_proto_decode.py response SIGNAL REJECTED MESSAGE
      Prints, in hex, an Export*ServiceResponse with that partial_success, serialized by the protobuf runtime.

SIGNAL is traces, metrics or logs. Set up by tests/interop/python/setup.sh.
"""
import base64
import json
import sys

from google.protobuf.json_format import MessageToDict
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2

REQUESTS = {
    "traces": trace_service_pb2.ExportTraceServiceRequest,
    "metrics": metrics_service_pb2.ExportMetricsServiceRequest,
    "logs": logs_service_pb2.ExportLogsServiceRequest,
}
RESPONSES = {
    "traces": (trace_service_pb2.ExportTraceServiceResponse, "rejected_spans"),
    "metrics": (metrics_service_pb2.ExportMetricsServiceResponse, "rejected_data_points"),
    "logs": (logs_service_pb2.ExportLogsServiceResponse, "rejected_log_records"),
}
# OTLP/JSON writes these bytes fields in hex, where the protobuf JSON mapping uses base64.
ID_KEYS = {"traceId", "spanId", "parentSpanId"}
# Oneof members (AnyValue, a data point's value): present even at their default value.
ONEOF_KEYS = {"stringValue", "boolValue", "intValue", "doubleValue", "bytesValue", "asDouble", "asInt"}


def hex_ids(node):
    if isinstance(node, dict):
        return {k: (base64.b64decode(v).hex() if k in ID_KEYS and isinstance(v, str) else hex_ids(v))
                for k, v in node.items()}
    if isinstance(node, list):
        return [hex_ids(v) for v in node]
    return node


def without_defaults(node):
    """OTLP/JSON as a proto3 decoder sees it: fields at their default value (0, "", []) are absent."""
    if isinstance(node, dict):
        out = {}
        for k, v in node.items():
            v = without_defaults(v)
            if k not in ONEOF_KEYS and (v == 0 or v == "0" or v == "" or v == [] or v is False) \
                    and not isinstance(v, dict):
                continue
            out[k] = v
        return out
    if isinstance(node, list):
        return [without_defaults(v) for v in node]
    return node


def differences(a, b, path, out):
    if isinstance(a, dict) and isinstance(b, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a:
                out.append(f"{path}.{k}: only in JSON: {json.dumps(b[k])[:200]}")
            elif k not in b:
                out.append(f"{path}.{k}: only in protobuf: {json.dumps(a[k])[:200]}")
            else:
                differences(a[k], b[k], f"{path}.{k}", out)
    elif isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            out.append(f"{path}: {len(a)} items in protobuf, {len(b)} in JSON")
        for i, (x, y) in enumerate(zip(a, b)):
            differences(x, y, f"{path}[{i}]", out)
    elif a != b:
        out.append(f"{path}: protobuf {json.dumps(a)} != JSON {json.dumps(b)}")


def main(argv):
    if len(argv) >= 4 and argv[1] == "decode":
        message = REQUESTS[argv[2]]()
        with open(argv[3], "rb") as f:
            message.ParseFromString(f.read())
        decoded = hex_ids(MessageToDict(message, use_integers_for_enums=True))
        print(json.dumps(decoded, sort_keys=True))
        if len(argv) >= 5:
            with open(argv[4], encoding="utf-8") as f:
                expected = without_defaults(json.load(f))
            found = []
            differences(decoded, expected, "$", found)
            for line in found:
                print(line, file=sys.stderr)
            return 1 if found else 0
        return 0
    if len(argv) == 5 and argv[1] == "response":
        response_type, count_field = RESPONSES[argv[2]]
        response = response_type()
        setattr(response.partial_success, count_field, int(argv[3]))
        response.partial_success.error_message = argv[4]
        print(response.SerializeToString().hex())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
