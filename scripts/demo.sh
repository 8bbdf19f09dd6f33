#!/usr/bin/env bash
# The demo: set up, build the fixture snapshot images (filesystems, databases, and a bootable Debian
# disk with broken variants; cached outside the repo), verify them all with a config that adds data
# canaries and boot tests (QEMU), and write the HTML, JSON and JUnit reports under reports/. Needs root.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=as-root.sh
source scripts/as-root.sh
bash scripts/setup.sh
fs=$(bash fixtures/build-fs.sh)
db=$(bash fixtures/build-db.sh)
boot=$(bash fixtures/build-boot.sh)

# One catalog of symlinks to both fixture sets, and a config that uses it.
demo=/var/tmp/snapdrill-demo
rm -rf "$demo/catalog" && mkdir -p "$demo/catalog"
ln -s "$fs"/* "$db"/* "$demo/catalog/"
ln -s "$boot"/*.img "$boot"/*.json "$demo/catalog/"
rm -f "$demo/catalog/manifest.json"
cat >"$demo/snapdrill.yaml" <<YAML
\$schema: $(pwd)/schemas/config.schema.json
provider: {type: local, catalog: $demo/catalog}
output: {dir: $(pwd)/reports}
policy:
  minimum: crash-consistent
  rules:
    # Databases must come back without crash recovery; other volumes may be crash-consistent.
    - {match: {tags: {role: db}}, minimum: application-consistent}
databases:
  canaries:
    - {name: orders are fresh (RPO 26h), engine: postgresql, database: shop, query: "select max(created_at) from orders", freshWithin: 26h}
    - {name: orders are fresh (RPO 26h), engine: mariadb, database: shop, query: "select max(created_at) from orders", freshWithin: 26h}
    - {name: orders came back, engine: sqlite, path: /srv/app/data/app.db, query: "select count(*) from orders", atLeast: 1}
# Every snapshot holding a root filesystem is linted, then booted under QEMU (software emulation here).
boot: {enabled: true, maxConcurrent: 2, timeout: 4m, memory: 512}
YAML
echo "demo: verifying $(ls "$demo/catalog" | grep -c '\.img$') fixture snapshots with $demo/snapdrill.yaml" >&2
set +e
node bin/snapdrill.js run -c "$demo/snapdrill.yaml" "$@"
code=$?
set -e
case $code in
  0 | 1)
    # The catalog holds corrupt, crash-consistent, stale and unreadable images on purpose: exit 1 is the expected verdict.
    echo "demo: done (snapdrill exited $code; the fixtures include corrupt, stale, unknown and unbootable images on purpose)." >&2
    echo "demo: open $(pwd)/reports/latest/index.html" >&2
    ;;
  *) exit $code ;;
esac
