#!/usr/bin/env bash
# Sets up (packages, npm ci, build) and runs the whole test suite. Needs root: tests attach loop devices.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
npx tsc -p tsconfig.json --noEmit
npm test
