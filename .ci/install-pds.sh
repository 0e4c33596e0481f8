#!/usr/bin/env bash
# Install the local reference PDS harness used by the end-to-end tests.
set -euo pipefail
exec "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/tests/pds/install.sh" "$@"
