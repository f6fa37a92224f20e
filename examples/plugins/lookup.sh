#!/bin/sh
# Resolves a host with the system resolver. The request on stdin carries
# the same arguments as JSON; this script reads argv, which is simpler.
set -eu
[ "${1-}" = "--" ] && shift
target=$1
# A target argument is an address, a CIDR or a host name: letters, digits,
# dots, colons, hyphens and a slash, so it needs no JSON escaping.
printf '{"progress": 0, "note": "resolving %s"}\n' "$target"
addresses=$(getent ahosts "$target" | cut -d' ' -f1 | sort -u | paste -sd ' ' -)
if [ -z "$addresses" ]; then
  printf '{"say": "%s does not resolve."}\n' "$target"
  exit 0
fi
printf '{"say": "%s resolves to:"}\n' "$target"
printf '{"code": "%s"}\n' "$addresses"
