"""verify: the generated native C against the device semantics on every test window.

Compiles the native model (host gcc, -std=c99 -O2 -Wall -Wextra -Werror) and runs each test
window's quantised input through it and through the tflite_micro interpreter: bit-identical
logits, argmax agreement, accuracy. With codegen.backend=tflm the TFLM sources cannot be built
here, so the native C generated from the same model is checked instead (`checked_backend`).
The C feature twin is compared when it exists, else reported as skipped.

Writes reports/verify.json.
"""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np

from mcuforge import atomic
from mcuforge.arrays import load_arrays
from mcuforge.codegen.emit_native import generate_native
from mcuforge.codegen.errors import CodegenError
from mcuforge.codegen.verify import check_native, features_status
from mcuforge.dsp.mfcc import variant_report
from mcuforge.errors import stage_main
from mcuforge.params import load_params, require
from mcuforge.codegen.tflm_runtime import io_quantization, predict_classes

MODEL = Path("models/model_int8.tflite")
FEATURES = Path("data/features")
GENERATED = Path("firmware/generated")
REPORT = Path("reports/verify.json")


@stage_main
def main() -> None:
    params = load_params()
    cfg = require(params, "codegen", "params")
    backend, name = require(cfg, "backend", "codegen"), str(require(cfg, "name", "codegen"))
    model = MODEL.read_bytes()
    test = load_arrays(FEATURES / "test.npz")
    normalization = json.loads((FEATURES / "normalization.json").read_text(encoding="utf-8"))
    report = {"backend": backend, "checked_backend": "native"}
    with tempfile.TemporaryDirectory(prefix="mcuforge-verify-") as tmp:
        tmp = Path(tmp)
        generated = GENERATED
        if backend != "native":  # TFLM needs its headers: check the native C of the same model
            generated = tmp / "native"
            try:
                generate_native(model, generated, normalization["labels"], name)
            except CodegenError as err:  # a model only TFLM runs: report the interpreter alone
                generated = None
                reason = str(err).replace("; use codegen.backend=tflm for this model", "")
                predicted = predict_classes(model, test["x"])[1]
                report.update({"checked_backend": None, "windows": len(test["x"]), "logits_exact": None,
                               "agreement": None, "accuracy_int8_c": None,
                               "accuracy_int8_tflm": float(np.mean(predicted == test["y"])),
                               "c_check": f"skipped: the native backend cannot compile this model: {reason}"})
        if generated is not None:
            report.update(check_native(model, generated, name, test["x"], test["y"], tmp))
        report.update(features_status(
            windows=test["windows"], x=test["x"], normalization=normalization, features_cfg=params["features"],
            sample_rate_hz=params["dataset"]["sample_rate_hz"], input_quant=io_quantization(model)["input"],
            work_dir=tmp))
    report.update(variant_report(test["windows"], params["features"], params["dataset"]["sample_rate_hz"]))
    atomic.write_json(REPORT, report)
    if report["checked_backend"] is None:
        print(f"verify: {report['c_check']}")
    else:
        print(f"verify ({report['checked_backend']} C): {report['logits_exact']}/{report['windows']} windows with "
              f"bit-identical logits, agreement {three(report['agreement'])}, accuracy "
              f"{three(report['accuracy_int8_c'])}")
    print(f"verify: features {report['features_check']}")



def three(value) -> str:
    """A fraction to 3 decimals for the console (the JSON report keeps full precision)."""
    return "n/a" if value is None else f"{value:.3f}"


if __name__ == "__main__":
    main()
