#!/usr/bin/env bash
# ---
# id: xfs
# title: XFS log state and xfs_repair
# description: >
#   Reads the log with xfs_logprint -t and summarises what it holds (only superblock records, as a
#   freeze or an idle log cover writes, or real metadata transactions), replays a dirty log by
#   mounting the scratch copy read-write with nouuid and unmounting it, then runs xfs_repair -n.
#   xfs_repair -n on a dirty log exits 1 with an ALERT about the log: that is expected, not corruption.
# stage: filesystem
# appliesTo: {fstype: [xfs]}
# needs: [xfs_logprint, xfs_repair, mount, umount]
# packages: {debian: [xfsprogs], al2023: [xfsprogs]}
# timeout: 10m
# mutates: true
# facts:
#   log:
#     type: object
#     required: [exitCode, summary, output]
#     properties:
#       exitCode: {type: integer}
#       output: {type: string}
#       summary:
#         type: object
#         required: [state, transactions, items]
#         properties: {state: {type: string}, tail: {type: string}, head: {type: string}, transactions: {type: integer}, items: {type: object, additionalProperties: {type: integer}}}
#   replay: {type: object, required: [command, exitCode, umountExitCode, output], properties: {command: {type: string}, exitCode: {type: integer}, umountExitCode: {type: integer}, output: {type: string}}}
#   repair: {$ref: fact.schema.json#/definitions/toolRun}
# ---
dev=$SNAPDRILL_TARGET

lp=$(xfs_logprint -t "$dev" 2>&1)
rc=$?
# Summarise the transaction listing: per item kind, how many; buffer items by what they hold.
summary=$(printf '%s\n' "$lp" | awk '
  /log tail: .* head: .* state:/ { for (i = 1; i <= NF; i++) { if ($i == "tail:") tail = $(i+1); if ($i == "head:") head = $(i+1); if ($i == "state:") state = $(i+1) } }
  /^TRANS:/ { trans++ ; next }
  /^BUF:/ { inbuf = 1; next }
  inbuf && /^\tBUF:/ { next }
  inbuf && /^\t/ {
    kind = "BUF/other"
    if ($0 ~ /SUPER Block Buffer/) kind = "BUF/superblock"
    else if ($0 ~ /AGI Buffer/) kind = "BUF/agi"
    else if ($0 ~ /AGF Buffer/) kind = "BUF/agf"
    else if ($0 ~ /AGFL Buffer/) kind = "BUF/agfl"
    else if ($0 ~ /BUF DATA/) kind = "BUF/data"
    items[kind]++; inbuf = 0; next
  }
  /^[A-Z][A-Z_]*:/ && !/^LOG REC/ { inbuf = 0; split($0, a, ":"); items[a[1]]++ }
  END {
    gsub(/[<>]/, "", state)
    printf "{\"state\":\"%s\",\"tail\":\"%s\",\"head\":\"%s\",\"transactions\":%d,\"items\":{", state, tail, head, trans
    n = 0; for (k in items) { printf "%s\"%s\":%d", (n++ ? "," : ""), k, items[k] }
    printf "}}"
  }')
fact log "{\"exitCode\":$rc,\"summary\":$summary,\"output\":$(json_str "$(printf '%s' "$lp" | head -n 40 | excerpt)")}"
[ $rc -eq 0 ] || exit 0

if printf '%s\n' "$lp" | grep -q 'state: <DIRTY>'; then
  # Mounting replays the log; nouuid because a restored copy may share its UUID with a mounted filesystem.
  mnt=$(scratch_dir "replay") || exit 1
  out=$(mount -t xfs -o nouuid,nosuid,nodev,noexec "$dev" "$mnt" 2>&1)
  mrc=$?
  if [ $mrc -eq 0 ]; then
    out+=$(umount "$mnt" 2>&1)
    urc=$?
  else
    urc=0
  fi
  rmdir "$mnt" 2>/dev/null
  fact replay "{\"command\":\"mount -t xfs -o nouuid,nosuid,nodev,noexec; umount\",\"exitCode\":$mrc,\"umountExitCode\":$urc,\"output\":$(json_str "$(printf '%s' "$out" | excerpt)")}"
  [ $mrc -eq 0 ] || exit 0
fi
fact_run repair xfs_repair -n "$dev"
exit 0
