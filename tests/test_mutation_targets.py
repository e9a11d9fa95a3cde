"""Checks the mutation check (scripts/mutation_check.py) found missing: faults the rest of the fast suite
did not catch.

- dvc.yaml: every stage depends on the mcuforge modules its script imports (transitively), so a change
  there re-runs it. Before this test, dropping a stage's library dependency failed nothing.
- The native backend's requantisation multipliers equal tflite::QuantizeMultiplier's, computed by
  libm's frexp and round in C (the kernel tests compare whole outputs with tflite_micro, and a 1-LSB
  error in a Q31 multiplier almost never flips an output, so they let it through).
- The board budget is the board's size minus its reserves, computed here by hand.
"""
from __future__ import annotations

import ast
import shutil
import struct
import subprocess
from pathlib import Path

import numpy as np

import pytest
import yaml

from mcuforge.codegen.quant_math import quantize_multiplier
from mcuforge.firmware.budgets import budgets, check_budget
from mcuforge.errors import McuforgeError

ROOT = Path(__file__).resolve().parents[1]
# Modules whose content cannot change a stage's outputs: error messages, the atomic-rename helper,
# reading params.yaml (the values themselves are each stage's `params:`), package markers.
PLUMBING = {"mcuforge/__init__.py", "mcuforge/errors.py", "mcuforge/atomic.py", "mcuforge/params.py"}
# Imported but not declared in dvc.yaml (none today): a gap must be listed here, never silently allowed.
KNOWN_GAPS: dict[str, set[str]] = {}


def module_file(name: str) -> Path | None:
    base = ROOT / name.replace(".", "/")
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def imported_modules(path: Path) -> set[Path]:
    """The project modules one file imports (`from pkg import sub` counts sub, not pkg/__init__)."""
    found: set[Path] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [sub if module_file(sub) else node.module
                     for sub in (f"{node.module}.{alias.name}" for alias in node.names)]
        else:
            continue
        found |= {module_file(name) for name in names if name.split(".")[0] == "mcuforge" and module_file(name)}
    return found


def import_closure(script: Path) -> set[str]:
    seen: set[Path] = set()
    todo = [script]
    while todo:
        path = todo.pop()
        if path not in seen:
            seen.add(path)
            todo += imported_modules(path) - seen
    return {path.relative_to(ROOT).as_posix() for path in seen}


def covered(module: str, deps: list[str]) -> bool:
    return any(module == dep or module.startswith(dep.rstrip("/") + "/") for dep in deps)


STAGES = yaml.safe_load((ROOT / "dvc.yaml").read_text(encoding="utf-8"))["stages"]


@pytest.mark.parametrize("stage", sorted(STAGES))
def test_stage_deps_cover_the_modules_its_script_imports(stage):
    deps = [dep for dep in STAGES[stage].get("deps", []) if isinstance(dep, str)]
    script = ROOT / "stages" / f"{stage}.py"
    assert f"stages/{stage}.py" in deps, f"dvc.yaml: stage {stage} does not depend on its own script"
    missing = {module for module in import_closure(script) - PLUMBING
               if module.startswith("mcuforge/") and not covered(module, deps)}
    new = sorted(missing - KNOWN_GAPS.get(stage, set()))
    assert not new, f"dvc.yaml: stage {stage} imports {new} but does not list them (or a folder of them) in deps"
    fixed = sorted(KNOWN_GAPS.get(stage, set()) - missing)
    assert not fixed, f"dvc.yaml now covers {fixed} for stage {stage}: remove them from KNOWN_GAPS"


BOARD = {"name": "handmade", "flash_bytes": 100_000, "ram_bytes": 20_000,
         "reserve_flash_bytes": 30_000, "reserve_ram_bytes": 4_000}


def test_budget_is_board_size_minus_the_reserves():
    assert budgets(BOARD) == (70_000, 16_000)


def test_the_reserve_counts_against_a_firmware_that_fits_the_bare_board():
    check_budget(BOARD, 70_000, 15_000, 1_000)  # exactly at the budget: fits
    with pytest.raises(McuforgeError, match=r"flash 70001 B > budget 70000 B by 1 B"):
        check_budget(BOARD, 70_001, 100, None)
    with pytest.raises(McuforgeError, match=r"RAM 15000 B \+ stack 1001 B > budget 16000 B by 1 B"):
        check_budget(BOARD, 100, 15_000, 1_001)


# tflite::QuantizeMultiplier (tensorflow/lite/kernels/internal/quantization_util.cc) with TfLiteRound =
# round(): frexp's significand as Q31, rounded half away from zero; 2^31 becomes 2^30 with shift + 1;
# a shift below -31 flushes to zero. Reads one double per line as 16 hex digits of its bits.
QUANTIZE_MULTIPLIER_C = r"""
#include <inttypes.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
int main(void) {
    uint64_t bits;
    while (scanf("%" SCNx64, &bits) == 1) {
        double x; int shift = 0; int64_t q = 0;
        memcpy(&x, &bits, sizeof x);
        if (x != 0.0) {
            q = (int64_t)round(frexp(x, &shift) * (double)(1LL << 31));
            if (q == (1LL << 31)) { q /= 2; ++shift; }
            if (shift < -31) { shift = 0; q = 0; }
        }
        printf("%" PRId64 " %d\n", q, shift);
    }
    return 0;
}
"""


def multiplier_samples() -> list[float]:
    """Scales as models have them, plus exact Q31 ties (k + 1/2) / 2^31 and the rounding-to-2^31 edge."""
    rng = np.random.default_rng(14)
    values = list(10.0 ** rng.uniform(-12, 1, size=3000))
    values += [(int(k) + 0.5) / 2 ** 31 * 2.0 ** int(e)
               for k, e in zip(rng.integers(2 ** 30, 2 ** 31 - 1, size=500), rng.integers(-20, 3, size=500))]
    values += [1 - 2.0 ** -33, 0.5, 1.0, 2.0 ** -40, 3.0, 0.0]
    return [float(v) for v in values]


@pytest.mark.skipif(shutil.which("gcc") is None, reason="needs gcc (apt install gcc)")
def test_quantize_multiplier_equals_tflite_computed_by_libm(tmp_path):
    source, exe = tmp_path / "qm.c", tmp_path / "qm"
    source.write_text(QUANTIZE_MULTIPLIER_C)
    subprocess.run(["gcc", "-std=c99", "-O0", "-Wall", "-Werror", str(source), "-o", str(exe), "-lm"],
                   check=True, capture_output=True)
    values = multiplier_samples()
    stdin = "".join(f"{struct.unpack('<Q', struct.pack('<d', v))[0]:016x}\n" for v in values)
    out = subprocess.run([str(exe)], input=stdin, capture_output=True, text=True, check=True).stdout.split("\n")
    expected = [tuple(int(x) for x in line.split()) for line in out if line]
    assert len(expected) == len(values), f"the C reference printed {len(expected)} lines for {len(values)} values"
    wrong = [(v, quantize_multiplier(v), e) for v, e in zip(values, expected) if quantize_multiplier(v) != e]
    assert not wrong, f"{len(wrong)} multipliers differ from tflite's (value, ours, tflite): {wrong[:5]}"
