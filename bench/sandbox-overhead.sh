#!/usr/bin/env bash
# What one sandbox costs (target: <= 0.2 s per check). Runs the same small check function N times in
# the sandbox and N times without it, alternately, and prints the median cost per call of each and
# their difference. Needs root (namespaces, bind mounts). Usage: sudo bash bench/sandbox-overhead.sh [N]
set -euo pipefail
cd "$(dirname "$0")/.."
n=${1:-20}
scratch=$(mktemp -d /var/tmp/snapdrill-bench.XXXXXX)
trap 'rm -rf "$scratch"' EXIT
mkdir -p "$scratch/data"
for i in $(seq 1 5); do printf 'row %s\n' "$i" >"$scratch/data/f$i"; done
export SNAPDRILL_CHECK=bench SNAPDRILL_TARGET=/dev/null SNAPDRILL_SCRATCH=$scratch
# shellcheck source=../checks/lib/common.sh
source checks/lib/common.sh
# A check-like body: resolve files inside the tree, read them, print facts.
probe() { local f; for f in "$1"/f*; do inside "$1" "$f" && fact read "$(json_str "$(head -c 100 "$f")")"; done; }
ms() { date +%s%N | cut -b1-13; }
with=() without=()
for i in $(seq 1 "$n"); do
  t0=$(ms); sandbox -w "$scratch/data" -- probe "$scratch/data" >/dev/null; t1=$(ms)
  probe "$scratch/data" >/dev/null; t2=$(ms)
  with+=($((t1 - t0))); without+=($((t2 - t1)))
done
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
mw=$(median "${with[@]}"); mo=$(median "${without[@]}")
echo "calls: $n each, alternating"
echo "median per call, sandboxed:   ${mw} ms (min $(printf '%s\n' "${with[@]}" | sort -n | head -1), max $(printf '%s\n' "${with[@]}" | sort -n | tail -1))"
echo "median per call, unsandboxed: ${mo} ms"
echo "sandbox cost per check:       $((mw - mo)) ms"
