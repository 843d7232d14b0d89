#!/bin/sh
# Build the onedir bundle: dist/distill-studio/ (run by `make bundle`).
#
#   packaging/build.sh            uses .venv/bin/python (PyInstaller installed by `make bundle`)
#   PYTHON=python3 packaging/build.sh
#
# Prints the build time and the bundle's size; build/ holds PyInstaller's work files.
set -eu
ROOT=$(CDPATH= cd -- "$(dirname -- "$0")/.." && pwd -P)
PYTHON=${PYTHON:-"$ROOT/.venv/bin/python"}
DIST="$ROOT/dist/distill-studio"
cd "$ROOT"

started=$(date +%s)
"$PYTHON" -m PyInstaller --noconfirm --clean --log-level WARN \
    --distpath "$ROOT/dist" --workpath "$ROOT/build/pyinstaller" packaging/distill-studio.spec

# The `distill` command of the bundle, and the Linux desktop entry with its icon.
cp packaging/distill "$DIST/distill"
chmod +x "$DIST/distill"
cp packaging/distill-studio.desktop "$DIST/"
cp resources/icons/distill-studio-256.png "$DIST/distill-studio.png"

elapsed=$(( $(date +%s) - started ))
size=$(du -sm "$DIST" | cut -f1)
echo "bundle: $DIST"
echo "build time: ${elapsed} s, size: ${size} MB"
