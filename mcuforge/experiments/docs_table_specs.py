"""What each generated docs table says, from the committed reports (see mcuforge.experiments.docs_tables).

Number formats as the README has always shown them: accuracies with 3 decimals, byte and instruction
counts with thousands separators.
"""
from __future__ import annotations

import json
from pathlib import Path

import yaml

from mcuforge.errors import McuforgeError

ARCH_NAMES = {"cnn1d": "1D-CNN", "dense": "dense"}


class Reports:
    """reports/<name>.json and params.yaml of a project root, read once each."""

    def __init__(self, root: Path) -> None:
        self.root, self._cache = Path(root), {}

    def __getitem__(self, name: str) -> dict:
        if name not in self._cache:
            rel = "params.yaml" if name == "params" else f"reports/{name}.json"
            path = self.root / rel
            if not path.is_file():
                raise McuforgeError(f"{rel} is missing: the docs tables are written from it "
                                    f"(`git checkout {rel}`, or `dvc repro` to measure it again)")
            text = path.read_text(encoding="utf-8")
            self._cache[name] = yaml.safe_load(text) if name == "params" else json.loads(text)
        return self._cache[name]

    def get(self, name: str, dotted: str):
        """reports/<name>.json's value at a dotted key, or an error naming the file and key."""
        value = self[name]
        for key in dotted.split("."):
            if not isinstance(value, dict) or key not in value:
                raise McuforgeError(f"reports/{name}.json has no `{dotted}`: re-run the stage that "
                                    "writes it, or fix the table in mcuforge/experiments/docs_table_specs.py")
            value = value[key]
        return value


def acc(x: float) -> str:
    return f"{float(x):.3f}"


def count(x: float) -> str:
    return f"{int(round(float(x))):,}"


def table(header: tuple[str, ...], rows: list[tuple[str, ...]], align: tuple[str, ...] | None = None) -> str:
    def line(cells: tuple[str, ...]) -> str:
        return "|" + "|".join(f" {cell} " if cell else " " for cell in cells) + "|"

    lines = [line(header), "|" + "|".join(align or ("---",) * len(header)) + "|"]
    return "\n".join(lines + [line(row) for row in rows]) + "\n"


def exactness(max_rel_err: float) -> str:
    return "0.0 (bit-exact)" if float(max_rel_err) == 0.0 else f"{float(max_rel_err):.1e}"


def cpu_name(params: dict, cpu: str) -> str:
    """cortex-m4 + board.fpu -> Cortex-M4F."""
    name = "Cortex-" + cpu.split("-", 1)[1].upper() if cpu.startswith("cortex-") else cpu
    return name + ("F" if params.get("board", {}).get("fpu") else "")


def results(r: Reports) -> str:
    """README.md: the default run's measured results, one row per promise."""
    g = r.get
    arch = ARCH_NAMES.get(r["params"]["model"]["teacher"]["arch"], r["params"]["model"]["teacher"]["arch"])
    fw, q = r["firmware"], r["firmware"]["qemu"]
    rows = [
        (f"teacher ({arch}, {count(g('train', 'params'))} params) test accuracy", acc(g("train", "test_accuracy"))),
        (f"student ({count(g('distill', 'params'))} params = {g('distill', 'param_ratio'):.2f} × teacher), distilled",
         acc(g("distill", "test_accuracy"))),
        ("same student without the teacher", acc(g("distill", "test_accuracy_no_teacher"))),
        (f"pruned student, kernel sparsity {g('prune', 'sparsity'):.3f}", acc(g("prune", "test_accuracy"))),
        (f"int8 ({g('quantize', 'method').upper()}) on `tflite_micro`, {count(g('quantize', 'tflite_bytes'))} B `.tflite`",
         f"{acc(g('quantize', 'test_accuracy_int8'))} (drop vs float {acc(g('quantize', 'int8_drop'))})"),
        ("TFLM arena (host build, smallest that runs)", f"{count(g('quantize', 'arena_bytes'))} B"),
        (f"our arena (`{g('codegen', 'backend')}` codegen) / lower bound",
         f"{count(g('codegen', 'arena_bytes'))} B / {count(g('codegen', 'arena_lower_bound'))} B "
         f"({g('codegen', 'arena_bytes') / g('quantize', 'arena_bytes'):.2f} × TFLM)"),
        ("weights / MACs per inference", f"{count(g('codegen', 'weights_bytes'))} B / {count(g('codegen', 'macs'))}"),
        ("verify: int8 logits identical to `tflite_micro`",
         f"{count(g('verify', 'logits_exact'))} of {count(g('verify', 'windows'))} windows; "
         f"class agreement {acc(g('verify', 'agreement'))}"),
        ("verify: C features vs Python features",
         f"max relative error {exactness(g('verify', 'features_max_rel_err'))}"),
        (f"firmware ({g('firmware', 'board')}, bare metal): flash / RAM + stack",
         f"{count(fw['flash_bytes'])} B / {count(fw['ram_bytes'])} + {count(g('firmware', 'stack_bytes'))} B of "
         f"{count(g('firmware', 'flash_budget'))} / {count(g('firmware', 'ram_budget'))} B budgets"),
        (f"firmware on QEMU `{g('firmware', 'qemu_machine')}` ({cpu_name(r['params'], g('firmware', 'cpu'))}): "
         "logits identical",
         f"{count(g('firmware', 'qemu.logits_exact'))} of {count(q['windows'])} windows; "
         f"device accuracy {acc(g('firmware', 'qemu.device_accuracy'))}"),
        ("instructions per inference (features + model, exact)",
         count(g("firmware", "qemu.instructions_per_inference"))),
    ]
    return table(("metric", "value"), rows)


def results_where(r: Reports) -> str:
    """docs/getting-started: where each result is, and its value in the default run."""
    g = r.get
    rows = [
        ("teacher test accuracy, parameters", "`reports/train.json`: `test_accuracy`, `params`",
         f"{acc(g('train', 'test_accuracy'))}, {count(g('train', 'params'))}"),
        ("distilled student, and the same student trained alone",
         "`reports/distill.json`: `test_accuracy`, `test_accuracy_no_teacher`, `params`",
         f"{acc(g('distill', 'test_accuracy'))}, {acc(g('distill', 'test_accuracy_no_teacher'))}, "
         f"{count(g('distill', 'params'))}"),
        ("pruned student, achieved sparsity", "`reports/prune.json`: `test_accuracy`, `sparsity`",
         f"{acc(g('prune', 'test_accuracy'))}, {g('prune', 'sparsity'):.3f}"),
        ("int8 accuracy on `tflite_micro`, drop, `.tflite` size",
         "`reports/quantize.json`: `test_accuracy_int8`, `int8_drop`, `tflite_bytes`",
         f"{acc(g('quantize', 'test_accuracy_int8'))}, {acc(g('quantize', 'int8_drop'))}, "
         f"{count(g('quantize', 'tflite_bytes'))} B"),
        ("TFLM arena (smallest that runs on the host)", "`reports/quantize.json`: `arena_bytes`",
         f"{count(g('quantize', 'arena_bytes'))} B"),
        ("our arena, its lower bound, weights, MACs",
         "`reports/codegen.json`: `arena_bytes`, `arena_lower_bound`, `weights_bytes`, `macs`",
         f"{count(g('codegen', 'arena_bytes'))} B, {count(g('codegen', 'arena_lower_bound'))} B, "
         f"{count(g('codegen', 'weights_bytes'))} B, {count(g('codegen', 'macs'))}"),
        ("generated C vs `tflite_micro`, C vs Python features",
         "`reports/verify.json`: `logits_exact`, `windows`, `features_max_rel_err`",
         f"{count(g('verify', 'logits_exact'))} of {count(g('verify', 'windows'))}, "
         f"{exactness(g('verify', 'features_max_rel_err')).split(' ')[0]}"),
        ("flash, RAM, stack of the deployable image",
         "`reports/firmware.json`: `flash_bytes`, `ram_bytes`, `stack_bytes`",
         f"{count(g('firmware', 'flash_bytes'))} B, {count(g('firmware', 'ram_bytes'))} B, "
         f"{count(g('firmware', 'stack_bytes'))} B"),
        ("the image on the emulated core",
         "`reports/firmware.json`: `qemu.logits_exact`, `qemu.device_accuracy`, `qemu.instructions_per_inference`",
         f"{count(g('firmware', 'qemu.logits_exact'))} of {count(g('firmware', 'qemu.windows'))}, "
         f"{acc(g('firmware', 'qemu.device_accuracy'))}, {count(g('firmware', 'qemu.instructions_per_inference'))}"),
    ]
    return table(("question", "file: key", "default run"), rows)


def pruned_label(cv: dict) -> str:
    """How the folds pruned: channels (MACs kept) or magnitude (kernel sparsity)."""
    folds = cv.get("per_fold") or []
    if all(fold.get("prune_method", "magnitude") == "channels" for fold in folds) and folds:
        return f"pruned (channels, {cv['pruned_macs_ratio']:.2f} × the MACs)"
    sparsities = sorted({round(fold["sparsity"], 2) for fold in folds if "sparsity" in fold})
    return f"pruned (sparsity {', '.join(f'{s:.2f}' for s in sparsities)})"


def crossval(r: Reports) -> str:
    """docs/benchmarks.md: mean ± std over the folds of `mcuforge bench crossval`."""
    g, cv = r.get, r["bench_crossval"]

    def pm(key: str) -> str:
        return f"{acc(g('bench_crossval', key + '_mean'))} ± {acc(g('bench_crossval', key + '_std'))}"

    rows = [("teacher", pm("teacher_accuracy")), ("student, distilled", pm("student_accuracy")),
            ("student without the teacher", pm("student_no_teacher_accuracy")),
            (pruned_label(cv), pm("pruned_accuracy")),
            ("**int8 on `tflite_micro`** (the pruned student)", f"**{pm('int8_accuracy')}**")]
    if "unpruned_int8_accuracy_mean" in cv:
        rows += [("int8, the student unpruned", pm("unpruned_int8_accuracy")),
                 ("int8, a student of the pruned size distilled from scratch", pm("scratch_int8_accuracy"))]
    if cv.get("pruned_weights_ratio") is not None:
        rows.append((f"pruned ÷ unpruned on the device ({cv['device_folds']} fold(s)): weights, instructions",
                     f"{cv['pruned_weights_ratio']:.2f} ×, {cv['pruned_instructions_ratio']:.2f} ×"))
    return table((f"test accuracy, mean ± std over {g('bench_crossval', 'folds')} folds", ""), rows)


def codegen_table(index: int):
    """docs/benchmarks.md: table `index` of the two `mcuforge bench codegen` renders into its report
    (0: the benchmark models, 1: the pipeline's models)."""

    def render(r: Reports) -> str:
        tables = [t for t in r.get("bench_codegen", "readme_table").split("\n\n") if t.strip()]
        if len(tables) != 2:
            raise McuforgeError(f"reports/bench_codegen.json: `readme_table` holds {len(tables)} tables, not 2 "
                                "(benchmark models, pipeline models): re-run `mcuforge bench codegen`")
        return tables[index]

    return render


def baremetal(r: Reports) -> str:
    """docs/zephyr.md: the default run's bare-metal image (reports/firmware.json)."""
    g = r.get
    qemu = f"{count(g('firmware', 'qemu.logits_exact'))} / {count(g('firmware', 'qemu.windows'))}"
    row = (f"{g('firmware', 'board')} (default)", cpu_name(r["params"], g("firmware", "cpu")),
           f"{count(g('firmware', 'flash_bytes'))} B",
           f"{count(g('firmware', 'ram_bytes'))} + {count(g('firmware', 'stack_bytes'))} B",
           count(g("firmware", "qemu.instructions_per_inference")), f"{qemu} (`{g('firmware', 'qemu_machine')}`)")
    return table(("target", "core", "flash", "RAM + stack", "instructions / inference",
                  "test windows bit-exact on QEMU"), [row], ("---", "---", "---:", "---:", "---:", "---"))


def targets(r: Reports) -> str:
    """docs/zephyr.md: `mcuforge bench targets`, one row per board config."""
    rows = []
    for board, t in r.get("bench_targets", "targets").items():
        if t["instructions_per_inference"] is None:
            rows.append((board, t["core"], "", "", "", "", t["note"].split(" (")[0]))
            continue
        rows.append((board, t["core"], f"`{t['qemu_machine']}`", f"{count(t['flash_bytes'])} B",
                     f"{count(t['ram_bytes'])} + {count(t['stack_bytes'])} B",
                     f"{count(t['instructions_per_inference'])} ({t['ratio_to_cortex_m3']:.2f}×)",
                     f"{count(t['logits_exact'])} / {count(t['windows'])}"))
    return table(("board", "core", "QEMU twin", "flash", "RAM + stack", "instructions / inference (ratio)",
                  "windows bit-exact"), rows, ("---", "---", "---", "---:", "---:", "---:", "---"))


def mutation_check(r: Reports) -> str:
    """docs/testing.md: scripts/mutation_check.py's faults and the tests that caught them."""
    rows = [(f"`{res['id']}`", res["fault"], f"`{res['file']}`",
             "**caught**" if res["caught"] else "**missed**",
             f"{len(res['failed'])}: " + ", ".join(f"`{name.split('::')[-1]}`" for name in res["failed"][:2])
             if res["failed"] else f"none (pytest exit {res['pytest_exit']})")
            for res in r.get("mutation_check", "results")]
    rows.append(("", f"**{r.get('mutation_check', 'caught')} of {r.get('mutation_check', 'faults')} caught**",
                 "", "", ""))
    return table(("fault", "what", "file", "result", "tests failed: how many, the first two"), rows)


def zephyr_runs(r: Reports) -> str:
    """docs/zephyr.md: benchmarks/zephyr_bench.py's measured Zephyr builds (bench_codegen.json `zephyr`)."""
    backends = {"native": "native", "tflm_cmsis_nn": "TFLM + CMSIS-NN", "tflm_reference": "TFLM reference kernels",
                "hello_world": "Zephyr's hello_world (baseline)"}
    rows = []
    for key, run in sorted(r.get("bench_codegen", "zephyr.runs").items()):
        if "model" in run:  # a model alone: zephyr_model_alone's table
            continue
        measured = run.get("cycles_per_inference_median") is not None
        qemu = (f"{run['result']}: {count(run['logits_exact'])} / {count(run['windows'])} bit-exact"
                if measured else "")
        rows.append((run["board"], backends.get(run["backend"], run["backend"]), f"{count(run['flash_bytes'])} B",
                     f"{count(run['ram_bytes'])} B", qemu,
                     count(run["cycles_per_inference_median"]) if measured else "",
                     count(run["instructions_per_inference_median"]) if run.get("instructions_per_inference_median")
                     else ""))
    return table(("board", "build", "flash", "RAM", "QEMU run", "cycles / inference", "instructions / inference"),
                 rows, ("---", "---", "---:", "---:", "---", "---:", "---:"))


def zephyr_ratios(r: Reports) -> str:
    """docs/zephyr.md: issue 11's four-way targets per board, from the same section's `ratios`."""
    names = {"native_over_tflm_cmsis_nn_cycles": "cycles: native ÷ TFLM + CMSIS-NN",
             "native_over_tflm_reference_flash_increment": "flash increment: native ÷ TFLM reference",
             "native_over_tflm_reference_ram_increment": "RAM increment: native ÷ TFLM reference"}
    rows = []
    for board, ratios in sorted(r.get("bench_codegen", "zephyr.ratios").items()):
        for key, x in ratios.items():
            verdict = "not measured" if x["met"] is None else ("**met**" if x["met"] else "not met")
            rows.append((board, names.get(key, key), "" if x["value"] is None else f"{x['value']:.3f}",
                         f"≤ {x['target']}", verdict))
    return table(("board", "ratio", "measured", "target", ""), rows, ("---", "---", "---:", "---:", "---"))


def zephyr_model_alone(r: Reports) -> str:
    """docs/zephyr.md: each model alone in Zephyr per board and backend (bench_codegen.json `zephyr.model_alone`)."""
    backends = {"native": "ours (native)", "tflm_cmsis_nn": "TFLM + CMSIS-NN", "tflm_reference": "TFLM reference"}
    rows = []
    for model, boards in sorted(r.get("bench_codegen", "zephyr.model_alone").items()):
        for board, entry in sorted(boards.items()):
            ratios = entry["native_over_tflm_cmsis_nn"]
            for backend, name in backends.items():
                if backend not in entry:
                    continue
                x = entry[backend]
                ratio = (" / ".join("–" if ratios[k] is None else f"{ratios[k]:.3f}"
                                    for k in ("instructions", "flash_increment", "ram_increment"))
                         if backend == "native" and any(v is not None for v in ratios.values()) else "")
                rows.append((model, board, name, count(x["instructions"]),
                             "" if x["flash_increment"] is None else f"{count(x['flash_increment'])} B",
                             "" if x["ram_increment"] is None else f"{count(x['ram_increment'])} B",
                             "yes" if x["output_exact"] else "**no**", ratio))
    return table(("model", "board", "backend", "instructions / invoke", "flash over hello_world",
                  "RAM over hello_world", "output exact", "ours ÷ CMSIS-NN: instructions / flash / RAM"),
                 rows, ("---", "---", "---", "---:", "---:", "---:", "---", "---"))


TABLES = {"mutation-check": mutation_check, "baremetal": baremetal, "targets": targets, "results": results, "results-where": results_where, "crossval": crossval,
          "codegen-bench-models": codegen_table(0), "codegen-pipeline-models": codegen_table(1),
          "zephyr-runs": zephyr_runs, "zephyr-ratios": zephyr_ratios,
          "zephyr-model-alone": zephyr_model_alone}
