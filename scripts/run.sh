#!/usr/bin/env bash
# Run the app: install what is missing, then start the till window
# (pass --headless to serve without a window and print the URL).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
if [ -z "${DISPLAY:-}" ] && [ -z "${WAYLAND_DISPLAY:-}" ] && [[ " $* " != *" --headless "* ]]; then
  echo "No display found: serving headless. Open the printed URL in a browser on this machine."
  set -- --headless "$@"
fi
export QTWEBENGINE_CHROMIUM_FLAGS="${QTWEBENGINE_CHROMIUM_FLAGS:---no-sandbox}"
export PYWEBVIEW_GUI=qt
# The stable launcher starts the installed version (or this one) and applies staged updates.
exec .venv/bin/python aurswift_stable.py "$@"
