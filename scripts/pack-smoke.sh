#!/usr/bin/env bash
# Packs Latchkey and uses the tarball as a user would: installs it into an empty
# project, runs `npx latchkey --help`, starts `npx latchkey serve` on a fresh
# embedded database, creates a user through the running server's control
# socket, logs in over HTTP and stops the server. Prints one PASS or FAIL line.
# Everything listens on 127.0.0.1; every wait is bounded; temp files are removed.
set -euo pipefail
cd "$(dirname "$0")/.."

tmp="$(mktemp -d "${TMPDIR:-/tmp}/latchkey-pack-smoke.XXXXXX")"
step="start"
server=""
log="$tmp/steps.log"

stop_server() {
  [[ -n "$server" ]] || return 0
  if kill -0 "$server" 2>/dev/null; then
    kill -TERM -- "-$server" 2>/dev/null || true
    for _ in $(seq 1 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done   # 30 s
    kill -KILL -- "-$server" 2>/dev/null || true
  fi
  wait "$server" 2>/dev/null || true
  server=""
}
finish() {
  local status=$?
  stop_server
  if [[ $status -eq 0 ]]; then
    echo "pack-smoke: PASS (npm pack, install, --help, serve, create-user, login)"
  else
    echo "pack-smoke: FAIL at step: $step" >&2
    [[ -f "$log" ]] && tail -n 40 "$log" >&2
  fi
  rm -rf "$tmp"
  exit "$status"
}
trap finish EXIT
trap 'exit 130' INT TERM
fail() { echo "$*" >>"$log"; exit 1; }

# The server under test uses its own embedded database, never the caller's.
unset DATABASE_URL REDIS_URL NODE_ENV HOST PORT SIGNING_KEY DATA_DIR

step="npm pack"
mkdir -p "$tmp/pack" "$tmp/app" "$tmp/data"
timeout 300 npm pack --pack-destination "$tmp/pack" >>"$log" 2>&1
tarball="$(ls "$tmp"/pack/*.tgz)"

step="tarball contents"
tar -tzf "$tarball" >"$tmp/contents"
if grep -E '^package/(test|src|bench|scripts|\.ci|node_modules|\.latchkey)/|/node_modules/|\.test\.|\.tsbuildinfo$' "$tmp/contents" >>"$log"; then
  fail "the tarball holds files a user does not need (listed above)"
fi
for need in package/package.json package/bin/latchkey.js package/dist/cli/main.js package/dist/index.js package/dist/index.d.ts \
            package/dist/client/index.js package/dist/verify/index.js package/dist/users/data/common-passwords.txt.gz; do
  grep -qx "$need" "$tmp/contents" || fail "the tarball lacks $need"
done

step="npm install <tarball>"
cd "$tmp/app"
npm init -y >>"$log" 2>&1
timeout 600 npm install --no-audit --no-fund "$tarball" >>"$log" 2>&1

step="npx latchkey --help"
# `--`: without it npx would take --help (and other options) as its own.
timeout 60 npx --no -- latchkey --help >"$tmp/help.txt" 2>&1 || { cat "$tmp/help.txt" >>"$log"; exit 1; }
grep -q '^Usage: latchkey' "$tmp/help.txt" || { cat "$tmp/help.txt" >>"$log"; fail "--help did not print latchkey's usage"; }

step="npx latchkey serve"
port="$(node -e 'const s = require("net").createServer().listen(0, "127.0.0.1", () => { console.log(s.address().port); s.close(); })')"
export DATA_DIR="$tmp/data" HOST=127.0.0.1 PORT="$port" NODE_ENV=production \
       SIGNING_KEY="pack-smoke-signing-key-$(printf '%025d' 0)"   # 48 characters
# setsid: npx and the server in a process group of their own, stopped together.
setsid npx --no -- latchkey serve >"$tmp/server.log" 2>&1 &
server=$!
up=""
for _ in $(seq 1 600); do   # 120 s: a fresh embedded database takes a while
  if curl -fsS -o /dev/null --max-time 2 "http://127.0.0.1:$port/healthz" 2>/dev/null; then up=1; break; fi
  kill -0 "$server" 2>/dev/null || break
  sleep 0.2
done
[[ -n "$up" ]] || { cat "$tmp/server.log" >>"$log"; fail "no /healthz on 127.0.0.1:$port"; }

step="npx latchkey create-user"
password='pack smoke: correct horse battery staple'
printf '%s\n' "$password" | timeout 60 npx --no -- latchkey create-user --username smoke --email smoke@example.com --password-stdin >>"$log" 2>&1

step="login"
code="$(curl -sS --max-time 10 -o "$tmp/login.json" -w '%{http_code}' -H 'content-type: application/json' \
  -d "{\"username\": \"smoke\", \"password\": \"$password\"}" "http://127.0.0.1:$port/auth/login/")"
cat "$tmp/login.json" >>"$log"; echo >>"$log"
[[ "$code" == 200 ]] || fail "login answered $code"
node -e 'const b = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")); if (typeof b.access !== "string" || b.access.split(".").length !== 3) process.exit(1);' "$tmp/login.json" \
  || fail "no access token in the login response"

step="stop the server"
kill -TERM -- "-$server"
for _ in $(seq 1 150); do kill -0 "$server" 2>/dev/null || break; sleep 0.2; done   # 30 s
if kill -0 "$server" 2>/dev/null; then cat "$tmp/server.log" >>"$log"; fail "serve did not stop within 30 s of SIGTERM"; fi
wait "$server" || true
server=""
grep -q 'Latchkey listening on' "$tmp/server.log" || { cat "$tmp/server.log" >>"$log"; fail "serve never logged that it listens"; }
