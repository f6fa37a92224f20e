#!/usr/bin/env bash
# Full-range TCP connect scan of 127.0.0.1 (ports 1-65535): the built-in
# engine against nmap -sT -p-, in the same run. The benchmark fails if the
# two disagree on the open ports, and logs the ports both found.
#
# Usage: bench/portscan.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=/dev/null
. scripts/pkg.sh
ensure_pkg nmap nmap
go test -run '^$' -bench LoopbackFullRange -benchtime "${1:-3}x" -v ./scan/nmap
