#!/usr/bin/env bash
# `npm test`: every test. Installs what the tests need, checks style and imports, builds the
# bundles, type-checks, then runs all mocha suites (unit, dev cluster, tunnel, extension UI).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure_system_deps.sh
npm run --silent lint
node esbuild.mjs --production >/dev/null
npx tsc -p . --noEmit
npx mocha "$@"
