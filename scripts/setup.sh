#!/usr/bin/env bash
# Everything mcuforge needs on a fresh Debian/Ubuntu machine with Python 3.11; safe to re-run.
# Creates .venv/ in the project and installs the package with its pinned dependencies
# (TensorFlow, tfmot, LiteRT, tflite-micro, DVC, Hydra, CMSIS-DSP's Python API built from source).
set -euo pipefail
cd "$(dirname "$0")/.."

# Cortex-M cross compiler and emulator: bare-metal images of the generated model run under QEMU
# (tests/test_baremetal.py, `mcuforge bench codegen`). Installed from Debian's packages when missing.
# `--zephyr`: also what a `west build` of the Zephyr application needs (docs/zephyr.md).
# RISC-V (rv32imc, the esp32c3_devkitm board's core): compiler, picolibc and qemu-system-riscv32.
APT_PACKAGES="gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
APT_PACKAGES="$APT_PACKAGES gcc-riscv64-unknown-elf picolibc-riscv64-unknown-elf qemu-system-misc"
ZEPHYR_APT_PACKAGES="picolibc-arm-none-eabi libstdc++-arm-none-eabi-picolibc device-tree-compiler gperf cmake ninja-build"
NEED_APT=0
for tool in arm-none-eabi-gcc qemu-system-arm riscv64-unknown-elf-gcc qemu-system-riscv32; do
  command -v $tool >/dev/null || NEED_APT=1
done
dpkg -s picolibc-riscv64-unknown-elf >/dev/null 2>&1 || NEED_APT=1
if [ "${1:-}" = "--zephyr" ]; then
  APT_PACKAGES="$APT_PACKAGES $ZEPHYR_APT_PACKAGES"
  dpkg -s $ZEPHYR_APT_PACKAGES >/dev/null 2>&1 || NEED_APT=1
elif [ -n "${1:-}" ]; then
  echo "error: unknown option $1 (the only one is --zephyr: also install the Zephyr build's packages)" >&2
  exit 2
fi
if [ "$NEED_APT" = 1 ]; then
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null; then SUDO="sudo"; else SUDO=none; fi
  if [ "$SUDO" = none ]; then
    echo "warning: cannot install $APT_PACKAGES (not root, no sudo): bare-metal tests will be skipped" >&2
  else
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends $APT_PACKAGES >/dev/null
  fi
fi

PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info[:2] != (3, 11))'; then
  echo "error: mcuforge needs Python 3.11 (found $("$PYTHON" --version 2>&1)); set PYTHON=/path/to/python3.11" >&2
  exit 2
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[dev,ray]'

# moto's S3 server (tests/test_remote.py) in its own venv: its botocore conflicts with dvc-s3's
# aiobotocore pin. Skipped when .venv-moto/ already holds exactly scripts/moto-requirements.txt.
if ! cmp -s scripts/moto-requirements.txt .venv-moto/installed-requirements.txt; then
  [ -x .venv-moto/bin/python ] || "$PYTHON" -m venv .venv-moto
  .venv-moto/bin/python -m pip install --quiet -r scripts/moto-requirements.txt
  cp scripts/moto-requirements.txt .venv-moto/installed-requirements.txt
fi
echo "setup done: activate with '. .venv/bin/activate'"
