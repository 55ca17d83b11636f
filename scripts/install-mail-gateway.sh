#!/usr/bin/env bash
# Installs Debian's postfix and rspamd for the mail lab and the real-mail tests (test/mail) unless both are
# there. Idempotent and quiet: prints one line, or apt's output only when apt fails. .ci/run calls it.
# Postfix is installed with debconf "No configuration": the system instance gets no main.cf and is not
# started; the lab runs its own instance under DATA_DIR/mail-lab (see docs/decisions/mail-gateway.md).
set -euo pipefail

if [ -x /usr/sbin/postfix ] && [ -x /usr/bin/rspamd ] && [ -x /usr/sbin/postmap ]; then
  exit 0
fi
"$(dirname "$0")/apt-install.sh" install-mail-gateway \
  --debconf "postfix postfix/main_mailer_type select No configuration" \
  --no-install-recommends postfix rspamd
echo "install-mail-gateway: installed $(/usr/sbin/postconf -d mail_version 2>/dev/null || echo postfix), $(/usr/bin/rspamd --version 2>/dev/null | head -n 1 || echo rspamd)"
