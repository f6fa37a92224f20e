#!/usr/bin/env bash
# Makes sure helm is built and prints its path. The deploy tests run
# `helm lint` and `helm template` with it on deploy/helm/seipbot. The
# first build takes a few minutes.
#
# Usage: export SEIPBOT_TEST_HELM=$(scripts/helm.sh)
set -euo pipefail
exec "$(dirname "$0")/gotool.sh" helm helm.sh/helm/v3/cmd/helm v3.19.0
