#!/usr/bin/env bash
# e2e/install.sh - idempotent install of what the browser tests need (Debian 12):
#   apt : chromium, fonts-wqy-microhei (CJK glyphs), fonts-liberation (Latin) - only if missing;
#         `apt-get update` runs only when something has to be installed.
#   npm : playwright-core + axe-core, exact versions from package-lock.json (npm ci).
# No browser download: Playwright drives Debian's /usr/bin/chromium
# (never `npx playwright install`). npm install scripts are skipped.
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
t0=$(date +%s)
log() { printf '[e2e install %3ds] %s\n' "$(( $(date +%s) - t0 ))" "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install.sh: run as root or install sudo" >&2; exit 1; }
  SUDO="sudo"
fi
export DEBIAN_FRONTEND=noninteractive

have_pkg() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'; }

missing=()
[ -x /usr/bin/chromium ] || missing+=(chromium)
have_pkg fonts-wqy-microhei || missing+=(fonts-wqy-microhei)
have_pkg fonts-liberation || missing+=(fonts-liberation)
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

if [ "${#missing[@]}" -gt 0 ]; then
  log "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  log "apt: done"
else
  log "apt: nothing to install"
fi

node_major="$(node -p 'process.versions.node.split(".")[0]')"
if [ "$node_major" -lt 20 ]; then
  echo "install.sh: Node.js >= 20 is needed (playwright-core 1.65); found $(node -v)" >&2
  exit 1
fi

cd "$HERE"
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1
want_pw="$(node -p 'require("./package-lock.json").packages["node_modules/playwright-core"].version')"
want_axe="$(node -p 'require("./package-lock.json").packages["node_modules/axe-core"].version')"
have_pw="$(node -p 'try{require("./node_modules/playwright-core/package.json").version}catch{""}' 2>/dev/null || true)"
have_axe="$(node -p 'try{require("./node_modules/axe-core/package.json").version}catch{""}' 2>/dev/null || true)"
if [ "$have_pw" = "$want_pw" ] && [ "$have_axe" = "$want_axe" ]; then
  log "npm: playwright-core $have_pw and axe-core $have_axe already installed"
else
  log "npm: npm ci in $HERE"
  npm ci --ignore-scripts --no-audit --no-fund
fi

log "chromium: $(/usr/bin/chromium --version 2>/dev/null | head -1)"
log "install complete"
