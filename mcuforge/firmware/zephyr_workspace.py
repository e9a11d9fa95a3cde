"""The Zephyr workspace the firmware stage builds in: where it is, what it holds, what is missing.

    ws = find_workspace(project_root)   # ZephyrWorkspace (never raises; problems say what to fix)
    print("\\n".join(describe(ws)))      # `mcuforge zephyr`
    key = workspace_key(ws)             # build/zephyr_env.json (stages/zephyr_env.py): what DVC keys on

The workspace: $ZEPHYR_BASE when set, else `west topdir` of the project (west.yml at the project's
root is an application manifest: `west init -l mcuforge && west update`). West is read in-process
(it is a project dependency), so no workspace virtualenv has to be on PATH. The modules the app
needs are west.yml's name-allowlist; MODULES_FOR_KCONFIG / MODULES_FOR_BOARD say why each is there
(tests/test_west_manifest.py checks the allow-list covers them).
"""
from __future__ import annotations

import importlib.util
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from mcuforge.errors import McuforgeError
from mcuforge.firmware import zephyr_build

MANIFEST = "west.yml"
SETUP = "mkdir ws && cd ws && git clone <this repository> mcuforge && west init -l mcuforge && west update"
# Zephyr 4.1: Kconfig symbols that only exist with a module (each is defined in
# zephyr/modules/<module>/Kconfig), longest prefix first, with the modules their `select`s pull in.
MODULES_FOR_KCONFIG = {
    "TENSORFLOW_LITE_MICRO_CMSIS_NN": ("tflite-micro", "cmsis-nn", "cmsis-dsp"),  # selects CMSIS_NN
    "TENSORFLOW_LITE_MICRO": ("tflite-micro",),
    "CMSIS_NN": ("cmsis-nn", "cmsis-dsp"),  # selects CMSIS_DSP
    "CMSIS_DSP": ("cmsis-dsp",),
    "USE_STDC_LSM9DS1": ("hal_st",),  # arduino_nano_33_ble's LSM9DS1 (Kconfig MCUFORGE_SENSOR_LSM9DS1)
}
# Modules a board needs (by Zephyr board name); None: not buildable here (no toolchain for its core).
MODULES_FOR_BOARD = {
    "qemu_cortex_m3": ("cmsis",),
    "mps2/an385": ("cmsis",),
    "nrf52840dk/nrf52840": ("cmsis", "hal_nordic", "segger"),  # its defconfig sets CONFIG_USE_SEGGER_RTT=y
    "arduino_nano_33_ble": ("cmsis", "hal_nordic"),
    "nucleo_l4r5zi": ("cmsis", "hal_stm32"),
    "esp32_devkitc/esp32/procpu": None,  # hal_espressif + the Zephyr SDK's Xtensa toolchain
    "rpi_pico": None,  # bare metal only here: NOT_BUILDABLE
    "esp32c3_devkitm": None,
}
# Why a board with a bare-metal core here still has no Zephyr build: exactly what is missing.
NOT_BUILDABLE = {
    "rpi_pico": "no Zephyr build for rpi_pico here: it needs the hal_rpi_pico module (the Pico SDK), which "
                "west.yml does not allow-list and the workspace lacks (add `- hal_rpi_pico` to west.yml's "
                "name-allowlist, `west update hal_rpi_pico`); the bare-metal Cortex-M0 image is verified",
    "esp32c3_devkitm": "no Zephyr build for esp32c3_devkitm here: it needs the hal_espressif module and its "
                       "binary blobs (`west blobs fetch hal_espressif`), neither in west.yml's allow-list nor in "
                       "the workspace, and a RISC-V toolchain Zephyr accepts (the Zephyr SDK's "
                       "riscv64-zephyr-elf; Debian's riscv64-unknown-elf-gcc as `cross-compile` is untried); "
                       "the bare-metal RV32IMC image is verified",
}
# What Zephyr 4.1's build scripts import (module -> package), run by this interpreter (WEST_PYTHON)
BUILD_PYTHON_PACKAGES = {"elftools": "pyelftools", "pykwalify": "pykwalify", "yaml": "PyYAML",
                         "packaging": "packaging"}


@dataclass(frozen=True)
class ZephyrWorkspace:
    topdir: Path | None                 # west topdir, or None
    zephyr_base: Path | None            # ZEPHYR_BASE or <topdir>/zephyr (None: no usable Zephyr tree)
    zephyr_version: str | None          # from zephyr/VERSION, e.g. "4.1.0" or "4.1.0-rc1"
    modules_present: list[str]          # of the modules the app needs (west.yml's name-allowlist)
    modules_missing: list[str]
    toolchain: str                      # the build's choice, human-readable (variant + path)
    problems: list[str]                 # one line each, with the command that fixes it
    zephyr_revision: str | None = None  # git HEAD of zephyr/, when it is a git checkout
    module_revisions: dict = field(default_factory=dict)  # present module -> git HEAD (or "")
    manifest_revision: str | None = None  # what west.yml pins Zephyr to (e.g. "v4.1.0")


def allowlist(project_root: Path) -> tuple[list[str], str | None]:
    """(west.yml's name-allowlist for the zephyr import, the zephyr revision it pins)."""
    path = Path(project_root) / MANIFEST
    try:
        manifest = yaml.safe_load(path.read_text(encoding="utf-8"))["manifest"]
        zephyr = next(p for p in manifest["projects"] if p["name"] == "zephyr")
        return list(zephyr["import"]["name-allowlist"]), str(zephyr.get("revision"))
    except (OSError, KeyError, TypeError, StopIteration, yaml.YAMLError) as exc:
        raise McuforgeError(f"{path}: no zephyr project with import: name-allowlist ({exc!r}): "
                            f"restore it from git (`git checkout -- {MANIFEST}`)") from exc


def modules_needed(zephyr_board: str, kconfig_symbols: list[str]) -> list[str]:
    """Modules a build for this board with these Kconfig symbols enabled needs."""
    needed = list(MODULES_FOR_BOARD.get(zephyr_board) or ("cmsis",))
    for symbol in kconfig_symbols:
        prefix = next((p for p in MODULES_FOR_KCONFIG if symbol.startswith(p)), None)
        needed += MODULES_FOR_KCONFIG[prefix] if prefix else ()
    return sorted(set(needed))


def _version(zephyr_base: Path) -> str | None:
    try:
        fields = dict(re.findall(r"^(\w+)\s*=\s*(\S*)", (zephyr_base / "VERSION").read_text(), re.M))
        version = f"{fields['VERSION_MAJOR']}.{fields['VERSION_MINOR']}.{fields['PATCHLEVEL']}"
    except (OSError, KeyError):
        return None
    return version + (f"-{fields['EXTRAVERSION']}" if fields.get("EXTRAVERSION") else "")


def _git_head(path: Path) -> str | None:
    done = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True, text=True)
    return done.stdout.strip() if done.returncode == 0 else None


def _topdir(project_root: Path) -> Path | None:
    from west.util import WestNotFound, west_topdir
    try:
        return Path(west_topdir(project_root, fall_back=False))
    except WestNotFound:
        return None


def _module_paths(topdir: Path | None, zephyr_base: Path, problems: list[str]) -> dict[str, Path]:
    """name -> path of every active project west knows (the modules Zephyr's build will see)."""
    if topdir is None:  # a bare ZEPHYR_BASE: the standard layout of Zephyr's own west.yml, beside it
        try:
            projects = yaml.safe_load((zephyr_base / "west.yml").read_text())["manifest"]["projects"]
            for sub in sorted((zephyr_base / "submanifests").glob("*.yaml")):
                projects += yaml.safe_load(sub.read_text())["manifest"].get("projects", [])
        except (OSError, KeyError, TypeError, yaml.YAMLError):
            return {}
        return {p["name"]: zephyr_base.parent / p.get("path", p["name"]) for p in projects}
    from west.manifest import Manifest, ManifestImportFailed, MalformedManifest
    try:
        manifest = Manifest.from_topdir(topdir=topdir)
    except ManifestImportFailed:
        problems.append(f"the workspace's manifest imports are not resolved: `cd {topdir} && west update`")
        return {}
    except (MalformedManifest, OSError, RuntimeError) as exc:
        problems.append(f"west cannot read the workspace's manifest ({exc}): `cd {topdir} && west manifest "
                        f"--validate` says more")
        return {}
    return {p.name: Path(p.abspath) for p in manifest.get_projects([]) if manifest.is_active(p)}


def _is_zephyr_tree(path: Path) -> bool:
    return (path / "cmake" / "modules" / "zephyr_default.cmake").is_file()


def find_workspace(project_root: Path) -> ZephyrWorkspace:
    """What the firmware stage would build with; project_root may be a folder inside the project."""
    start = Path(project_root).resolve()
    project_root = next((p for p in (start, *start.parents) if (p / MANIFEST).is_file()), None)
    if project_root is None:  # a copy of the pipeline without west.yml: the one beside this code
        project_root = zephyr_build.ROOT if (zephyr_build.ROOT / MANIFEST).is_file() else start
    problems: list[str] = []
    try:
        wanted, pinned = allowlist(project_root)
    except McuforgeError as err:
        wanted, pinned = [], None
        problems.append(str(err))
    topdir = _topdir(project_root)
    if os.environ.get("ZEPHYR_BASE"):
        base = Path(os.environ["ZEPHYR_BASE"]).resolve()
        if not _is_zephyr_tree(base):
            problems.append(f"ZEPHYR_BASE={base} is not a Zephyr tree (no cmake/modules/zephyr_default.cmake): "
                            f"`unset ZEPHYR_BASE` to use the west workspace, or point it at <workspace>/zephyr")
            base = None
    elif topdir is not None:
        base = topdir / "zephyr"
        if not _is_zephyr_tree(base):
            problems.append(f"west workspace {topdir} has no zephyr/ yet: `cd {topdir} && west update`")
            base = None
    else:
        base = None
        problems.append(f"no Zephyr workspace (no ZEPHYR_BASE, the project is in no west workspace): {SETUP} "
                        f"(docs/zephyr.md)")
    version = _version(base) if base else None
    present, missing, revisions = [], [], {}
    if base is not None:
        in_west = topdir is not None and base == topdir / "zephyr"  # else ZEPHYR_BASE elsewhere: its layout
        paths = _module_paths(topdir if in_west else None, base, problems)
        for name in wanted:
            path = paths.get(name)
            if path is not None and path.is_dir() and any(path.iterdir()):
                present.append(name)
                revisions[name] = _git_head(path) or ""
            else:
                missing.append(name)
        if missing and in_west:
            problems.append(f"modules missing: {', '.join(missing)}: `cd {topdir} && west update "
                            f"{' '.join(missing)}`" + (" (tflite-micro is in Zephyr's `optional` group: in a "
                            "workspace of your own first `west config manifest.project-filter -- +tflite-micro`)"
                            if "tflite-micro" in missing else ""))
        elif missing:
            problems.append(f"modules missing beside ZEPHYR_BASE={base}: {', '.join(missing)}: use the project's "
                            f"workspace instead ({SETUP})")
        if pinned and version and pinned.lstrip("v") != version:
            problems.append(f"zephyr/ is {version} but west.yml pins {pinned}: `cd {topdir or base.parent} && "
                            f"west update zephyr`")
    lacking = [pkg for mod, pkg in BUILD_PYTHON_PACKAGES.items() if importlib.util.find_spec(mod) is None]
    if base is not None and lacking:
        problems.append(f"Zephyr's build scripts need {', '.join(lacking)} in the project's environment: "
                        f"`python -m pip install {' '.join(lacking)}`")
    try:
        toolchain = zephyr_build.toolchain_setup(dict(os.environ))[2]
    except McuforgeError as err:
        toolchain = "none"
        problems.append(str(err))
    return ZephyrWorkspace(topdir=topdir, zephyr_base=base, zephyr_version=version, modules_present=present,
                           modules_missing=missing, toolchain=toolchain, problems=problems,
                           zephyr_revision=_git_head(base) if base else None, module_revisions=revisions,
                           manifest_revision=pinned)


def describe(ws: ZephyrWorkspace) -> list[str]:
    """The lines `mcuforge zephyr` prints."""
    where = str(ws.zephyr_base) if ws.zephyr_base else "none"
    if ws.zephyr_base and ws.topdir and ws.zephyr_base.parent == ws.topdir:
        where = f"{ws.topdir} (west topdir)"
    elif ws.zephyr_base:
        where = f"{ws.zephyr_base} (ZEPHYR_BASE)"
    lines = [f"workspace: {where}"]
    if ws.zephyr_base:
        rev = f" at {ws.zephyr_revision[:12]}" if ws.zephyr_revision else ""
        pin = f" (west.yml pins {ws.manifest_revision})" if ws.manifest_revision else ""
        lines.append(f"zephyr: {ws.zephyr_version or 'unknown version'}{rev}{pin}")
        lines.append("modules present: " + (", ".join(ws.modules_present) or "none"))
        lines.append("modules missing: " + (", ".join(ws.modules_missing) or "none"))
    lines.append(f"toolchain: {ws.toolchain}")
    lines += [f"problem: {p}" for p in ws.problems]
    return lines


def workspace_key(ws: ZephyrWorkspace) -> dict:
    """What the firmware stage's Zephyr build depends on, for build/zephyr_env.json: no timestamps, so
    the file's bytes change only when the workspace, its revisions or the toolchain choice do."""
    if ws.zephyr_base is None:
        return {"zephyr_base": None}
    return {"zephyr_base": str(ws.zephyr_base), "zephyr_version": ws.zephyr_version,
            "zephyr_revision": ws.zephyr_revision, "modules": dict(sorted(ws.module_revisions.items())),
            "toolchain": ws.toolchain}
