"""Keyword-spotting benchmark: speaker-held-out cross-validation of the whole chain through int8,
an MLP baseline on the same MFCCs, the firmware on QEMU and the streaming figures.

    mcuforge bench kws [--folds 6] [--work DIR [--reuse]] [--stream-fold 0] [hydra overrides...]

Default overrides: dataset=fsdd features=mfcc model=dscnn (yours are appended). In --work/base the
ingest and split stages run once; fold k tests on the k-th speaker, validates on the next and
trains on the rest (benchmarks/crossval.py; with --val-every N it validates on every N-th take of
the other speakers, who all train; with --train-speakers N only the N speakers after the
validation speaker train: a learning curve), running features → train → distill → prune →
quantize; int8 accuracy is tflite_micro's on the fold's test clips (keywords + unknown + silence),
keyword accuracy the same over keyword clips only. The baseline is model=dense (an MLP [128, 64] on
the flattened MFCCs), trained by the train stage on the same fold's features (float accuracy).
On --stream-fold the codegen and firmware stages run for Cortex-M4 (board nrf52840dk, QEMU
mps2-an386) and Cortex-M3 (board mps2_an385), then the streaming image (firmware/baremetal/
stream_main.c) on a generated stream of that fold's test words (conf/streaming).
Writes reports/bench_kws.json (margin_points: int8 − baseline per speaker, with the mean's 95 % interval).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from benchmarks.crossval import check_train_groups, fold_tables, run_fold, run_stages  # noqa: E402
from mcuforge import atomic  # noqa: E402
from mcuforge.experiments.compose import compose  # noqa: E402

DEFAULTS = ["dataset=fsdd", "features=mfcc", "model=dscnn",  # model=dscnn selects prune=dscnn, distill=dscnn
            f"dataset.path={ROOT}/datasets/fsdd/fsdd.npz"]
BOARDS = {"cortex-m4": "nrf52840dk", "cortex-m3": "mps2_an385"}


def _stages(work: Path, names: list[str], overrides: list[str], args: tuple[str, ...] = ()) -> None:
    compose(work / "params.yaml", overrides, ROOT / "conf")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3", "TF_USE_LEGACY_KERAS": "1"}
    for stage in names:
        subprocess.run([sys.executable, "-m", f"stages.{stage}", *(args if stage == "firmware" else ())],
                       cwd=work, env=env, check=True)


def fold_accuracy(work: Path) -> dict:
    """tflite_micro int8 accuracy of the fold's model on its test clips, overall and by class kind."""
    from mcuforge.arrays import load_arrays
    from mcuforge.codegen.tflm_runtime import device_logits

    test = load_arrays(work / "data/features/test.npz")
    y = np.asarray(test["y"])
    pred = device_logits((work / "models/model_int8.tflite").read_bytes(), test["x"]).argmax(axis=1)
    keyword = y >= 2
    return {"int8_accuracy": round(float(np.mean(pred == y)), 4),
            "keyword_accuracy": round(float(np.mean(pred[keyword] == y[keyword])), 4),
            "class_accuracy": {int(c): round(float(np.mean(pred[y == c] == c)), 4) for c in np.unique(y)},
            "test_clips": int(len(y))}


def baseline_overrides(overrides: list[str]) -> list[str]:
    """The overrides for the MLP: model=dense, without those of the DS-CNN's model.* keys (a
    candidate student or teacher shape does not apply to the MLP, and model=dense lacks its keys)."""
    return [o for o in overrides if not o.lstrip("+~").startswith("model.")] + ["model=dense"]


def baseline(work: Path, overrides: list[str], reuse: bool = False) -> float:
    """model=dense trained by the train stage on the fold's features: its float test accuracy."""
    base = work / "baseline"
    (base / "data").mkdir(parents=True, exist_ok=True)
    if not (base / "data/features").exists():
        (base / "data/features").symlink_to(work / "data/features")
    compose(base / "params.yaml", baseline_overrides(overrides), ROOT / "conf")
    run_stages(base, ["train"], reuse)
    return json.loads((base / "reports/train.json").read_text())["test_accuracy"]


def firmware_figures(work: Path, overrides: list[str], m3_windows: int) -> dict:
    out = {}
    for cpu, board in reversed(BOARDS.items()):  # the M4 last: its build/ is the streaming image's input
        # on the M3 (soft-float MFCC: ~5x the M4's instructions) the first m3_windows clips, one traced
        limit = ("--max-windows", str(m3_windows), "--traced-windows", "1") if cpu == "cortex-m3" else ()
        _stages(work, ["codegen", "firmware"], [*overrides, f"board={board}"], limit)
        r = json.loads((work / "reports/firmware.json").read_text())
        q = r["qemu"]
        out[cpu] = {"board": r["board"], "qemu_machine": r["qemu_machine"], "flash_bytes": r["flash_bytes"],
                    "ram_bytes": r["ram_bytes"], "stack_bytes": r["stack_bytes"],
                    "windows": q["windows"], "logits_exact": q["logits_exact"],
                    "device_accuracy": q["device_accuracy"],
                    "instructions_per_inference_mfcc_plus_model": q["instructions_per_inference"]}
    codegen = json.loads((work / "reports/codegen.json").read_text())
    out["model"] = {k: codegen.get(k) for k in ("weights_bytes", "arena_bytes", "macs") if k in codegen}
    return out


def streaming_figures(work: Path) -> dict:
    from mcuforge.arrays import load_arrays
    from mcuforge.codegen.tflm_runtime import io_quantization
    from mcuforge.dsp.mfcc import make_mfcc_plan
    from mcuforge.firmware import baremetal, streaming
    from mcuforge.firmware.stream_scoring import generate_stream, score
    from mcuforge.params import load_params

    params = load_params(work / "params.yaml")
    cfg, rate, features = params["streaming"], params["dataset"]["sample_rate_hz"], params["features"]
    model = (work / "models/model_int8.tflite").read_bytes()
    quant = io_quantization(model)
    norm = json.loads((work / "data/features/normalization.json").read_text())
    scaler = {"mean": np.asarray(norm["mean"], np.float32), "std": np.asarray(norm["std"], np.float32)}
    c = make_mfcc_plan(features, rate).config
    defines = streaming.stream_defines(cfg, quant["output"]["scale"], c.hop_length / rate)
    chosen = None
    if cfg.get("max_false_alarms_per_hour") is not None:   # the threshold from the validation speaker's stream
        chosen = _validation_threshold(work, cfg, features, rate, scaler, quant, model, defines, c)
        defines["MF_STREAM_THRESHOLD"] = chosen["threshold_steps"]
    test = load_arrays(work / "data/features/test.npz")
    pcm, events = generate_stream(test["windows"], np.asarray(test["y"]), cfg, rate)
    core = baremetal.CORES["cortex-m4"]
    build = work / "build/stream"
    elf = streaming.build_stream_image(core, work / "firmware/generated", params["codegen"]["name"],
                                       work / "build/baremetal/features", defines, build)
    sizes = baremetal.elf_sizes(elf)
    started = time.monotonic()
    device = streaming.run_stream(core, elf, pcm, len(params["dataset"]["labels"]))
    qemu_s = time.monotonic() - started
    ref = streaming.stream_reference(pcm, features, rate, scaler, quant["input"], model, defines["MF_STREAM_EVERY"])
    expected = streaming.detect(ref["logits"], defines["MF_STREAM_SMOOTH"], defines["MF_STREAM_THRESHOLD"],
                                defines["MF_STREAM_REFRACTORY"])
    fired = device["detections"] >= 0
    times = (device["hops"][fired] * c.hop_length + c.frame_length) / rate
    traced = (c.n_frames + cfg["traced_hops"] - 1) * c.hop_length + c.frame_length
    counts = streaming.count_per_hop(core, elf, pcm[:traced])[c.n_frames - 1:]
    return {**score(events, times, device["detections"][fired], len(pcm) / rate, cfg["tolerance_s"]),
            "config": cfg, "threshold_steps": defines["MF_STREAM_THRESHOLD"],
            "threshold_nats": round(defines["MF_STREAM_THRESHOLD"] * quant["output"]["scale"]
                                    / defines["MF_STREAM_SMOOTH"], 3),
            "threshold_chosen_on": "validation" if chosen else "streaming.threshold",
            **({"validation_stream": chosen["scores"]} if chosen else {}),
            "classifications": int(len(device["hops"])),
            "logits_exact": int(np.sum(np.all(device["logits"] == ref["logits"], axis=1))),
            "detections_equal_python_twin": bool(np.array_equal(device["detections"], expected)),
            "cpu": "cortex-m4", "qemu_machine": core.machine, "stack_bytes": device["stack_bytes"],
            # the streaming image holds one frame of PCM and a ring of frames (int8, or float with
            # clip_norm: then also one float map), not a 1 s clip buffer
            "image_flash_bytes": sizes["flash"], "image_ram_bytes": sizes["ram"],
            "instructions_per_hop": round(float(np.mean(counts)), 1),
            "instructions_per_hop_counted": counts, "qemu_seconds": round(qemu_s, 1)}


def _validation_threshold(work: Path, cfg: dict, features: dict, rate: float, scaler: dict, quant: dict,
                          model: bytes, defines: dict, c) -> dict:
    """pick_threshold on a stream of the fold's validation words (another seed's noise and timing), by the
    Python twin (the device equals it: the test stream's logits_exact)."""
    from mcuforge.arrays import load_arrays
    from mcuforge.firmware import streaming
    from mcuforge.firmware.stream_scoring import generate_stream, pick_threshold

    val = load_arrays(work / "data/features/val.npz")
    pcm, events = generate_stream(val["windows"], np.asarray(val["y"]), {**cfg, "seed": cfg["seed"] + 1}, rate)
    ref = streaming.stream_reference(pcm, features, rate, scaler, quant["input"], model, defines["MF_STREAM_EVERY"])
    times = (ref["hops"] * c.hop_length + c.frame_length) / rate
    return pick_threshold(ref["logits"], times, events, len(pcm) / rate, defines, cfg["tolerance_s"],
                          float(cfg["max_false_alarms_per_hour"]))


def paired_margin(results: list[dict]) -> dict:
    """int8 − baseline in accuracy points, fold by fold (the same test speaker on both sides), with
    the mean's 95 % Student-t interval over the folds: how far the folds' spread lets a mean margin
    be told from another."""
    from scipy import stats
    values = np.array([round(100 * (r["int8_accuracy"] - r["baseline_accuracy"]), 2) for r in results])
    margins = {s: float(v) for r, v in zip(results, values) for s in r["test_subjects"]}
    out = {"per_speaker": margins, "mean": round(float(values.mean()), 2)}
    if len(values) > 1:
        std = float(values.std(ddof=1))
        half = float(stats.t.ppf(0.975, len(values) - 1) * std / np.sqrt(len(values)))
        out |= {"std": round(std, 2), "ci95": [round(out["mean"] - half, 2), round(out["mean"] + half, 2)]}
    return out


def summarize(results: list[dict], overrides: list[str], base: Path) -> dict:
    def stat(key, fn):
        return round(float(fn([r[key] for r in results])), 4)

    speakers = {s: r["int8_accuracy"] for r in results for s in r["test_subjects"]}
    # the class mix of the first fold run into this --work (a --run-folds run may not include fold 0)
    folds = sorted((int(d.name[4:]), d) for d in base.parent.glob("fold*") if d.name[4:].isdigit())
    reports = [d / "reports/features.json" for _, d in folds if (d / "reports/features.json").exists()]
    features = json.loads(reports[0].read_text()) if reports else {}
    shown = [o.replace(str(ROOT), "<project>") for o in overrides]
    return {"folds": len(results), "overrides": shown,
            "int8_accuracy_mean": stat("int8_accuracy", np.mean), "int8_accuracy_std": stat("int8_accuracy", np.std),
            "keyword_accuracy_mean": stat("keyword_accuracy", np.mean),
            "val_int8_accuracy_mean": stat("val_int8_accuracy", np.mean),
            "baseline_accuracy_mean": stat("baseline_accuracy", np.mean),
            "baseline": "model=dense (MLP 128-64 on the flattened MFCCs), float, same folds",
            "teacher_accuracy_mean": stat("teacher_accuracy", np.mean),
            "margin_points": paired_margin(results),
            # how many speakers each fold trained on (--train-speakers; rows from before it have no list)
            "train_speakers": sorted({len(r["train_subjects"]) for r in results if "train_subjects" in r}),
            "per_speaker": speakers, "class_mix": features.get("class_mix"), "per_fold": results}


def merged(paths: list[Path], overrides: list[str], base: Path) -> dict:
    """summarize() over the per_fold rows of several reports (fold order), with their figures."""
    reports = [json.loads(path.read_text()) for path in paths]
    # fold k tests the k-th speaker in sorted order (fold_tables), so speaker order is fold order
    results = sorted((row for r in reports for row in r.get("per_fold", [])), key=lambda row: row["test_subjects"])
    figures = {key: r[key] for r in reports for key in ("firmware", "streaming") if key in r}
    return {**summarize(results, overrides, base), **figures}


def main(argv: list[str] | None = None, prog: str | None = None) -> None:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.splitlines()[0])
    parser.add_argument("--folds", type=int, default=6)
    parser.add_argument("--only-folds", type=int, default=None, help="run the first N folds of --folds")
    parser.add_argument("--run-folds", type=lambda text: [int(k) for k in text.split(",")], default=None,
                        help="comma-separated fold indices to run (e.g. 2,3: parallel runs into one --work, "
                             "then one --reuse run over all folds writes the summary)")
    parser.add_argument("--stream-fold", type=int, default=0)
    parser.add_argument("--val-every", type=int, default=None,
                        help="validate on every N-th take of the non-test speakers (5 train) instead of "
                             "the next speaker (4 train)")
    parser.add_argument("--train-speakers", type=int, default=None,
                        help="train on only the first N of the fold's training speakers (those after its "
                             "validation speaker; a learning curve; default: all, 4 of 6)")
    parser.add_argument("--m3-windows", type=int, default=50, help="test clips run on the Cortex-M3")
    parser.add_argument("--work", type=Path, default=None, help="scratch folder (default: a temp dir)")
    parser.add_argument("--reuse", action="store_true",
                        help="with --work: skip a fold's stage whose params and deps are unchanged since it ran there")
    parser.add_argument("--out", type=Path, default=ROOT / "reports/bench_kws.json")
    parser.add_argument("--merge", type=Path, nargs="+", default=None,
                        help="no training: one report from the per_fold rows (and firmware / streaming "
                             "figures) of these --run-folds reports of the same --work and overrides")
    parser.add_argument("--figures-only", action="store_true",
                        help="no training: the firmware and streaming figures of --stream-fold, already trained in --work")
    parser.add_argument("overrides", nargs="*")
    args = parser.parse_args(argv)
    try:   # before ingest and training, not when the first fold's table is made
        check_train_groups(args.folds, args.train_speakers, args.val_every)
    except ValueError as error:
        parser.error(f"--train-speakers: {error}")
    if (args.merge or args.figures_only) and args.work is None:
        parser.error("--merge and --figures-only read the folds trained in --work: pass the --work the runs wrote to")
    overrides = [*DEFAULTS, *args.overrides]
    work = args.work or Path(tempfile.mkdtemp(prefix="mcuforge-kws-"))
    base = work / "base"
    if args.merge or args.figures_only:
        summary = merged(args.merge, overrides, base) if args.merge else {
            "firmware": firmware_figures(work / f"fold{args.stream_fold}", overrides, args.m3_windows),
            "streaming": streaming_figures(work / f"fold{args.stream_fold}")}
        if args.merge and summary["class_mix"] is None:
            parser.error(f"--work {work} has no fold*/reports/features.json for the class mix: "
                         "pass the --work the --run-folds runs wrote to")
        atomic.write_json(args.out, summary)
        print(json.dumps({k: v for k, v in summary.items() if k != "per_fold"}, indent=2))
        return
    if not (base / "data/split.parquet").exists():
        (base / "data").mkdir(parents=True, exist_ok=True)
        _stages(base, ["ingest", "split"], overrides)
    table = pd.read_parquet(base / "data/split.parquet")
    results, figures = [], {}
    chosen = args.run_folds if args.run_folds is not None else list(range(args.folds))[:args.only_folds]
    for k in chosen:
        fold_table = fold_tables(table, args.folds, [k], args.val_every, args.train_speakers)[0]  # one copy of the (large) table at a time
        fold = work / f"fold{k}"
        (fold / "data").mkdir(parents=True, exist_ok=True)
        shutil.copy(base / "data/noise.npz", fold / "data/noise.npz")
        result = run_fold(fold, fold_table, overrides, device=False, reuse=args.reuse)
        result.update(fold_accuracy(fold), baseline_accuracy=baseline(fold, overrides, args.reuse),
                      validation=f"every {args.val_every}th take of the other speakers" if args.val_every
                      else "the next speaker",
                      train_subjects=sorted(set(fold_table.loc[fold_table["split"] == "train", "subject"])))
        if k == args.stream_fold:
            figures = {"firmware": firmware_figures(fold, overrides, args.m3_windows),
                       "streaming": streaming_figures(fold)}
            print(f"fold {k} figures: {json.dumps(figures)}", flush=True)
        results.append(result)
        print(f"fold {k}: {json.dumps(result)}", flush=True)
        summary = {**summarize(results, overrides, base), **figures}
        atomic.write_json(args.out, summary)  # after every fold: an interrupted run keeps what it measured
    print(json.dumps({k: v for k, v in summary.items() if k not in ("per_fold", "streaming", "firmware")}, indent=2))


if __name__ == "__main__":
    main()
