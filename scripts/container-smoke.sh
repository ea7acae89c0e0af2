#!/usr/bin/env bash
# Builds and runs the relay the way the Dockerfile does, without Docker (CI has none): the same
# copied files, npm ci without scripts but the two rebuilds, build, prune of dev dependencies, the
# runtime stage's layout, the image's config with the store in a data directory, an unprivileged
# user when run as root, the image's ENTRYPOINT and CMD (read from the Dockerfile), and the
# HEALTHCHECK script, on the image's config and on a mounted one with another port. It also checks
# that the compose file keeps the database password out of the URL. Keep it in step with the
# Dockerfile.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

work=$(mktemp -d "${TMPDIR:-/tmp}/relay-container.XXXXXX")
pid=
cleanup() {
  if [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
say() { echo "container-smoke: $*"; }
fail() { echo "container-smoke: FAILED: $*" >&2; [ -f "$work/relay.err" ] && tail -n 30 "$work/relay.err" >&2; exit 1; }

# Build stage (Dockerfile: FROM ... AS build).
build="$work/build"
mkdir -p "$build"
cp package.json package-lock.json "$build/"
(cd "$build" && npm ci --no-audit --no-fund --ignore-scripts --prefer-offline --loglevel=error) || fail "npm ci"
# The one departure from the Dockerfile, for time: compiling SQLite takes minutes on a small CI
# machine, so the binding that this checkout's own `npm ci` built for this same platform and Node
# is reused when its version matches the lockfile's. SMOKE_REBUILD=1 compiles it as the image does.
binding=node_modules/better-sqlite3/build/Release/better_sqlite3.node
version() { node -p "require(process.argv[1] + '/node_modules/better-sqlite3/package.json').version" "$1" 2>/dev/null || true; }
if [ "${SMOKE_REBUILD:-0}" != 1 ] && [ -f "$binding" ] && [ "$(version "$root")" = "$(version "$build")" ]; then
  mkdir -p "$build/$(dirname "$binding")" && cp "$binding" "$build/$binding"
  (cd "$build" && npm rebuild esbuild --loglevel=error) || fail "npm rebuild"
  say "reused this checkout's better-sqlite3 binding"
else
  (cd "$build" && npm rebuild better-sqlite3 esbuild --loglevel=error) || fail "npm rebuild"
fi
say "installed ($SECONDS s)"
cp tsconfig.json tsconfig.build.json "$build/"
cp -R src plugins "$build/"
(cd "$build" && npm run build --silent && npm prune --omit=dev --ignore-scripts --no-audit --no-fund --loglevel=error) || fail "build or prune"
[ ! -e "$build/node_modules/typescript" ] || fail "npm prune left dev dependencies in node_modules"
say "built and pruned ($SECONDS s)"

# Runtime stage: only what the Dockerfile copies into /app, and an empty /data.
app="$work/app"
data="$work/data"
mkdir -p "$app" "$data"
cp "$build/package.json" "$app/"
cp -R "$build/node_modules" "$build/dist" "$app/"
cp config.schema.json config.example.json "$app/"
cp -R container "$app/"
rm -rf "$build"

# USER node: the code is readable but not writable; only the data directory is.
run_as=()
if [ "$(id -u)" = 0 ] && command -v setpriv >/dev/null; then
  chmod -R a+rX "$work"
  chmod a-w -R "$app"
  chown 65534:65534 "$data"
  run_as=(setpriv --reuid=65534 --regid=65534 --clear-groups --)
  say "running as uid 65534"
fi

# The image's ENTRYPOINT and CMD, as Docker would run them: `docker run IMAGE` is both,
# `docker run IMAGE ARGS...` is the ENTRYPOINT with ARGS.
dockerfile_array() { node -e "
const line = require('fs').readFileSync('Dockerfile', 'utf8').split('\n').find(l => l.startsWith(process.argv[1] + ' '))
if (!line) process.exit(1)
for (const word of JSON.parse(line.slice(process.argv[1].length + 1))) console.log(word)" "$1"; }
mapfile -t entrypoint < <(dockerfile_array ENTRYPOINT) || fail "no ENTRYPOINT in the Dockerfile"
mapfile -t command < <(dockerfile_array CMD) || fail "no CMD in the Dockerfile"
[ "${#entrypoint[@]}" -gt 0 ] && [ "${#command[@]}" -gt 0 ] || fail "the Dockerfile needs an exec-form ENTRYPOINT and CMD"
say "ENTRYPOINT ${entrypoint[*]}, CMD ${command[*]}"
image() { (cd "$app" && "${run_as[@]}" "${entrypoint[@]}" "$@"); }

port=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
token="smoke-$(node -e "console.log(require('crypto').randomBytes(12).toString('hex'))")"
export NODE_ENV=production GPTBOTS_RELAY_CONFIG="$app/container/config.json" RELAY_DATA_DIR="$data" PORT="$port" GPTBOTS_API_KEY="$token"

# Other subcommands than start: `docker run IMAGE --help`, `docker run IMAGE check-config FILE`.
help=$(image --help) || fail "docker run IMAGE --help exited $?"
[[ "$help" == *"Commands:"* ]] || fail "docker run IMAGE --help did not print the commands: $help"
checked=$(image check-config container/config.json) || fail "docker run IMAGE check-config exited $?"
[[ "$checked" == *"is valid"* ]] || fail "docker run IMAGE check-config said: $checked"
say "other subcommands run: --help, check-config"

(cd "$app" && exec "${run_as[@]}" "${entrypoint[@]}" "${command[@]}" >"$work/relay.out" 2>"$work/relay.err") &
pid=$!

healthy=
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || fail "the relay exited during start"
  if (cd "$app" && node container/healthcheck.mjs 2>/dev/null); then healthy=1; break; fi
  sleep 0.2
done
[ -n "$healthy" ] || fail "/healthz did not answer within 60 s"
say "healthy (the image's HEALTHCHECK passes)"

ready=$(node -e "fetch('http://127.0.0.1:$port/readyz').then(async r => { console.log(r.status, await r.text()) })")
[[ "$ready" == 200* ]] || fail "/readyz answered $ready"
say "ready: $ready"

conversation="smoke-$port"
answer=$(node -e "
fetch('http://127.0.0.1:$port/webhook', {
  method: 'POST',
  headers: { 'content-type': 'application/json', authorization: 'Bearer $token' },
  body: JSON.stringify({ message_id: 'smoke-1', message_type: 'ANSWER', text: 'container smoke test', create_time: Date.now(), conversation_id: '$conversation' })
}).then(async r => console.log(r.status, await r.text()))")
[[ "$answer" == '200 {"code":200,"msg":"success"}' ]] || fail "POST /webhook answered $answer"
say "webhook accepted: $answer"

for _ in $(seq 1 100); do grep -q "$conversation" "$work/relay.out" && break; sleep 0.1; done
grep -q "$conversation" "$work/relay.out" || fail "the console relay did not print the message"
[ -s "$data/relay.db" ] || fail "no store in the data directory"

kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status after SIGTERM"
grep -q '"msg":"shutting down' "$work/relay.err" || fail "no shutdown line in the log"
if grep -q "$token" "$work/relay.err" "$work/relay.out"; then fail "the webhook token appears in the output"; fi
say "stopped cleanly on SIGTERM"

# A mounted config with a port of its own and no PORT: the HEALTHCHECK must ask where the relay
# listens, not $PORT or 8080.
port2=$(node -e "const s=require('net').createServer().listen(0,'127.0.0.1',()=>{console.log(s.address().port);s.close()})")
node -e "
const config = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8'))
config.server.port = Number(process.argv[2])
require('fs').writeFileSync(process.argv[3], JSON.stringify(config))" "$app/container/config.json" "$port2" "$work/mounted.json"
chmod a+r "$work/mounted.json"
unset PORT
export GPTBOTS_RELAY_CONFIG="$work/mounted.json"
(cd "$app" && exec "${run_as[@]}" "${entrypoint[@]}" "${command[@]}" >"$work/relay.out" 2>"$work/relay.err") &
pid=$!
healthy=
for _ in $(seq 1 300); do
  kill -0 "$pid" 2>/dev/null || fail "the relay with a mounted config exited during start"
  if (cd "$app" && node container/healthcheck.mjs 2>/dev/null); then healthy=1; break; fi
  sleep 0.2
done
[ -n "$healthy" ] || fail "the HEALTHCHECK did not find the relay listening on the config's port $port2"
(cd "$app" && node container/healthcheck.mjs /readyz) || fail "the compose file's /readyz check failed"
kill -TERM "$pid"
status=0
wait "$pid" || status=$?
pid=
[ "$status" = 0 ] || fail "exit status $status after SIGTERM (mounted config)"
say "the HEALTHCHECK follows the config's port ($port2), and /readyz too"

# docker-compose.example.yml: a password in DATABASE_URL breaks on @ : / # %; it goes in PGPASSWORD.
url_line=$(grep -E '^\s+DATABASE_URL:' docker-compose.example.yml) || fail "no DATABASE_URL in docker-compose.example.yml"
[[ "$url_line" != *PASSWORD* && "$url_line" != *'://'*':'*'@'* ]] || fail "the compose file puts the password into DATABASE_URL: $url_line"
grep -qE '^\s+PGPASSWORD: \$\{POSTGRES_PASSWORD' docker-compose.example.yml || fail "the compose file passes no PGPASSWORD to the relay"
say "the compose file keeps the password out of the URL; all good"
