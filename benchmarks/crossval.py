"""Subject-grouped k-fold cross-validation of the whole chain through int8.

One 70/15/15 split of 10 subjects puts 1–2 subjects in test, so its accuracy swings by several
points with the split. This runs the real stage modules (features → train → distill → prune →
quantize) once per fold in a scratch folder: fold k tests on the k-th group of subjects,
validates on the next group and trains on the rest.

Per fold it also quantizes the unpruned student (`unpruned_int8_accuracy`) and distills a student of
the pruned size from scratch and quantizes it (`scratch_int8_accuracy`), so pruning is compared with
not pruning and with simply training the smaller model. On the first --device-folds folds, codegen and
firmware run for the pruned and the unpruned student: `pruned_weights_ratio` (codegen weights_bytes)
and `pruned_instructions_ratio` (QEMU instructions per inference) are their means.

    mcuforge bench crossval [--folds 5] [--max-folds N | --run-folds K,K] [--device-folds 1] [--work DIR] [--reuse] [overrides...]
    mcuforge bench crossval --merge A.json B.json [--out PATH] [overrides...]

With --work DIR --reuse, a stage whose dvc.yaml params and deps (code and the fold's inputs, by
content) are unchanged since it last ran in DIR is not run again: trying another prune config
re-runs only prune and what follows, not the teacher and the students.

Writes reports/bench_crossval.json (folds, int8_accuracy_mean/std, teacher_accuracy_mean, …).
Needs data/split.parquet (run `dvc repro split` first).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from mcuforge import atomic  # noqa: E402
from mcuforge.arrays import load_arrays  # noqa: E402
from mcuforge.experiments.compose import compose  # noqa: E402
from mcuforge.ml.model_file import save_weights_with_arch, saved_arch  # noqa: E402

STAGES = ["features", "train", "distill", "prune", "quantize"]
DEVICE_STAGES = ["codegen", "firmware"]


def check_train_groups(folds: int, train_groups: int | None, val_every: int | None) -> None:
    """fold_tables' train_groups: 1 … folds − 2 (the groups neither tested nor validated on), not
    with val_every. Raises ValueError naming the value."""
    if train_groups is not None and (val_every or not 1 <= train_groups <= folds - 2):
        raise ValueError(f"train_groups={train_groups}: pass 1..{folds - 2} (the groups neither tested nor "
                         "validated on), without val_every")


def fold_tables(table: pd.DataFrame, folds: int, which: list[int] | None = None,
                val_every: int | None = None, train_groups: int | None = None) -> list[pd.DataFrame]:
    """Subjects in sorted order dealt round-robin into `folds` groups (the tables of folds `which`
    only, if given: each is a copy of the whole table). Fold k tests on group k. It validates on
    group k+1, or with `val_every` n on every n-th recording (in sorted order, per subject and
    label) of all the other subjects, so that one more subject trains: with six speakers, five
    train instead of four. With `train_groups` n (not with val_every) only the n groups after the
    validation group train, k+2 … k+n+1; the rows of the others are left out (a learning curve)."""
    check_train_groups(folds, train_groups, val_every)
    subjects = sorted(table["subject"].unique())
    groups = [subjects[i::folds] for i in range(folds)]
    held_recordings = set() if val_every is None else _every_nth_recording(table, val_every)
    tables = []
    for k in (range(folds) if which is None else which):
        test = set(groups[k])
        val = table["recording"].isin(held_recordings) if val_every else \
            table["subject"].isin(set(groups[(k + 1) % folds]))
        split = np.where(table["subject"].isin(test), "test", np.where(val, "val", "train"))
        fold = table.drop(columns=["split"], errors="ignore").assign(split=split)
        if train_groups is not None:
            kept = {s for i in range(2, train_groups + 2) for s in groups[(k + i) % folds]}
            fold = fold[(fold["split"] != "train") | fold["subject"].isin(kept)].reset_index(drop=True)
        tables.append(fold)
    return tables


def _every_nth_recording(table: pd.DataFrame, n: int) -> set:
    """Every n-th recording, in sorted order, of each (subject, label): its first label."""
    recordings = table.groupby("recording", sort=True)[["subject", "label"]].first().reset_index()
    nth = recordings.groupby(["subject", "label"]).cumcount() % n == 0
    return set(recordings.loc[nth, "recording"])


def _hash_path(digest, path: Path) -> None:
    files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
    for file in files:
        digest.update(str(file.relative_to(path) if path.is_dir() else file.name).encode())
        digest.update(hashlib.sha256(file.read_bytes()).digest())


def stamp(work: Path, stage: str) -> str:
    """What a stage's outputs in `work` depend on: its dvc.yaml params (values from work's
    params.yaml) and the content of its deps (in `work` if there, else the project's code)."""
    spec = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"][stage]
    params = yaml.safe_load((work / "params.yaml").read_text())
    values = {}
    for key in spec.get("params", []):
        value = params
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        values[key] = value
    digest = hashlib.sha256(json.dumps(values, sort_keys=True).encode())
    for dep in spec.get("deps", []):
        path = work / dep if (work / dep).exists() else ROOT / dep
        if path.exists():
            digest.update(dep.encode())
            _hash_path(digest, path)
    return digest.hexdigest()


def run_stages(work: Path, stages: list[str], reuse: bool = False) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}
    for stage in stages:
        done = work / ".crossval" / f"{stage}.stamp"
        outputs_there = done.exists() and (work / f"reports/{stage}.json").exists()
        if reuse and outputs_there and done.read_text() == stamp(work, stage):
            print(f"{work.name}: {stage} unchanged, reused (--reuse)", flush=True)
            continue
        done.unlink(missing_ok=True)
        subprocess.run([sys.executable, "-m", f"stages.{stage}"], cwd=work, env=env, check=True)
        done.parent.mkdir(exist_ok=True)
        done.write_text(stamp(work, stage))


def report(work: Path, stage: str) -> dict:
    return json.loads((work / f"reports/{stage}.json").read_text())


def variant(work: Path, name: str, student_arch: dict | None) -> Path:
    """A sibling folder sharing the fold's features, teacher and params; student_arch replaces
    model.student (for the from-scratch student)."""
    out = work.parent / f"{work.name}-{name}"
    (out / "data").mkdir(parents=True, exist_ok=True)
    (out / "models").mkdir(exist_ok=True)
    for path in ("data/features", "models/teacher.npz", "data/split.parquet"):
        if not (out / path).exists():
            (out / path).symlink_to((work / path).resolve())
    params = yaml.safe_load((work / "params.yaml").read_text())
    if student_arch is not None:
        params["model"]["student"] = student_arch
    (out / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    return out


def as_pruned(folder: Path) -> None:
    """models/student.npz as quantize's input (models/pruned.npz carries the architecture)."""
    params = yaml.safe_load((folder / "params.yaml").read_text())
    save_weights_with_arch(folder / "models/pruned.npz", load_arrays(folder / "models/student.npz"),
                           params["model"]["student"])


def run_fold(work: Path, table: pd.DataFrame, overrides: list[str], device: bool, reuse: bool = False) -> dict:
    (work / "data").mkdir(parents=True, exist_ok=True)
    table.to_parquet(work / "data/split.parquet")
    compose(work / "params.yaml", overrides, ROOT / "conf")
    run_stages(work, STAGES, reuse)
    reports = {s: report(work, s) for s in STAGES[1:]}
    unpruned = variant(work, "unpruned", None)
    (unpruned / "models/student.npz").write_bytes((work / "models/student.npz").read_bytes())
    as_pruned(unpruned)
    run_stages(unpruned, ["quantize"], reuse)
    pruned_arch = saved_arch(work / "models/pruned.npz")
    if pruned_arch == yaml.safe_load((work / "params.yaml").read_text())["model"]["student"]:
        scratch = unpruned  # magnitude pruning keeps the shape: "from scratch" is the distilled student again
    else:
        scratch = variant(work, "scratch", pruned_arch)
        run_stages(scratch, ["distill"], reuse)
        as_pruned(scratch)
        run_stages(scratch, ["quantize"], reuse)
    ratios = {}
    if device:
        run_stages(work, DEVICE_STAGES, reuse)
        run_stages(unpruned, DEVICE_STAGES, reuse)
        ratios = {"pruned_weights_ratio": report(work, "codegen")["weights_bytes"]
                  / report(unpruned, "codegen")["weights_bytes"],
                  "pruned_instructions_ratio": report(work, "firmware")["qemu"]["instructions_per_inference"]
                  / report(unpruned, "firmware")["qemu"]["instructions_per_inference"]}
    return {
        "test_subjects": sorted(table.loc[table["split"] == "test", "subject"].unique().tolist()),
        "teacher_accuracy": reports["train"]["test_accuracy"],
        "student_accuracy": reports["distill"]["test_accuracy"],
        "student_no_teacher_accuracy": reports["distill"]["test_accuracy_no_teacher"],
        "pruned_accuracy": reports["prune"]["test_accuracy"],
        "sparsity": reports["prune"]["sparsity"],
        "int8_accuracy": reports["quantize"]["test_accuracy_int8"],
        # the validation split's, for choosing between recipes without looking at the test folds
        "val_int8_accuracy": reports["quantize"][f"val_accuracy_int8_{reports['quantize']['method']}"],
        "quantize_method": reports["quantize"]["method"],
        "prune_method": reports["prune"].get("method", "magnitude"),
        "pruned_macs_ratio": reports["prune"].get("macs_ratio", 1.0),
        "unpruned_int8_accuracy": report(unpruned, "quantize")["test_accuracy_int8"],
        "scratch_int8_accuracy": report(scratch, "quantize")["test_accuracy_int8"],
        **ratios,
    }


def summarize(results: list[dict], overrides: list[str]) -> dict:
    def stat(key: str, fn) -> float:
        return round(float(fn([r[key] for r in results])), 4)

    summary = {"folds": len(results), "overrides": overrides, "per_fold": results}
    for key in ("teacher", "student", "student_no_teacher", "pruned", "int8", "unpruned_int8", "scratch_int8"):
        summary[f"{key}_accuracy_mean"] = stat(f"{key}_accuracy", np.mean)
        summary[f"{key}_accuracy_std"] = stat(f"{key}_accuracy", np.std)
    summary["pruned_int8_accuracy_mean"] = summary["int8_accuracy_mean"]
    summary["pruned_macs_ratio"] = stat("pruned_macs_ratio", np.mean)
    for key in ("pruned_weights_ratio", "pruned_instructions_ratio"):
        measured = [r[key] for r in results if key in r]
        summary[key] = round(float(np.mean(measured)), 4) if measured else None
    summary["device_folds"] = sum("pruned_weights_ratio" in r for r in results)
    return summary


def merged(paths: list[Path], overrides: list[str]) -> dict:
    """summarize() over the per_fold rows of several reports, one row per set of test subjects."""
    reports = [json.loads(path.read_text()) for path in paths]
    for path, report_ in zip(paths, reports):
        if report_.get("overrides", []) != overrides:
            raise SystemExit(f"error: {path}: overrides {report_.get('overrides')} differ from {overrides}: "
                             "merge only runs of the same config (pass its overrides)")
    rows = {tuple(row["test_subjects"]): row for r in reports for row in r.get("per_fold", [])}
    return summarize([rows[key] for key in sorted(rows)], overrides)


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--max-folds", type=int, default=None,
                        help="run only the first N folds of the --folds split (a quicker, partial run)")
    parser.add_argument("--run-folds", type=lambda text: [int(k) for k in text.split(",")], default=None,
                        help="comma-separated fold indices to run (e.g. 3,4: parallel runs, each with its own "
                             "--out, then --merge)")
    parser.add_argument("--device-folds", type=int, default=1,
                        help="the first N folds run measure the weights and instructions ratios (codegen + firmware)")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: skip a stage whose params and deps are unchanged since it ran there")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/bench_crossval.json")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="no training: one report from the per_fold rows of these reports of the same "
                             "overrides (a fold in several: the last one's row)")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    if args.merge:
        summary = merged(args.merge, args.overrides)
        atomic.write_json(args.out, summary)
        print(json.dumps({k: v for k, v in summary.items() if k != "per_fold"}, indent=2))
        return

    table = pd.read_parquet(ROOT / "data/split.parquet")
    work = args.work or Path(tempfile.mkdtemp(prefix="mcuforge-crossval-"))
    results = []
    chosen = args.run_folds if args.run_folds is not None else list(range(args.folds))[:args.max_folds]
    for n, k in enumerate(chosen):
        fold_table = fold_tables(table, args.folds, [k])[0]
        results.append(run_fold(work / f"fold{k}", fold_table, args.overrides, n < args.device_folds, args.reuse))
        print(f"fold {k}: {json.dumps(results[-1])}", flush=True)
        summary = summarize(results, args.overrides)
        atomic.write_json(args.out, summary)  # after every fold: an interrupted run keeps what it measured
    print(json.dumps({k: v for k, v in summary.items() if k != "per_fold"}, indent=2))


if __name__ == "__main__":
    main()
