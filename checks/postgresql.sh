#!/usr/bin/env bash
# ---
# id: postgresql
# title: PostgreSQL state, crash recovery, WAL continuity and integrity
# description: >
#   Offline first: pg_controldata state, backup_label, postmaster.pid, WAL segment sizes, and a
#   pg_waldump walk of the redo range that looks for valid WAL beyond the point where the chain
#   breaks (recovery would stop there, start the server, and silently drop the rest). Then starts the
#   version-matched server on the scratch copy (private socket, no TCP), records what recovery did,
#   runs pg_amcheck --all --heapallindexed --install-missing and the configured canary queries, stops
#   the server, and runs pg_checksums --check when data checksums are on. Everything after the
#   mount runs in the sandbox (checks/lib/common.sh) as a throwaway uid that owns the copy's data
#   directory; the data directory's configuration files are moved aside and the server gets a closed
#   set of settings on its command line, so nothing the disk says can run a command.
# stage: database
# appliesTo: {engine: [postgresql]}
# needs: [setpriv, unshare, prlimit, pivot_root, timeout, stat, od]
# packages: {debian: [postgresql, postgresql-contrib, util-linux], al2023: [postgresql15-server, postgresql15-contrib, util-linux]}
# timeout: 30m
# mutates: true
# inputs:
#   SNAPDRILL_FSTYPE: {encoding: plain, description: "the filesystem type to mount (xfs needs nouuid)"}
#   SNAPDRILL_DBPATH: {encoding: base64, description: "the database's path relative to the filesystem root, as the raw bytes dbfind found"}
#   SNAPDRILL_DB_TIMEOUT: {encoding: integer, description: "seconds the engine may take to start (crash recovery included)"}
#   SNAPDRILL_CANARIES: {encoding: base64, description: "the canary queries, one per line: base64(name):base64(database):base64(query)"}
# facts:
#   files:
#     type: object
#     required: [version, owner, uid, postmasterPid, backupLabel, tablespaceMap, recoverySignal, standbySignal]
#     properties: {version: {type: string}, owner: {type: string}, uid: {type: integer}, gid: {type: integer}, postmasterPid: {type: boolean}, backupLabel: {type: [string, 'null']}, tablespaceMap: {type: boolean}, recoverySignal: {type: boolean}, standbySignal: {type: boolean}}
#   aside: {$ref: fact.schema.json#/definitions/aside}
#   controldata: {type: object, required: [exitCode, output], properties: {exitCode: {type: integer}, output: {type: string}}}
#   wal:
#     type: object
#     required: [segmentBytes, count, first, last, oddSizes]
#     properties: {segmentBytes: {type: [integer, 'null']}, count: {type: integer}, first: {type: string}, last: {type: string}, oddSizes: {type: array, items: {type: array, items: {type: [string, integer]}}}}
#   waldump:
#     type: object
#     required: [redo, timeline, exitCode, end, message, validBeyondEnd]
#     properties:
#       redo: {type: string}
#       timeline: {type: integer}
#       exitCode: {type: integer}
#       end: {type: string}
#       endSegment: {type: string}
#       message: {type: string}
#       validBeyondEnd: {oneOf: [{type: 'null'}, {type: object, required: [segment, start, record], properties: {segment: {type: string}, start: {type: string}, record: {type: string}}}]}
#   startup: {$ref: fact.schema.json#/definitions/startup}
#   amcheck: {type: object, required: [exitCode, output], properties: {command: {type: string}, exitCode: {type: integer}, ms: {type: integer}, output: {type: string}}}
#   canary: {$ref: fact.schema.json#/definitions/canary}
#   stop: {$ref: fact.schema.json#/definitions/stop}
#   checksums: {$ref: fact.schema.json#/definitions/toolRun}
# ---
mnt=$(fs_mount) || skip "cannot mount the filesystem holding the data directory" "check the filesystem findings"
rel=$(db_rel)
shown=$(db_shown)
dd="$mnt$rel"
[ -f "$dd/PG_VERSION" ] || skip "no PG_VERSION in $shown" "check the configured path"
# Recorded, never trusted: the engine runs as a throwaway uid, whatever uid/gid the disk chose.
uid=$(stat -c %u "$dd"); gid=$(stat -c %g "$dd"); owner=$(stat -c %U "$dd")
id=$(sandbox_id)
db_prepare "$mnt" "$dd" "$id" || skip "the data directory $shown leads outside the snapshot (symlink) or is not a directory" "inspect the restored tree"

# pg_inside: everything that reads or runs the data directory's content, inside the sandbox.
pg_inside() {
  local dd=$1 uid=$2 gid=$3 owner=$4
  inside "$dd" "$dd/PG_VERSION" || skip "PG_VERSION in $shown is not a regular file inside the data directory" "inspect the restored data directory"
  # Symlinks that leave the data directory (pg_wal or tablespaces on other volumes, or a disk pointing at
  # host files) are named; pg_control must be the data directory's own, or nothing is read at all.
  refuse_links "$dd" 100
  inside "$dd" "$dd/global/pg_control" || exit 0
  ver=$(head -c 16 "$dd/PG_VERSION" | head -n 1 | tr -dc '0-9.')
  label=null
  if [ -e "$dd/backup_label" ] && inside "$dd" "$dd/backup_label"; then label=$(json_str "$(head -c 2000 "$dd/backup_label")"); fi
  flag() { [ -e "$dd/$1" ] && echo true || echo false; }
  fact files "{\"version\":$(json_str "$ver"),\"owner\":$(json_str "$owner"),\"uid\":$uid,\"gid\":$gid,\"postmasterPid\":$(flag postmaster.pid),\"backupLabel\":$label,\"tablespaceMap\":$(flag tablespace_map),\"recoverySignal\":$(flag recovery.signal),\"standbySignal\":$(flag standby.signal)}"

  # Binaries of the same major version as the data directory; never guess with another.
  bindir=
  for c in "/usr/lib/postgresql/$ver/bin" "/usr/pgsql-$ver/bin" "/usr/local/pgsql-$ver/bin" "/opt/postgresql/$ver/bin"; do
    [ -x "$c/postgres" ] && { bindir=$c; break; }
  done
  if [ -z "$bindir" ] && command -v pg_config >/dev/null 2>&1; then
    b=$(pg_config --bindir)
    [ -x "$b/postgres" ] && [ "$("$b/postgres" -V | grep -oE '[0-9]+(\.[0-9]+)?' | head -n 1 | cut -d. -f1)" = "${ver%%.*}" ] && bindir=$b
  fi
  [ -n "$bindir" ] || skip "no PostgreSQL $ver binaries on helper" "install the PostgreSQL $ver server on the helper (Debian/Ubuntu: postgresql-$ver from PGDG; Amazon Linux/RHEL: postgresql$ver-server)"

  # The engine reads these from the data directory: only our settings count. Moved aside on the copy, kept as evidence.
  aside='['; first=1
  mkdir -p "$dd/snapdrill.aside"
  for f in postgresql.auto.conf postgresql.conf pg_hba.conf pg_ident.conf recovery.conf; do
    [ -e "$dd/$f" ] || [ -L "$dd/$f" ] || continue
    excerpt_text=
    [ -f "$dd/$f" ] && [ ! -L "$dd/$f" ] && excerpt_text=$(grep -vE '^[[:space:]]*(#|$)' "$dd/$f" 2>/dev/null | head -n 20 | head -c 1500)
    mv -- "$dd/$f" "$dd/snapdrill.aside/$f"
    [ $first -eq 1 ] || aside+=','
    first=0
    aside+="{\"file\":$(json_str "$f"),\"settings\":$(json_str "$excerpt_text")}"
  done
  fact aside "$aside]"

  cd_out=$("$bindir/pg_controldata" -D "$dd" 2>&1)
  cd_rc=$?
  fact controldata "{\"exitCode\":$cd_rc,\"output\":$(json_str "$(printf '%s' "$cd_out" | excerpt)")}"
  segbytes=$(printf '%s\n' "$cd_out" | sed -n 's/^Bytes per WAL segment: *//p' | tr -dc '0-9')
  redo=$(printf '%s\n' "$cd_out" | sed -n "s/^Latest checkpoint's REDO location: *//p" | tr -dc '0-9A-F/')
  tli=$(printf '%s\n' "$cd_out" | sed -n "s/^Latest checkpoint's TimeLineID: *//p" | tr -dc '0-9')
  checksums=$(printf '%s\n' "$cd_out" | sed -n 's/^Data page checksum version: *//p' | tr -dc '0-9')
  [ -z "$segbytes" ] || [ "$segbytes" -gt 0 ] 2>/dev/null || segbytes=

  # WAL segment files whose size is not the segment size: a truncated segment is a silent-loss trap.
  waldir="$dd/pg_wal"; [ -d "$waldir" ] || waldir="$dd/pg_xlog"
  segs=()
  while IFS= read -r n; do segs+=("$n"); done < <(ls "$waldir" 2>/dev/null | grep -E '^[0-9A-F]{24}$' | sort | head -n 100000)
  odd='['; first=1
  for n in "${segs[@]}"; do
    s=$(stat -c %s "$waldir/$n")
    if [ -n "$segbytes" ] && [ "$s" != "$segbytes" ]; then
      [ $first -eq 1 ] || odd+=','
      first=0
      odd+="[$(json_str "$n"),$s]"
    fi
  done
  odd+=']'
  fact wal "{\"segmentBytes\":${segbytes:-null},\"count\":${#segs[@]},\"first\":$(json_str "${segs[0]:-}"),\"last\":$(json_str "${segs[${#segs[@]}-1]:-}"),\"oddSizes\":$odd}"

  # Walk the redo range: where does the WAL chain end, and is there valid WAL in a later segment?
  lsn_of_seg() { # segment file name -> start LSN "X/Y"
    local n=$1 log seg per start
    log=$((16#${n:8:8})); seg=$((16#${n:16:8})); per=$((0x100000000 / segbytes))
    start=$(( (log * per + seg) * segbytes ))
    printf '%X/%X' $((start >> 32)) $((start & 0xFFFFFFFF))
  }
  if [ -n "$redo" ] && [ -n "$segbytes" ] && [ -x "$bindir/pg_waldump" ]; then
    wd=$("$bindir/pg_waldump" -p "$waldir" -s "$redo" -t "${tli:-1}" 2>&1 >/dev/null)
    wd_rc=$?
    wd=$(printf '%s\n' "$wd" | tail -n 3)
    end=$(printf '%s\n' "$wd" | grep -oE 'at [0-9A-F]+/[0-9A-F]+' | head -n 1 | cut -d' ' -f2)
    # A short read names the segment instead of an LSN: the chain breaks inside that file.
    endfile=$(printf '%s\n' "$wd" | grep -oE '[0-9A-F]{24}' | head -n 1)
    beyond=null
    endseg=
    if [ -n "$end" ]; then
      hi=$((16#${end%/*})); lo=$((16#${end#*/})); endseg=$(( ((hi << 32) + lo) / segbytes ))
    elif [ -n "$endfile" ]; then
      endseg=$(( (16#${endfile:8:8}) * (0x100000000 / segbytes) + 16#${endfile:16:8} ))
    fi
    if [ -n "$endseg" ]; then
      checked=0
      for n in "${segs[@]}"; do
        [ "$((16#${n:0:8}))" = "${tli:-1}" ] || continue
        segno=$(( (16#${n:8:8}) * (0x100000000 / segbytes) + 16#${n:16:8} ))
        [ "$segno" -gt "$endseg" ] || continue
        checked=$((checked + 1)); [ $checked -le 64 ] || break
        start=$(lsn_of_seg "$n")
        rec=$("$bindir/pg_waldump" -p "$waldir" -s "$start" -t "${tli:-1}" -n 1 2>/dev/null | head -n 1)
        if [ -n "$rec" ]; then
          beyond="{\"segment\":$(json_str "$n"),\"start\":$(json_str "$start"),\"record\":$(json_str "${rec:0:300}")}"
          break
        fi
      done
    fi
    fact waldump "{\"redo\":$(json_str "$redo"),\"timeline\":${tli:-1},\"exitCode\":$wd_rc,\"end\":$(json_str "${end:-}"),\"endSegment\":$(json_str "${endfile:-}"),\"message\":$(json_str "$wd"),\"validBeyondEnd\":$beyond}"
  fi

  # Start the server on the scratch copy: socket in the sandbox's own 0700 directory, no TCP (and no
  # network namespace routes anyway), and only our settings: nothing that runs a command or loads a library.
  sock=/run/sbx
  conf=/tmp/pgconf; mkdir -p "$conf"
  : >"$conf/postgresql.conf"; : >"$conf/pg_ident.conf"
  printf 'local all all trust\n' >"$conf/pg_hba.conf"
  rm -f "$dd/postmaster.pid"
  log=/tmp/server.log
  opts=(-D "$dd" -c "config_file=$conf/postgresql.conf" -c "hba_file=$conf/pg_hba.conf" -c "ident_file=$conf/pg_ident.conf"
    -c "listen_addresses=" -c "unix_socket_directories=$sock" -c unix_socket_permissions=0700 -c port=5432
    -c logging_collector=off -c log_destination=stderr -c archive_mode=off -c archive_command= -c ssl=off
    -c "shared_preload_libraries=" -c "session_preload_libraries=" -c "local_preload_libraries=" -c 'dynamic_library_path=$libdir'
    -c max_connections=20 -c shared_buffers=64MB -c log_checkpoints=on -c hot_standby=on)
  maj=${ver%%.*}
  [ "$maj" -ge 10 ] 2>/dev/null && opts+=(-c ssl_passphrase_command= )
  [ "$maj" -ge 11 ] 2>/dev/null && opts+=(-c jit=off)
  [ "$maj" -ge 12 ] 2>/dev/null && opts+=(-c "restore_command=" -c "primary_conninfo=" -c "archive_cleanup_command=" -c "recovery_end_command=")
  # Started directly (not through a function) so $! is the postmaster itself, which signals reach.
  "$bindir/postgres" "${opts[@]}" >"$log" 2>&1 &
  pid=$!
  stop_server() {
    kill -0 "$pid" 2>/dev/null || return 0
    kill -INT "$pid" 2>/dev/null
    for _ in $(seq 1 600); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
    kill -QUIT "$pid" 2>/dev/null; sleep 2; kill -KILL "$pid" 2>/dev/null
    return 1
  }
  trap 'stop_server' EXIT
  pg_ready() { "$bindir/pg_isready" -q -h "$sock" -p 5432 -U "$owner" 2>/dev/null; }
  wait_engine "$pid" pg_ready
  keylines=$(grep -E 'database system (was|is)|redo (starts|done)|could not|invalid|incorrect|checkpoint record|consistent recovery|backup recovery|backup_label|PANIC|FATAL|ERROR|aborting|automatic recovery|starting backup|record with|unexpected pageaddr|contrecord|recovery' "$log" | head -n 40)
  fact startup "{\"ready\":$ready,\"died\":$died,\"seconds\":${secs:-0},\"timeoutSeconds\":${SNAPDRILL_DB_TIMEOUT:-600},\"keyLines\":$(json_str "$keylines"),\"log\":$(json_str "$(excerpt <"$log")")}"

  if [ "$ready" = true ]; then
    role=
    for r in "$owner" postgres; do
      if "$bindir/psql" -h "$sock" -p 5432 -U "$r" -d postgres -AtXqc 'select 1' >/dev/null 2>&1 ||
        "$bindir/psql" -h "$sock" -p 5432 -U "$r" -d template1 -AtXqc 'select 1' >/dev/null 2>&1; then role=$r; break; fi
    done
    if [ -n "$role" ] && [ -x "$bindir/pg_amcheck" ]; then
      fact_run amcheck "$bindir/pg_amcheck" -h "$sock" -p 5432 -U "$role" --all --heapallindexed --install-missing
    else
      fact amcheck "{\"exitCode\":-1,\"output\":$(json_str "no superuser role to connect as (tried $owner, postgres) or no pg_amcheck in $bindir")}"
    fi
    pg_query() { "$bindir/psql" -h "$sock" -p 5432 -U "${role:-$owner}" -d "${1:-postgres}" -AtX -v ON_ERROR_STOP=1 -c "$2"; }
    run_canaries pg_query
  fi
  stop_engine

  if [ "$ready" = true ] && [ "$stop_clean" -eq 0 ] && [ "${checksums:-0}" != 0 ] && [ -x "$bindir/pg_checksums" ]; then
    fact_run checksums "$bindir/pg_checksums" --check -D "$dd"
  fi
  exit 0
}
# Only the data directory is visible inside, at its own path (its parents are the sandbox's, traversable).
sandbox -u "$id" -w "$dd" -- pg_inside "$dd" "$uid" "$gid" "$owner"
exit 0
