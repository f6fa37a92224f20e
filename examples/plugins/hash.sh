#!/bin/sh
# Prints the hash of a text. The arguments are data, never code: they are
# only ever expanded inside double quotes.
set -eu
[ "${1-}" = "--" ] && shift
algorithm=$1
text=$2
case "$algorithm" in
  sha256) sum=sha256sum ;;
  sha1) sum=sha1sum ;;
  md5) sum=md5sum ;;
  *) echo "unknown algorithm" >&2; exit 2 ;;
esac
printf '%s' "$text" | "$sum" | cut -d' ' -f1
