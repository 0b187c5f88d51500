#!/usr/bin/env bash
# Every subcommand on the worst inputs (BENCHMARKS.md, part 6): wall time and peak RSS
# of each command, one run each, from /usr/bin/time -v.
#
#   deep         40 chains 1,000 deep, names distinct per chain (40,000 spans)
#   overlapping  160,000 roots that all overlap; and 1,000,000 of them
#   wide         one root with 160,000 children running at once
#   outliving    a chain of 100,000 spans, each ending after its parent
#   nul-tail     a session followed by 1 GB of NUL bytes (a sparse file)
#   /dev/zero    as input
#   server       3,000,000 spans under 20 connection roots open the whole session
#
# Usage: scripts/bench-bounded.sh [BINARY]
#   BINARY   the perf-analyze binary to measure (default: a release build of this tree),
#            so that two builds can be measured one after the other.
# Environment: BENCH_TARGET_DIR (default target/bench), BENCH_WORK (default
# $BENCH_TARGET_DIR/bench-work), TIMEOUT seconds per command (default 120). Each command
# runs with at most 8 GB of address space.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-$root/target/bench}"
work="${BENCH_WORK:-$CARGO_TARGET_DIR/bench-work}/bounded"
mkdir -p "$work"
[[ -x /usr/bin/time ]] || { apt-get update -qq && apt-get install -y -qq time; }

cargo build --release -q -p perf-analyze --features test-util --bin perf-analyze --example gen-session
bin="${1:-$CARGO_TARGET_DIR/release/perf-analyze}"
gen="$CARGO_TARGET_DIR/release/examples/gen-session"

gen_in() { local file=$1 n=$2; shift 2; [[ -s "$work/$file" ]] || "$gen" "$n" "$work/$file" "$@"; }
gen_in deep.jsonl 40000 --shape deep
gen_in overlapping.jsonl 160000 --shape overlapping
gen_in overlapping-1m.jsonl 1000000 --shape overlapping
gen_in wide.jsonl 160000 --shape wide
gen_in outliving.jsonl 100000 --shape outliving
gen_in server.jsonl 3000000 7 --server 20
if [[ ! -s "$work/nul-tail.jsonl" ]]; then
    head -n 1000 "$work/deep.jsonl" > "$work/nul-tail.jsonl"
    truncate -s "+1000000000" "$work/nul-tail.jsonl"
fi

run() {
    local label=$1; shift
    local out="$work/time.txt"
    # At most 8 GB of address space: a build that grows without bound fails, not the machine.
    (ulimit -v 8000000; /usr/bin/time -v -o "$out" timeout "${TIMEOUT:-120}" "$bin" "$@" > /dev/null 2>&1) || true
    local wall rss status
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$out")
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$out")
    status=$(sed -n 's/.*Exit status: //p' "$out")
    # A command stopped by a signal: time says so instead of its exit status.
    grep -q "Command terminated by signal" "$out" && status=$(sed -n 's/Command terminated by signal /signal /p' "$out")
    local command="$*"
    printf '| %s | `%s` | %s | %s MB | %s |\n' "$label" "${command//$work\//}" "$wall" "$((rss / 1024))" "${status:-killed}"
}

echo "| input | command | wall | peak RSS | exit |"
echo "| --- | --- | ---: | ---: | ---: |"
for cmd in "export --format folded" "flamegraph" "report --format html"; do
    # shellcheck disable=SC2086
    run deep $cmd "$work/deep.jsonl"
done
run overlapping export --format chrome "$work/overlapping.jsonl"
run "overlapping, 1M" export --format chrome "$work/overlapping-1m.jsonl"
run wide export --format speedscope "$work/wide.jsonl"
run wide report --format html "$work/wide.jsonl"
run outliving export --format chrome "$work/outliving.jsonl"
run nul-tail report "$work/nul-tail.jsonl"
run /dev/zero report /dev/zero
for cmd in "report" "report --format html" "export --format chrome" "export --format folded" "flamegraph"; do
    # shellcheck disable=SC2086
    run server $cmd "$work/server.jsonl"
done
