#!/usr/bin/env bash
# Installs Debian's postfix and rspamd for the mail lab and the real-mail tests (test/mail) unless both are
# there. Idempotent and quiet: prints one line, or apt's output only when apt fails. .ci/run calls it.
# Postfix is installed with debconf "No configuration": the system instance gets no main.cf and is not
# started; the lab runs its own instance under DATA_DIR/mail-lab (see docs/decisions/mail-gateway.md).
# apt-get install needs a fresh package index on these machines (`apt-get update` first).
set -euo pipefail

if [ -x /usr/sbin/postfix ] && [ -x /usr/bin/rspamd ] && [ -x /usr/sbin/postmap ]; then
  exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
  echo "install-mail-gateway: no apt-get here; install postfix (3.7) and rspamd (3.4)" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "install-mail-gateway: run as root (or install sudo): apt-get update && apt-get install -y postfix rspamd" >&2
    exit 1
  fi
  SUDO=(sudo)
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! {
  echo "postfix postfix/main_mailer_type select No configuration" | "${SUDO[@]}" debconf-set-selections &&
    "${SUDO[@]}" apt-get update -qq &&
    "${SUDO[@]}" apt-get install -y -qq --no-install-recommends postfix rspamd
} >"$log" 2>&1; then
  cat "$log" >&2
  echo "install-mail-gateway: apt-get failed (output above)" >&2
  exit 1
fi
echo "install-mail-gateway: installed $(/usr/sbin/postconf -d mail_version 2>/dev/null || echo postfix), $(/usr/bin/rspamd --version 2>/dev/null | head -n 1 || echo rspamd)"
