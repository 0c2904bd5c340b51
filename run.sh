#!/usr/bin/env bash
# The main job on a fresh machine: set up, then run `ort-wrapper` (default: validate the
# ONNX Runtime this environment loads with the full harness, and write check-report.json).
#   ./run.sh                          doctor + check of the default distribution
#   ./run.sh build --variant cpu      the native build lab (see docs/native-build-lab.md)
#   ./run.sh <verb> [args]            any ort-wrapper verb (./run.sh --help lists them)
set -euo pipefail
cd "$(dirname "$0")"
bash tools/setup.sh
if [ "$#" -eq 0 ]; then
  .venv/bin/ort-wrapper doctor
  exec .venv/bin/ort-wrapper check --json check-report.json
fi
exec .venv/bin/ort-wrapper "$@"
