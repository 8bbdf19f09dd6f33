#!/usr/bin/env bash
# ---
# id: ext4
# title: ext4 journal state and fsck
# description: >
#   Reads the superblock (needs_recovery, journal start), replays the journal on the scratch copy
#   when one is pending, then runs a forced read-only e2fsck. Running e2fsck -fn before replay is a
#   trap: it skips recovery, reports bogus count errors and exits 0.
# stage: filesystem
# appliesTo: {fstype: [ext4, ext3, ext2]}
# needs: [dumpe2fs, e2fsck]
# packages: {debian: [e2fsprogs], al2023: [e2fsprogs]}
# timeout: 10m
# mutates: true
# facts:
#   superblock: {type: object, required: [exitCode, lines], properties: {exitCode: {type: integer}, lines: {type: string}}}
#   replay: {$ref: fact.schema.json#/definitions/toolRun}
#   fsck: {$ref: fact.schema.json#/definitions/toolRun}
# ---
dev=$SNAPDRILL_TARGET

sb=$(dumpe2fs -h "$dev" 2>&1)
rc=$?
keep=$(printf '%s\n' "$sb" | grep -E '^(Filesystem volume name|Filesystem UUID|Filesystem features|Filesystem state|Errors behavior|Filesystem created|Last mount time|Last write time|Mount count|Last checked|Journal features|Journal start|Journal sequence|Block count|Free blocks|Block size):')
[ $rc -eq 0 ] || keep=$(printf '%s' "$sb" | excerpt)
fact superblock "{\"exitCode\":$rc,\"lines\":$(json_str "$keep")}"
[ $rc -eq 0 ] || exit 0

if printf '%s\n' "$sb" | grep -E '^Filesystem features:' | grep -qw needs_recovery; then
  # Replay only the journal, on the scratch copy; exit 0 when it replayed cleanly.
  fact_run replay e2fsck -y -E journal_only "$dev"
fi
fact_run fsck e2fsck -fn "$dev"
exit 0
