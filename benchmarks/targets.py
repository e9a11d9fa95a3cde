"""The pipeline's model on every board config's core: bit-exact on QEMU, flash, RAM, stack, instructions.

    mcuforge bench targets [--boards a,b] [--max-windows N] [--work DIR] [--out PATH]

For each conf/board/*.yaml: the firmware stage itself (`python -m stages.firmware`) in a scratch
folder holding links to the project's models/, data/ and firmware/ and the project's params.yaml
with only `board` replaced by that config -- what `dvc repro` with `board=<name>` would report.
Per board: core, qemu_machine, flash_bytes / ram_bytes (deployable image), stack_bytes (measured
peak), instructions_per_inference (exact, single-step exec trace of the first test windows),
windows run and logits_exact (bit-exact with the Python int8 pipeline). A board without a core
here (esp32: xtensa-lx6) gets its stage note instead. `ratio_to_cortex_m3`: instructions per
inference over the Cortex-M3 board's (mps2_an385), the target being <= 1.3 on Cortex-M0+ and RV32.

Writes reports/bench_targets.json and prints one line per board. Needs the firmware stage's
inputs (run `dvc repro codegen` first) and the toolchains of scripts/setup.sh.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcuforge import atomic  # noqa: E402
from mcuforge.errors import McuforgeError  # noqa: E402

BOARDS = ROOT / "conf" / "board"
REFERENCE_BOARD = "mps2_an385"  # the Cortex-M3 image the other cores are compared with
TARGET_RATIO = 1.3
LINKED = ("models", "data", "firmware")


def board_names() -> list[str]:
    return sorted(p.stem for p in BOARDS.glob("*.yaml"))


def run_board(name: str, work: Path, max_windows: int | None) -> dict:
    """The firmware stage for board `name` in work/<name>/; its reports/firmware.json."""
    folder = Path(work) / name
    folder.mkdir(parents=True, exist_ok=True)
    for part in LINKED:
        if not (folder / part).exists():
            (folder / part).symlink_to(ROOT / part)
    params = yaml.safe_load((ROOT / "params.yaml").read_text(encoding="utf-8"))
    params["board"] = yaml.safe_load((BOARDS / f"{name}.yaml").read_text(encoding="utf-8"))
    (folder / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False), encoding="utf-8")
    cmd = [sys.executable, "-m", "stages.firmware"] + ([] if max_windows is None else
                                                        ["--max-windows", str(max_windows)])
    env = {**os.environ, "PYTHONPATH": str(ROOT), "ZEPHYR_BASE": ""}
    done = subprocess.run(cmd, cwd=folder, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise McuforgeError(f"firmware stage for board {name} failed:\n{done.stdout}{done.stderr}")
    return json.loads((folder / "reports" / "firmware.json").read_text(encoding="utf-8"))


def summarize(report: dict) -> dict:
    qemu = report["qemu"] or {}
    return {"core": report["cpu"], "qemu_machine": report["qemu_machine"] if report["qemu"] else None,
            "flash_bytes": report["flash_bytes"], "ram_bytes": report["ram_bytes"],
            "stack_bytes": report["stack_bytes"],
            "instructions_per_inference": qemu.get("instructions_per_inference"),
            "windows": qemu.get("windows"), "logits_exact": qemu.get("logits_exact"),
            "note": report["baremetal"]}


def add_ratios(targets: dict) -> None:
    reference = targets.get(REFERENCE_BOARD, {}).get("instructions_per_inference")
    for entry in targets.values():
        ipi = entry["instructions_per_inference"]
        entry["ratio_to_cortex_m3"] = round(ipi / reference, 3) if ipi and reference else None


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--boards", default=None, help="comma-separated board configs (default: all)")
    parser.add_argument("--max-windows", type=int, default=None, help="first N test windows (default: all)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/bench_targets.json")
    args = parser.parse_args(argv)
    names = board_names() if args.boards is None else args.boards.split(",")
    unknown = sorted(set(names) - set(board_names()))
    if unknown:
        raise McuforgeError(f"--boards: no conf/board/{unknown[0]}.yaml (choose from {', '.join(board_names())})")
    work = args.work or Path(tempfile.mkdtemp(prefix="mcuforge-bench-targets-"))
    targets = {}
    for name in names:
        targets[name] = summarize(run_board(name, work, args.max_windows))
        print(f"{name}: " + json.dumps(targets[name]), flush=True)
    add_ratios(targets)
    small = [n for n, e in targets.items() if e["core"] in ("cortex-m0plus", "rv32imc")]
    atomic.write_json(args.out, {
        "method": __doc__.split("\n\n")[1], "targets": targets,
        "all_windows_exact": all(e["windows"] == e["logits_exact"] for e in targets.values() if e["windows"]),
        "within_target_ratio": {n: (targets[n]["ratio_to_cortex_m3"] or 0) <= TARGET_RATIO for n in small}})


if __name__ == "__main__":
    try:
        main()
    except McuforgeError as exc:
        raise SystemExit(str(exc)) from exc
