#!/usr/bin/env bash
# Real SPARQL servers for the remote-store tests: Oxigraph server and Virtuoso Open Source 7, on free loopback
# ports, each with a private data directory under $VALUEMESH_SERVERS_DIR.
#
#   scripts/sparql-servers.sh start         install what is missing, start both, wait until they answer, print env
#   scripts/sparql-servers.sh env           print the `export` lines the tests read (servers must be running)
#   scripts/sparql-servers.sh stop          stop both and remove their data
#   scripts/sparql-servers.sh test [ARGS]   start, run pytest ARGS against memory + both servers, stop (always)
#
# VALUEMESH_SERVERS selects which to run (default "oxigraph virtuoso"). Installing Virtuoso needs root (apt-get);
# a server that cannot be installed or started is an error, never skipped.
set -euo pipefail

REPO="$(cd "$(dirname "$0")/.." && pwd)"
STATE="${VALUEMESH_SERVERS_DIR:-${TMPDIR:-/tmp}/valuemesh-sparql-servers}"
SERVERS="${VALUEMESH_SERVERS:-oxigraph virtuoso}"
PY="$REPO/.venv/bin/python"
[ -x "$PY" ] || PY="$(command -v python3)"
# Test-only credentials of the private Virtuoso instance (loopback only, thrown away on stop).
VIRTUOSO_PASSWORD="dba"

say() { echo "sparql-servers: $*" >&2; }
die() { say "error: $*"; exit 1; }

free_port() { "$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# Wait until `curl URL` succeeds; give up after $2 seconds and show the server's log.
wait_for() {
  local url="$1" seconds="$2" log="$3" i
  for ((i = 0; i < seconds * 10; i++)); do
    if curl -fsS -o /dev/null "$url" 2>/dev/null; then return 0; fi
    sleep 0.1
  done
  say "no answer from $url after ${seconds}s; last lines of $log:"
  tail -n 20 "$log" >&2 || true
  return 1
}

# --- Oxigraph server -------------------------------------------------------------------------------------

oxigraph_bin() {
  if [ -x "$REPO/.venv/bin/oxigraph" ]; then echo "$REPO/.venv/bin/oxigraph"; return; fi
  if command -v oxigraph >/dev/null 2>&1; then command -v oxigraph; return; fi
  # Same version as the embedded engine, so both backends run the same SPARQL engine.
  local version
  version="$("$PY" -c 'import importlib.metadata as m; print(m.version("pyoxigraph"))' 2>/dev/null || echo 0.5.13)"
  say "installing oxigraph $version from PyPI"
  "$PY" -m pip install -q "oxigraph==$version" >&2 || die "could not install oxigraph"
  if [ -x "$REPO/.venv/bin/oxigraph" ]; then echo "$REPO/.venv/bin/oxigraph"; else command -v oxigraph; fi
}

start_oxigraph() {
  local bin port dir="$STATE/oxigraph"
  bin="$(oxigraph_bin)"
  port="$(free_port)"
  mkdir -p "$dir/data"
  # No --union-default-graph: the store asks for the union per query (oxigraph's `union-default-graph` option).
  "$bin" serve --bind "127.0.0.1:$port" --location "$dir/data" >"$dir/log" 2>&1 &
  echo $! >"$dir/pid"
  echo "$port" >"$dir/port"
  wait_for "http://127.0.0.1:$port/query?query=ASK%7B%7D" 20 "$dir/log" || die "oxigraph server did not start"
  say "oxigraph server answers on 127.0.0.1:$port (pid $(cat "$dir/pid"))"
}

stop_oxigraph() {
  local dir="$STATE/oxigraph"
  [ -f "$dir/pid" ] || return 0
  kill "$(cat "$dir/pid")" 2>/dev/null || true
  rm -rf "$dir"
}

# --- Virtuoso Open Source 7 ------------------------------------------------------------------------------

install_virtuoso() {
  command -v virtuoso-t >/dev/null 2>&1 && command -v isql-vt >/dev/null 2>&1 && return 0
  local sudo=""
  if [ "$(id -u)" != 0 ]; then
    command -v sudo >/dev/null 2>&1 || die "virtuoso-opensource is not installed and there is no root to install it"
    sudo="sudo"
  fi
  say "installing virtuoso-opensource from Debian (apt-get)"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2 || die "apt-get update failed"
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -q virtuoso-opensource >&2 \
    || die "could not install virtuoso-opensource"
}

start_virtuoso() {
  install_virtuoso
  local dir="$STATE/virtuoso" sql http
  sql="$(free_port)"
  http="$(free_port)"
  while [ "$http" = "$sql" ]; do http="$(free_port)"; done
  mkdir -p "$dir/db"
  # The packaged ini with: private database paths, loopback ports, no hosting plugins, results not cut at 10,000
  # rows (Virtuoso silently truncates at ResultSetMaxRows), enough buffers for the 10k-product benchmark.
  sed -e "s#/var/lib/virtuoso-opensource-7/db#$dir/db#g" \
    -e "/^\[Parameters\]/,/^\[/ s#^ServerPort *=.*#ServerPort = 127.0.0.1:$sql#" \
    -e "/^\[HTTPServer\]/,/^\[/ s#^ServerPort *=.*#ServerPort = 127.0.0.1:$http#" \
    -e 's#^\(Load[0-9]\+ *=\)#;\1#' \
    -e 's#^ResultSetMaxRows *=.*#ResultSetMaxRows = 10000000#' \
    -e 's#^MaxQueryExecutionTime *=.*#MaxQueryExecutionTime = 120#' \
    -e 's#^NumberOfBuffers *=.*#NumberOfBuffers = 170000#' \
    -e 's#^MaxDirtyBuffers *=.*#MaxDirtyBuffers = 130000#' \
    -e "s#^DefaultHost *=.*#DefaultHost = 127.0.0.1:$http#" \
    /etc/virtuoso-opensource-7/virtuoso.ini >"$dir/virtuoso.ini"
  (cd "$dir" && exec virtuoso-t +configfile "$dir/virtuoso.ini" +foreground >"$dir/log" 2>&1) &
  echo $! >"$dir/pid"
  echo "$sql" >"$dir/sql-port"
  echo "$http" >"$dir/port"
  wait_for "http://127.0.0.1:$http/sparql?query=ASK%7B%7D" 60 "$dir/log" || die "virtuoso did not start"
  # Updates through the plain /sparql endpoint (test setup only; production uses /sparql-auth with digest).
  isql-vt "127.0.0.1:$sql" dba "$VIRTUOSO_PASSWORD" \
    exec="GRANT SPARQL_UPDATE TO \"SPARQL\"; DB.DBA.RDF_DEFAULT_USER_PERMS_SET ('nobody', 7);" >"$dir/grant.log" 2>&1 \
    || { cat "$dir/grant.log" >&2; die "could not grant SPARQL update on virtuoso"; }
  say "virtuoso answers on 127.0.0.1:$http (sql $sql, pid $(cat "$dir/pid"))"
}

stop_virtuoso() {
  local dir="$STATE/virtuoso" i pid
  [ -f "$dir/pid" ] || return 0
  pid="$(cat "$dir/pid")"
  isql-vt "127.0.0.1:$(cat "$dir/sql-port")" dba "$VIRTUOSO_PASSWORD" exec="shutdown;" >/dev/null 2>&1 || true
  for ((i = 0; i < 100; i++)); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill "$pid" 2>/dev/null || true
  rm -rf "$dir"
}

# --- commands --------------------------------------------------------------------------------------------

print_env() {
  local any=""
  if [ -f "$STATE/oxigraph/port" ]; then
    echo "export VALUEMESH_TEST_OXIGRAPH_URL='sparql+http://127.0.0.1:$(cat "$STATE/oxigraph/port")/query?update=/update&gsp=/store'"
    echo "export VALUEMESH_TEST_OXIGRAPH_BIN=$(oxigraph_bin)"
    any=1
  fi
  if [ -f "$STATE/virtuoso/port" ]; then
    echo "export VALUEMESH_TEST_VIRTUOSO_URL='sparql+http://127.0.0.1:$(cat "$STATE/virtuoso/port")/sparql'"
    # The same server through its Digest-authenticated endpoint, as production would reach it.
    echo "export VALUEMESH_TEST_VIRTUOSO_DIGEST_URL='sparql+http://dba:$VIRTUOSO_PASSWORD@127.0.0.1:$(cat "$STATE/virtuoso/port")/sparql-auth?auth=digest'"
    any=1
  fi
  [ -n "$any" ] || die "no server is running (run: $0 start)"
}

start_all() {
  mkdir -p "$STATE"
  for server in $SERVERS; do
    case "$server" in
      oxigraph) [ -f "$STATE/oxigraph/pid" ] && kill -0 "$(cat "$STATE/oxigraph/pid")" 2>/dev/null || start_oxigraph ;;
      virtuoso) [ -f "$STATE/virtuoso/pid" ] && kill -0 "$(cat "$STATE/virtuoso/pid")" 2>/dev/null || start_virtuoso ;;
      *) die "unknown server $server (oxigraph, virtuoso)" ;;
    esac
  done
  print_env | tee "$STATE/env"
}

stop_all() {
  stop_oxigraph
  stop_virtuoso
}

case "${1:-}" in
  start) start_all ;;
  env) print_env ;;
  stop) stop_all ;;
  test)
    shift
    trap stop_all EXIT
    start_all >/dev/null
    set -a
    # shellcheck disable=SC1091
    source <(sed 's/^export //' "$STATE/env")
    set +a
    cd "$REPO" && "$PY" -m pytest "$@"
    ;;
  *) echo "usage: $0 start|env|stop|test [pytest args]" >&2; exit 2 ;;
esac
