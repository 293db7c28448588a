#!/usr/bin/env bash
# Installs code-server (a real VS Code served to a browser) into <repo>/.cache/code-server for the
# extension UI tests. Offline-safe: only the npm registry and Debian packages are used. The
# package's own postinstall downloads ripgrep from the internet, so every install runs with
# --ignore-scripts and the native modules are rebuilt one by one (see /work/shared/RECIPES.md).
# Idempotent: a marker file records a finished install; a second run returns at once.
# Usage: bash scripts/setup_code_server.sh      (prints the path of code-server's entry.js last)
set -euo pipefail

readonly VERSION=4.100.3
readonly ROOT="$(cd "$(dirname "$0")/.." && pwd)"
readonly DIR="$ROOT/.cache/code-server"
readonly MARKER="$DIR/.installed-$VERSION"
readonly ENTRY="$DIR/node_modules/code-server/out/node/entry.js"
readonly started=$(date +%s)

step() { echo "[setup-code-server] +$(( $(date +%s) - started ))s $*" >&2; }

if [ -f "$MARKER" ] && [ -f "$ENTRY" ]; then
  echo "$ENTRY"
  exit 0
fi

# ripgrep replaces the binary the postinstall would download; chromium is the test browser.
bash "$ROOT/scripts/ensure_system_deps.sh"

mkdir -p "$DIR"
cd "$DIR"
[ -f package.json ] || echo '{"name":"code-server-cache","private":true}' > package.json

# Quiet, offline-friendly npm: no audit/fund round trips, no progress bars in CI logs.
export npm_config_audit=false npm_config_fund=false npm_config_progress=false npm_config_update_notifier=false

step "npm install code-server@$VERSION"
npm install --no-save --ignore-scripts --loglevel=error "code-server@$VERSION" >&2
step "rebuild argon2"
npm rebuild argon2 --loglevel=error >&2

cd "$DIR/node_modules/code-server/lib/vscode"
step "install VS Code's dependencies"
npm install --ignore-scripts --loglevel=error >&2
step "rebuild VS Code's native modules"
npm rebuild @parcel/watcher @vscode/spdlog native-watchdog @vscode/deviceid --loglevel=error >&2
npm_config_yes=true npm rebuild node-pty --loglevel=error >&2

mkdir -p node_modules/@vscode/ripgrep/bin
ln -sf "$(command -v rg)" node_modules/@vscode/ripgrep/bin/rg
ln -sfn node_modules node_modules.asar

step "install the built-in extensions' dependencies"
(cd extensions && npm install --ignore-scripts --loglevel=error >&2)

[ -f "$ENTRY" ] || { echo "code-server entry point missing after install: $ENTRY" >&2; exit 1; }
touch "$MARKER"
step "done"
echo "$ENTRY"
