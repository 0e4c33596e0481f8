#!/usr/bin/env bash
# Start the TEST-ONLY AppView harness: a throwaway PostgreSQL cluster, then
# @atproto/dev-env's network (start.mjs) on it with the Node 22 of tests/pds.
#   tests/appview/run.sh
# Prints one `APPVIEW_READY {json}` line on stdout when ready; logs go to stderr.
# Exits when stdin closes; the cluster is then stopped and its directory removed.
#
# The cluster: `initdb --auth=trust` into a fresh directory under ${TMPDIR:-/tmp}
# (as the `postgres` user when running as root, since initdb refuses root),
# started on a free 127.0.0.1 port with fsync off and no Unix socket. The same
# directory holds the TMPDIR of the Node process (the PDS's data dirs), so
# removing it removes everything a run wrote. Directories left by a harness
# that was killed outright (SIGKILL) are removed by the next run.
#
# Set APPVIEW_HARNESS_KEEP=1 to keep the directory (and the PostgreSQL log).
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$DIR/../pds/.node/bin/node"
log() { echo "[appview-harness] $*" >&2; }

if [[ ! -x "$NODE" || ! -d "$DIR/node_modules/@atproto/dev-env" ]]; then
  log "not installed: run tests/appview/install.sh first"
  exit 2
fi

find_pg_bin() {
  local d
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(readlink -f "$(command -v initdb)")"
    return 0
  fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  return 1
}
PG_BIN="$(find_pg_bin)" || { log "PostgreSQL's initdb/pg_ctl not found: run tests/appview/install.sh"; exit 2; }

# Run a PostgreSQL tool as the cluster's owner.
if [[ "$(id -u)" == 0 ]]; then
  RUNUSER="$(command -v runuser || true)"
  for c in /usr/sbin/runuser /sbin/runuser; do [[ -z "$RUNUSER" && -x "$c" ]] && RUNUSER="$c"; done
  id postgres >/dev/null 2>&1 || { log "running as root but there is no postgres user (tests/appview/install.sh)"; exit 2; }
  if [[ -n "$RUNUSER" ]]; then
    as_pg() { "$RUNUSER" -u postgres -- "$@"; }
  else
    as_pg() { su postgres -s /bin/sh -c '"$0" "$@"' -- "$@"; }
  fi
else
  as_pg() { "$@"; }
fi

BASE_TMP="${TMPDIR:-/tmp}"
# The cluster's owner must be able to reach its directory.
if ! as_pg test -x "$BASE_TMP" 2>/dev/null; then
  BASE_TMP=/tmp
fi
PREFIX="atproto-appview-harness."

# --- leftovers of killed runs ---------------------------------------------------
for old in "$BASE_TMP/$PREFIX"*; do
  [[ -d "$old" ]] || continue
  owner="$(cat "$old/harness.pid" 2>/dev/null || true)"
  if [[ -n "$owner" ]] && kill -0 "$owner" 2>/dev/null; then continue; fi
  if [[ -f "$old/pg/postmaster.pid" ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$old/pg" stop -m immediate -w >/dev/null 2>&1 || true
  fi
  rm -rf "$old"
  log "removed the leftovers of a killed run: $old"
done

RUN_DIR="$(mktemp -d "$BASE_TMP/${PREFIX}XXXXXX")"
echo $$ > "$RUN_DIR/harness.pid"
chmod 755 "$RUN_DIR"
mkdir -p "$RUN_DIR/pg" "$RUN_DIR/tmp"
[[ "$(id -u)" == 0 ]] && chown postgres "$RUN_DIR/pg"
PG_STARTED=0
NODE_PID=""

cleanup() {
  local rc=$?
  if [[ -n "$NODE_PID" ]] && kill -0 "$NODE_PID" 2>/dev/null; then
    kill -TERM "$NODE_PID" 2>/dev/null || true
    wait "$NODE_PID" 2>/dev/null || true
  fi
  if [[ "$PG_STARTED" == 1 ]]; then
    as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" stop -m immediate -w >/dev/null 2>&1 || true
  fi
  if [[ "${APPVIEW_HARNESS_KEEP:-}" == 1 ]]; then
    log "kept $RUN_DIR"
  else
    rm -rf "$RUN_DIR"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 143' TERM
trap 'exit 130' INT
trap 'exit 129' HUP

# --- the cluster ----------------------------------------------------------------
t0=$(date +%s%N)
as_pg "$PG_BIN/initdb" -D "$RUN_DIR/pg" -U postgres --auth=trust -E UTF8 --locale=C --no-sync \
  >"$RUN_DIR/initdb.log" 2>&1 || { cat "$RUN_DIR/initdb.log" >&2; log "initdb failed"; exit 1; }

free_port() {
  "$NODE" -e "const s=require('net').createServer();s.listen({port:0,host:'127.0.0.1'},()=>{console.log(s.address().port);s.close()})"
}
started=0
for attempt in 1 2 3; do
  PG_PORT="$(free_port)"
  if as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" -l "$RUN_DIR/pg/postgres.log" -w -t 30 start \
      -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -c unix_socket_directories='' -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200" \
      >/dev/null 2>&1; then
    started=1
    break
  fi
  log "postgres did not start on port $PG_PORT (attempt $attempt)"
  as_pg "$PG_BIN/pg_ctl" -D "$RUN_DIR/pg" stop -m immediate >/dev/null 2>&1 || true
done
if [[ "$started" != 1 ]]; then
  tail -n 30 "$RUN_DIR/pg/postgres.log" >&2 || true
  log "postgres failed to start"
  exit 1
fi
PG_STARTED=1
log "postgres on 127.0.0.1:$PG_PORT in $(( ($(date +%s%N) - t0) / 1000000 )) ms ($RUN_DIR)"

# --- the network ----------------------------------------------------------------
# Node inherits our stdin: it exits when the test closes the pipe, and then
# this script stops the cluster and removes the directory.
export APPVIEW_HARNESS_DB_URL="postgresql://postgres@127.0.0.1:$PG_PORT/postgres"
export TMPDIR="$RUN_DIR/tmp"
# (A background job's stdin would be /dev/null without the explicit <&3.)
exec 3<&0
"$NODE" "$DIR/start.mjs" <&3 &
NODE_PID=$!
set +e
wait "$NODE_PID"
rc=$?
set -e
NODE_PID=""
exit "$rc"
