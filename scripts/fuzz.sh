#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a while each. A target that
# fails leaves its input under the package's testdata/fuzz/<target>/, where
# `go test` replays it from then on: commit it with the fix.
#
# Usage: scripts/fuzz.sh [seconds per target]   (default 10)
set -euo pipefail
cd "$(dirname "$0")/.."
secs=${1:-10}

# go test -list prints a package's matching tests, then "ok <package>".
targets=()
while read -r first second _; do
  case $first in
    Fuzz*) names+=("$first") ;;
    ok)
      for n in "${names[@]:-}"; do [ -n "$n" ] && targets+=("$second $n"); done
      names=()
      ;;
  esac
done < <(names=(); go test -list '^Fuzz' ./...)

echo "== fuzzing ${#targets[@]} targets, ${secs}s each"
failed=0
for t in "${targets[@]}"; do
  read -r pkg name <<< "$t"
  start=$(date +%s)
  # Minimizing a new input is capped: uncapped, one slow minimization can
  # take the whole budget without fuzzing anything.
  fuzz() { go test -run '^$' -fuzz "^${name}\$" -fuzztime "$1" -fuzzminimizetime 2s "$pkg" 2>&1; }
  out=$(fuzz "${secs}s") && ok=1 || ok=0
  # On a busy machine the time can run out while the engine is still
  # setting up its workers or measuring the seed corpus; Go then reports
  # "context deadline exceeded" without a failing input. That target gets
  # once more, with three times the time.
  if [ $ok = 0 ] && grep -q 'context deadline exceeded' <<< "$out" && ! grep -q 'Failing input written' <<< "$out"; then
    out=$(fuzz "$((3 * secs))s") && ok=1 || ok=0
  fi
  if [ $ok = 1 ]; then
    execs=$(grep -o "execs: [0-9]*" <<< "$out" | tail -n 1 | cut -d" " -f2 || true)
    printf '%-50s %-22s ok   %10s execs %4ss\n' "$pkg" "$name" "${execs:-?}" $(( $(date +%s) - start ))
  else
    failed=1
    printf '%-50s %-22s FAIL\n' "$pkg" "$name"
    echo "$out" | grep -v '^fuzz: elapsed' | sed 's/^/    /'
  fi
done
exit $failed
