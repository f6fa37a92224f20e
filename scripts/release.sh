#!/usr/bin/env bash
# Builds seipbot's release binaries: static (no cgo), stripped of build
# paths, version stamped, for linux/amd64 and linux/arm64, into dist/ with
# a SHA256SUMS file that `sha256sum -c` checks.
#
# Usage: scripts/release.sh [VERSION]   (default: git describe)
set -euo pipefail
cd "$(dirname "$0")/.."

version="${1:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}"
# The version lands in file names and in -ldflags, where a space or a
# quote would split or break the flag.
if [[ ! "$version" =~ ^[A-Za-z0-9._+-]+$ ]]; then
  echo "release.sh: version \"$version\" may hold only letters, digits and . _ + -" >&2
  exit 2
fi
platforms=(linux/amd64 linux/arm64)

rm -rf dist
mkdir -p dist
for p in "${platforms[@]}"; do
  os="${p%/*}" arch="${p#*/}"
  out="dist/seipbot-$version-$os-$arch"
  echo "building $out" >&2
  # -buildvcs=false: the version comes from the argument, and a build from
  # a tarball without .git must give the same binary.
  CGO_ENABLED=0 GOOS="$os" GOARCH="$arch" \
    go build -trimpath -buildvcs=false -ldflags "-s -w -X main.version=$version" -o "$out" ./cmd/seipbot
done
(cd dist && sha256sum seipbot-* > SHA256SUMS && sha256sum -c --quiet SHA256SUMS)
cat dist/SHA256SUMS
