#!/usr/bin/env bash
# Installs Debian's chromium (the full browser, /usr/bin/chromium) for the browser end-to-end test
# (test/browser/). Idempotent; when it cannot install (not root, apt fails, offline) it prints a SKIPPED
# line and exits 0 — the test then skips itself with the reason.
set -uo pipefail
CHROMIUM=/usr/bin/chromium
LOG="${TMPDIR:-/tmp}/tessera-setup-browser-apt.log"
if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "setup-browser: SKIPPED installing chromium: not root (install Debian's chromium package to run test/browser/)"
  exit 0
fi
if ! command -v apt-get > /dev/null; then
  echo "setup-browser: SKIPPED installing chromium: apt-get is not available"
  exit 0
fi
echo "setup-browser: installing chromium (apt-get)"
: > "$LOG"
install() { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >> "$LOG" 2>&1; }
# The package lists may be stale or absent (slim images): refresh them only when the first try fails.
if ! install && ! { apt-get update -qq >> "$LOG" 2>&1 && install; }; then
  echo "setup-browser: SKIPPED installing chromium: apt-get failed (log: $LOG)"
  exit 0
fi
if [ -x "$CHROMIUM" ]; then
  echo "setup-browser: installed $($CHROMIUM --version 2>/dev/null || echo chromium)"
else
  echo "setup-browser: SKIPPED: chromium installed but $CHROMIUM is missing"
fi
