#!/usr/bin/env bash
# Runs the unit project and a CLI smoke test on each supported Node.js LTS line (22 and 24), besides the machine's
# own Node that runs the full suite. The binaries come from the npm registry's `node` package, cached outside the
# checkout (SNAPDRILL_NODE_CACHE, default /var/cache/snapdrill): fetched once, offline after that. A version that
# cannot be fetched fails the run, loudly: a silently skipped Node line would pass CI untested.
# Usage: scripts/node-lts.sh [MAJOR...]   (default: 22 24). Expects dist/ built (scripts/setup.sh does).
set -euo pipefail
cd "$(dirname "$0")/.."
cache=${SNAPDRILL_NODE_CACHE:-/var/cache/snapdrill}
majors=("$@")
[ ${#majors[@]} -gt 0 ] || majors=(22 24)

# node_bin MAJOR: print the path of a cached node of that major version, fetching it from the registry if needed.
node_bin() {
  local major=$1 dir="$cache/node$1" bin
  bin="$dir/node_modules/node/bin/node"
  if ! [ -x "$bin" ] || [ "$("$bin" -p 'process.versions.node.split(".")[0]' 2>/dev/null)" != "$major" ]; then
    echo "node-lts.sh: fetching node@$major from the npm registry into $dir" >&2
    mkdir -p "$dir"
    if ! npm install --prefix "$dir" --no-save --no-audit --no-fund --loglevel=error "node@$major" >&2; then
      echo "node-lts.sh: FAILED to fetch node@$major (npm install node@$major); Node $major is untested" >&2
      return 1
    fi
  fi
  [ "$("$bin" -p 'process.versions.node.split(".")[0]')" = "$major" ] || { echo "node-lts.sh: $bin is not Node $major" >&2; return 1; }
  printf '%s\n' "$bin"
}

# smoke NODE: the CLI's offline commands, from the built dist/, under that node.
smoke() {
  local node=$1 tmp out
  tmp=$(mktemp -d /tmp/snapdrill-node-smoke.XXXXXX)
  mkdir "$tmp/catalog"
  printf 'provider:\n  type: local\n  catalog: %s\n' "$tmp/catalog" >"$tmp/snapdrill.yaml"
  "$node" bin/snapdrill.js --help | grep -q 'snapdrill <command>'
  "$node" bin/snapdrill.js checks --json | "$node" -e 'const c = JSON.parse(require("fs").readFileSync(0, "utf8")); if (!c.some((x) => x.id === "discover")) process.exit(1)'
  "$node" bin/snapdrill.js validate "$tmp/snapdrill.yaml" >/dev/null
  out=$(printf "run-init: can't execute '/sbin/init': No such file or directory\nKernel panic - not syncing: No working init found.\n" | "$node" bin/snapdrill.js diagnose -)
  grep -q 'init-missing' <<<"$out"
  rm -rf "$tmp"
}

for major in "${majors[@]}"; do
  node=$(node_bin "$major")
  t0=$(date +%s)
  echo "== Node $("$node" --version): unit project and CLI smoke test" >&2
  # PATH first: vitest's and npm's `#!/usr/bin/env node` resolve to this node.
  PATH="$(dirname "$node"):$PATH" "$node" node_modules/vitest/vitest.mjs run --project unit --no-isolate --reporter=dot
  smoke "$node"
  echo "== Node $("$node" --version): passed in $(( $(date +%s) - t0 ))s" >&2
done
