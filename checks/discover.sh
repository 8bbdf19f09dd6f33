#!/usr/bin/env bash
# ---
# id: discover
# title: Partitions and filesystems
# description: >
#   Probes the restored volume with blkid (low-level, no cache) and lists its partitions, so each
#   filesystem can be checked by the check that knows its type.
# stage: discover
# needs: [blkid, blockdev, lsblk]
# packages: {debian: [util-linux], al2023: [util-linux]}
# timeout: 2m
# mutates: false
# facts:
#   device: {$ref: fact.schema.json#/definitions/probe}
#   partition: {$ref: fact.schema.json#/definitions/probe}
# ---

# probe DEV: blkid's low-level probe as a JSON object of its KEY=VALUE lines, plus its exit code.
probe() {
  local out rc line first=1 json='{'
  out=$(blkid -p -o export "$1" 2>/dev/null)
  rc=$?
  while IFS= read -r line; do
    [ -n "$line" ] || continue
    case "$line" in *=*) ;; *) continue ;; esac
    [ $first -eq 1 ] || json+=','
    first=0
    json+="$(json_str "${line%%=*}"):$(json_str "${line#*=}")"
  done <<<"$out"
  json+='}'
  printf '{"blkidExit":%d,"probe":%s}' "$rc" "$json"
}

dev=$SNAPDRILL_TARGET
[ -b "$dev" ] || skip "not a block device: $dev" "attach the restored volume first"
size=$(blockdev --getsize64 "$dev" 2>/dev/null || echo 0)
fact device "{\"device\":$(json_str "$dev"),\"size\":$size,\"result\":$(probe "$dev")}"

# Partitions as the kernel (or partx) exposes them; lsblk reads sysfs, so no udev is needed.
while IFS= read -r part; do
  [ -n "$part" ] && [ "$part" != "$dev" ] || continue
  psize=$(blockdev --getsize64 "$part" 2>/dev/null || echo 0)
  fact partition "{\"device\":$(json_str "$part"),\"size\":$psize,\"result\":$(probe "$part")}"
done < <(lsblk -lnpo NAME "$dev" 2>/dev/null)
