#!/usr/bin/env bash
# Creates the Python venv the OpenTelemetry interop tests use: the OpenTelemetry Python SDK
# with its OTLP JSON file exporter (a real producer of OTLP JSON lines) and the OpenTelemetry
# JSON proto decoder (checks that `perf-analyze export --format otlp` decodes).
#
# Usage: scripts/otel-venv.sh [DIR]     (default: target/otel-venv)
# Prints the venv's python. Idempotent: a venv whose packages import is reused.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="${1:-target/otel-venv}"
python="$venv/bin/python"
check='import opentelemetry.sdk.trace, opentelemetry.exporter.otlp.json.file, opentelemetry.proto_json'
if [ -x "$python" ] && "$python" -c "$check" 2>/dev/null; then
    echo "$python"
    exit 0
fi
python3 -m venv "$venv"
"$python" -m pip install --quiet --disable-pip-version-check -r scripts/otel-requirements.txt >&2
"$python" -c "$check"
echo "$python"
