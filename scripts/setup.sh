#!/usr/bin/env bash
# Everything mcuforge needs on a fresh Debian/Ubuntu machine with Python 3.11; safe to re-run.
# Creates .venv/ in the project and installs the package with its pinned dependencies
# (TensorFlow, tfmot, LiteRT, tflite-micro, DVC, Hydra, CMSIS-DSP's Python API built from source).
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "error: mcuforge needs Python 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev]'
echo "setup done: activate with '. .venv/bin/activate'"
