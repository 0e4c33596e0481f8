#!/usr/bin/env bash
# Idempotent installer for the TEST-ONLY AppView harness (tests/appview).
#  1. Node 22 and the PDS harness: tests/pds/install.sh (this harness reuses
#     its Node in tests/pds/.node rather than installing a second one)
#  2. PostgreSQL's server binaries (initdb, pg_ctl, postgres): Debian's
#     `postgresql` package, installed with apt-get when missing and running
#     as root (Debian puts them in /usr/lib/postgresql/<major>/bin)
#  3. `npm ci` of @atproto/dev-env in tests/appview with Node 22 first on PATH
#     and its headers as npm_config_nodedir, without install scripts; the
#     better-sqlite3 addon is the one tests/pds built (same version, same
#     Node), or compiled here against those headers when the versions differ
#  4. checks that @atproto/dev-env loads under Node 22
# Work already done is skipped (stamp keyed on the lock file + Node version).
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
PDS_DIR="$(cd "$DIR/../pds" && pwd)"
NODE_DIR="$PDS_DIR/.node"
NODE="$NODE_DIR/bin/node"
STAMP="$DIR/node_modules/.appview-harness-stamp"
log() { echo "[appview-install] $*" >&2; }

# --- 1. Node 22 (and the PDS harness, which the e2e tests need anyway) -------
bash "$PDS_DIR/install.sh"
[[ -x "$NODE" ]] || { log "tests/pds/install.sh did not leave a Node in $NODE_DIR"; exit 1; }

# --- 2. PostgreSQL server binaries -------------------------------------------
find_initdb() {
  local d
  if command -v initdb >/dev/null; then command -v initdb; return 0; fi
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" ]] && { echo "$d/initdb"; return 0; }
  done
  return 1
}
if initdb_path="$(find_initdb)"; then
  log "PostgreSQL: $initdb_path"
else
  if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
    log "installing PostgreSQL (Debian package postgresql)"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql postgresql-contrib >&2
    # The package's own cluster is not used by the tests: the harness makes
    # a throwaway one per run. Stop the packaged one if the install started it.
    if command -v pg_ctlcluster >/dev/null; then
      for c in $(ls -d /etc/postgresql/*/main 2>/dev/null); do
        v="$(basename "$(dirname "$c")")"
        pg_ctlcluster "$v" main stop >/dev/null 2>&1 || true
      done
    fi
    initdb_path="$(find_initdb)" || { log "postgresql installed but no initdb found"; exit 1; }
    log "PostgreSQL: $initdb_path"
  else
    log "PostgreSQL's initdb is missing: install Debian's postgresql package (as root: apt-get install postgresql)"
    exit 1
  fi
fi
# initdb refuses to run as root: the harness runs it as the `postgres` user.
if [[ "$(id -u)" == 0 ]] && ! id postgres >/dev/null 2>&1; then
  log "running as root but there is no postgres user to run the cluster as"
  exit 1
fi

# --- 3. npm ci -------------------------------------------------------------------
export PATH="$NODE_DIR/bin:$PATH"          # npm's `#!/usr/bin/env node` now runs Node 22
export npm_config_nodedir="$NODE_DIR"      # build native addons against Node 22's headers
node_version="$("$NODE" --version)"
want_stamp="$(cat "$DIR/package-lock.json" "$DIR/package.json" | sha256sum | cut -d' ' -f1) node-$node_version"
check() {
  (cd "$DIR" && "$NODE" -e "
    const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get();
    import('@atproto/dev-env').then((m) => { if (!m.TestNetwork) throw new Error('no TestNetwork export') })
      .catch((e) => { console.error(e); process.exit(1) });
  ")
}
# When the stamp matches, a quick look is enough (loading all of dev-env
# takes seconds); after an install, the full check.
quick_check() {
  [[ -f "$DIR/node_modules/@atproto/dev-env/package.json" ]] &&
    (cd "$DIR" && "$NODE" -e "new (require('better-sqlite3'))(':memory:').prepare('select 1').get()")
}
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] && quick_check 2>/dev/null; then
  log "node_modules up to date"
  exit 0
fi

# Install scripts are skipped: the only one that builds anything is
# better-sqlite3's, and tests/pds already built the same version against the
# same Node, so its addon is copied from there (built here only when the
# versions differ).
log "npm ci"
start=$(date +%s)
(cd "$DIR" && npm ci --no-audit --no-fund --ignore-scripts >&2)
log "npm ci done in $(( $(date +%s) - start ))s"
sqlite_version() { "$NODE" -p "require('$1/node_modules/better-sqlite3/package.json').version" 2>/dev/null || true; }
ours="$(sqlite_version "$DIR")"
theirs="$(sqlite_version "$PDS_DIR")"
addon="build/Release/better_sqlite3.node"
if [[ -n "$ours" && "$ours" == "$theirs" && -f "$PDS_DIR/node_modules/better-sqlite3/$addon" ]]; then
  log "better-sqlite3 $ours: the addon tests/pds built"
  mkdir -p "$DIR/node_modules/better-sqlite3/build/Release"
  cp "$PDS_DIR/node_modules/better-sqlite3/$addon" "$DIR/node_modules/better-sqlite3/$addon"
else
  for tool in make g++ python3; do
    command -v "$tool" >/dev/null || { log "missing $tool (needed to build better-sqlite3)"; exit 1; }
  done
  log "building better-sqlite3 $ours from source (~2 min)"
  (cd "$DIR" && npm rebuild better-sqlite3 --foreground-scripts >&2)
fi

# --- 4. check -------------------------------------------------------------------
if ! check; then
  log "@atproto/dev-env failed to load under $node_version"
  exit 1
fi
echo "$want_stamp" > "$STAMP"
log "ok"
