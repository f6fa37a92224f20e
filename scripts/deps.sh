#!/usr/bin/env bash
# Dependency review: the module cache matches go.sum, and every direct
# dependency in go.mod, at its version, is listed in docs/dependencies.md
# with its licence.
set -euo pipefail
cd "$(dirname "$0")/.."
go mod verify
missing=0
while read -r path version; do
  if ! grep -qF "| \`$path\` | $version |" docs/dependencies.md; then
    echo "docs/dependencies.md does not list $path $version: add a row with its licence" >&2
    missing=1
  fi
done < <(go list -m -f '{{if not (or .Indirect .Main)}}{{.Path}} {{.Version}}{{end}}' all)
exit $missing
