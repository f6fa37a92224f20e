#!/usr/bin/env bash
# Makes sure the Dendrite Matrix homeserver binaries are built and prints
# the folder holding them. The Matrix adapter's tests run dendrite,
# generate-keys and generate-config from it, each test in its own
# temporary folder on a free loopback port.
#
# Dendrite is built from the Go module proxy, the one source of servers
# reachable here, into a cache outside the repository keyed by version, so
# a machine pays the build (5-6 minutes cold) once. Its SQLite driver is
# cgo, hence gcc.
#
# Usage: export SEIPBOT_TEST_DENDRITE=$(scripts/dendrite.sh)
set -euo pipefail
DENDRITE_VERSION=v0.13.8
dir="${SEIPBOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seipbot}/dendrite-$DENDRITE_VERSION"
tools=(dendrite generate-keys generate-config create-account)

built() {
  for t in "${tools[@]}"; do [ -x "$dir/$t" ] || return 1; done
}

if ! built; then
  if ! command -v gcc >/dev/null 2>&1; then
    echo "installing gcc (Dendrite's SQLite driver needs cgo)" >&2
    export DEBIAN_FRONTEND=noninteractive
    sudo_cmd=()
    [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
    if ! "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends gcc libc6-dev >&2; then
      "${sudo_cmd[@]}" apt-get update -qq >&2
      "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends gcc libc6-dev >&2
    fi
  fi
  echo "building dendrite $DENDRITE_VERSION into $dir (once per machine, a few minutes)" >&2
  mkdir -p "$dir"
  pkgs=()
  for t in "${tools[@]}"; do pkgs+=("github.com/matrix-org/dendrite/cmd/$t@$DENDRITE_VERSION"); done
  # Build in a scratch folder so the repository's go.mod is not involved;
  # -mod=mod lets go install resolve Dendrite's own module graph. CGO is
  # forced on because a caller building seipbot statically may export
  # CGO_ENABLED=0, which would leave Dendrite without SQLite.
  (cd "$(mktemp -d)" && CGO_ENABLED=1 GOFLAGS=-mod=mod GOBIN="$dir" go install "${pkgs[@]}") >&2
fi
echo "$dir"
