"""Subject-grouped k-fold cross-validation of the whole chain through int8.

One 70/15/15 split of 10 subjects puts 1–2 subjects in test, so its accuracy swings by several
points with the split. This runs the real stage modules (features → train → distill → prune →
quantize) once per fold in a scratch folder: fold k tests on the k-th group of subjects,
validates on the next group and trains on the rest.

    mcuforge bench crossval [--folds 5] [--work DIR] [hydra overrides for params...]

Writes reports/bench_crossval.json (folds, int8_accuracy_mean/std, teacher_accuracy_mean, …).
Needs data/split.parquet (run `dvc repro split` first).
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcuforge import atomic  # noqa: E402
from mcuforge.experiments.compose import compose  # noqa: E402

STAGES = ["features", "train", "distill", "prune", "quantize"]


def fold_tables(table: pd.DataFrame, folds: int) -> list[pd.DataFrame]:
    """Subjects in sorted order dealt round-robin into `folds` groups."""
    subjects = sorted(table["subject"].unique())
    groups = [subjects[i::folds] for i in range(folds)]
    tables = []
    for k in range(folds):
        test, val = set(groups[k]), set(groups[(k + 1) % folds])
        split = np.where(table["subject"].isin(test), "test",
                         np.where(table["subject"].isin(val), "val", "train"))
        tables.append(table.drop(columns=["split"], errors="ignore").assign(split=split))
    return tables


def run_fold(work: Path, table: pd.DataFrame, overrides: list[str]) -> dict:
    (work / "data").mkdir(parents=True, exist_ok=True)
    table.to_parquet(work / "data/split.parquet")
    compose(work / "params.yaml", overrides, ROOT / "conf")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for stage in STAGES:
        subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=work, env=env, check=True)
    reports = {s: json.loads((work / f"reports/{s}.json").read_text()) for s in STAGES[1:]}
    return {
        "test_subjects": sorted(table.loc[table["split"] == "test", "subject"].unique().tolist()),
        "teacher_accuracy": reports["train"]["test_accuracy"],
        "student_accuracy": reports["distill"]["test_accuracy"],
        "student_no_teacher_accuracy": reports["distill"]["test_accuracy_no_teacher"],
        "pruned_accuracy": reports["prune"]["test_accuracy"],
        "sparsity": reports["prune"]["sparsity"],
        "int8_accuracy": reports["quantize"]["test_accuracy_int8"],
        "quantize_method": reports["quantize"]["method"],
    }


def summarize(results: list[dict], overrides: list[str]) -> dict:
    def stat(key: str, fn) -> float:
        return round(float(fn([r[key] for r in results])), 4)

    summary = {"folds": len(results), "overrides": overrides, "per_fold": results}
    for key in ("teacher", "student", "student_no_teacher", "pruned", "int8"):
        summary[f"{key}_accuracy_mean"] = stat(f"{key}_accuracy", np.mean)
        summary[f"{key}_accuracy_std"] = stat(f"{key}_accuracy", np.std)
    return summary


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/bench_crossval.json")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)

    table = pd.read_parquet(ROOT / "data/split.parquet")
    work = args.work or Path(tempfile.mkdtemp(prefix="mcuforge-crossval-"))
    results = []
    for k, fold_table in enumerate(fold_tables(table, args.folds)):
        results.append(run_fold(work / f"fold{k}", fold_table, args.overrides))
        print(f"fold {k}: {json.dumps(results[-1])}", flush=True)
    summary = summarize(results, args.overrides)
    atomic.write_json(args.out, summary)
    print(json.dumps({k: v for k, v in summary.items() if k != "per_fold"}, indent=2))


if __name__ == "__main__":
    main()
