#!/usr/bin/env bash
# What the sandbox costs a whole local run (target: at most 10% of the run). Verifies the filesystem and
# database fixture catalogs N times with this checkout and N times with BASE (default 2e029dc, the last
# revision before the sandbox: the same checks with their tools run as root or as the disk's owner),
# alternately, same machine, same run of this script. Prints each pair, the medians, their ratio, and
# whether the two gave the same verdicts. Needs root. Usage: sudo bash bench/sandbox-run.sh [N] [BASE]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
base=${2:-2e029dc}
fs=$(bash fixtures/build-fs.sh 2>/dev/null | tail -n 1)
db=$(bash fixtures/build-db.sh 2>/dev/null | tail -n 1)
work=$(mktemp -d /var/tmp/snapdrill-bench-sbx.XXXXXX)
# Traversable: the base revision runs engines as the data directory's owner, which must reach the copies.
chmod 0755 "$work"
cleanup() { git worktree remove --force "$work/base" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
git worktree add --detach "$work/base" "$base" >/dev/null 2>&1
ln -s "$(pwd)/node_modules" "$work/base/node_modules"
mkdir "$work/catalog"
ln -s "$fs"/*.img "$fs"/*.json "$db"/*.img "$db"/*.json "$work/catalog/"
rm -f "$work/catalog/manifest.json"
run() { # LABEL CHECKOUT: prints wall milliseconds
  local label=$1 dir=$2 t0 t1
  t0=$(date +%s%N)
  (cd "$dir" && node --import tsx src/bin.ts run --provider local --catalog "$work/catalog" --scratch-dir "$work/scratch-$label" \
    --state-dir "$work/state-$label" --out "$work/out-$label" --progress none --json >"$work/$label.json" 2>"$work/$label.err") || true
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
with=() without=()
for i in $(seq 1 "$n"); do
  with+=("$(run sandbox "$(pwd)")")
  without+=("$(run base "$work/base")")
  echo "pair $i: sandboxed ${with[-1]} ms, $base ${without[-1]} ms" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${with[@]}"); mo=$(median "${without[@]}")
verdicts() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(r.snapshots.map(s=>s.id+"="+s.consistency).sort().join("\n"))' "$1"; }
echo "snapshots: $(ls "$work/catalog"/*.img | wc -l); runs: $n each, alternating"
if diff <(verdicts "$work/sandbox.json") <(verdicts "$work/base.json") >"$work/verdicts.diff"; then echo "verdicts: the same"; else echo "verdicts that differ (sandbox < > $base):"; cat "$work/verdicts.diff"; fi
echo "median wall, sandboxed:  $((mw / 1000)).$(printf '%03d' $((mw % 1000))) s"
echo "median wall, $base: $((mo / 1000)).$(printf '%03d' $((mo % 1000))) s"
awk -v a="$mw" -v b="$mo" 'BEGIN { printf "sandbox cost: %+.1f%% of the run without it\n", (a - b) * 100 / b }'
