#!/usr/bin/env bash
# Makes sure the system programs the tests use are present: git, kubectl, redis-server, chromium,
# ripgrep (code-server's search), openssl. Installs missing ones with apt-get when running as root;
# otherwise stops with one line that names them.
set -euo pipefail

declare -A package_for=(
  [git]=git
  [kubectl]=kubernetes-client
  [redis-server]=redis-server
  [chromium]=chromium
  [rg]=ripgrep
  [openssl]=openssl
)

missing=()
for program in "${!package_for[@]}"; do
  command -v "$program" >/dev/null 2>&1 || missing+=("${package_for[$program]}")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  echo "missing system packages (install them, e.g. apt-get install ${missing[*]}): ${missing[*]}" >&2
  exit 1
fi
echo "installing system packages: ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
