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

# scratch_dir NAME: a directory for this check's temporary mounts, under the run's scratch area (so teardown finds it).
scratch_dir() {
  local d="${SNAPDRILL_SCRATCH:?SNAPDRILL_SCRATCH not set}/$SNAPDRILL_CHECK-$1"
  # Two databases of one engine on one filesystem are checked at once: keep their directories apart.
  [ -z "${SNAPDRILL_DBPATH:-}" ] || d+="-$(printf '%s' "$SNAPDRILL_DBPATH" | cksum | cut -d' ' -f1)"
  mkdir -p "$d" && printf '%s' "$d"
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

# fs_unmount: undo fs_mount, killing anything still using the mount first (a server that would not stop).
fs_unmount() {
  local mnt="${SNAPDRILL_SCRATCH:?}/fs-${SNAPDRILL_TARGET##*/}"
  mountpoint -q "$mnt" || return 0
  umount "$mnt" 2>/dev/null && return 0
  if command -v fuser >/dev/null 2>&1; then fuser -k -m "$mnt" >/dev/null 2>&1; sleep 1; fi
  umount "$mnt" 2>/dev/null || umount -l "$mnt"
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
