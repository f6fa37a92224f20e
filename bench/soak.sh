#!/usr/bin/env bash
# Two-minute soak: the shell in-process under a steady load of about 500
# lines a second, checking that goroutines, heap and RSS come back to
# their level after a warm-up, and that stopping the bot ends every
# goroutine it started. scripts/test.sh runs the same test for 20s.
#
# Usage: bench/soak.sh [duration]   (default 2m)
set -euo pipefail
cd "$(dirname "$0")/.."
SEIPBOT_SOAK=${1:-2m} go test -count=1 -timeout 15m -run '^TestSoak$' -v ./cmd/seipbot
