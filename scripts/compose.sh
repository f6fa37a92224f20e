#!/usr/bin/env bash
# Makes sure Debian's docker-compose is installed and prints its path. The
# deploy tests run `docker-compose config -q` with it to validate
# deploy/compose/docker-compose.yml; no Docker engine is needed for that.
#
# Usage: export SEIPBOT_TEST_COMPOSE=$(scripts/compose.sh)
set -euo pipefail
if ! command -v docker-compose >/dev/null 2>&1; then
  echo "installing docker-compose (Debian package)" >&2
  export DEBIAN_FRONTEND=noninteractive
  sudo_cmd=()
  [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -qq >&2
  "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends docker-compose >&2
fi
command -v docker-compose
