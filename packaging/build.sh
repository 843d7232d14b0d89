#!/bin/sh
# Build the onedir bundle: dist/distill-studio/ (run by `make bundle`).
#
#   packaging/build.sh            uses .venv/bin/python (PyInstaller installed by `make bundle`)
#   PYTHON=python3 packaging/build.sh
#
# Compiles the kernels ahead of time first when they are missing or stale
# (packaging/build_kernels.py -> distill/audio/: the bundle carries no numba), then runs
# PyInstaller. Prints the build time and the
# bundle's size; build/ holds the work files.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}
DIST="$ROOT/dist/distill-studio"
cd "$ROOT"

started=$(date +%s)
"$PYTHON" packaging/build_kernels.py --if-stale >/dev/null
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/distill-studio.spec

# The `distill` command of the bundle, and the Linux desktop entry with its icon.
cp packaging/distill "$DIST/distill"
chmod +x "$DIST/distill"
cp packaging/distill-studio.desktop "$DIST/"
cp resources/icons/distill-studio-256.png "$DIST/distill-studio.png"

elapsed=$(( $(date +%s) - started ))
bytes=$(du -sb "$DIST" | cut -f1)
echo "bundle: $DIST"
echo "build time: ${elapsed} s, size: $(( bytes / 1000000 )) MB ($(( bytes / 1048576 )) MiB)"
