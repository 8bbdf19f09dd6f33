# Sourced by the entry scripts: run as root directly (minimal images and containers have no sudo), or
# re-run the calling script through sudo when not root, keeping PATH so the same node is used. Sourced
# after the script has changed to the repository root.
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    exec sudo env "PATH=$PATH" bash "scripts/$(basename "$0")" "$@"
  fi
  echo "$(basename "$0"): needs root (it installs Debian packages and attaches loop devices), and sudo is not installed: run it as root" >&2
  exit 2
fi
