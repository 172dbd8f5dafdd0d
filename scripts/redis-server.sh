#!/usr/bin/env bash
# A redis-server for the service (and its tests) on a loopback port, in the foreground.
#   scripts/redis-server.sh PORT DIR
# Data lives in DIR as an append-only file fsynced on every write: a sync the service has
# answered 204 survives kill -9 of Redis, and a restart on the same DIR finds it again.
set -euo pipefail
port=${1:?usage: scripts/redis-server.sh PORT DIR}
dir=${2:?usage: scripts/redis-server.sh PORT DIR}
if ! command -v redis-server >/dev/null 2>&1; then
  echo "redis-server is not installed (Debian: apt-get install redis-server)" >&2
  exit 127
fi
mkdir -p "$dir"
exec redis-server --bind 127.0.0.1 --port "$port" --dir "$dir" \
  --appendonly yes --appendfsync always --save '' \
  --daemonize no --protected-mode yes --logfile ''
