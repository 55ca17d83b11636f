#!/usr/bin/env bash
# Installs Debian's chromium for the browser suite (test/e2e, `npm run test:e2e`) unless it is there.
# Idempotent and quiet: prints one line, or apt's output only when apt fails. .ci/run calls it.
set -euo pipefail

CHROMIUM=/usr/bin/chromium

if [ -x "$CHROMIUM" ]; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" install-chromium chromium
# Debian's /usr/bin/chromium is a wrapper script that may complain on stderr; the version is on stdout.
echo "install-chromium: installed $("$CHROMIUM" --version 2>/dev/null || echo chromium)"
