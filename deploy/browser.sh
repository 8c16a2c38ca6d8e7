#!/usr/bin/env bash
# The browser of the console's browser tests: Debian's chromium and chromium-driver (headless
# Chromium driven through WebDriver by selenium). Installs them with apt-get when missing, as
# deploy/check.sh installs promtool, then prints the two paths as shell assignments:
#   eval "$(bash deploy/browser.sh)"   # sets STREAMWATCH_CHROMIUM and STREAMWATCH_CHROMEDRIVER
# The tests fail (never skip) when these are not set to working programs.
set -euo pipefail

SCRIPT_DIR=$(cd -- "$(dirname -- "${BASH_SOURCE[0]}")" && pwd)
SERVICE=browser
# shellcheck source=deploy/lib.sh
source "$SCRIPT_DIR/lib.sh"

find_program() {
  local name
  for name in "$@"; do
    if command -v "$name" >/dev/null; then command -v "$name"; return 0; fi
  done
  for name in "$@"; do
    if [[ -x /usr/lib/chromium/$name ]]; then printf '%s\n' "/usr/lib/chromium/$name"; return 0; fi
  done
  return 1
}

if ! find_program chromium chromium-browser >/dev/null || ! find_program chromedriver >/dev/null; then
  command -v apt-get >/dev/null || die "chromium and chromedriver are missing; install them (Debian: apt-get install chromium chromium-driver)"
  log "browser: installing chromium and chromium-driver (Debian packages) with apt-get" >&2
  as_root apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null
fi
chromium=$(find_program chromium chromium-browser) || die "chromium is not installed"
driver=$(find_program chromedriver) || die "chromedriver is not installed"
"$chromium" --headless --no-sandbox --version >/dev/null 2>&1 || die "$chromium does not start"
printf 'export STREAMWATCH_CHROMIUM=%q STREAMWATCH_CHROMEDRIVER=%q\n' "$chromium" "$driver"
