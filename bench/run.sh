#!/usr/bin/env bash
# Runs every benchmark and prints one table, headed by a description of
# the machine: dispatch through `seipbot shell`, webhook alert ingestion,
# store operations (bolt, sealed bolt, and Redis when
# SEIPBOT_TEST_REDIS_URL is set and the Redis store exists), and the
# full-range port scan of 127.0.0.1 against nmap. docs/performance.md
# keeps the latest figures.
#
# Usage: bench/run.sh            (about four minutes)
# Each part's full output is kept in the folder printed at the end.
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp -d)
rows=()
row() { rows+=("$(printf '%-34s %s' "$1" "$2")"); }

echo "== machine"
{
  echo "date:    $(date -u '+%Y-%m-%d %H:%M UTC')"
  echo "cpu:     $(nproc) × $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
  echo "memory:  $(awk '/MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "kernel:  $(uname -sr)"
  echo "go:      $(go env GOVERSION)"
  echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) at the start"
} | tee "$out/machine.txt"

echo "== dispatch through seipbot shell (bench/shell-dispatch.sh 3)"
bench/shell-dispatch.sh 3 | tee "$out/dispatch.txt"
best=$(awk '$1 ~ /^[0-9]+$/ { if ($4 > m) m = $4 } END { print m }' "$out/dispatch.txt")
rss=$(awk '$1 ~ /^[0-9]+$/ { if ($5 > m) m = $5 } END { print m }' "$out/dispatch.txt")
first=$(awk '/first reply/ { print $(NF-1) }' "$out/dispatch.txt" | sort -n | head -n 1)
row "shell dispatch" "$best msgs/s (best of 3), peak RSS $rss MB, first reply $first ms"

echo "== webhook alert ingestion (go run ./bench/alerts)"
go run ./bench/alerts -duration 5s -rate 500 -backlog 20000 | tee "$out/alerts.txt"
row "webhook: sustained" "$(grep -o '([0-9]* alerts/s)' "$out/alerts.txt" | tr -d '()'), 64 clients"
row "webhook: accept latency" "$(grep -o 'p50 .*' "$out/alerts.txt" | cut -d, -f1-3) at 500/s"
row "webhook: 20k alerts waiting" "$(grep -o 'heap in use .*' "$out/alerts.txt")"

echo "== store operations"
pkgs=(./store/bolt ./store/sealed)
if [ -n "${SEIPBOT_TEST_REDIS_URL:-}" ] && [ -d store/redis ]; then
  pkgs+=(./store/redis)
fi
go test -run '^$' -bench '^Benchmark(Put|PutParallel|Get)$' -benchtime 2s "${pkgs[@]}" | tee "$out/store.txt"
awk '/^pkg:/ { split($2, p, "/"); name = p[length(p)] }
     /^Benchmark/ { sub(/-[0-9]+$/, "", $1); sub(/^Benchmark/, "", $1); printf "store %s %s\t%s ns/op\n", name, $1, $3 }' "$out/store.txt" > "$out/store-rows.txt"
while IFS=$'\t' read -r what fig; do row "$what" "$fig"; done < "$out/store-rows.txt"
if [ -z "${SEIPBOT_TEST_REDIS_URL:-}" ]; then row "store redis" "skipped: SEIPBOT_TEST_REDIS_URL is not set"; fi

echo "== port scan of 127.0.0.1, 1-65535 (bench/portscan.sh 1)"
bench/portscan.sh 1 | tee "$out/portscan.txt"
for e in builtin nmap; do
  row "port scan: $e" "$(awk -v e="$e" '$1 ~ "/" e "-[0-9]+$" { printf "%.2f s, %s open", $3 / 1e9, $5 }' "$out/portscan.txt")"
done

echo
echo "== summary"
cat "$out/machine.txt"
echo
printf '%-34s %s\n' benchmark result
printf '%s\n' "${rows[@]}"
echo
echo "full output: $out"
