"""Mutation check of the test suite's teeth (by hand, not CI): apply one deliberate fault at a time to
the code, run only the fast tests that should catch it, restore the file, and report which were caught.

    .venv/bin/python scripts/mutation_check.py            # all faults; writes reports/mutation_check.json
    .venv/bin/python scripts/mutation_check.py --only dvc_dep_dropped --no-write

Every fault must be caught (exit 1 otherwise). First the selected tests run on the unmodified tree
and must pass, so a failure under a fault is the fault's doing. Each fault is an exact text
replacement that must match once; the file is restored in a `finally` (also on Ctrl-C). Then
`mcuforge docs-tables` puts the table into docs/testing.md.
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "reports" / "mutation_check.json"

# id, what the fault is, file, exact text, its replacement, the fast tests that must catch it
FAULTS = [
    {"id": "requant_rounding_c", "fault": "off-by-one in requantisation rounding (C): ties round up",
     "file": "firmware/runtime/include/mcuforge/fixedpoint.h",
     "old": "return (x >> exponent) + ((remainder > threshold) ? 1 : 0);",
     "new": "return (x >> exponent) + ((remainder >= threshold) ? 1 : 0);",
     "tests": ["tests/test_kernels.py::test_fixedpoint_helpers_match_gemmlowp_model",
               "tests/test_kernels.py::test_op_case_matches_tflm"]},
    {"id": "requant_multiplier_py", "fault": "off-by-one in the requantisation multiplier (Python codegen)",
     "file": "mcuforge/codegen/quant_math.py",
     "old": "q_fixed = int(tflite_round(significand * (1 << 31)))",
     "new": "q_fixed = int(tflite_round(significand * (1 << 31))) + 1",
     "tests": ["tests/test_kernels.py::test_op_case_matches_tflm",
               "tests/test_mutation_targets.py::test_quantize_multiplier_equals_tflite_computed_by_libm"]},
    {"id": "round_ties_to_zero_py", "fault": "TfLiteRound's ties rounded toward zero (Python codegen)",
     "file": "mcuforge/codegen/quant_math.py",
     "old": "return math.copysign(math.floor(abs(value) + 0.5), value)",
     "new": "return math.copysign(math.ceil(abs(value) - 0.5), value)",
     "tests": ["tests/test_kernels.py::test_op_case_matches_tflm",
               "tests/test_mutation_targets.py::test_quantize_multiplier_equals_tflite_computed_by_libm"]},
    {"id": "swapped_channel_c", "fault": "channels 0 and 1 swapped in the C spectral features",
     "file": "firmware/features/src/spectral.c",
     "old": "axis_samples[t] = window[t * N_CHANNELS + channel];",
     "new": "axis_samples[t] = window[t * N_CHANNELS + (channel < 2 ? 1 - channel : channel)];",
     "tests": ["tests/test_features_c.py::test_c_twin_equals_python"]},
    {"id": "dvc_dep_dropped", "fault": "prune stage's dependency on mcuforge/ml/pruning_magnitude.py dropped from dvc.yaml",
     "file": "dvc.yaml",
     "old": "      - mcuforge/ml/pruning_channels.py\n      - mcuforge/ml/pruning_magnitude.py\n",
     "new": "      - mcuforge/ml/pruning_channels.py\n",
     "tests": ["tests/test_mutation_targets.py::test_stage_deps_cover_the_modules_its_script_imports"]},
    {"id": "budget_reserve_ignored", "fault": "the board's flash reserve ignored in the budget",
     "file": "mcuforge/firmware/budgets.py",
     "old": 'int(require(board, "flash_bytes", "board")) - int(require(board, "reserve_flash_bytes", "board"))',
     "new": 'int(require(board, "flash_bytes", "board"))',
     "tests": ["tests/test_mutation_targets.py::test_budget_is_board_size_minus_the_reserves",
               "tests/test_mutation_targets.py::test_the_reserve_counts_against_a_firmware_that_fits_the_bare_board",
               "tests/test_firmware_stage.py::test_board_without_toolchain_reports_budget_only"]},
    {"id": "label_unescaped", "fault": "quote and backslash left unescaped in C label strings",
     "file": "mcuforge/codegen/c_names.py",
     "old": "if 0x20 <= byte < 0x7F and ch not in '\"\\\\?':",
     "new": "if 0x20 <= byte < 0x7F and ch not in '?':",
     "tests": ["tests/test_codegen_native.py::test_label_and_name_escaping_round_trip",
               "tests/test_codegen_native.py::test_escaping_helpers"]},
]


def run_tests(tests: list[str]) -> tuple[int, list[str], float]:
    """pytest (niced) on node ids; its exit code, the failing tests' ids and the seconds it took."""
    start = time.monotonic()
    proc = subprocess.run(["nice", "-n", "15", sys.executable, "-m", "pytest", "-q", "-rf", "-p", "no:cacheprovider",
                           "-p", "no:randomly", *tests], cwd=ROOT, capture_output=True, text=True, timeout=1800)
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.MULTILINE)
    return proc.returncode, failed, round(time.monotonic() - start, 1)


def apply_fault(fault: dict) -> tuple[Path, str]:
    path = ROOT / fault["file"]
    original = path.read_text(encoding="utf-8")
    hits = original.count(fault["old"])
    if hits != 1:
        raise SystemExit(f"error: fault {fault['id']}: the text to replace occurs {hits} times in {fault['file']} "
                         "(must be once): update FAULTS in scripts/mutation_check.py to the current code")
    path.write_text(original.replace(fault["old"], fault["new"]), encoding="utf-8")
    return path, original


def check(fault: dict) -> dict:
    path, original = apply_fault(fault)
    try:
        code, failed, seconds = run_tests(fault["tests"])
    finally:
        path.write_text(original, encoding="utf-8")
    # 1: tests failed; 2: collection error (the fault broke an import): both catch it. 0 or 5 do not.
    return {"id": fault["id"], "fault": fault["fault"], "file": fault["file"], "tests": fault["tests"],
            "caught": code in (1, 2), "pytest_exit": code, "failed": failed, "seconds": seconds}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", action="append", help="fault id (repeatable); default: all")
    parser.add_argument("--no-write", action="store_true", help="print only; leave the report and docs alone")
    args = parser.parse_args(argv)
    faults = [f for f in FAULTS if not args.only or f["id"] in args.only]
    if args.only and len(faults) != len(set(args.only)):
        raise SystemExit(f"error: unknown fault id in {args.only}; known: {[f['id'] for f in FAULTS]}")
    tests = sorted({t for f in faults for t in f["tests"]})
    code, failed, seconds = run_tests(tests)
    if code != 0:
        raise SystemExit(f"error: the selected tests fail on the unmodified tree (exit {code}: {failed}): "
                         "fix them first, a mutation check needs a green baseline")
    print(f"baseline: {len(tests)} test selections pass unmodified ({seconds} s)")
    results = []
    for fault in faults:
        result = check(fault)
        results.append(result)
        first = result["failed"][0] if result["failed"] else f"pytest exit {result['pytest_exit']}"
        print(f"{'CAUGHT ' if result['caught'] else 'MISSED '} {fault['id']:24} {result['seconds']:6.1f} s  {first}")
    caught = sum(r["caught"] for r in results)
    print(f"{caught} of {len(results)} faults caught")
    if not args.no_write and not args.only:
        OUT.write_text(json.dumps({"caught": caught, "faults": len(results), "baseline_seconds": seconds,
                                   "results": results}, indent=2) + "\n", encoding="utf-8")
        subprocess.run([sys.executable, "-m", "mcuforge.cli", "docs-tables"], cwd=ROOT, check=True)
    return 0 if caught == len(results) else 1


if __name__ == "__main__":
    sys.exit(main())
