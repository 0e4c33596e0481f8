#!/usr/bin/env bash
# Compares this crate's facet detection with the official TypeScript client's
# (@atproto/api, the release the workspace's lexicons come from) on every
# detection test input and 30,000 generated texts, and segments and newline
# cleaning on 20,000 more. Needs node, npm (it
# installs @atproto/api into a temporary directory) and python3; not part of
# the test suite for that reason. Exit status 1 on any difference the crate
# does not document as deliberate.
set -euo pipefail

version="${1:-0.21.0}"
crate="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

(cd "$work" && npm install --silent --no-audit --no-fund "@atproto/api@$version" >/dev/null)
cp "$crate/tools/official_detect.mjs" "$work/"
python3 "$crate/tools/compare_official.py" inputs "$work/texts.json"
cargo run -q --release -p atmo-richtext --example detect_json <"$work/texts.json" >"$work/ours.json"
(cd "$work" && node official_detect.mjs <texts.json >official.json)
status=0
python3 "$crate/tools/compare_official.py" compare "$work/texts.json" "$work/ours.json" "$work/official.json" || status=1

python3 "$crate/tools/compare_official.py" segment-inputs "$work/seg.json"
cargo run -q --release -p atmo-richtext --example detect_json -- --segments <"$work/seg.json" >"$work/seg-ours.json"
(cd "$work" && node official_detect.mjs --segments <seg.json >seg-official.json)
python3 "$crate/tools/compare_official.py" same "$work/seg.json" "$work/seg-ours.json" "$work/seg-official.json" || status=1
exit "$status"
