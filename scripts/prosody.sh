#!/usr/bin/env bash
# Makes Prosody (the XMPP server) available to the XMPP adapter's tests:
# installs the Debian package when it is missing and exports
# SEIPBOT_PROSODY, the path of the prosody binary (prosodyctl lies beside
# it). The tests start and stop their own servers on free loopback ports,
# with configuration from adapter/xmpp/testdata, so nothing runs here.
#
# Source it (scripts/test.sh does), or run it to check the installation.

prosody_setup() {
  if ! command -v prosody >/dev/null 2>&1; then
    echo "== installing prosody" >&2
    # A fresh machine's package lists may be stale or missing: update and
    # try again only if the first attempt fails.
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y prosody >/dev/null; then
      apt-get update >/dev/null &&
        DEBIAN_FRONTEND=noninteractive apt-get install -y prosody >/dev/null || return 1
    fi
  fi
  SEIPBOT_PROSODY=$(command -v prosody)
  export SEIPBOT_PROSODY
  echo "== prosody: $SEIPBOT_PROSODY ($(dpkg-query -W -f '${Version}' prosody 2>/dev/null || echo unknown version))" >&2
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
fi
prosody_setup
