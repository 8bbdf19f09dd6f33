#!/usr/bin/env bash
# The demo: set up, build the fixture snapshot images (cached outside the repo), verify them all,
# and write the HTML, JSON and JUnit reports under reports/. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
catalog=$(bash fixtures/build-fs.sh)
echo "demo: verifying the fixture catalog $catalog" >&2
set +e
node bin/snapdrill.js run --provider local --catalog "$catalog" --out reports "$@"
code=$?
set -e
case $code in
  0 | 1)
    # The catalog holds corrupt, crash-consistent and unreadable images on purpose: exit 1 is the expected verdict.
    echo "demo: done (snapdrill exited $code; the fixtures include corrupt and unknown images on purpose)." >&2
    echo "demo: open $(pwd)/reports/latest/index.html" >&2
    ;;
  *) exit $code ;;
esac
