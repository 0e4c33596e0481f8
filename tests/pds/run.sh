#!/usr/bin/env bash
# Start the TEST-ONLY local PDS + PLC harness with the project-local Node 22.
#   tests/pds/run.sh [--invites] [--rate-limits] [--access-ttl N] [other start.mjs options]
# Prints one `PDS_READY {json}` line on stdout when ready; logs go to stderr.
# Exits when stdin closes (pass --no-stdin-watch to keep running without a stdin).
# Set PDS_HARNESS_AUTO_INSTALL=1 to run install.sh first if needed.
set -euo pipefail
DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
NODE="$DIR/.node/bin/node"
if [[ "${PDS_HARNESS_AUTO_INSTALL:-}" == 1 ]]; then
  "$DIR/install.sh" >&2
fi
if [[ ! -x "$NODE" || ! -d "$DIR/node_modules/@atproto/pds" ]]; then
  echo "[pds-harness] not installed: run tests/pds/install.sh first" >&2
  exit 2
fi
exec "$NODE" "$DIR/start.mjs" "$@"
