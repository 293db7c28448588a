#!/usr/bin/env bash
# `npm test`: every test. Installs what the tests need, builds the bundles, type-checks,
# then runs all mocha suites (unit, dev cluster, tunnel, extension UI) in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-system-deps.sh
node esbuild.mjs --production >/dev/null
npx tsc -p . --noEmit
npx mocha "$@"
