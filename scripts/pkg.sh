# Sourced by the test and benchmark scripts (bash).

# ensure_pkg installs a Debian package when its binary is missing, running
# apt-get update only when the install fails without it.
ensure_pkg() { # binary package
  command -v "$1" >/dev/null 2>&1 && return 0
  [ -x "/usr/sbin/$1" ] && return 0
  echo "== installing $2"
  if ! apt-get install -y -qq "$2" >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1
    apt-get install -y -qq "$2" >/dev/null
  fi
}
