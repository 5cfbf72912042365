#!/usr/bin/env bash
# Runs every test of the project, as README.md says: installs what the tests need that Maven
# cannot (Debian's Chromium for the web UI's browser test; the build installs the npm packages
# itself), runs `mvn -B verify`, and fails if any Vert.x blocked-thread warning appeared.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x /usr/bin/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update && apt-get install -y chromium
  else
    sudo apt-get update && sudo apt-get install -y chromium
  fi
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
mvn -B verify "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
if grep -q "has been blocked for" "$log"; then
  echo "FAIL: a Vert.x blocked-thread warning appeared in the test run:" >&2
  grep "has been blocked for" "$log" | head -5 >&2
  exit 1
fi
exit "$status"
