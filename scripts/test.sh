#!/usr/bin/env bash
# Sets up (packages, npm ci, build) and runs the whole test suite. Needs root: tests attach loop devices.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=as-root.sh
source scripts/as-root.sh
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
results=$(mktemp /tmp/snapdrill-vitest.XXXXXX.json)
trap 'rm -f "$results"' EXIT
set +e
npx vitest run --reporter=default --reporter=json --outputFile="$results"
code=$?
# The supported LTS lines besides this machine's Node: unit project and CLI smoke test on Node 22 and 24 (about 1 min).
bash scripts/node-lts.sh 22 24
lts=$?
set -e
[ $code -ne 0 ] || code=$lts
# One plain closing line that any CI can read, whatever the runner printed above it.
node -e 'const r = require(process.argv[1]); console.log(`${r.numPassedTests} passed, ${r.numFailedTests} failed` + (r.numPendingTests ? `, ${r.numPendingTests} skipped` : "") + (process.argv[2] === "0" ? "; Node 22 and 24: passed" : "; Node 22 and 24: FAILED"))' "$results" "$lts" || true
exit $code
