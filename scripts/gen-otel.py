"""Generates a large OTLP JSON lines file or Jaeger JSON document for measuring perf-analyze.

Usage: python3 scripts/gen-otel.py otlp|jaeger TRACES SPANS_PER_TRACE OUT
Each trace is a root `request` with SPANS_PER_TRACE - 1 short children named step0..step6.
Example (one million spans):
  python3 scripts/gen-otel.py jaeger 10000 100 /tmp/j1m.json
  /usr/bin/time -v target/release/perf-analyze report /tmp/j1m.json
"""
import json, sys
kind, n_traces, per, out = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
B = 1700000000000000
with open(out, "w") as f:
    if kind == "jaeger":
        f.write('{"data":[\n')
        for t in range(n_traces):
            tid = "%032x" % (t + 1)
            spans = []
            base = B + t * 10000
            spans.append({"traceID": tid, "spanID": "%016x" % 1, "operationName": "request", "references": [], "startTime": base, "duration": 5000, "tags": [{"key": "i", "type": "int64", "value": t}], "processID": "p1"})
            for s in range(2, per + 1):
                spans.append({"traceID": tid, "spanID": "%016x" % s, "operationName": "step%d" % (s % 7), "references": [{"refType": "CHILD_OF", "traceID": tid, "spanID": "%016x" % 1}], "startTime": base + s * 10, "duration": 8, "tags": [], "processID": "p1"})
            f.write(("," if t else "") + json.dumps({"traceID": tid, "spans": spans, "processes": {"p1": {"serviceName": "svc", "tags": []}}}) + "\n")
        f.write("]}\n")
    else:
        for t in range(n_traces):
            tid = "%032x" % (t + 1)
            base = (B + t * 10000) * 1000
            spans = [{"traceId": tid, "spanId": "%016x" % s, "parentSpanId": "%016x" % 1, "name": "step%d" % (s % 7), "kind": 1, "startTimeUnixNano": str(base + s * 10000), "endTimeUnixNano": str(base + s * 10000 + 8000), "attributes": [{"key": "n", "value": {"intValue": str(s)}}], "status": {}} for s in range(2, per + 1)]
            spans.append({"traceId": tid, "spanId": "%016x" % 1, "name": "request", "kind": 2, "startTimeUnixNano": str(base), "endTimeUnixNano": str(base + 5000000), "status": {}})
            f.write(json.dumps({"resourceSpans": [{"resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "svc"}}]}, "scopeSpans": [{"scope": {"name": "s"}, "spans": spans}]}]}) + "\n")
