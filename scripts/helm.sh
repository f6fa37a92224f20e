#!/usr/bin/env bash
# Makes sure helm is built and prints its path. The deploy tests run
# `helm lint` and `helm template` with it on deploy/helm/seipbot.
#
# helm is built from the Go module proxy, the one source of tools reachable
# here, into a cache outside the repository keyed by version, so it is
# built once per machine (a few minutes) and reused after that.
#
# Usage: export SEIPBOT_TEST_HELM=$(scripts/helm.sh)
set -euo pipefail
HELM_VERSION=v3.19.0
dir="${SEIPBOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seipbot}/helm-$HELM_VERSION"
if [ ! -x "$dir/helm" ]; then
  echo "building helm $HELM_VERSION into $dir (once per machine)" >&2
  mkdir -p "$dir"
  # Build in a scratch folder so the repository's go.mod is not involved;
  # -mod=mod lets go install resolve helm's own module graph.
  (cd "$(mktemp -d)" && GOFLAGS=-mod=mod GOBIN="$dir" go install "helm.sh/helm/v3/cmd/helm@$HELM_VERSION") >&2
fi
echo "$dir/helm"
