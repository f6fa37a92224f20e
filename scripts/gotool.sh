#!/usr/bin/env bash
# Makes sure a Go tool is built at an exact version and prints its path.
#
# Tools are built from the Go module proxy, the one source of tools
# reachable here, into a cache outside the repository keyed by name and
# version, so each is built once per machine and reused after that. The
# build runs in a scratch folder so the repository's go.mod is not
# involved; -mod=mod lets go install resolve the tool's own module graph.
#
# Usage: scripts/gotool.sh NAME PACKAGE VERSION
set -euo pipefail
name=$1 pkg=$2 version=$3
dir="${SEIPBOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seipbot}/$name-$version"
if [ ! -x "$dir/$name" ]; then
  echo "building $name $version into $dir (once per machine)" >&2
  mkdir -p "$dir"
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod GOBIN="$dir" go install "$pkg@$version") >&2
fi
echo "$dir/$name"
