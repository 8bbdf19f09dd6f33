#!/usr/bin/env bash
# ---
# id: mariadb
# title: MariaDB/MySQL redo state, crash recovery and integrity
# description: >
#   Offline first: the InnoDB redo log header (10.8+ format: checkpoint blocks at 0x1000 and 0x2000,
#   checkpoint_lsn vs end_lsn), MyISAM/Aria tables left open, the datadir version. Then starts the server on the scratch copy
#   (--no-defaults, private socket, --skip-networking, --skip-grant-tables), records what crash
#   recovery did, runs mariadb-check on every table (every row is parsed: it exits 0 even when a table
#   is corrupt) and the configured canary queries, stops it, and runs innochecksum on the tablespaces
#   (ibdata1 skipping the doublewrite buffer, pages 64-191). Everything after the mount runs in the
#   sandbox, as a throwaway uid that owns the copy's data directory; option files in the data
#   directory are moved aside (the server runs with --no-defaults and our settings only).
# stage: database
# appliesTo: {engine: [mariadb]}
# needs: [setpriv, unshare, prlimit, pivot_root, timeout, stat, od]
# packages: {debian: [mariadb-server, util-linux], al2023: [mariadb105-server, util-linux]}
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
#     required: [owner, uid, datadirVersion, serverVersion, ariaControl, redoDir]
#     properties: {owner: {type: string}, uid: {type: integer}, datadirVersion: {type: string}, serverVersion: {type: string}, ariaControl: {type: boolean}, redoDir: {type: boolean}}
#   aside: {$ref: fact.schema.json#/definitions/aside}
#   redo:
#     type: object
#     required: [file, size, magic, creator, block1, block2]
#     properties: {file: {type: string}, size: {type: integer}, magic: {type: string}, creator: {type: string}, block1: {type: string}, block2: {type: string}}
#   tables: {type: object, required: [checked, open], properties: {checked: {type: integer}, open: {type: array, items: {type: array, items: {type: string}}}}}
#   startup: {$ref: fact.schema.json#/definitions/startup}
#   tablecheck: {type: object, required: [exitCode, serverAliveAfter, output], properties: {exitCode: {type: integer}, ms: {type: integer}, serverAliveAfter: {type: boolean}, output: {type: string}}}
#   canary: {$ref: fact.schema.json#/definitions/canary}
#   stop: {$ref: fact.schema.json#/definitions/stop}
#   innochecksum: {type: object, required: [checked, failures], properties: {checked: {type: integer}, ms: {type: integer}, failures: {type: array, items: {type: array, items: {type: [string, integer]}}}}}
# ---
mnt=$(fs_mount) || skip "cannot mount the filesystem holding the data directory" "check the filesystem findings"
rel=$(db_rel)
shown=$(db_shown)
dd="$mnt$rel"
# Recorded, never trusted: the server runs as a throwaway uid, whatever uid/gid the disk chose.
uid=$(stat -c %u "$dd"); gid=$(stat -c %g "$dd"); owner=$(stat -c %U "$dd")
id=$(sandbox_id)
db_prepare "$mnt" "$dd" "$id" || skip "the data directory $shown leads outside the snapshot (symlink) or is not a directory" "inspect the restored tree"

my_inside() {
local dd=$1 uid=$2 owner=$3
# Symlinks that leave the data directory are named (the server would follow them).
refuse_links "$dd" 100
pick() { local c; for c in "$@"; do command -v "$c" >/dev/null 2>&1 && { command -v "$c"; return 0; }; done; return 1; }
server=$(pick mariadbd mysqld /usr/sbin/mariadbd /usr/sbin/mysqld) || server=
dver=
if [ -e "$dd/mysql_upgrade_info" ] && inside "$dd" "$dd/mysql_upgrade_info"; then dver=$(head -c 64 "$dd/mysql_upgrade_info" 2>/dev/null | tr -dc '0-9A-Za-z.-'); fi
fact files "{\"owner\":$(json_str "$owner"),\"uid\":$uid,\"datadirVersion\":$(json_str "$dver"),\"serverVersion\":$(json_str "$([ -n "$server" ] && "$server" --version 2>/dev/null | head -n 1 | sed "s/^.* Ver //")"),\"ariaControl\":$([ -f "$dd/aria_log_control" ] && echo true || echo false),\"redoDir\":$([ -d "$dd/#innodb_redo" ] && echo true || echo false)}"

# Option files a server could read from the data directory (MySQL 8 persisted variables): moved aside on the copy.
aside='['; first=1
for f in "$dd"/*.cnf; do
  [ -e "$f" ] || [ -L "$f" ] || continue
  case ${f##*/} in auto.cnf) continue ;; esac
  mkdir -p "$dd/snapdrill.aside"; mv -- "$f" "$dd/snapdrill.aside/"
  [ $first -eq 1 ] || aside+=','
  first=0
  aside+="{\"file\":$(json_str "${f##*/}")}"
done
fact aside "$aside]"

if [ -f "$dd/ib_logfile0" ] && inside "$dd" "$dd/ib_logfile0"; then
  hx() { od -An -tx1 -v -j "$1" -N "$2" "$dd/ib_logfile0" | tr -d ' \n'; }
  creator=$(head -c 48 "$dd/ib_logfile0" | tail -c 32 | tr -d '\000' | tr -dc '[:print:]')
  fact redo "{\"file\":\"ib_logfile0\",\"size\":$(stat -c %s "$dd/ib_logfile0"),\"magic\":\"$(hx 0 4)\",\"creator\":$(json_str "$creator"),\"block1\":\"$(hx 4096 16)\",\"block2\":\"$(hx 8192 16)\"}"
fi

# MyISAM and Aria tables left open by a crash: "Status: open" in myisamchk/aria_chk -dv, read before any server runs.
if command -v myisamchk >/dev/null 2>&1 || command -v aria_chk >/dev/null 2>&1; then
  opened='['; first=1; n=0
  while IFS= read -r -d '' f; do
    n=$((n + 1)); [ $n -le 500 ] || break
    case $f in *.MAI) tool=aria_chk ;; *) tool=myisamchk ;; esac
    command -v $tool >/dev/null 2>&1 || continue
    st=$(cd "$dd" && $tool -dv "$f" 2>/dev/null | sed -n 's/^Status: *//p' | head -n 1)
    case $st in *open*)
      [ $first -eq 1 ] || opened+=','
      first=0
      opened+="[$(json_str "${f#"$dd/"}"),$(json_str "$st")]" ;;
    esac
  done < <(find "$dd" \( -name '*.MYI' -o -name '*.MAI' \) -type f -print0)
  fact tables "{\"checked\":$n,\"open\":$opened]}"
fi

[ -n "$server" ] || skip "no mariadbd or mysqld on helper" "install mariadb-server (Debian) / mariadb105-server (Amazon Linux) on the helper, matching the source's major version"
admin=$(pick mariadb-admin mysqladmin); check=$(pick mariadb-check mysqlcheck); client=$(pick mariadb mysql)

# The socket lives in the sandbox's own 0700 directory: nobody else can reach the grant-less server.
sock=/run/sbx
log=/tmp/error.log; : >"$log"
S="$sock/mysqld.sock"
"$server" --no-defaults --datadir="$dd" --socket="$S" \
  --pid-file="$sock/mysqld.pid" --skip-networking --skip-grant-tables --log-error="$log" \
  --innodb-buffer-pool-size=64M --skip-log-bin --skip-slave-start --event-scheduler=DISABLED \
  --secure-file-priv=/tmp >/dev/null 2>>"$log" &
pid=$!
stop_server() {
  kill -0 "$pid" 2>/dev/null || return 0
  [ -n "$admin" ] && "$admin" --socket="$S" shutdown >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null
  for _ in $(seq 1 900); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null
  return 1
}
trap 'stop_server' EXIT
my_ready() { [ -S "$S" ] && "$admin" --socket="$S" ping >/dev/null 2>&1; }
wait_engine "$pid" my_ready
keylines=$(grep -E 'crash recovery|checkpoint LSN|only scanned up|[Cc]orrupt|Aborting|not shut ?down normally|\[ERROR\]|ready for connections|Assertion|signal|Rolled back|rollback|Apply batch|log sequence number|End of log' "$log" | head -n 40)
fact startup "{\"ready\":$ready,\"died\":$died,\"seconds\":${secs:-0},\"timeoutSeconds\":${SNAPDRILL_DB_TIMEOUT:-600},\"keyLines\":$(json_str "$keylines"),\"log\":$(json_str "$(excerpt <"$log")")}"

if [ "$ready" = true ]; then
  t_check=$(now_ms)
  out=$("$check" --socket="$S" --all-databases --check 2>&1)
  rc=$?
  ms_check=$(( $(now_ms) - t_check ))
  alive=true; kill -0 "$pid" 2>/dev/null || alive=false
  fact tablecheck "{\"exitCode\":$rc,\"ms\":$ms_check,\"serverAliveAfter\":$alive,\"output\":$(json_str "$(printf '%s' "$out" | excerpt)")}"
  my_query() { "$client" --socket="$S" -N -B ${1:+"$1"} -e "$2"; }
  run_canaries my_query
fi
stop_engine

# Page checksums mean something only after recovery has run and the server is down.
if [ "$ready" = true ] && [ $stop_clean -eq 0 ] && command -v innochecksum >/dev/null 2>&1; then
  t_inno=$(now_ms)
  fails='['; first=1; n=0
  add() { [ $first -eq 1 ] || fails+=','; first=0; fails+="[$(json_str "$1"),$2,$(json_str "$3")]"; }
  if [ -f "$dd/ibdata1" ]; then
    # Pages 64-191 of ibdata1 are the doublewrite buffer: innochecksum reports false positives there (MDEV-37138).
    for range in "-e 63" "-s 192"; do
      # shellcheck disable=SC2086
      o=$(innochecksum $range "$dd/ibdata1" 2>&1); c=$?; n=$((n + 1))
      [ $c -eq 0 ] || add "ibdata1 ($range)" $c "$(printf '%s' "$o" | grep -v '^$' | head -n 3)"
    done
  fi
  while IFS= read -r -d '' f; do
    n=$((n + 1)); [ $n -le 5000 ] || break
    o=$(innochecksum "$f" 2>&1); c=$?
    [ $c -eq 0 ] || add "${f#"$dd/"}" $c "$(printf '%s' "$o" | grep -v '^$' | head -n 3)"
  done < <(find "$dd" -name '*.ibd' -type f -print0)
  fact innochecksum "{\"checked\":$n,\"ms\":$(( $(now_ms) - t_inno )),\"failures\":$fails]}"
fi
exit 0
}
# Only the data directory is visible inside, at its own path.
sandbox -u "$id" -w "$dd" -- my_inside "$dd" "$uid" "$owner"
exit 0
