#!/usr/bin/env bash
# The real LaunchDarkly Node server SDK and its Redis store for the end-to-end tests, at
# the exact versions of tests/service/node/package-lock.json, in tests/service/node/
# node_modules (git-ignored). Installs with `npm ci` when that folder is missing or the
# lock changed; otherwise does nothing. Safe to run from several test workers at once.
#   scripts/node-sdk.sh
set -euo pipefail
cd "$(dirname "$0")/../tests/service/node"
if ! command -v node >/dev/null 2>&1 || ! command -v npm >/dev/null 2>&1; then
  echo "node and npm are not installed: the Node SDK tests need Node 20 (Debian: apt-get install nodejs npm)" >&2
  exit 127
fi
want=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.installed-from
exec 9>.install.lock
flock 9
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  echo "node-sdk: npm ci in tests/service/node ($(node --version))" >&2
  npm ci --no-audit --no-fund --loglevel=error >&2
  echo "$want" > "$stamp"
fi
