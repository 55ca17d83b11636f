#!/usr/bin/env bash
# Installs Debian's chromium for the browser suite (test/e2e, `npm run test:e2e`) unless it is there.
# Idempotent and quiet: prints one line, or apt's output only when apt fails. .ci/run calls it.
# apt-get install needs a fresh package index on these machines (`apt-get update` first), see docs/decisions/browser-test.md.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-chromium: no apt-get here; install Chromium so that $CHROMIUM exists" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-chromium: run as root (or install sudo): apt-get update && apt-get install -y chromium" >&2
    exit 1
  fi
  SUDO=(sudo)
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! { "${SUDO[@]}" apt-get update -qq && "${SUDO[@]}" apt-get install -y -qq chromium; } >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-chromium: apt-get failed (output above)" >&2
  exit 1
fi
# Debian's /usr/bin/chromium is a wrapper script that may complain on stderr; the version is on stdout.
echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
