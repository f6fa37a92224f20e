#!/usr/bin/env bash
# Runs seipbot's whole test suite. It starts every server the integration
# tests talk to (installing it first on a machine that lacks it), on
# loopback, in a temporary folder, and stops them when done.
#
# Usage: scripts/test.sh [go test flags…]
set -euo pipefail
cd "$(dirname "$0")/.."

export SEIPBOT_TEST_RUN=$(mktemp -d)
pids=()
cleanup() {
  for p in "${pids[@]:-}"; do [ -n "$p" ] && kill "$p" 2>/dev/null || true; done
  rm -rf "$SEIPBOT_TEST_RUN"
}
trap cleanup EXIT

# Services are started by scripts/services.sh, which exports their
# addresses for the tests and records their process ids.
if [ -f scripts/services.sh ]; then
  # shellcheck source=/dev/null
  . scripts/services.sh
fi

echo "== go vet"
go vet ./...
echo "== go test"
# TestSoak in cmd/seipbot runs only with a duration; bench/soak.sh gives it
# two minutes.
export SEIPBOT_SOAK=${SEIPBOT_SOAK:-20s}
go test -count=1 "$@" ./...
echo "== go test -race (engine, stores, scheduler, access, audit, alerts, webhooks, jobs)"
go test -count=1 -race ./bot/... ./store/... ./schedule/... ./access/... ./audit/... ./alert/... ./ingest/... ./jobs/...
echo "== staticcheck"
# v0.7.0 is staticcheck 2026.1, the first release that reads Go 1.26.
"$(scripts/gotool.sh staticcheck honnef.co/go/tools/cmd/staticcheck v0.7.0)" ./...
echo "== dependencies"
scripts/deps.sh
# Each fuzz target for a few seconds: long enough to replay the seeds and
# catch a shallow regression, short enough for CI. scripts/fuzz.sh 60 is
# the longer run to do before a release.
if [ -n "${CI:-}" ] || [ -n "${SEIPBOT_FUZZ_SECONDS:-}" ]; then
  echo "== fuzz"
  scripts/fuzz.sh "${SEIPBOT_FUZZ_SECONDS:-3}"
fi
