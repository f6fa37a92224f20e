# Sourced by scripts/test.sh (bash): makes sure the servers the integration
# tests need are installed, starts the ones the tests do not start
# themselves, records their process ids in the pids array, and exports
# their addresses.

# ensure_pkg installs a Debian package when its binary is missing, running
# apt-get update only when the install fails without it.
ensure_pkg() { # binary package
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$1" ] && return 0
  echo "== installing $2"
  if ! apt-get install -y "$2" >/dev/null 2>&1; then
    apt-get update >/dev/null 2>&1
    apt-get install -y "$2" >/dev/null
  fi
}

# ngIRCd: the IRC adapter's tests start and stop their own servers (on free
# loopback ports, with adapter/irc/testdata/ngircd.conf), since they
# restart the server mid-conversation and need one with flood throttling
# on; here it is only installed and named.
ensure_pkg ngircd ngircd
SEIPBOT_TEST_NGIRCD=$(command -v ngircd || echo /usr/sbin/ngircd)
export SEIPBOT_TEST_NGIRCD
