#!/usr/bin/env bash
# ---
# id: bootlint
# title: Pre-boot lint of a restored root filesystem
# description: >
#   Mounts the filesystem read-only without replaying its journal (ext4 noload, XFS
#   norecovery,nouuid) and gathers what decides whether the restored machine will boot, before a
#   boot is paid for: /etc/fstab, the kernel command lines of GRUB and BLS entries, the default
#   kernel's initramfs contents (nvme, ena) and modules.builtin, /.autorelabel, free space, and the
#   device's own identity (blkid: UUID, label, PARTUUID). Paths are resolved inside the
#   restored tree (an absolute symlink never leads to the helper's own files). The initramfs is read
#   by walking its cpio headers (early microcode archives) and cpio -t on the decompressed rest
#   (gzip, xz, lzma, zstd, lz4, bzip2, lzop), else with lsinitramfs or lsinitrd. Never writes the device.
# stage: boot
# needs: [mount, umount, df, dd, od, tail, head, grep, sed, awk, find, base64, unshare, setpriv, prlimit, pivot_root, timeout]
# packages: {debian: [util-linux, coreutils, grep, sed, mawk, findutils, cpio, zstd, lz4, xz-utils], al2023: [util-linux, coreutils, grep, sed, gawk, findutils, cpio, zstd, lz4, xz]}
# timeout: 5m
# mutates: false
# inputs:
#   SNAPDRILL_FSTYPE: {encoding: plain, description: "the filesystem type to mount (xfs needs nouuid)"}
# facts:
#   mount: {type: object, required: [ok], properties: {ok: {type: boolean}, existing: {type: boolean}, mountpoint: {type: string}, options: {type: string}, exitCode: {type: integer}, output: {type: string}}}
#   identity: {type: object, required: [uuid, label, fstype, partuuid], properties: {uuid: {type: [string, 'null']}, label: {type: [string, 'null']}, fstype: {type: [string, 'null']}, partuuid: {type: [string, 'null']}}}
#   root: {type: object, required: [fstab, init, sbinInit], properties: {fstab: {type: boolean}, init: {type: [string, 'null']}, sbinInit: {type: boolean}}}
#   os: {type: object, properties: {id: {type: [string, 'null']}, versionId: {type: [string, 'null']}, prettyName: {type: [string, 'null']}, initramfsTool: {type: [string, 'null']}}}
#   journal: {type: object, required: [fstype, replayPending], properties: {fstype: {type: [string, 'null']}, replayPending: {type: [boolean, 'null']}}}
#   fstab: {type: object, required: [path, lines], properties: {path: {type: string}, lines: {$ref: fact.schema.json#/definitions/lines}}}
#   bootcfg: {type: object, required: [file, lines], properties: {file: {type: string}, lines: {$ref: fact.schema.json#/definitions/lines}}}
#   ec2-udev: {type: object, required: [rules], properties: {rules: {$ref: fact.schema.json#/definitions/strings}}}
#   kernel:
#     type: object
#     required: [version, exists, builtinRead, builtin, modules, kernels]
#     properties:
#       version: {type: [string, 'null']}
#       source: {type: [string, 'null']}
#       path: {type: [string, 'null']}
#       exists: {type: boolean}
#       initramfs: {type: [string, 'null']}
#       modulesDir: {type: [string, 'null']}
#       builtinRead: {type: boolean}
#       builtin: {type: object, required: [nvme, ena], properties: {nvme: {type: boolean}, ena: {type: boolean}}}
#       modules: {type: object, required: [nvme, ena], properties: {nvme: {$ref: fact.schema.json#/definitions/strings}, ena: {$ref: fact.schema.json#/definitions/strings}}}
#       kernels: {$ref: fact.schema.json#/definitions/strings}
#   initramfs:
#     type: object
#     required: [path, bytes, ok, segments]
#     properties:
#       path: {type: string}
#       bytes: {type: integer}
#       ok: {type: boolean}
#       reader: {type: string}
#       error: {type: string}
#       capped: {type: boolean}
#       segments: {type: array, items: {type: object, required: [offset, format, entries], properties: {offset: {type: integer}, format: {type: string}, entries: {type: integer}}}}
#       entries: {type: integer}
#       nvme: {$ref: fact.schema.json#/definitions/strings}
#       ena: {$ref: fact.schema.json#/definitions/strings}
#   autorelabel: {type: object, required: [present, selinux], properties: {present: {type: boolean}, selinux: {type: [string, 'null']}}}
#   space:
#     type: object
#     required: [sizeBytes]
#     properties: {sizeBytes: {type: integer}, usedBytes: {type: [integer, 'null']}, availBytes: {type: [integer, 'null']}, inodes: {type: [integer, 'null']}, inodesUsed: {type: [integer, 'null']}, inodesFree: {type: [integer, 'null']}}
# ---
dev=$SNAPDRILL_TARGET
fstype=${SNAPDRILL_FSTYPE:-}
[ -n "$fstype" ] || fstype=$(blkid -p -o value -s TYPE "$dev" 2>/dev/null)

jbool() { if [ "$1" = 1 ]; then printf true; else printf false; fi; }
jstr_or_null() { if [ -n "$1" ]; then json_str "$1"; else printf null; fi; }
# jarr STRING...: a JSON array of strings.
jarr() {
  local first=1 x
  printf '['
  for x in "$@"; do
    [ $first = 1 ] || printf ','
    first=0
    json_str "$x"
  done
  printf ']'
}
# jlines FILE REGEX MAX: the lines of FILE matching REGEX (all non-empty ones when REGEX is empty) as
# [{"n":LINE,"text":TEXT}], at most MAX of them, from the first 256 KiB.
jlines() {
  local f=$1 re=$2 max=$3 n=0 k=0 first=1 line
  printf '['
  while IFS= read -r line || [ -n "$line" ]; do
    n=$((n + 1))
    if [ -n "$re" ]; then
      [[ $line =~ $re ]] || continue
    else
      [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
    fi
    [ $first = 1 ] || printf ','
    first=0
    printf '{"n":%d,"text":%s}' "$n" "$(json_str "${line:0:1000}")"
    k=$((k + 1))
    [ $k -lt "$max" ] || break
  done < <(head -c 262144 "$f" 2>/dev/null)
  printf ']'
}

# --- Mount read-only, never replaying the journal -----------------------------------------------
R='' mounted=0 work=''
cleanup() {
  if [ $mounted = 1 ]; then umount "$R" 2>/dev/null || umount -l "$R" 2>/dev/null; fi
  [ $mounted = 1 ] && rmdir "$R" 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

case $fstype in
  ext4 | ext3) opts=ro,noload ;;
  xfs) opts=ro,norecovery,nouuid ;;
  btrfs) opts=ro,nologreplay ;;
  *) opts=ro ;;
esac
opts+=,nosuid,nodev,noexec
# A filesystem another check already mounted (fs_mount, after replay) is read where it is: mounting
# the same device a second time with other options is refused by the kernel.
existing=$(findmnt -n -o TARGET --source "$dev" 2>/dev/null | head -n 1)
if [ -n "$existing" ]; then
  R=$existing
  fact mount "{\"ok\":true,\"existing\":true,\"mountpoint\":$(json_str "$R"),\"options\":$(json_str "$(findmnt -n -o OPTIONS --target "$R" 2>/dev/null)")}"
else
  R=$(scratch_dir "mnt-${dev##*/}") || exit 1
  out=$(mount -t "${fstype:-auto}" -o "$opts" "$dev" "$R" 2>&1)
  rc=$?
  if [ $rc -ne 0 ]; then
    rmdir "$R" 2>/dev/null
    fact mount "{\"ok\":false,\"exitCode\":$rc,\"options\":$(json_str "$opts"),\"output\":$(json_str "$(printf '%s' "$out" | excerpt)")}"
    exit 0
  fi
  mounted=1
  fact mount "{\"ok\":true,\"existing\":false,\"mountpoint\":$(json_str "$R"),\"options\":$(json_str "$opts")}"
fi

# rpath PATH: the helper path of PATH as the restored system sees it: symlinks are followed inside the
# restored tree (an absolute target is taken relative to its root, .. never leaves it).
rpath() {
  local rest=${1#/} cur='' comp tgt hops=0
  while [ -n "$rest" ]; do
    comp=${rest%%/*}
    if [ "$comp" = "$rest" ]; then rest=''; else rest=${rest#*/}; fi
    case $comp in
      '' | .) continue ;;
      ..) cur=${cur%/*}; continue ;;
    esac
    if [ -L "$R$cur/$comp" ]; then
      hops=$((hops + 1))
      [ $hops -le 40 ] || return 1
      tgt=$(readlink "$R$cur/$comp")
      case $tgt in
        /*) cur=''; rest="${tgt#/}${rest:+/$rest}" ;;
        *) rest="$tgt${rest:+/$rest}" ;;
      esac
    else
      cur="$cur/$comp"
    fi
  done
  printf '%s' "$R$cur"
}
# rfile PATH / rdir PATH: true when PATH is a regular file / a directory in the restored tree.
rfile() { local p; p=$(rpath "$1") && [ -f "$p" ]; }
rdir() { local p; p=$(rpath "$1") && [ -d "$p" ]; }

# --- The device's own identity ------------------------------------------------------------------------
# Only what this disk says about itself: the harness knows the rest of the restored set and gives it to the judge.
probe_self=$(blkid -p -o export "$dev" 2>/dev/null)
pval() { printf '%s\n' "$probe_self" | sed -n "s/^$1=//p" | head -n 1; }
fact identity "{\"uuid\":$(jstr_or_null "$(pval UUID)"),\"label\":$(jstr_or_null "$(pval LABEL)"),\"fstype\":$(jstr_or_null "$(pval TYPE)"),\"partuuid\":$(jstr_or_null "$(pval PART_ENTRY_UUID)")}"

# What the lint sees is the state before journal replay: say whether a replay was pending.
pending=null
if [[ $fstype == ext[34] ]] && command -v dumpe2fs >/dev/null 2>&1; then
  if dumpe2fs -h "$dev" 2>/dev/null | grep -E '^Filesystem features:' | grep -qw needs_recovery; then pending=true; else pending=false; fi
fi
fact journal "{\"fstype\":$(jstr_or_null "$fstype"),\"replayPending\":$pending}"

# Everything below reads the disk's content: in the sandbox, read-only (CAP_DAC_READ_SEARCH only),
# with only this filesystem visible and a private, size-capped /tmp for the initramfs listing.
lint_inside() {
R=$1 has_fstab=$2 init=$3
work=$(mktemp -d /tmp/bootlint-work.XXXXXX) || exit 1

# --- Distribution and how it builds its initramfs --------------------------------------------------
osr=$(rpath /etc/os-release)
[ -f "$osr" ] || osr=$(rpath /usr/lib/os-release)
osv() { [ -f "$osr" ] && sed -n "s/^$1=//p" "$osr" 2>/dev/null | head -n 1 | tr -d '"'"'"; }
tool=''
if rdir /etc/initramfs-tools || rfile /usr/sbin/mkinitramfs; then tool=initramfs-tools
elif rfile /etc/dracut.conf || rdir /etc/dracut.conf.d || rfile /usr/bin/dracut; then tool=dracut
elif rfile /etc/mkinitcpio.conf; then tool=mkinitcpio
fi
fact os "{\"id\":$(jstr_or_null "$(osv ID)"),\"versionId\":$(jstr_or_null "$(osv VERSION_ID)"),\"prettyName\":$(jstr_or_null "$(osv PRETTY_NAME)"),\"initramfsTool\":$(jstr_or_null "$tool")}"

# --- fstab and the boot loader configuration -------------------------------------------------------
[ $has_fstab = 1 ] && fact fstab "{\"path\":\"/etc/fstab\",\"lines\":$(jlines "$(rpath /etc/fstab)" '' 300)}"

BOOTRE='^[[:space:]]*(linux|linux16|linuxefi|kernel|initrd|initrd16|initrdefi|search|search\.fs_uuid|search\.fs_label|set[[:space:]]+default|menuentry|title|version|options|GRUB_CMDLINE_LINUX|GRUB_CMDLINE_LINUX_DEFAULT|GRUB_DEFAULT|GRUB_DISABLE_LINUX_UUID|kernelopts|saved_entry)([[:space:]=]|$)'
cfgs=(/boot/grub/grub.cfg /boot/grub2/grub.cfg /boot/grub/menu.lst /boot/grub/grub.conf /boot/grub/grubenv /boot/grub2/grubenv /etc/default/grub)
for d in /etc/default/grub.d /boot/loader/entries; do
  p=$(rpath "$d") && [ -d "$p" ] || continue
  for f in "$p"/*; do
    case $f in *.cfg | *.conf) cfgs+=("$d/${f##*/}") ;; esac
  done
done
for c in "${cfgs[@]}"; do
  rfile "$c" || continue
  fact bootcfg "{\"file\":$(json_str "$c"),\"lines\":$(jlines "$(rpath "$c")" "$BOOTRE" 200)}"
done

# Amazon's udev rule names NVMe EBS disks after their block-device mapping (/dev/xvdf, /dev/sdf).
rules=()
for d in /etc/udev/rules.d /usr/lib/udev/rules.d /lib/udev/rules.d; do
  p=$(rpath "$d") && [ -d "$p" ] || continue
  for f in "$p"/*ec2-nvme*.rules "$p"/*ebs-nvme*.rules; do [ -f "$f" ] && rules+=("$d/${f##*/}"); done
done
fact ec2-udev "{\"rules\":$(jarr "${rules[@]}")}"

# --- The default kernel and its initramfs -----------------------------------------------------------
# strip_grub PATH: drop a GRUB device prefix "(hd0,gpt2)" or "($root)".
strip_grub() { local p=$1; [[ $p == \(*\)* ]] && p=${p#*)}; printf '%s' "$p"; }
# boot_path PATH: the restored-tree path of a boot-loader path (relative to /boot when /boot is its own filesystem).
boot_path() {
  local p
  p=$(strip_grub "$1")
  if rfile "$p"; then printf '%s' "$p"; elif rfile "/boot$p"; then printf '%s' "/boot$p"; else printf '%s' "$p"; fi
}
kpath='' ipath='' ksource=''
for c in /boot/grub/grub.cfg /boot/grub2/grub.cfg; do
  p=$(rpath "$c") && [ -f "$p" ] || continue
  # The first menu entry's linux and initrd lines (GRUB's default unless set default says otherwise).
  res=$(awk '
    /^[[:space:]]*(linux|linux16|linuxefi)[[:space:]]/ && !k { k = $2; kn = NR; next }
    k && /^[[:space:]]*(menuentry|submenu)[[:space:]]/ { exit }
    k && /^[[:space:]]*(initrd|initrd16|initrdefi)[[:space:]]/ { i = $NF; exit }
    END { if (k) printf "%s\t%s\t%d\n", k, i, kn }' "$p" 2>/dev/null)
  [ -n "$res" ] || continue
  IFS=$'\t' read -r k i kn <<<"$res"
  kpath=$(boot_path "$k")
  [ -n "$i" ] && ipath=$(boot_path "$i")
  ksource="$c:$kn"
  break
done
if [ -z "$kpath" ] && rdir /boot/loader/entries; then
  # BLS entries (Fedora, RHEL, Amazon Linux 2023): the highest version, or the saved entry.
  p=$(rpath /boot/loader/entries)
  saved=''
  for e in /boot/grub2/grubenv /boot/grub/grubenv; do
    rfile "$e" && saved=$(sed -n 's/^saved_entry=//p' "$(rpath "$e")" | head -n 1) && [ -n "$saved" ] && break
  done
  best=''
  if [ -n "$saved" ] && [ -f "$p/$saved.conf" ]; then best="$p/$saved.conf"
  else best=$(for f in "$p"/*.conf; do [ -f "$f" ] && printf '%s\t%s\n' "$(sed -n 's/^version[[:space:]]*//p' "$f" | head -n 1)" "$f"; done | sort -V | tail -n 1 | cut -f2)
  fi
  if [ -n "$best" ]; then
    k=$(awk '$1 == "linux" { print $2; exit }' "$best")
    i=$(awk '$1 == "initrd" { print $NF; exit }' "$best")
    [ -n "$k" ] && kpath=$(boot_path "$k") && ksource="/boot/loader/entries/${best##*/}"
    [ -n "$i" ] && ipath=$(boot_path "$i")
  fi
fi
if [ -z "$kpath" ]; then
  for l in /vmlinuz /boot/vmlinuz; do
    p=$(rpath "$l")
    if [ -f "$p" ]; then kpath=${p#"$R"}; ksource=$l; break; fi
  done
fi
kernels=()
bootdir=$(rpath /boot)
for f in "$bootdir"/vmlinuz-* "$bootdir"/vmlinux-*; do [ -f "$f" ] && kernels+=("${f##*/vmlinu?-}"); done
if [ -z "$kpath" ] && [ ${#kernels[@]} -gt 0 ]; then
  v=$(printf '%s\n' "${kernels[@]}" | sort -V | tail -n 1)
  for f in /boot/vmlinuz-"$v" /boot/vmlinux-"$v"; do rfile "$f" && { kpath=$f; break; }; done
  ksource=newest
fi
kver=''
if [ -n "$kpath" ]; then
  # A symlink (/vmlinuz) names its version in its target.
  kreal=$(rpath "$kpath")
  kver=${kreal##*/}
  case $kver in vmlinuz-* | vmlinux-* | kernel-*) kver=${kver#*-} ;; *) kver='' ;; esac
fi
if [ -z "$ipath" ] && [ -n "$kver" ]; then
  for f in /boot/initrd.img-"$kver" /boot/initramfs-"$kver".img /boot/initrd-"$kver".img /boot/initrd-"$kver" /boot/initramfs-"$kver"; do
    rfile "$f" && { ipath=$f; break; }
  done
fi
if [ -z "$ipath" ] && [ -z "$kver" ]; then
  for f in /initrd.img /boot/initrd.img; do rfile "$f" && { ipath=$f; break; }; done
fi
moddir='' builtin_read=0 b_nvme=0 b_ena=0 t_nvme=() t_ena=()
if [ -n "$kver" ]; then
  for d in /lib/modules/"$kver" /usr/lib/modules/"$kver"; do rdir "$d" && { moddir=$d; break; }; done
fi
if [ -n "$moddir" ]; then
  mp=$(rpath "$moddir")
  if [ -f "$mp/modules.builtin" ]; then
    builtin_read=1
    grep -Eq '(^|/)nvme\.ko$' "$mp/modules.builtin" && b_nvme=1
    grep -Eq '(^|/)ena\.ko$' "$mp/modules.builtin" && b_ena=1
  fi
  while IFS= read -r f; do
    case ${f##*/} in nvme.ko*) t_nvme+=("${f#"$mp/"}") ;; ena.ko*) t_ena+=("${f#"$mp/"}") ;; esac
  done < <(find "$mp" -xdev \( -name 'nvme.ko*' -o -name 'ena.ko*' \) 2>/dev/null | head -n 20)
fi
kexists=0
[ -n "$kpath" ] && rfile "$kpath" && kexists=1
fact kernel "{\"version\":$(jstr_or_null "$kver"),\"source\":$(jstr_or_null "$ksource"),\"path\":$(jstr_or_null "$kpath"),\"exists\":$(jbool $kexists),\"initramfs\":$(jstr_or_null "$ipath"),\"modulesDir\":$(jstr_or_null "$moddir"),\"builtinRead\":$(jbool $builtin_read),\"builtin\":{\"nvme\":$(jbool $b_nvme),\"ena\":$(jbool $b_ena)},\"modules\":{\"nvme\":$(jarr "${t_nvme[@]}"),\"ena\":$(jarr "${t_ena[@]}")},\"kernels\":$(jarr "${kernels[@]}")}"

# --- Initramfs contents -------------------------------------------------------------------------------
# bytes_hex FILE OFFSET COUNT: COUNT bytes at OFFSET as lowercase hex.
bytes_hex() { dd if="$1" iflag=skip_bytes,count_bytes skip="$2" count="$3" bs=65536 2>/dev/null | od -An -v -tx1 | tr -d ' \n'; }
# walk_newc FILE OFFSET MAX: list an uncompressed newc archive (the early microcode archive, or a whole
# uncompressed initramfs) by walking its headers; appends names to $names, sets walk_end past the
# trailer. Returns 1 when malformed, 2 after MAX entries (a large archive: cpio -t is faster).
walk_newc() {
  local f=$1 off=$2 max=$3 hdr name ns fs count=0
  while [ $count -lt "$max" ]; do
    hdr=$(dd if="$f" iflag=skip_bytes,count_bytes skip="$off" count=110 bs=110 2>/dev/null)
    [[ ${hdr:0:6} == 07070[12] && ${hdr:54:8} =~ ^[0-9A-Fa-f]{8}$ && ${hdr:94:8} =~ ^[0-9A-Fa-f]{8}$ ]] || return 1
    fs=$((16#${hdr:54:8}))
    ns=$((16#${hdr:94:8}))
    [ "$ns" -ge 1 ] && [ "$ns" -le 4096 ] || return 1
    name=$(dd if="$f" iflag=skip_bytes,count_bytes skip=$((off + 110)) count=$((ns - 1)) bs=4096 2>/dev/null | tr -d '\000')
    off=$(((off + 110 + ns + 3) / 4 * 4))
    if [ "$name" = 'TRAILER!!!' ]; then
      walk_end=$off
      return 0
    fi
    printf '%s\n' "$name" >>"$names"
    off=$((off + (fs + 3) / 4 * 4))
    count=$((count + 1))
  done
  return 2
}
# newc_end FILE OFFSET: the end of the newc archive at OFFSET: just past the first "TRAILER!!!" that is
# the name of a real trailer header (busybox's cpio applet holds the same string as data).
newc_end() {
  local f=$1 off=$2 p h
  while IFS=: read -r p _; do
    [ "$p" -ge 110 ] || continue
    h=$(dd if="$f" iflag=skip_bytes,count_bytes skip=$((off + p - 110)) count=110 bs=110 2>/dev/null)
    if [[ ${h:0:6} == 07070[12] && ${h:94:8} == 0000000[Bb] ]]; then
      printf '%s' $((off + p + 11))
      return 0
    fi
  done < <(tail -c +$((off + 1)) "$f" | grep -obUaF 'TRAILER!!!')
  return 1
}
# next_data FILE OFFSET: the offset of the next non-zero byte (archives are zero-padded), empty at the end.
next_data() {
  local n
  n=$(tail -c +$(($2 + 1)) "$1" | head -c 1048576 | od -An -v -tx1 -w1 | grep -nvm1 '^ 00$' | cut -d: -f1)
  [ -n "$n" ] && printf '%s' $(($2 + n - 1))
}
# names_append: append stdin to $names, at most NAMES_MAX bytes in all (an initramfs that lists
# gigabytes of names is a decompression bomb). It runs in a pipeline: a cap hit or a failed write is
# written to $work/names.err, which names_capped reads.
NAMES_MAX=$((64 * 1048576))
names_append() {
  local have
  have=$(stat -c %s "$names")
  if ! head -c $((NAMES_MAX - have + 1)) >>"$names"; then
    printf 'writing the initramfs listing failed (its scratch space is full)' >"$work/names.err"
  elif [ "$(stat -c %s "$names")" -gt "$NAMES_MAX" ]; then
    printf 'the initramfs lists more than %s MiB of file names (a decompression bomb?): not listed to the end' $((NAMES_MAX / 1048576)) >"$work/names.err"
  fi
}
# names_capped: true, with ierr set, when names_append hit its cap or could not write.
names_capped() { [ -s "$work/names.err" ] && ierr=$(cat "$work/names.err"); }
# read_builtin FILE: list every segment; sets segs (JSON items) and ierr.
read_builtin() {
  local f=$1 size off=0 magic dec fmt before rc
  size=$(stat -c %s "$f")
  while [ -n "$off" ] && [ "$off" -lt "$size" ]; do
    magic=$(bytes_hex "$f" "$off" 6)
    before=$(wc -l <"$names")
    case $magic in
      30373037303[12]) fmt=newc dec='' ;;
      1f8b* | 1f9e*) fmt=gzip dec='gzip -dc' ;;
      fd377a585a00) fmt=xz dec='xz -dc' ;;
      5d0000*) fmt=lzma dec='xz --format=lzma -dc' ;;
      28b52ffd*) fmt=zstd dec='zstd -dc' ;;
      02214c18* | 04224d18*) fmt=lz4 dec='lz4 -dc' ;;
      425a68*) fmt=bzip2 dec='bzip2 -dc' ;;
      894c5a4f*) fmt=lzop dec='lzop -dc' ;;
      *) ierr="unrecognised data at offset $off (bytes $magic): neither a cpio archive nor a known compression"; return 1 ;;
    esac
    if [ $fmt = newc ]; then
      walk_newc "$f" "$off" 64
      rc=$?
      if [ $rc = 2 ]; then
        # Many entries: an uncompressed main archive. cpio -t lists it at once; its end is its trailer.
        head -n "$before" "$names" >"$work/names.tmp" && mv "$work/names.tmp" "$names"
        if command -v cpio >/dev/null 2>&1; then
          tail -c +$((off + 1)) "$f" | cpio -t --quiet 2>"$work/cpio.err" | names_append
          rc=${PIPESTATUS[1]}
          names_capped && return 1
          [ "$rc" = 0 ] || { ierr="cpio -t on the uncompressed archive at offset $off exited $rc: $(head -c 300 "$work/cpio.err")"; return 1; }
          walk_end=$(newc_end "$f" "$off") || walk_end=$size
        else
          walk_newc "$f" "$off" 1000000
          rc=$?
        fi
      fi
      [ $rc = 0 ] || { ierr="malformed cpio archive at offset $off"; return 1; }
      segs+=("{\"offset\":$off,\"format\":\"newc\",\"entries\":$(($(wc -l <"$names") - before))}")
      off=$(next_data "$f" "$walk_end")
      continue
    fi
    command -v "${dec%% *}" >/dev/null 2>&1 || { ierr="$fmt-compressed archive at offset $off, and ${dec%% *} is not on the helper"; return 1; }
    command -v cpio >/dev/null 2>&1 || { ierr="$fmt-compressed archive at offset $off, and cpio is not on the helper"; return 1; }
    # cpio stops at the archive's trailer; the decompressor may then die of SIGPIPE: cpio's status decides.
    tail -c +$((off + 1)) "$f" | $dec 2>/dev/null | cpio -t --quiet 2>"$work/cpio.err" | names_append
    rc=${PIPESTATUS[2]}
    names_capped && return 1
    if [ "$rc" -ne 0 ]; then
      ierr="cpio -t on the $fmt-compressed archive at offset $off exited $rc: $(head -c 300 "$work/cpio.err")"
      return 1
    fi
    segs+=("{\"offset\":$off,\"format\":$(json_str "$fmt"),\"entries\":$(($(wc -l <"$names") - before))}")
    # Anything after a compressed archive (rare) is not listed: its end is only known to the decompressor.
    break
  done
  return 0
}
if [ -n "$ipath" ]; then
  ip=$(rpath "$ipath")
  names="$work/names"
  : >"$names"
  segs=() ierr='' reader='' ok=0 size=0
  if [ -f "$ip" ]; then
    size=$(stat -c %s "$ip")
    if read_builtin "$ip"; then
      reader=builtin ok=1
    else
      # The distribution's own listers know formats this reader does not.
      for t in lsinitramfs lsinitrd; do
        command -v $t >/dev/null 2>&1 || continue
        if $t "$ip" >"$names" 2>/dev/null && [ -s "$names" ]; then reader=$t ok=1 segs=(); break; fi
      done
    fi
  else
    ierr="$ipath does not exist"
  fi
  if [ $ok = 1 ]; then
    mapfile -t m_nvme < <(grep -E '(^|[/[:space:]])nvme\.ko(\.(xz|zst|gz|bz2))?$' "$names" | head -n 10)
    mapfile -t m_ena < <(grep -E '(^|[/[:space:]])ena\.ko(\.(xz|zst|gz|bz2))?$' "$names" | head -n 10)
    fact initramfs "{\"path\":$(json_str "$ipath"),\"bytes\":$size,\"ok\":true,\"reader\":\"$reader\",\"segments\":[$(IFS=,; printf '%s' "${segs[*]}")],\"entries\":$(wc -l <"$names"),\"nvme\":$(jarr "${m_nvme[@]}"),\"ena\":$(jarr "${m_ena[@]}")}"
  else
    fact initramfs "{\"path\":$(json_str "$ipath"),\"bytes\":$size,\"ok\":false,\"capped\":$([ -s "$work/names.err" ] && echo true || echo false),\"error\":$(json_str "$ierr"),\"segments\":[$(IFS=,; printf '%s' "${segs[*]}")]}"
  fi
fi

# --- SELinux relabel on first boot, free space -------------------------------------------------------
ar=0
p=$(rpath /.autorelabel) && [ -e "$p" ] && ar=1
selinux=''
rfile /etc/selinux/config && selinux=$(sed -n 's/^[[:space:]]*SELINUX=//p' "$(rpath /etc/selinux/config)" | tail -n 1 | tr -d '"[:space:]')
fact autorelabel "{\"present\":$(jbool $ar),\"selinux\":$(jstr_or_null "$selinux")}"

read -r size used avail itotal iused iavail < <(df -B1 --output=size,used,avail,itotal,iused,iavail "$R" 2>/dev/null | tail -n 1)
if [[ $size =~ ^[0-9]+$ ]]; then
  num() { [[ $1 =~ ^[0-9]+$ ]] && printf '%s' "$1" || printf null; }
  fact space "{\"sizeBytes\":$size,\"usedBytes\":$(num "$used"),\"availBytes\":$(num "$avail"),\"inodes\":$(num "$itotal"),\"inodesUsed\":$(num "$iused"),\"inodesFree\":$(num "$iavail")}"
fi
exit 0
}
# --- Is it a root filesystem at all? (names and links only, resolved inside the tree: no content is read) --------------------------------------------------------------
has_fstab=0 init=''
rfile /etc/fstab && has_fstab=1
for p in /sbin/init /usr/sbin/init /usr/lib/systemd/systemd /lib/systemd/systemd; do
  if rfile "$p"; then init=$p; break; fi
done
# /sbin/init is what the initramfs (and the kernel) start unless the command line says init=.
sbin_init=0
rfile /sbin/init && sbin_init=1
fact root "{\"fstab\":$(jbool $has_fstab),\"init\":$(jstr_or_null "$init"),\"sbinInit\":$(jbool $sbin_init)}"
[ $has_fstab = 1 ] || [ -n "$init" ] || exit 0
sandbox -r "$R" -c read -T 512 -m 2048 -t "${SNAPDRILL_TIMEOUT_S:-600}" -- lint_inside "$R" "$has_fstab" "$init"
exit 0
