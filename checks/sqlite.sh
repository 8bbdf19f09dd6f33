#!/usr/bin/env bash
# ---
# id: sqlite
# title: SQLite journal/WAL state and integrity_check
# description: >
#   Reads the database header, a -journal sibling (hot journal: magic d9d505f920a163d7 and its
#   record count) and a -wal sibling (magic 0x377f0682/3, frame count) before anything opens the
#   file, then opens the scratch copy (which rolls back a hot journal or replays WAL frames), runs
#   PRAGMA integrity_check (only exactly "ok" passes: the CLI exits 0 on corruption) and the
#   configured canary queries.
# stage: database
# appliesTo: {engine: [sqlite]}
# needs: [sqlite3, od, stat]
# packages: {debian: [sqlite3], al2023: [sqlite]}
# timeout: 15m
# mutates: true
# facts: [files, integrity, canary, after]
# ---
mnt=$(fs_mount) || skip "cannot mount the filesystem holding the database" "check the filesystem findings"
db="$mnt$SNAPDRILL_DBPATH"
[ -f "$db" ] || skip "no file at $SNAPDRILL_DBPATH" "check the configured path"
hex() { od -An -tx1 -v -j "$2" -N "$3" "$1" 2>/dev/null | tr -d ' \n'; }
size() { stat -c %s "$1" 2>/dev/null || echo -1; }

jinfo=null
if [ -e "$db-journal" ]; then jinfo="{\"size\":$(size "$db-journal"),\"head\":\"$(hex "$db-journal" 0 28)\"}"; fi
winfo=null
if [ -e "$db-wal" ]; then winfo="{\"size\":$(size "$db-wal"),\"head\":\"$(hex "$db-wal" 0 32)\"}"; fi
fact files "{\"size\":$(size "$db"),\"header\":\"$(hex "$db" 0 100)\",\"journal\":$jinfo,\"wal\":$winfo}"

# Opening the scratch copy recovers it (rollback or WAL replay): that is the restore a user would get.
t0=$(now_ms)
out=$(sqlite3 -batch "$db" 'PRAGMA integrity_check;' 2>&1)
rc=$?
fact integrity "{\"exitCode\":$rc,\"ms\":$(( $(now_ms) - t0 )),\"output\":$(json_str "$(printf '%s' "$out" | excerpt)")}"

sq_query() { sqlite3 -batch -noheader -bail "$db" "$2"; }
run_canaries sq_query

fact after "{\"journalExists\":$([ -e "$db-journal" ] && [ "$(size "$db-journal")" -gt 0 ] && echo true || echo false),\"walSize\":$(size "$db-wal")}"
exit 0
