#!/bin/sh
# Runs every fuzz target in turn for N seconds each (default 300), niced,
# starting from the committed seeds. Needs `cargo install cargo-fuzz`; works
# on the stable toolchain through RUSTC_BOOTSTRAP=1. Crashes land in
# fuzz/artifacts/<target>/; the growing corpus in fuzz/corpus/<target>/ (both
# gitignored). Usage: fuzz/run.sh [seconds] [target...] (default: every
# target in fuzz_targets/)
set -eu
cd "$(dirname "$0")"
secs=${1:-300}
[ $# -gt 0 ] && shift
targets=${*:-$(ls fuzz_targets | sed 's/\.rs$//')}
for t in $targets; do
    mkdir -p "corpus/$t"
    echo "== $t ($secs s)"
    RUSTC_BOOTSTRAP=1 nice cargo fuzz run "$t" "corpus/$t" "seeds/$t" -- \
        -max_total_time="$secs" -print_final_stats=1
done
