#!/usr/bin/env bash
# A headless browser for tests/browser without `playwright install` (which downloads a build of
# its own): Debian's `chromium` package, driven by the Python `playwright` package of the dev
# extras through executable_path=/usr/bin/chromium.
#   deploy/browser.sh install   install chromium and a font when missing (idempotent)
#   deploy/browser.sh status    exit 0 when chromium runs
set -euo pipefail

CHROMIUM="${LOYALTY_CHROMIUM:-/usr/bin/chromium}"

log() { echo "[browser] $*" >&2; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo "$@"; else
    log "need root (or sudo) to run: $*"; exit 1; fi
}

runs() { "$CHROMIUM" --headless=new --no-sandbox --version >/dev/null 2>&1; }

install() {
  if runs; then
    log "chromium present: $("$CHROMIUM" --version 2>/dev/null)"
    return
  fi
  log "installing Debian's chromium package"
  as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
  as_root env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends chromium fonts-dejavu-core >&2
  runs || { log "chromium does not run after installing it"; exit 1; }
  log "chromium installed: $("$CHROMIUM" --version 2>/dev/null)"
}

case "${1:-install}" in
  install) install ;;
  status) runs ;;
  *) echo "usage: $0 install|status" >&2; exit 2 ;;
esac
