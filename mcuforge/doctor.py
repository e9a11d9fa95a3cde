"""`mcuforge doctor`: what the chain needs, what is here, and the command that fixes each gap.

    checks = run_checks(Path.cwd()); print("\n".join(report_lines(checks)))

Two kinds of checks: `required` ones (the default `dvc repro` cannot run without them: Python 3.11,
the pinned Python packages, `python` on PATH being this environment, the host C compiler, the Arm
toolchain and QEMU of the firmware stage) and `zephyr` ones (only a `west build` of the Zephyr
application needs them: west, a workspace, its modules, picolibc, CMake/Ninja/dtc). Nothing here
imports TensorFlow: packages are checked by their installed metadata against mcuforge's pins.
"""
from __future__ import annotations

import importlib.metadata
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from packaging.requirements import Requirement

SETUP = "bash scripts/setup.sh"
APT_FIRMWARE = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm"
ZEPHYR_HOST_TOOLS = {"cmake": "cmake", "ninja": "ninja-build", "dtc": "device-tree-compiler", "gperf": "gperf"}


@dataclass(frozen=True)
class Check:
    kind: str          # "required" | "zephyr"
    name: str
    ok: bool
    detail: str        # what was found (version, path) or what is missing
    fix: str = ""      # the exact command (or step) that fixes it; empty when ok


def _python() -> Check:
    found = ".".join(map(str, sys.version_info[:3]))
    return Check("required", "python", sys.version_info[:2] == (3, 11), f"{found} ({sys.executable})",
                 "install Python 3.11, then `PYTHON=/path/to/python3.11 bash scripts/setup.sh`")


def _pinned_packages() -> Check:
    try:
        requirements = [Requirement(r) for r in importlib.metadata.requires("mcuforge") or []]
    except importlib.metadata.PackageNotFoundError:
        return Check("required", "python packages", False, "mcuforge is not installed in this Python", SETUP)
    problems = []
    for req in requirements:
        if req.marker is not None:  # extras (dev): not needed to run the chain
            continue
        try:
            version = importlib.metadata.version(req.name)
        except importlib.metadata.PackageNotFoundError:
            problems.append(f"{req.name} missing")
            continue
        if version not in req.specifier:
            problems.append(f"{req.name} {version} (need {req.specifier})")
    detail = f"{len(requirements)} pins satisfied" if not problems else "; ".join(problems)
    return Check("required", "python packages", not problems, detail, SETUP)


def _path_python() -> Check:
    """DVC runs each stage's `python -m stages.x` with the first `python` on PATH."""
    python = shutil.which("python")
    if python is None:
        return Check("required", "python on PATH", False, "no `python` on PATH", ". .venv/bin/activate")
    probe = subprocess.run([python, "-c", "import mcuforge, numpy"], capture_output=True, text=True)
    return Check("required", "python on PATH", probe.returncode == 0,
                 python if probe.returncode == 0 else f"{python} cannot import mcuforge (DVC's stages would fail)",
                 ". .venv/bin/activate  (and put no other venv before it on PATH)")


def _tool(kind: str, name: str, fix: str, version_arg: str = "--version") -> Check:
    path = shutil.which(name)
    if path is None:
        return Check(kind, name, False, "not on PATH", fix)
    out = subprocess.run([path, version_arg], capture_output=True, text=True)
    first = (out.stdout or out.stderr).strip().splitlines()
    return Check(kind, name, True, f"{first[0] if first else '?'} ({path})")


def _picolibc() -> Check:
    fix = "apt-get install picolibc-arm-none-eabi libstdc++-arm-none-eabi-picolibc"
    gcc = shutil.which("arm-none-eabi-gcc")
    if gcc is None:
        return Check("zephyr", "picolibc", False, "no arm-none-eabi-gcc to ask", fix)
    specs = subprocess.run([gcc, "-print-file-name=picolibc.specs"], capture_output=True, text=True).stdout.strip()
    found = bool(specs) and Path(specs).is_file()
    return Check("zephyr", "picolibc", found, specs if found else "picolibc.specs not found", fix)


def _zephyr_checks(project_root: Path) -> list[Check]:
    from mcuforge.firmware.zephyr_workspace import SETUP as ZEPHYR_SETUP, find_workspace

    ws = find_workspace(project_root)
    init = f"{ZEPHYR_SETUP} (docs/zephyr.md)"
    checks = [Check("zephyr", "workspace", ws.zephyr_base is not None,
                    f"{ws.zephyr_base} (Zephyr {ws.zephyr_version})" if ws.zephyr_base else "none found", init)]
    if ws.zephyr_base is None:
        return checks  # the line above says how to make one; nothing else to check yet
    checks.append(Check("zephyr", "modules", not ws.modules_missing,
                        "present: " + ", ".join(ws.modules_present) if not ws.modules_missing
                        else "missing: " + ", ".join(ws.modules_missing), "west update"))
    checks.append(Check("zephyr", "toolchain", True, ws.toolchain))
    return checks + [Check("zephyr", "workspace check", False, problem) for problem in ws.problems]


def run_checks(project_root: Path) -> list[Check]:
    checks = [_python(), _pinned_packages(), _path_python(),
              Check("required", "project root", (project_root / "dvc.yaml").is_file(),
                    str(project_root), "cd into the mcuforge checkout (where dvc.yaml is)"),
              _tool("required", "gcc", "apt-get install gcc"),
              *(_tool("required", tool, APT_FIRMWARE) for tool in
                ("arm-none-eabi-gcc", "arm-none-eabi-size", "arm-none-eabi-nm", "qemu-system-arm")),
              _tool("zephyr", "west", SETUP),
              _picolibc(),
              *(_tool("zephyr", tool, f"apt-get install {package}") for tool, package in ZEPHYR_HOST_TOOLS.items())]
    return checks + _zephyr_checks(project_root)


def report_lines(checks: list[Check]) -> list[str]:
    """One line per check, then the verdicts for `dvc repro` and for the Zephyr build."""
    width = max(len(c.name) for c in checks)
    lines = []
    for kind, title in (("required", "the default chain (dvc repro)"), ("zephyr", "the Zephyr build (optional)")):
        lines.append(f"{title}:")
        for c in (c for c in checks if c.kind == kind):
            fix = f"  -> fix: {c.fix}" if not c.ok and c.fix else ""
            lines.append(f"  {'ok' if c.ok else 'MISSING':<7}  {c.name:<{width}}  {c.detail}{fix}")
    missing = [c.name for c in checks if c.kind == "required" and not c.ok]
    lines.append("dvc repro: can run" if not missing else f"dvc repro: cannot run ({', '.join(missing)} missing)")
    zephyr_missing = [c.name for c in checks if c.kind == "zephyr" and not c.ok]
    lines.append("Zephyr build: ready" if not zephyr_missing
                 else f"Zephyr build: would still need {', '.join(dict.fromkeys(zephyr_missing))} (above)")
    return lines


def chain_can_run(checks: list[Check]) -> bool:
    return all(c.ok for c in checks if c.kind == "required")
