#!/usr/bin/env bash
# What the sandbox costs a whole local run (target: at most 10% of the run): the filesystem and database
# fixture catalogs verified N times with the sandbox and N times without it (SNAPDRILL_UNSAFE_NO_SANDBOX=1,
# honoured for this measurement only), alternately, same machine, same run of this script. Prints each
# wall time, the medians and their ratio, and the sandboxed checks' count. Needs root.
# Usage: sudo bash bench/sandbox-run.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-3}
fs=$(bash fixtures/build-fs.sh 2>/dev/null | tail -n 1)
db=$(bash fixtures/build-db.sh 2>/dev/null | tail -n 1)
work=$(mktemp -d /var/tmp/snapdrill-bench-sbx.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir "$work/catalog"
ln -s "$fs"/*.img "$fs"/*.json "$db"/*.img "$db"/*.json "$work/catalog/"
rm -f "$work/catalog/manifest.json"
run() { # label env...
  local label=$1 t0 t1
  shift
  t0=$(date +%s%N)
  env "$@" node --import tsx src/bin.ts run --provider local --catalog "$work/catalog" --scratch-dir "$work/scratch" --state-dir "$work/state" --out "$work/out" --progress none --json >"$work/$label.json" 2>"$work/$label.err" || true
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 1000000 ))
}
with=() without=()
for i in $(seq 1 "$n"); do
  with+=("$(run with SNAPDRILL_BENCH=1)")
  without+=("$(run without SNAPDRILL_UNSAFE_NO_SANDBOX=1)")
  echo "pair $i: sandboxed ${with[-1]} ms, unsandboxed ${without[-1]} ms" >&2
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${with[@]}"); mo=$(median "${without[@]}")
snaps=$(ls "$work/catalog"/*.img | wc -l)
verdicts() { node -e 'const r=JSON.parse(require("fs").readFileSync(process.argv[1],"utf8")); console.log(r.snapshots.map(s=>s.id+"="+s.consistency).sort().join(" "))' "$1"; }
same=no; [ "$(verdicts "$work/with.json")" = "$(verdicts "$work/without.json")" ] && same=yes
echo "snapshots: $snaps; runs: $n each, alternating; same verdicts with and without: $same"
echo "median wall, sandboxed:   $((mw / 1000)).$(printf '%03d' $((mw % 1000))) s"
echo "median wall, unsandboxed: $((mo / 1000)).$(printf '%03d' $((mo % 1000))) s"
awk -v a="$mw" -v b="$mo" 'BEGIN { printf "sandbox cost: %.1f%% of the unsandboxed run\n", (a - b) * 100 / b }'
