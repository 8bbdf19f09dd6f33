#!/usr/bin/env bash
# Installs what snapdrill and its tests need on a fresh Debian 12 machine, then builds it.
# Idempotent: re-running skips what is already there. Needs root (apt, loop devices).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=as-root.sh
source scripts/as-root.sh


# Debian packages: the filesystem and database tools the checks run (the local provider's helper is
# this machine), the partitioning tools the fixtures use, QEMU and OVMF for boot tests, and debootstrap
# plus GRUB's images and mtools to build the bootable fixture disk; Chromium to test the HTML report in
# a real browser (playwright-core drives it) and Prometheus for promtool, which checks the metrics file.
APT_PACKAGES=(e2fsprogs xfsprogs util-linux fdisk gdisk coreutils psmisc sqlite3 postgresql postgresql-contrib mariadb-server openssh-server openssh-client
  qemu-system-x86 qemu-utils ovmf debootstrap grub-pc-bin grub-efi-amd64-bin grub-common mtools dosfstools cpio zstd lz4 xz-utils iproute2
  chromium prometheus)
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup.sh: installing ${missing[*]}" >&2
  # Installing a server package must not start a service on this machine: snapdrill starts engines
  # itself, on scratch copies, and stops them.
  created_policy=0
  if [ ! -e /usr/sbin/policy-rc.d ]; then
    printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d && created_policy=1
    trap 'rm -f /usr/sbin/policy-rc.d' EXIT
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  [ $created_policy -eq 0 ] || { rm -f /usr/sbin/policy-rc.d; trap - EXIT; }
fi

if ! command -v node >/dev/null || ! node -e 'const [a,b]=process.versions.node.split(".").map(Number); process.exit(a>20||(a===20&&b>=19)?0:1)'; then
  echo "setup.sh: Node.js >= 20.19 is required (found $(node --version 2>/dev/null || echo none))" >&2
  exit 2
fi

# npm ci only when the lockfile changed since the last install.
stamp=node_modules/.snapdrill-lock-hash
want=$(sha256sum package-lock.json | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  npm ci --no-audit --no-fund >&2
  echo "$want" >"$stamp"
fi
npm run --silent build >&2
