#!/usr/bin/env bash
# ---
# id: sqlite
# title: SQLite journal/WAL state and integrity_check
# description: >
#   Reads the database header, a -journal sibling (hot journal: magic d9d505f920a163d7 and its
#   record count) and a -wal sibling (magic 0x377f0682/3, frame count) before anything opens the
#   file, then opens the scratch copy (which rolls back a hot journal or replays WAL frames), runs
#   PRAGMA integrity_check (only exactly "ok" passes: the CLI exits 0 on corruption) and the
#   configured canary queries. A hot journal that names a super-journal is reported (its name as
#   bytes); everything after the mount runs in the sandbox, as a throwaway uid that owns only the
#   database's files on the copy, with only the database's directory visible: a super-journal path
#   elsewhere cannot be opened or deleted.
# stage: database
# appliesTo: {engine: [sqlite]}
# needs: [sqlite3, od, stat, unshare, setpriv, prlimit, pivot_root, timeout]
# packages: {debian: [sqlite3, util-linux], al2023: [sqlite, util-linux]}
# timeout: 15m
# mutates: true
# inputs:
#   SNAPDRILL_FSTYPE: {encoding: plain, description: "the filesystem type to mount (xfs needs nouuid)"}
#   SNAPDRILL_DBPATH: {encoding: base64, description: "the database's path relative to the filesystem root, as the raw bytes dbfind found"}
#   SNAPDRILL_CANARIES: {encoding: base64, description: "the canary queries, one per line: base64(name):base64(database):base64(query)"}
# facts:
#   files:
#     type: object
#     required: [size, header, journal, wal]
#     properties:
#       size: {type: integer}
#       header: {type: string}
#       journal: {oneOf: [{type: 'null'}, {type: object, required: [size, head], properties: {size: {type: integer}, head: {type: string}}}]}
#       wal: {oneOf: [{type: 'null'}, {type: object, required: [size, head], properties: {size: {type: integer}, head: {type: string}}}]}
#   superjournal: {type: object, required: [nameB64, name, dirB64], properties: {nameB64: {type: string}, name: {type: string}, dirB64: {type: string}}}
#   integrity: {type: object, required: [exitCode, output], properties: {exitCode: {type: integer}, ms: {type: integer}, output: {type: string}}}
#   canary: {$ref: fact.schema.json#/definitions/canary}
#   after: {type: object, required: [journalExists, walSize], properties: {journalExists: {type: boolean}, walSize: {type: integer}}}
# ---
mnt=$(fs_mount) || skip "cannot mount the filesystem holding the database" "check the filesystem findings"
rel=$(db_rel)
shown=$(db_shown)
db="$mnt$rel"
dir=${db%/*}
[ -f "$db" ] && [ ! -L "$db" ] || skip "no regular file at $shown" "check the configured path"
case $(realpath -e -- "$dir" 2>/dev/null)/ in "$mnt"/*) ;; *) skip "the directory of $shown leads outside the snapshot (symlink)" "inspect the restored tree" ;; esac
# On the copy only: the database, its journal/WAL/shm and its directory (SQLite creates and deletes
# journals there) belong to the sandbox's throwaway uid; symlinks are neither followed nor changed.
# Databases in one directory are checked at once: they share the directory's uid (derived from its path),
# so neither takes the directory from the other; their sandboxes still see and signal nothing of each other.
id=$(( 2000000000 + $(printf '%s' "$dir" | cksum | cut -d' ' -f1) % 100000000 ))
chown -h "$id:$id" -- "$dir"
for f in "$db" "$db-journal" "$db-wal" "$db-shm"; do [ -e "$f" ] && [ ! -L "$f" ] && chown -h "$id:$id" -- "$f"; done

sq_inside() {
  local db=$1
  hex() { od -An -tx1 -v -j "$2" -N "$3" "$1" 2>/dev/null | tr -d ' \n'; }
  size() { stat -c %s "$1" 2>/dev/null || echo -1; }
  jinfo=null
  if [ -e "$db-journal" ] && inside "${db%/*}" "$db-journal"; then
    jsize=$(size "$db-journal")
    jinfo="{\"size\":$jsize,\"head\":\"$(hex "$db-journal" 0 28)\"}"
    # A super-journal record ends the journal: 4-byte page number, name, 4-byte length, 4-byte checksum, 8-byte magic.
    if [ "$jsize" -gt 28 ] && [ "$(hex "$db-journal" $((jsize - 8)) 8)" = d9d505f920a163d7 ]; then
      n=$((16#$(hex "$db-journal" $((jsize - 16)) 4)))
      if [ "$n" -gt 0 ] && [ "$n" -le 4096 ] && [ "$n" -le $((jsize - 20)) ]; then
        name_b64=$(tail -c $((n + 16)) "$db-journal" | head -c "$n" | base64 -w0)
        fact superjournal "{\"nameB64\":\"$name_b64\",\"name\":$(json_str "$(printf '%s' "$name_b64" | base64 -d | tr -d '\000')"),\"dirB64\":\"$(b64e "$(db_rel | sed 's|/[^/]*$||')")\"}"
      fi
    fi
  fi
  winfo=null
  if [ -e "$db-wal" ] && inside "${db%/*}" "$db-wal"; then winfo="{\"size\":$(size "$db-wal"),\"head\":\"$(hex "$db-wal" 0 32)\"}"; fi
  fact files "{\"size\":$(size "$db"),\"header\":\"$(hex "$db" 0 100)\",\"journal\":$jinfo,\"wal\":$winfo}"

  # Opening the scratch copy recovers it (rollback or WAL replay): that is the restore a user would get.
  t0=$(now_ms)
  out=$(sqlite3 -batch -safe "$db" 'PRAGMA integrity_check;' 2>&1)
  rc=$?
  fact integrity "{\"exitCode\":$rc,\"ms\":$(( $(now_ms) - t0 )),\"output\":$(json_str "$(printf '%s' "$out" | excerpt)")}"

  sq_query() { sqlite3 -batch -safe -noheader -bail "$db" "$2"; }
  run_canaries sq_query

  fact after "{\"journalExists\":$([ -e "$db-journal" ] && [ "$(size "$db-journal")" -gt 0 ] && echo true || echo false),\"walSize\":$(size "$db-wal")}"
}
sandbox -u "$id" -w "$dir" -- sq_inside "$db"
exit 0
