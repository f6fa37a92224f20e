#!/usr/bin/env bash
# End-to-end dispatch benchmark: pipes a generated workload through
# `seipbot shell --room bench` and reports messages per second, the time from
# start to the first reply, and peak memory.
#
# Workload: a configuration with 99 canned commands and 100 case-insensitive
# hear rules, and 40,000 lines: 20,000 "seipbot ping" and 20,000 lines of
# chatter, half of them addressed to the bot.
#
# Usage: bench/shell-dispatch.sh [runs]   (default 3)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# Built as the release image builds it: static, without cgo.
CGO_ENABLED=0 go build -trimpath -o "$work/seipbot" ./cmd/seipbot

{
  echo "rate_limit: {per_minute: 0}"
  echo "log: {level: error}"
  echo "commands:"
  for i in $(seq 0 98); do
    printf '  - command: runbook svc%d\n    reply: "Runbook for svc%d: https://wiki.example/svc%d"\n' "$i" "$i" "$i"
  done
  echo "hears:"
  for i in $(seq 0 49); do
    printf "  - pattern: '(?i)\\\\binc-%d:(\\\\d+)\\\\b'\n    reply: \"Incident %d-{{index .Match 1}}\"\n" "$i" "$i"
    printf "  - pattern: '(?i)https?://svc-%d\\\\.example\\\\.com/(\\\\S+)'\n    reply: \"svc-%d path {{index .Match 1}}\"\n" "$i" "$i"
  done
} > "$work/bench.yaml"

awk 'BEGIN {
  n = split("the deploy went out fine|anyone looking at the alert queue|lunch at noon?|I think the WAF rule is too strict|rotating keys tomorrow morning|see inc-7:4411 for context|logs: https://svc-4.example.com/logs/today|can you check the grafana board|merged the hardening PR|who has the pager this week", chatter, "|")
  for (i = 0; i < 20000; i++) {
    print "seipbot ping"
    line = chatter[(i % n) + 1]
    if (i % 2) print "seipbot " line; else print line
  }
}' > "$work/input.txt"

export SEIPBOT_SECRET_KEY=$("$work/seipbot" keygen)
lines=$(wc -l < "$work/input.txt")

# Start-up to first reply: one line in, time until the answer is out.
first_reply_ms() {
  local d; d=$(mktemp -d -p "$work")
  local start end
  start=$(date +%s%N)
  echo "seipbot ping" | "$work/seipbot" shell --room bench --data-dir "$d" --config "$work/bench.yaml" | head -n 1 > /dev/null
  end=$(date +%s%N)
  echo $(( (end - start) / 1000000 ))
}

printf '%-6s %12s %10s %12s %14s\n' run lines seconds "msgs/s" "peak RSS (MB)"
for r in $(seq 1 "$runs"); do
  d=$(mktemp -d -p "$work")
  start=$(date +%s%N)
  /usr/bin/time -f '%M' -o "$work/time.txt" \
    "$work/seipbot" shell --room bench --data-dir "$d" --config "$work/bench.yaml" < "$work/input.txt" > "$work/out.txt"
  end=$(date +%s%N)
  secs=$(awk -v ns=$((end - start)) 'BEGIN { printf "%.3f", ns / 1e9 }')
  read -r kb < "$work/time.txt"
  replies=$(wc -l < "$work/out.txt")
  rate=$(awk -v l="$lines" -v s="$secs" 'BEGIN { if (s <= 0) s = 0.01; printf "%d", l / s }')
  printf '%-6s %12s %10s %12s %14.1f\n' "$r" "$lines" "$secs" "$rate" "$(awk -v k="$kb" 'BEGIN { print k / 1024 }')"
done
echo "replies per run: $replies (expected: 20000 pongs + answers to addressed chatter + hear matches)"
for r in 1 2 3; do echo "start-up to first reply: $(first_reply_ms) ms"; done
