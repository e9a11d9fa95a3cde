"""codegen: the int8 model as firmware sources for the chosen backend.

codegen.backend=native: our C99 kernels with a planned static arena (<name>.h, <name>.c);
codegen.backend=tflm: the model array, an exact op resolver and the TFLM glue (emit_tflm), with
the arena = TFLM's probed minimal host arena + codegen.arena_margin_bytes.

Writes firmware/generated/ (replaced whole, or left untouched on error), reports/codegen.json and
reports/plots/arena_timeline.csv (the native plan's buffers; for tflm the native estimate's, or
only the header when the native backend cannot lower the graph).
An op the native backend cannot compile is an `error:` line naming op, tensor and option.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

from mcuforge import atomic
from mcuforge.codegen.arena_timeline import COLUMNS as TIMELINE_COLUMNS
from mcuforge.codegen.emit_native import generate_native
from mcuforge.codegen.emit_tflm import generate_tflm
from mcuforge.codegen.errors import CodegenError
from mcuforge.errors import McuforgeError, stage_main
from mcuforge.params import load_params, require
from mcuforge.codegen.tflm_runtime import probe_arena_bytes

MODEL = Path("models/model_int8.tflite")
NORMALIZATION = Path("data/features/normalization.json")
OUT_DIR = Path("firmware/generated")
REPORT = Path("reports/codegen.json")
ARENA_TIMELINE = Path("reports/plots/arena_timeline.csv")
NATIVE_KEYS = ("arena_bytes", "arena_lower_bound", "arena_inplace_steps", "arena_timeline", "weights_bytes", "macs")


def native(model: bytes, labels: list[str], name: str, out_dir: Path) -> dict:
    summary = generate_native(model, out_dir, labels, name)
    return {"name": summary["name"], "files": summary["files"], "ops": summary["ops"],
            **{k: summary[k] for k in NATIVE_KEYS}}


def tflm(model: bytes, labels: list[str], name: str, margin: int, out_dir: Path) -> dict:
    if int(margin) < 0:
        raise McuforgeError(f"codegen.arena_margin_bytes={margin} must be >= 0")
    probed = probe_arena_bytes(MODEL)
    summary = generate_tflm(model, out_dir, labels, name, probed["minimal"] + int(margin))
    report = {"name": summary["name"], "files": summary["files"], "ops": summary["ops"],
              "registered_ops": summary["registered_ops"], "arena_bytes": summary["arena_bytes"],
              "tflm_arena_used_bytes": summary["arena_bytes"], "tflm_arena_probed_bytes": probed["minimal"],
              "tflm_arena_allocated_bytes": probed["allocated"], "arena_margin_bytes": int(margin)}
    # The native planner's figures for the same graph, when it can lower it (for comparison).
    with tempfile.TemporaryDirectory() as tmp:
        try:
            estimate = generate_native(model, Path(tmp), labels, name)
            report.update({"arena_lower_bound": estimate["arena_lower_bound"],
                           "weights_bytes": estimate["weights_bytes"], "macs": estimate["macs"],
                           "native_arena_bytes": estimate["arena_bytes"], "native_supported": True,
                           "arena_timeline": estimate["arena_timeline"]})
        except CodegenError as err:
            report.update({"arena_lower_bound": None, "weights_bytes": None, "macs": None,
                           "native_arena_bytes": None, "native_supported": False, "native_error": str(err),
                           "arena_timeline": []})
    return report


@stage_main
def main() -> None:
    cfg = require(load_params(), "codegen", "params")
    backend, name = require(cfg, "backend", "codegen"), str(require(cfg, "name", "codegen"))
    if backend not in ("native", "tflm"):
        raise McuforgeError(f"codegen.backend={backend!r} is unknown; choose native or tflm")
    model = MODEL.read_bytes()
    labels = json.loads(NORMALIZATION.read_text(encoding="utf-8"))["labels"]
    with atomic.atomic_path(OUT_DIR) as tmp:
        tmp.mkdir()
        if backend == "native":
            report = native(model, labels, name, tmp)
        else:
            report = tflm(model, labels, name, require(cfg, "arena_margin_bytes", "codegen"), tmp)
    atomic.write_csv(ARENA_TIMELINE, TIMELINE_COLUMNS, report.pop("arena_timeline"))
    atomic.write_json(REPORT, {"backend": backend, "model_bytes": len(model), **report})
    print(f"codegen ({backend}): {OUT_DIR}/ {', '.join(report['files'])}; arena {report['arena_bytes']:,} bytes")


if __name__ == "__main__":
    main()
