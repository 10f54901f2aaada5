#!/usr/bin/env bash
# Prints how long `npm start` takes from launch until GET /healthz answers 200,
# on a fresh DATA_DIR (PGlite created and migrated) unless DATA_DIR is given.
# Usage: scripts/time-to-healthz.sh [project dir]   (default: this checkout)
set -euo pipefail
dir="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
tmp="$(mktemp -d)"
server=""
cleanup() {
  if [[ -n "$server" ]] && kill -0 "$server" 2>/dev/null; then
    kill -TERM -- "-$server" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$server" 2>/dev/null || break; sleep 0.1; done
    kill -KILL -- "-$server" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT
port="$(node -e 's=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
start="$(date +%s%N)"
# setsid: npm and the server in their own process group, stopped together.
(cd "$dir" && DATA_DIR="${DATA_DIR:-$tmp/data}" HOST=127.0.0.1 PORT="$port" LOG_LEVEL=warn \
  exec setsid npm start --silent >"$tmp/out.log" 2>&1) &
server=$!
for _ in $(seq 1 1200); do   # at most 120 s
  if curl -fsS -o /dev/null --max-time 1 "http://127.0.0.1:$port/healthz" 2>/dev/null; then
    echo "healthz after $(( ($(date +%s%N) - start) / 1000000 )) ms"
    exit 0
  fi
  kill -0 "$server" 2>/dev/null || { echo "server exited:"; cat "$tmp/out.log"; exit 1; }
  sleep 0.1
done
echo "no /healthz within 120 s"; cat "$tmp/out.log"; exit 1
