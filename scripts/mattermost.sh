#!/usr/bin/env bash
# Makes sure a Mattermost server and PostgreSQL are ready for the Mattermost
# adapter's tests, and exports where they are:
#
#   SEIPBOT_TEST_MATTERMOST     folder with the mattermost binary and its
#                               i18n/, templates/ and fonts/
#   SEIPBOT_TEST_MATTERMOST_DB  PostgreSQL URL without a database name, for
#                               the role mmuser, which may create databases
#
# The tests start their own server on a free loopback port with a fresh
# database and drop it afterwards; this script only provides the pieces.
#
# The server is built from the Go module proxy (the one source reachable
# here) through the wrapper module in scripts/mattermost-build/, into a
# cache outside the repository keyed by version: the first build on a
# machine takes 5 to 10 minutes, later runs reuse it.
#
# Usage: . scripts/mattermost.sh            (from scripts/services.sh)
#    or: eval "$(scripts/mattermost.sh)"

mattermost_setup() {
  local version=v8.0.0-20260113162330-9e1d4c2072c0 # Mattermost 11.4
  local root
  root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
  local dir="${SEIPBOT_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/seipbot}/mattermost-$version"

  if [ ! -x "$dir/mattermost" ]; then
    echo "== building Mattermost $version into $dir (once per machine, 5-10 minutes)" >&2
    mkdir -p "$dir"
    # The module's go.mod has a replace directive, so it cannot be built
    # with go install @version; the wrapper module repeats that replace.
    # It is built in a scratch copy, as go may rewrite go.mod and go.sum.
    local build
    build=$(mktemp -d)
    cp "$root"/scripts/mattermost-build/* "$build"/
    (
      cd "$build" &&
        GONOSUMDB=github.com/mattermost GOFLAGS=-mod=mod go build -o "$dir/mattermost.part" \
          github.com/mattermost/mattermost/server/v8/cmd/mattermost &&
        src=$(GOFLAGS=-mod=mod go list -m -f '{{.Dir}}' github.com/mattermost/mattermost/server/v8) &&
        for d in i18n templates fonts; do
          { rm -rf "${dir:?}/$d" && cp -r "$src/$d" "$dir/$d" && chmod -R u+w "$dir/$d"; } || exit 1
        done
    ) >&2 || { rm -rf "$build"; return 1; }
    rm -rf "$build"
    # Renamed last, so an interrupted build is never taken for a finished one.
    mv "$dir/mattermost.part" "$dir/mattermost"
  fi

  # PostgreSQL on 127.0.0.1:5432: already running on go-svc machines;
  # elsewhere installed and its cluster started.
  if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
    if [ -f "$root/scripts/pkg.sh" ]; then
      # shellcheck source=scripts/pkg.sh
      . "$root/scripts/pkg.sh"
    fi
    ensure_pkg pg_ctlcluster postgresql >&2
    local cluster
    cluster=$(pg_lsclusters --no-header | awk '{print $1" "$2; exit}')
    if [ -z "$cluster" ]; then
      # shellcheck disable=SC2046
      pg_createcluster $(ls /usr/lib/postgresql | sort -V | tail -1) main >&2
      cluster=$(pg_lsclusters --no-header | awk '{print $1" "$2; exit}')
    fi
    # shellcheck disable=SC2086
    pg_ctlcluster $cluster start >&2
    local i
    for i in $(seq 50); do
      pg_isready -q -h 127.0.0.1 -p 5432 && break
      sleep 0.2
    done
    pg_isready -q -h 127.0.0.1 -p 5432 || { echo "PostgreSQL did not start on 127.0.0.1:5432" >&2; return 1; }
  fi

  # The role and its database, created once: as the postgres superuser over
  # loopback where trust is set, else over the local socket as user postgres.
  local sql="DO \$\$ BEGIN
    IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'mmuser') THEN
      CREATE ROLE mmuser LOGIN CREATEDB PASSWORD 'mmpass';
    END IF;
  END \$\$;"
  if psql -h 127.0.0.1 -U postgres -d postgres -Atqc 'select 1' >/dev/null 2>&1; then
    psql -h 127.0.0.1 -U postgres -d postgres -qc "$sql" >/dev/null
  else
    (cd / && runuser -u postgres -- psql -d postgres -qc "$sql") >/dev/null
  fi
  local db=postgres://mmuser:mmpass@127.0.0.1:5432
  if [ -z "$(psql "$db/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = 'mattermost'")" ]; then
    psql "$db/postgres" -qc 'CREATE DATABASE mattermost' >/dev/null
  fi

  SEIPBOT_TEST_MATTERMOST=$dir
  SEIPBOT_TEST_MATTERMOST_DB=$db
  export SEIPBOT_TEST_MATTERMOST SEIPBOT_TEST_MATTERMOST_DB
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  mattermost_setup
  printf 'export SEIPBOT_TEST_MATTERMOST=%q\nexport SEIPBOT_TEST_MATTERMOST_DB=%q\n' \
    "$SEIPBOT_TEST_MATTERMOST" "$SEIPBOT_TEST_MATTERMOST_DB"
else
  mattermost_setup
fi
