#!/usr/bin/env bash
# ---
# id: dbfind
# title: Find databases on a filesystem
# description: >
#   Mounts the replayed scratch filesystem and looks for database files without configuration:
#   PostgreSQL data directories (PG_VERSION + global/pg_control), MariaDB/MySQL data directories
#   (ibdata1 with ib_logfile0 or #innodb_redo, and mysql/), MongoDB dbPaths (mongod.lock +
#   WiredTiger), and SQLite databases by their 16-byte header magic. Explicit paths can be added
#   and paths excluded by configuration.
# stage: data
# needs: [mount, mountpoint, find, head, base64, unshare, setpriv, prlimit, pivot_root, timeout]
# packages: {debian: [util-linux, findutils, coreutils], al2023: [util-linux, findutils, coreutils]}
# timeout: 10m
# mutates: false
# inputs:
#   SNAPDRILL_FSTYPE: {encoding: plain, description: "the filesystem type to mount (xfs needs nouuid)"}
#   SNAPDRILL_EXCLUDE: {encoding: base64, description: "databases.exclude, one glob per line"}
#   SNAPDRILL_INCLUDE: {encoding: base64, description: "databases.include, one 'engine<TAB>path' per line"}
#   SNAPDRILL_SQLITE_SCAN: {encoding: flag, description: "whether to look for SQLite files by their header (databases.sqliteScan)"}
#   SNAPDRILL_MAX_DATABASES: {encoding: integer, description: "how many databases to list at most (a hard cap; the judge checks fewer)"}
# facts:
#   mount: {type: object, required: [ok], properties: {ok: {type: boolean}, mountpoint: {type: string}, output: {type: string}}}
#   database:
#     type: object
#     required: [engine, path]
#     properties: {engine: {type: string}, path: {type: string}, pathB64: {type: string}, version: {type: string}, size: {type: integer}, lockBytes: {type: integer}, explicit: {type: boolean}, missing: {type: boolean}}
#   excluded: {type: object, required: [engine, path], properties: {engine: {type: string}, path: {type: string}, pathB64: {type: string}}}
# ---
err=$(mktemp "${SNAPDRILL_SCRATCH:?}/.dbfind-mount.XXXXXX")
mnt=$(fs_mount 2>"$err") || {
  fact mount "{\"ok\":false,\"output\":$(json_str "$(head -c 4000 "$err")")}"
  rm -f "$err"
  exit 0
}
rm -f "$err"
fact mount "{\"ok\":true,\"mountpoint\":$(json_str "$mnt")}"

find_inside() {
  local mnt=$1 max=${SNAPDRILL_MAX_DATABASES:-100} found=0
  # Exclusions: one glob per line, relative to the filesystem root ("/var/lib/docker/*").
  excluded() {
    local rel=$1 g
    while IFS= read -r g; do
      [ -n "$g" ] || continue
      # shellcheck disable=SC2053
      [[ $rel == $g || $rel == $g/* ]] && return 0
    done <<<"$(b64d "${SNAPDRILL_EXCLUDE:-}")"
    return 1
  }
  declare -A seen=()
  emit() { # engine path extra-json
    local engine=$1 rel=$2 extra=${3:-}
    [ -z "${seen[$rel]:-}" ] || return 0
    seen[$rel]=1
    if excluded "$rel"; then
      fact excluded "{\"engine\":$(json_str "$engine"),\"path\":$(json_str "$rel"),\"pathB64\":\"$(b64e "$rel")\"}"
      return 0
    fi
    found=$((found + 1))
    [ "$found" -le "$max" ] || return 0
    fact database "{\"engine\":$(json_str "$engine"),\"path\":$(json_str "$rel"),\"pathB64\":\"$(b64e "$rel")\"${extra}}"
  }

  prune=(-path "$mnt/proc" -o -path "$mnt/sys" -o -path "$mnt/dev" -o -path "$mnt/run")
  datadirs=()
  while IFS= read -r -d '' f; do
    d=${f%/*}
    rel=${d#"$mnt"}
    case ${f##*/} in
      PG_VERSION)
        # A pg_control that is a symlink (even one leading off the disk) still marks a data directory: the
        # check then refuses it, rather than the database going unseen.
        if [ -f "$d/global/pg_control" ] || [ -L "$d/global/pg_control" ]; then
          emit postgresql "$rel" ",\"version\":$(json_str "$(head -c 16 "$f" | tr -dc '0-9.')")"
          datadirs+=("$d")
        fi
        ;;
      ibdata1)
        if { [ -f "$d/ib_logfile0" ] || [ -L "$d/ib_logfile0" ] || [ -d "$d/#innodb_redo" ]; } && [ -d "$d/mysql" ]; then
          emit mariadb "$rel"
          datadirs+=("$d")
        fi
        ;;
      mongod.lock)
        if [ -f "$d/WiredTiger" ] || [ -f "$d/storage.bson" ]; then
          emit mongodb "$rel" ",\"lockBytes\":$(stat -c %s "$f" 2>/dev/null || echo 0)"
          datadirs+=("$d")
        fi
        ;;
    esac
  done < <(find "$mnt" -xdev \( "${prune[@]}" \) -prune -o \( -type f -o -type l \) \( -name PG_VERSION -o -name ibdata1 -o -name mongod.lock \) -print0 2>/dev/null)

  # Explicit paths from the configuration: "engine<TAB>path" lines.
  while IFS=$'\t' read -r engine rel; do
    [ -n "$engine" ] || continue
    if [ -e "$mnt$rel" ] && inside "$mnt" "$mnt$rel"; then emit "$engine" "$rel" ",\"explicit\":true"
    else fact database "{\"engine\":$(json_str "$engine"),\"path\":$(json_str "$rel"),\"pathB64\":\"$(b64e "$rel")\",\"explicit\":true,\"missing\":true}"; fi
  done <<<"$(b64d "${SNAPDRILL_INCLUDE:-}")"

  # SQLite: a file whose size is a multiple of 512 and whose first 16 bytes are "SQLite format 3\0".
  # Data directories of other engines are pruned: their page files would only be false candidates.
  if [ "${SNAPDRILL_SQLITE_SCAN:-1}" = 1 ]; then
    for d in "${datadirs[@]}"; do prune+=(-o -path "$d"); done
    while IFS=$'\t' read -r -d '' size f; do
      [ "$size" -ge 512 ] && [ $((size % 512)) -eq 0 ] || continue
      [ "$(head -c 15 "$f" 2>/dev/null)" = "SQLite format 3" ] || continue
      emit sqlite "${f#"$mnt"}" ",\"size\":$size"
    done < <(find "$mnt" -xdev \( "${prune[@]}" \) -prune -o -type f -size +511c -printf '%s\t%p\0' 2>/dev/null)
  fi
  if [ "$found" -gt "$max" ]; then
    fact limit "{\"what\":\"databases\",\"limit\":$max,\"found\":$found,\"reason\":$(json_str "$found databases found on this filesystem; only the first $max are checked (databases.maxPerFilesystem)")}"
  fi
}
# Read-only: the walk may read any file (CAP_DAC_READ_SEARCH) but sees only this filesystem and writes nothing.
sandbox -r "$mnt" -c read -t "${SNAPDRILL_TIMEOUT_S:-600}" -- find_inside "$mnt"
exit 0
