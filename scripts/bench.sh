#!/usr/bin/env bash
# Side-by-side benchmarks of perf-layer, perf-analyze and agent-demo, each a ratio measured
# in one run (BENCHMARKS.md explains every table):
#
#   1. layer overhead per span (criterion): floor, perf-layer, tracing-chrome, tracing-flame,
#      fmt CLOSE to a sink and through tracing-appender to a file;
#   2. whole-process bursts of 1 million spans with one integer field (six workloads), the
#      floor, tracing-chrome and perf-layer in interleaved rounds: time per span including
#      the guard's drop, and memory growth;
#   3. writer throughput to a real file, and the delay from a span's close to its line on disk;
#   4. the analyzer's full report on generated 1M- and 10M-line sessions, against
#      `cat file > /dev/null` and a group-by-name with jq;
#   5. agent-demo in sim mode with and without recording (hyperfine);
#   6. a real async server: mini-redis's throughput under no subscriber, the floor, fmt,
#      tracing-chrome and perf-layer, in interleaved rounds.
#
# Usage: scripts/bench.sh [--quick]
#   --quick   1 million spans and lines only, shorter criterion runs, fewer demo and
#             mini-redis runs (~5 min)
# Environment:
#   BENCH_TARGET_DIR  cargo target dir for the release builds (default: target/bench)
#   BENCH_WORK        generated sessions, logs and raw results (default: $BENCH_TARGET_DIR/bench-work)
#
# Idempotent: installs `time`, `jq` and `hyperfine` from Debian's packages when missing,
# reuses generated sessions, and overwrites the previous results.
set -euo pipefail

quick=0
for arg in "$@"; do
    case "$arg" in
        --quick) quick=1 ;;
        -h | --help) sed -n '2,23p' "$0"; exit 0 ;;
        *) echo "bench.sh: unknown argument '$arg' (try --quick)" >&2; exit 2 ;;
    esac
done

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"
export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-$root/target/bench}"
work="${BENCH_WORK:-$CARGO_TARGET_DIR/bench-work}"
results="$work/results"
mkdir -p "$work" "$results"
bin="$CARGO_TARGET_DIR/release"

if ((quick)); then
    flood_rounds=3
    writer_spans=1000000
    analyzer_sizes=(1000000)
    criterion_args=(--warm-up-time 0.5 --measurement-time 1)
    demo_runs=1
    worst_runs=5
    redis_args=(--rounds 3 --requests 50000)
else
    flood_rounds=5
    writer_spans=3000000
    analyzer_sizes=(1000000 10000000)
    criterion_args=()
    demo_runs=3
    worst_runs=10
    redis_args=(--rounds 5 --requests 200000)
fi

say() { printf '\n== %s\n' "$*"; }

# --- tools -------------------------------------------------------------------------------
missing=()
[[ -x /usr/bin/time ]] || missing+=(time)
command -v jq >/dev/null || missing+=(jq)
command -v hyperfine >/dev/null || missing+=(hyperfine)
if ((${#missing[@]})); then
    say "installing ${missing[*]} from Debian's packages"
    sudo=""
    ((EUID == 0)) || sudo="sudo"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# --- machine -------------------------------------------------------------------------------
{
    echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "commit:  $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo ' (with local changes)')"
    echo "cpu:     $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//') x $(nproc)"
    echo "memory:  $(free -g | awk '/Mem:/ {print $2 " GiB"}')"
    echo "kernel:  $(uname -r), clock source $(cat /sys/devices/system/clocksource/clocksource0/current_clocksource 2>/dev/null || echo unknown)"
    echo "rustc:   $(rustc --version)"
    echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at start"
} | tee "$results/machine.txt"

# --- build -------------------------------------------------------------------------------
say "building release binaries into $CARGO_TARGET_DIR"
cargo build --release -q -p perf-layer --examples
cargo build --release -q -p perf-analyze --bin perf-analyze --example gen-session
cargo build --release -q -p agent-demo

# Runs a command with its output to $out; prints "<wall seconds> <peak RSS in kB>".
out=/dev/null
measure() {
    local t0 t1
    t0=$EPOCHREALTIME
    /usr/bin/time -f '%M' -o "$work/time.txt" "$@" >"$out"
    t1=$EPOCHREALTIME
    awk -v a="$t0" -v b="$t1" -v r="$(tail -n1 "$work/time.txt")" 'BEGIN { printf "%.3f %s\n", b - a, r }'
}

# --- 1. layer overhead -------------------------------------------------------------------------
say "1. layer overhead per span (criterion, perf-layer/benches/overhead.rs)"
rm -rf "$CARGO_TARGET_DIR/criterion"
cargo bench -q -p perf-layer --bench overhead -- "${criterion_args[@]}" >"$results/criterion.txt" 2>&1
subs=(floor perf-layer tracing-chrome tracing-flame fmt-close fmt-close-file)
{
    printf '%-28s' "ns per span"
    printf '%16s' "${subs[@]}" "pl/chrome" "pl/flame" "pl/fmt" "pl/fmt-file"
    echo
    for group in whole_life reenter root_8_children whole_life_2_threads root_8_children_2_threads; do
        per=1
        [[ $group == root_8_children* ]] && per=9
        declare -A ns=()
        printf '%-28s' "$group"
        for sub in "${subs[@]}"; do
            est="$CARGO_TARGET_DIR/criterion/$group/$sub/new/estimates.json"
            ns[$sub]=$(jq -r --argjson per "$per" '.mean.point_estimate / $per' "$est")
            printf '%16.0f' "${ns[$sub]}"
        done
        for peer in tracing-chrome tracing-flame fmt-close fmt-close-file; do
            printf '%16.2f' "$(jq -n "${ns[perf-layer]} / ${ns[$peer]}")"
        done
        echo
        unset ns
    done
} | tee "$results/overhead.txt"

# --- 2. whole-process bursts ---------------------------------------------------------------
say "2. whole-process bursts, $flood_rounds interleaved rounds (perf-layer/examples/flood.rs compare)"
"$bin/examples/flood" compare 1000000 "$flood_rounds" 2>"$results/flood-raw.txt" | tee "$results/flood.txt"

# --- 3. writer ---------------------------------------------------------------------------------
say "3. writer throughput and close-to-disk delay (perf-layer/examples/writer.rs)"
mkdir -p "$work/writer"
"$bin/examples/writer" "$writer_spans" "$work/writer" | tee "$results/writer.txt"
rm -rf "$work/writer"

# --- 4. analyzer -------------------------------------------------------------------------------
say "4. analyzer full report against cat and jq"
# A user's group-by-name: streaming (constant memory) and slurping (the common one-liner).
jq_stream='reduce (inputs | select(.type == "span")) as $s ({};
    .[$s.name] |= {count: ((.count // 0) + 1), total_ns: ((.total_ns // 0) + $s.end_ns - $s.start_ns)})'
jq_slurp='map(select(.type == "span")) | group_by(.name)
    | map({name: .[0].name, count: length, total_ns: (map(.end_ns - .start_ns) | add)})'
{
    printf '%-10s %-34s %10s %14s %14s %12s\n' lines tool "wall (s)" "lines/s" "x analyzer" "peak (MB)"
    for spans in "${analyzer_sizes[@]}"; do
        file="$work/session-$spans.jsonl"
        if [[ ! -s $file ]]; then
            "$bin/examples/gen-session" "$spans" "$file.tmp" 7
            mv "$file.tmp" "$file"
        fi
        lines=$(wc -l <"$file")
        cat "$file" >/dev/null # warm the page cache: every tool reads from memory
        declare -A wall=() rss=()
        m=$(measure cat "$file")
        read -r "wall[cat]" "rss[cat]" <<<"$m"
        out="$results/report-$spans.txt"
        m=$(measure "$bin/perf-analyze" report "$file" --detailed)
        read -r "wall[report]" "rss[report]" <<<"$m"
        out=/dev/null
        m=$(measure jq -n "$jq_stream" "$file")
        read -r "wall[jq_stream]" "rss[jq_stream]" <<<"$m"
        tools=(cat report jq_stream)
        if ((spans <= 1000000)); then
            m=$(measure jq -s "$jq_slurp" "$file")
            read -r "wall[jq_slurp]" "rss[jq_slurp]" <<<"$m"
            tools+=(jq_slurp)
        fi
        for tool in "${tools[@]}"; do
            case $tool in
                cat) label="cat file > /dev/null" ;;
                report) label="perf-analyze report --detailed" ;;
                jq_stream) label="jq -n 'reduce inputs' by name" ;;
                jq_slurp) label="jq -s 'group_by(.name)'" ;;
            esac
            awk -v l="$lines" -v t="$label" -v w="${wall[$tool]}" -v r="${rss[$tool]}" -v a="${wall[report]}" \
                'BEGIN { printf "%-10d %-34s %10.2f %14.0f %14.2f %12.1f\n", l, t, w, l / w, w / a, r / 1000 }'
        done
        unset wall rss
    done
} | tee "$results/analyzer.txt"

# --- 5. agent-demo -------------------------------------------------------------------------------
say "5. agent-demo in sim mode, recorded and with --no-perf (hyperfine)"
demo="$bin/agent-demo"
logs="$work/demo-logs"
# The worst case: 60 turns with no model latency at all (--sim-speed 0).
turns="$work/turns-60.txt"
grep -v '^perf' agent-demo/scripts/dnd.txt | awk '{ a[NR] = $0 } END { for (i = 0; i < 60; i++) print a[i % NR + 1] }' >"$turns"
run_demo() { # name script sim-speed runs warmup
    hyperfine --style basic --runs "$4" --warmup "$5" --prepare "rm -rf $logs" \
        --export-json "$results/demo-$1.json" \
        -n recorded "$demo --guid bench --config dnd --llm sim --logs-dir $logs --sim-speed $3 < $2" \
        -n no-perf "$demo --guid bench --config dnd --llm sim --logs-dir $logs --sim-speed $3 --no-perf < $2" \
        >"$results/demo-$1.txt" 2>&1
}
run_demo dnd agent-demo/scripts/dnd.txt 1 "$demo_runs" 0
run_demo worst "$turns" 0 "$worst_runs" 1
{
    printf '%-44s %14s %14s %10s\n' session "recorded (s)" "no-perf (s)" overhead
    for case in dnd worst; do
        label="D&D script, --sim-speed 1 ($demo_runs runs)"
        [[ $case == worst ]] && label="60 turns, --sim-speed 0 ($worst_runs runs)"
        jq -r --arg name "$label" '
            (.results[] | select(.command == "recorded")) as $r
            | (.results[] | select(.command == "no-perf")) as $n
            | "\($name)\t\($r.median)\t\($r.stddev // 0)\t\($n.median)\t\($n.stddev // 0)"' \
            "$results/demo-$case.json" |
            awk -F'\t' '{ printf "%-44s %8.3f ±%.3f %8.3f ±%.3f %+9.2f%%\n", $1, $2, $3, $4, $5, ($2 / $4 - 1) * 100 }'
    done
} | tee "$results/demo.txt"

# --- 6. mini-redis ----------------------------------------------------------------------------
say "6. mini-redis server and 16 clients on loopback (perf-layer/examples/mini_redis.rs)"
"$bin/examples/mini_redis" "${redis_args[@]}" | tee "$results/mini-redis.txt"

# --- summary ---------------------------------------------------------------------------------
say "summary (raw outputs in $results)"
for part in machine overhead flood writer analyzer demo mini-redis; do
    echo "-- $part"
    cat "$results/$part.txt"
done >"$results/summary.txt"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) at the end" >>"$results/summary.txt"
cat "$results/summary.txt"
