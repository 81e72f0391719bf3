#!/usr/bin/env bash
# The browser tests drive Debian's Chromium through playwright (never `playwright install`).
set -euo pipefail
if [ -x /usr/bin/chromium ]; then exit 0; fi
echo "Installing Debian's chromium for the browser tests"
if [ "$(id -u)" = 0 ]; then sudo=""; else sudo="sudo -n"; fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
/usr/bin/chromium --version
