#!/usr/bin/env bash
# Run every test on a fresh machine; it sets itself up first (tools/setup.sh).
#   ./test.sh                      everything: unit, usage, smoke, validation, nix, lab, slow
#   ./test.sh -m "not slow and not lab"   the quick tiers only (extra arguments go to pytest)
set -euo pipefail
cd "$(dirname "$0")"
bash tools/setup.sh
echo "test: ruff"
.venv/bin/ruff check python tests benchmarks
.venv/bin/ruff format --check --quiet python tests benchmarks
echo "test: pytest $*"
exec .venv/bin/python -m pytest "$@"
