#!/usr/bin/env bash
# Install everything AurSwift needs on a fresh Debian machine: system packages
# (when run as root or with sudo), a virtualenv in .venv, and the Python
# packages from pyproject.toml. Safe to run again: it skips what is done.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(chromium xvfb xauth libxcb-icccm4 libxcb-keysyms1 libxcb-cursor0 libegl1 libxkbcommon-x11-0 sqlite3 imagemagick)
missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  echo "Installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv

# Reinstall only when pyproject.toml changed since the last install.
stamp=.venv/.setup-stamp
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  echo "Installing Python packages into .venv"
  # (this machine's pip config lists local mirrors that may be absent: hide those warnings)
  { .venv/bin/python -m pip install -q --upgrade pip && .venv/bin/python -m pip install -q -e ".[dev,bundle]"; } 2>&1 |
    { grep -v -e "is ignored: it is neither a file nor a directory" -e "BuildBackendWarning" -e "Please be careful" \
        -e "name as your package" -e "with strategy, WheelFile" -e '^\s*\*\**$' -e '^\s*!!$' -e '^\s*$' || true; }
  echo "$want" > "$stamp"
fi
