# snapdrill check library: prepended to every check before it is sent to the helper.
# Checks gather facts and print them as NDJSON on stdout, one object per line:
#   {"check":ID,"target":DEVICE,"fact":NAME,"value":JSON}
# They never decide a verdict. Human-readable noise goes to stderr.
# Portable to bash >= 4 with coreutils only: the helper may be any Linux with the named tools.

# json_str STRING: print STRING as a JSON string literal.
json_str() {
  local s=$1
  s=${s//\\/\\\\}
  s=${s//\"/\\\"}
  s=${s//$'\n'/\\n}
  s=${s//$'\t'/\\t}
  s=${s//$'\r'/\\r}
  # Remaining C0 control characters cannot appear raw in JSON; tools rarely print them.
  s=$(printf '%s' "$s" | LC_ALL=C tr -d '\000-\010\013\014\016-\037')
  printf '"%s"' "$s"
}

# fact NAME RAW_JSON: print one fact line.
fact() {
  printf '{"check":%s,"target":%s,"fact":%s,"value":%s}\n' \
    "$(json_str "$SNAPDRILL_CHECK")" "$(json_str "$SNAPDRILL_TARGET")" "$(json_str "$1")" "$2"
}

# excerpt: read stdin, keep the first 50 and last 10 lines, at most 6000 characters: enough for a human, small for SSM.
excerpt() {
  local all n
  all=$(cat)
  n=$(printf '%s\n' "$all" | wc -l)
  if [ "$n" -gt 60 ]; then
    all="$(printf '%s\n' "$all" | head -n 50)
[... $((n - 60)) lines omitted ...]
$(printf '%s\n' "$all" | tail -n 10)"
  fi
  printf '%s' "${all:0:6000}"
}

# fact_run NAME CMD ARGS...: run a tool, print {"exitCode":N,"output":EXCERPT,"command":...} as fact NAME.
fact_run() {
  local name=$1 out rc t0
  shift
  t0=$(now_ms)
  out=$("$@" 2>&1)
  rc=$?
  fact "$name" "{\"command\":$(json_str "$*"),\"exitCode\":$rc,\"ms\":$(( $(now_ms) - t0 )),\"output\":$(json_str "$(printf '%s' "$out" | excerpt)")}"
  return $rc
}

# now_ms: milliseconds since the epoch (tool time is reported so the harness's own overhead can be measured).
now_ms() { date +%s%3N; }

# skip REASON REMEDY: report that the check cannot run here, and stop.
skip() {
  fact skipped "{\"reason\":$(json_str "$1"),\"remedy\":$(json_str "${2:-}")}"
  exit 0
}

# require TOOL...: skip the check, naming the package, when a tool is missing on the helper.
require() {
  local t missing=()
  for t in "$@"; do command -v "$t" >/dev/null 2>&1 || missing+=("$t"); done
  if [ ${#missing[@]} -gt 0 ]; then
    skip "missing on helper: ${missing[*]}" "install ${SNAPDRILL_PACKAGES:-the package providing ${missing[*]}} on the helper"
  fi
}

# scratch_dir NAME: a fresh directory for this check's temporary mounts, under the run's scratch area
# (so teardown finds it); mktemp, so two checks never share one, whatever their names hash to.
scratch_dir() {
  mkdir -p "${SNAPDRILL_SCRATCH:?SNAPDRILL_SCRATCH not set}" && mktemp -d "$SNAPDRILL_SCRATCH/$SNAPDRILL_CHECK-$1.XXXXXX"
}

export PATH="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH"
export LC_ALL=C

# fs_mount: mount the (already replayed) scratch filesystem SNAPDRILL_TARGET read-write under the
# scratch area, once, and print the mountpoint. nosuid/nodev/noexec: restored data is untrusted;
# nouuid for XFS, whose UUID may equal a mounted filesystem's. The harness unmounts it (fs_unmount).
fs_mount() {
  local mnt="${SNAPDRILL_SCRATCH:?}/fs-${SNAPDRILL_TARGET##*/}" opts="rw,nosuid,nodev,noexec"
  mkdir -p "$mnt" || return 1
  if ! mountpoint -q "$mnt"; then
    [ "${SNAPDRILL_FSTYPE:-}" = xfs ] && opts+=",nouuid"
    mount -t "${SNAPDRILL_FSTYPE:-auto}" -o "$opts" "$SNAPDRILL_TARGET" "$mnt" >&2 || return 1
  fi
  printf '%s' "$mnt"
}

# fs_unmount: undo fs_mount. Idempotent and race-free: "not mounted (any more)" is success, and it never
# kills anything: processes that read disk content run in sandboxes whose PID namespace dies with them.
fs_unmount() {
  local mnt="${SNAPDRILL_SCRATCH:?}/fs-${SNAPDRILL_TARGET##*/}" i
  for i in 1 2 3 4 5 6 7 8 9 10; do
    mountpoint -q "$mnt" || return 0
    umount "$mnt" 2>/dev/null && return 0
    sleep 0.5
  done
  mountpoint -q "$mnt" || return 0
  # Still busy after 5 s: detach it from the tree (only this path; the kernel frees it when the last user goes).
  umount -l "$mnt" 2>/dev/null || ! mountpoint -q "$mnt"
}

# b64d STRING: decode base64 (values the harness passes that may hold any character).
b64d() { printf '%s' "$1" | base64 -d 2>/dev/null; }

# run_canaries FUNC: for each configured canary ("b64(name):b64(database):b64(query)" lines), run
# "FUNC DATABASE QUERY" against the engine started on the copy and print its answer as a canary fact.
run_canaries() {
  local fn=$1 n d q name dbname out rc
  while IFS=: read -r n d q; do
    [ -n "$n" ] || continue
    name=$(b64d "$n"); dbname=$(b64d "$d")
    out=$("$fn" "$dbname" "$(b64d "$q")" 2>&1)
    rc=$?
    fact canary "{\"name\":$(json_str "$name"),\"database\":$(json_str "$dbname"),\"exitCode\":$rc,\"output\":$(json_str "$(printf '%s' "$out" | head -n 5 | head -c 2000)")}"
  done <<<"$(b64d "${SNAPDRILL_CANARIES:-}")"
}

# stop_engine: stop the server the check started (its stop_server function), drop the EXIT trap and a
# temporary socket directory, and print the stop fact; sets stop_clean=0 when it stopped in time.
stop_engine() {
  local t0
  t0=$(now_ms)
  stop_server
  stop_clean=$?
  trap - EXIT
  [ -z "${tmpsock:-}" ] || rm -rf "$tmpsock"
  fact stop "{\"clean\":$([ $stop_clean -eq 0 ] && echo true || echo false),\"ms\":$(( $(now_ms) - t0 ))}"
}

# find_volume_device VOLUME_ID REQUESTED_NAME: print the block device of an attached EBS volume, found by
# the volume id in its NVMe serial (Nitro attaches in any order, under any name); waits up to 60 s for udev.
find_volume_device() {
  local vol=${1#vol-} requested=$2 d i
  for i in $(seq 1 60); do
    for d in /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol"$vol" /dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol-"$vol"; do
      [ -e "$d" ] && { readlink -f "$d"; return 0; }
    done
    if command -v nvme >/dev/null 2>&1; then
      for d in /dev/nvme*n1; do
        [ -b "$d" ] || continue
        nvme id-ctrl "$d" 2>/dev/null | grep -q "sn *: *vol-\?$vol" && { printf '%s\n' "$d"; return 0; }
      done
    fi
    # Xen instances keep the requested name (sdf shows as xvdf).
    for d in "$requested" "/dev/xvd${requested#/dev/sd}"; do [ -b "$d" ] && { printf '%s\n' "$d"; return 0; }; done
    sleep 1
  done
  echo "volume vol-$vol not visible on this helper after 60 s" >&2
  return 1
}

# wait_engine PID PROBE_FUNC: wait (up to SNAPDRILL_DB_TIMEOUT seconds) until PROBE_FUNC succeeds or the
# server PID exits; sets ready=true|false, died=true|false and secs (time taken).
wait_engine() {
  local pid=$1 probe=$2 t0 deadline
  t0=$(now_ms)
  ready=false
  deadline=$(( $(date +%s) + ${SNAPDRILL_DB_TIMEOUT:-600} ))
  while [ "$(date +%s)" -lt "$deadline" ]; do
    kill -0 "$pid" 2>/dev/null || break
    if "$probe"; then ready=true; break; fi
    sleep 0.2
  done
  died=false
  kill -0 "$pid" 2>/dev/null || died=true
  secs=$(awk -v ms=$(( $(now_ms) - t0 )) 'BEGIN { printf "%.3f", ms / 1000 }')
}

# ---------------------------------------------------------------------------------------------------
# The trust boundary. A snapshot's content is attacker-controlled. Only the kernel's filesystem code
# (mount, replay) and e2fsprogs/xfsprogs touch it with privileges; everything else that reads or
# executes disk content (database engines and clients, sqlite3, pg_controldata, pg_waldump,
# innochecksum, aria_chk, myisamchk, decompressors, cpio, and this library's own file reads) runs
# through `sandbox`:
#   - a throwaway uid/gid (never the disk's, never root), no supplementary groups, no_new_privs, an
#     empty capability set (or only CAP_DAC_READ_SEARCH for read-only walkers: -c read);
#   - its own mount namespace whose root is an empty tmpfs holding read-only /usr (the tools), a
#     synthetic /etc (passwd, group, ld.so cache), minimal /dev, its own /proc, a private size-capped
#     /tmp and /dev/shm, a 0700 socket directory /run/sbx, and only the paths named with -w/-r (this
#     snapshot's scratch mount), at the same path, nosuid,nodev,noexec; the host's tree is unmounted;
#   - its own network namespace (no interface up: no route anywhere, not even the host's loopback),
#     IPC and UTS namespaces;
#   - its own PID namespace: when the sandboxed command ends or is killed, every process it started
#     dies with it (nothing survives a check);
#   - caps: wall time (-t, SIGKILL), CPU seconds, address space (-m), processes, open files, output
#     bytes on stdout (-o); a cap that is hit is reported as a fact (limit / sandbox), never a pass.
# Measured here: about 0.07 s per sandbox.
# ---------------------------------------------------------------------------------------------------

# SANDBOX_INNER runs as root inside the new namespaces: builds the root, pivots into it, drops to the
# throwaway uid and runs the payload. Settings arrive as SBX_* environment variables.
SANDBOX_INNER='
set -eE
trap '"'"'echo "sandbox set-up failed: $BASH_COMMAND" >&2; exit 125'"'"' ERR
umask 022
r=$SBX_ROOT
# The static part of the tree (directories, links, loader configuration, device-node stubs) comes from a
# template made once per helper (sandbox_template): one copy instead of a process per entry.
mount -t tmpfs -o size=8m,mode=0755,nosuid,nodev,noexec sbx-root "$r"
cp -a "$SBX_TEMPLATE/." "$r/"
cd "$r"
for d in bin sbin lib lib64 lib32 libx32; do
  [ -d "/$d" ] && [ ! -L "/$d" ] && mount --bind -o ro,nosuid,nodev "/$d" "$d"
done
mount --bind -o ro,nosuid,nodev /usr usr
[ ! -d etc/alternatives ] || mount --bind -o ro,nosuid,nodev /etc/alternatives etc/alternatives
printf "root:x:0:0:root:/:/bin/false\nsnapdrill:x:%s:%s:snapdrill sandbox:/tmp:/bin/false\n" "$SBX_UID" "$SBX_GID" >etc/passwd
printf "root:x:0:\nsnapdrill:x:%s:\n" "$SBX_GID" >etc/group
# Bind mounts keep the flags of their source (devtmpfs), so these nodes work on the nodev root.
for n in null zero urandom; do mount --bind "/dev/$n" "dev/$n"; done
mount -t tmpfs -o "size=${SBX_SHM_MB}m,mode=1777,nosuid,nodev,noexec" sbx-shm dev/shm
mount -t proc -o nosuid,nodev,noexec proc proc
mount -t tmpfs -o "size=${SBX_TMP_MB}m,mode=1777,nosuid,nodev,noexec" sbx-tmp tmp
chown "$SBX_UID:$SBX_GID" run/sbx
while IFS= read -r p; do
  [ -n "$p" ] || continue
  mode=${p%%:*}; p=${p#*:}
  mkdir -p "$r$p"
  if [ "$mode" = ro ]; then mount --bind -o ro,nosuid,nodev,noexec "$p" "$r$p"; else mount --bind -o nosuid,nodev,noexec "$p" "$r$p"; fi
done <<<"$SBX_BINDS"
printf "%s" "$(<"$SBX_PAYLOAD")" >run/payload.sh
pivot_root . .old
cd /
umount -l /.old
caps=(--inh-caps=-all --bounding-set=-all)
[ "$SBX_CAPS" != read ] || caps=(--inh-caps=+dac_read_search --ambient-caps=+dac_read_search --bounding-set=-all,+dac_read_search)
trap - ERR; set +eE
# Not exec: this root shell stays the init of the namespace and keeps the parent-death signal of --kill-child (a
# change of credentials would clear it), so the namespace dies whenever unshare does. The command after
# it keeps bash from exec-ing its last command in place.
prlimit --as="$SBX_AS" --cpu="$SBX_CPU" --nproc=512 --nofile=4096 --core=0 -- \
  setpriv --reuid="$SBX_UID" --regid="$SBX_GID" --clear-groups --no-new-privs "${caps[@]}" -- \
  env -i PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin HOME=/tmp TMPDIR=/tmp LC_ALL=C LANG=C \
  bash /run/payload.sh "$@"
rc=$?
exit "$rc"
'

# sandbox_template: print the directory holding the static part of every sandbox root, made once per helper
# (root-only, under /run). Its name carries the loader cache's mtime, so packages installed meanwhile (a
# helper still provisioning) give a new template beside the old one, never one renamed under a reader.
sandbox_template() {
  local t tmp d
  t=/run/snapdrill/sbx-template-v1-$(stat -c %Y /etc/ld.so.cache 2>/dev/null || echo 0)
  if [ -d "$t" ]; then printf '%s' "$t"; return 0; fi
  mkdir -p -m 0700 /run/snapdrill || return 1
  tmp=$(mktemp -d "$t.XXXXXX") || return 1
  (
    set -e
    cd "$tmp"
    chmod 0755 .
    mkdir -p usr etc dev/shm proc tmp run/sbx var/tmp .old
    chmod 0700 run/sbx
    for d in bin sbin lib lib64 lib32 libx32; do
      if [ -L "/$d" ]; then ln -s "$(readlink "/$d")" "$d"; elif [ -d "/$d" ]; then mkdir "$d"; fi
    done
    cp /etc/ld.so.cache etc/ 2>/dev/null || true
    [ ! -d /etc/ld.so.conf.d ] || cp -r /etc/ld.so.conf.d etc/
    [ ! -f /etc/ld.so.conf ] || cp /etc/ld.so.conf etc/
    [ ! -e /etc/localtime ] || cp -L /etc/localtime etc/ 2>/dev/null || true
    [ ! -d /etc/alternatives ] || mkdir etc/alternatives
    printf 'passwd: files\ngroup: files\nhosts: files\n' >etc/nsswitch.conf
    printf '127.0.0.1 localhost\n' >etc/hosts
    : >dev/null; : >dev/zero; : >dev/urandom
    ln -s /proc/self/fd dev/fd; ln -s urandom dev/random; ln -s fd/0 dev/stdin; ln -s fd/1 dev/stdout; ln -s fd/2 dev/stderr
  ) || { rm -rf "$tmp"; return 1; }
  # Published whole by one rename; a concurrent builder that lost the race drops its copy.
  mv -T "$tmp" "$t" 2>/dev/null || rm -rf "$tmp"
  printf '%s' "$t"
}

# sandbox [-w DIR]... [-r DIR]... [-c read] [-t SECS] [-m MB] [-o BYTES] [-T MB] -- FUNCTION [ARGS...]
# Runs FUNCTION (a shell function of this check, with this library and the SNAPDRILL_* variables)
# inside the sandbox described above. -w/-r bind a host directory (the scratch mount) read-write or
# read-only at the same path; -c read grants CAP_DAC_READ_SEARCH only (walking a tree owned by the
# disk's users, read-only); -t wall seconds (default: SNAPDRILL_DB_TIMEOUT + 600); -m address space
# per process in MiB (default 4096); -o bytes of stdout (default 16 MiB); -T size of /tmp in MiB
# (default 256); -u ID the uid/gid to run as (default: a fresh sandbox_id). Prints FUNCTION's stdout; returns its exit code, or 137 when the sandbox was killed,
# after printing a `sandbox` fact (killed by the deadline) or a `limit` fact (output cap).
sandbox() {
  local binds='' caps=none secs=${SNAPDRILL_TIMEOUT_S:-$(( ${SNAPDRILL_DB_TIMEOUT:-600} + 600 ))} mem=4096 outcap=16777216 tmpmb=256 base rc id=''
  [ -n "$id" ] || id=$(sandbox_id)
  while [ $# -gt 0 ]; do
    case $1 in
      -w) binds+="rw:$2"$'\n'; shift 2 ;;
      -r) binds+="ro:$2"$'\n'; shift 2 ;;
      -c) caps=$2; shift 2 ;;
      -t) secs=$2; shift 2 ;;
      -m) mem=$2; shift 2 ;;
      -o) outcap=$2; shift 2 ;;
      -T) tmpmb=$2; shift 2 ;;
      -u) id=$2; shift 2 ;;
      --) shift; break ;;
      *) echo "sandbox: unknown option $1" >&2; return 2 ;;
    esac
  done
  local template
  template=$(sandbox_template) || { fact sandbox "{\"killed\":false,\"setupFailed\":true,\"exitCode\":125,\"reason\":\"the sandbox template could not be made under /run/snapdrill\"}"; return 125; }
  base="${SNAPDRILL_SCRATCH:?}/sbx.$BASHPID.$RANDOM$RANDOM"
  mkdir -m 0700 -p "$SNAPDRILL_SCRATCH" && mkdir -m 0700 "$base" "$base/root" || return 1
  {
    declare -f
    local v
    for v in $(compgen -v SNAPDRILL_); do declare -p "$v"; done
    printf 'export PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin LC_ALL=C\n"$@"\n'
  } >"$base/payload.sh"
  # timeout --foreground stays in the check's process group: stopping the check (or gc killing its recorded
  # group) kills unshare, whose --kill-child then kills the namespace's init, and with it every process inside.
  SBX_TEMPLATE=$template SBX_ROOT="$base/root" SBX_UID=$id SBX_GID=$id SBX_CAPS=$caps SBX_BINDS=$binds SBX_PAYLOAD="$base/payload.sh" \
    SBX_TMP_MB=$tmpmb SBX_SHM_MB=256 SBX_AS=$(( mem * 1048576 )) SBX_CPU=$secs \
    timeout --foreground -s KILL "$secs" unshare --mount --pid --net --ipc --uts --fork --kill-child --propagation private \
    bash -c "$SANDBOX_INNER" sandbox "$@" </dev/null | sandbox_cap "$outcap"
  rc=${PIPESTATUS[0]}
  rm -rf "$base"
  if [ "$rc" -eq 137 ] || [ "$rc" -eq 124 ]; then
    fact sandbox "{\"killed\":true,\"exitCode\":$rc,\"reason\":$(json_str "$1 was killed: sandbox deadline of ${secs}s, or its CPU or memory cap")}"
    return 137
  elif [ "$rc" -ge 125 ] && [ "$rc" -le 127 ]; then
    fact sandbox "{\"killed\":false,\"setupFailed\":true,\"exitCode\":$rc,\"reason\":$(json_str "the sandbox for $1 could not be set up (exit $rc; see the check's stderr)")}"
    return "$rc"
  fi
  return "$rc"
}

# sandbox_id: a uid/gid no account on the helper has, different for every sandbox, so sandboxes cannot
# signal or read each other. The disk's own uids are never used: files a sandboxed engine must own are
# chowned to this id on the scratch copy (sandbox -u ID).
sandbox_id() { printf '%s' $(( 2000000000 + (RANDOM << 15 | RANDOM) % 100000000 )); }

# sandbox_cap BYTES: pass stdin through up to BYTES; beyond it, drop the rest and print a limit fact.
sandbox_cap() {
  local c
  head -c "$1"
  if IFS= read -r -d '' -n 1 c || [ -n "$c" ]; then
    cat >/dev/null
    printf '\n'
    fact limit "{\"what\":\"output\",\"limit\":$1,\"reason\":$(json_str "the check printed more than $1 bytes; the rest was dropped")}"
  fi
}

# inside PATH: true when PATH (inside a sandbox) resolves, without leaving ROOT, to a regular file or
# directory; otherwise prints a `refused` fact naming it and the reason. Absolute symlinks on a disk
# point into the sandbox's own tree (never the host's), and are refused here as leaving the snapshot.
inside() {
  local root=$1 p=$2 real
  if ! real=$(realpath -e -- "$p" 2>/dev/null); then
    # A dangling symlink: on the source machine it led somewhere; here it leads nowhere in the snapshot.
    [ -L "$p" ] && refuse "$root" "$p" "a symlink leads outside the snapshot's tree (to $(readlink -- "$p" | head -c 300))"
    return 1
  fi
  case $real/ in "$root"/*) ;; *)
    refuse "$root" "$p" "a symlink leads outside the snapshot's tree"
    return 1 ;;
  esac
  if [ ! -f "$real" ] && [ ! -d "$real" ]; then
    refuse "$root" "$p" "special file (device, FIFO or socket)"
    return 1
  fi
  return 0
}

# refuse ROOT PATH REASON: print a refused fact for PATH (relative to ROOT, as bytes and for display).
refuse() {
  local rel=${2#"$1"}
  fact refused "{\"path\":$(json_str "$rel"),\"pathB64\":\"$(b64e "$rel")\",\"reason\":$(json_str "$3")}"
}

# refuse_links ROOT MAX: a refused fact for every symlink under ROOT that leads outside it (at most MAX);
# an engine would follow them, inside the sandbox to nothing, on a restoring machine to anything.
refuse_links() {
  local root=$1 max=$2 n=0 l
  while IFS= read -r -d '' l; do
    inside "$root" "$l" >/dev/null 2>&1 && continue
    inside "$root" "$l"
    n=$((n + 1)); [ $n -lt "$max" ] || break
  done < <(find "$root" -xdev -type l -print0 2>/dev/null)
}

# db_rel: the database's path relative to its filesystem's root, as the raw bytes dbfind found
# (SNAPDRILL_DBPATH is base64: names may hold control characters or invalid UTF-8).
db_rel() {
  local r
  r=$(b64d "${SNAPDRILL_DBPATH:-}"; printf x); printf '%s' "${r%x}"
}

# db_shown: the database's path for messages, every byte that is not printable ASCII shown as '?'.
db_shown() { db_rel | LC_ALL=C tr -c '[:print:]' '?'; }

# b64e STRING: base64 of STRING's bytes on one line (paths travel as bytes, never rewritten).
b64e() { printf '%s' "$1" | base64 -w0; }

# db_prepare ROOT DIR ID: resolve the database directory inside ROOT (refused when a symlink leaves the
# tree), and give it, on the scratch copy only, to the sandbox's throwaway uid/gid ID (chown -R -P -h:
# symlinks are neither followed nor their targets changed). The disk's own owner is recorded, not trusted.
db_prepare() {
  local root=$1 dir=$2 id=$3
  [ -d "$dir" ] && [ ! -L "$dir" ] || return 1
  case $(realpath -e -- "$dir" 2>/dev/null)/ in "$root"/*) ;; *) return 1 ;; esac
  chown -R -P -h "$id:$id" -- "$dir"
}
