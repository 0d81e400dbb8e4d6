#!/usr/bin/env bash
# promtool, to check and unit-test deploy/prometheus/alerts.yml (tests/unit/test_alert_rules.py),
# from Debian's `prometheus` package. Only its promtool is unpacked, under .tools/bin
# (LOYALTY_TOOLS): installing the package would also install, and may start, a Prometheus
# server, which the tests do not need.
#   deploy/prometheus.sh install   put promtool in place when missing (idempotent)
#   deploy/prometheus.sh path      print promtool's path; exit 1 when there is none
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="${LOYALTY_TOOLS:-$ROOT/.tools}"
OWN="$TOOLS/bin/promtool"

log() { echo "[prometheus] $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root (or sudo) to run: $*"; exit 1; fi
}

path() {
  local candidate
  for candidate in "$OWN" "$(command -v promtool || true)"; do
    if [ -n "$candidate" ] && "$candidate" --version >/dev/null 2>&1; then
      echo "$candidate"
      return 0
    fi
  done
  return 1
}

install() {
  if found="$(path)"; then
    log "promtool present: $found"
    return
  fi
  local work
  work="$(mktemp -d)"
  trap "rm -rf '$work'" EXIT
  log "downloading Debian's prometheus package for its promtool"
  if ! (cd "$work" && apt-get download -qq prometheus >&2 2>/dev/null); then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    (cd "$work" && apt-get download -qq prometheus >&2)
  fi
  dpkg-deb -x "$work"/prometheus_*.deb "$work/unpacked"
  mkdir -p "$(dirname "$OWN")"
  cp "$work/unpacked/usr/bin/promtool" "$OWN"
  path >/dev/null || { log "promtool does not run after unpacking it"; exit 1; }
  log "promtool installed: $OWN ($("$OWN" --version 2>&1 | head -1))"
}

case "${1:-install}" in
  install) install ;;
  path) path ;;
  *) echo "usage: $0 install|path" >&2; exit 2 ;;
esac
