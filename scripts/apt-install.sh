#!/usr/bin/env bash
# Installs Debian packages for a test suite, the one way the install scripts do it: as root or through
# sudo, non-interactively, quiet unless apt fails (then apt's output and one line saying so).
#   scripts/apt-install.sh <who> [--debconf "<selection>"]... [--no-install-recommends] <package>...
# <who> names the calling script in messages. apt-get install needs a fresh package index on these
# machines, so the index is updated first (docs/decisions/browser-test.md).
set -euo pipefail

who="$1"
shift
selections=()
options=()
while [ $# -gt 0 ]; do
  case "$1" in
    --debconf) selections+=("$2"); shift 2 ;;
    --no-install-recommends) options+=("$1"); shift ;;
    *) break ;;
  esac
done
packages=("$@")

if ! command -v apt-get >/dev/null 2>&1; then
  echo "$who: no apt-get here; install ${packages[*]}" >&2
  exit 1
fi
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  if ! command -v sudo >/dev/null 2>&1; then
    echo "$who: run as root (or install sudo): apt-get update && apt-get install -y ${packages[*]}" >&2
    exit 1
  fi
  SUDO=(sudo)
fi

log="$(mktemp)"
trap 'rm -f "$log"' EXIT
export DEBIAN_FRONTEND=noninteractive
if ! {
  for selection in "${selections[@]}"; do
    echo "$selection" | "${SUDO[@]}" debconf-set-selections
  done
  "${SUDO[@]}" apt-get update -qq &&
    "${SUDO[@]}" apt-get install -y -qq "${options[@]}" "${packages[@]}"
} >"$log" 2>&1; then
  cat "$log" >&2
  echo "$who: apt-get failed (output above)" >&2
  exit 1
fi
