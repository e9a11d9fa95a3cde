"""quantize: full-integer int8 PTQ of the pruned student (its architecture from models/pruned.npz) with a representative set from train;
if its int8 validation accuracy drops more than quantize.max_drop below the float model's, also run
pruning-preserving QAT and keep the one better on validation (ties keep PTQ). The test split only
scores the choice (the report holds both test accuracies). Evaluated with tflite_micro (device semantics).

Writes models/model_int8.tflite, reports/quantize.json, reports/plots/confusion_int8.csv.
"""
from __future__ import annotations

import numpy as np

from mcuforge import atomic
from mcuforge.errors import stage_main
from mcuforge.ml.datasets import load_features
from mcuforge.params import load_params
from mcuforge.codegen.tflm_runtime import predict_classes, probe_arena_bytes


@stage_main
def main() -> None:
    params = load_params()
    cfg, distill = params["quantize"], params["distill"]
    from mcuforge.ml.tf_setup import import_tf

    tf, keras = import_tf(params["seed"])
    import tensorflow_model_optimization as tfmot

    from mcuforge.ml import training
    from mcuforge.ml.losses import distillation_loss
    from mcuforge.ml.model_file import load_model
    from mcuforge.ml.quantization import convert_int8, prune_preserving_qat_model, representative_sample

    data = load_features()
    models = {"teacher": training.load_trained(keras, params["model"]["teacher"], data, "teacher",
                                               "models/teacher.npz"),
              "pruned": load_model(keras, data, "student", "models/pruned.npz")[0]}
    float_accuracy = training.accuracy(models["pruned"], data.test.x, data.test.y)
    float_val_accuracy = training.accuracy(models["pruned"], data.val.x, data.val.y)
    representative = representative_sample(data.train.x, cfg["representative_windows"], params["seed"])

    def int8_accuracy(tflite: bytes, split) -> float:
        return float(np.mean(predict_classes(tflite, split.x)[1] == split.y))

    candidates = {"ptq": convert_int8(tf, models["pruned"], representative)}
    val_accuracies = {"ptq": int8_accuracy(candidates["ptq"], data.val)}
    if float_val_accuracy - val_accuracies["ptq"] > cfg["max_drop"]:
        qat = prune_preserving_qat_model(tfmot, models["pruned"])
        targets = training.distillation_targets(models["teacher"], data)
        training.fit(tf, keras, qat, (data.train.x, targets["train"]), (data.val.x, targets["val"]),
                     {"lr": cfg["qat_lr"], "epochs": cfg["qat_epochs"], "batch_size": 64},
                     distillation_loss(tf, distill["temperature"], distill["alpha"]), early_stopping=False,
                     label="qat")
        candidates["qat"] = convert_int8(tf, qat, representative)
        val_accuracies["qat"] = int8_accuracy(candidates["qat"], data.val)
    method = max(val_accuracies, key=lambda name: (val_accuracies[name], name == "ptq"))
    test_predicted = {name: predict_classes(tflite, data.test.x)[1] for name, tflite in candidates.items()}
    accuracies = {name: float(np.mean(predicted == data.test.y)) for name, predicted in test_predicted.items()}

    atomic.write_bytes("models/model_int8.tflite", candidates[method])
    predicted = test_predicted[method]
    atomic.write_text("reports/plots/confusion_int8.csv", "actual,predicted\n" + "".join(
        f"{data.labels[a]},{data.labels[p]}\n" for a, p in zip(data.test.y, predicted)))
    arena = probe_arena_bytes("models/model_int8.tflite")
    report = {
        "method": method,
        "test_accuracy_float": float_accuracy,
        "test_accuracy_int8": accuracies[method],
        "test_accuracy_int8_ptq": accuracies["ptq"],
        **({"test_accuracy_int8_qat": accuracies["qat"]} if "qat" in accuracies else {}),
        "int8_drop": round(float_accuracy - accuracies[method], 6),
        "val_accuracy_float": float_val_accuracy,
        **{f"val_accuracy_int8_{name}": accuracy for name, accuracy in val_accuracies.items()},
        "tflite_bytes": len(candidates[method]),
        "arena_bytes": arena["minimal"] + cfg["arena_margin"],
        "arena_allocated_bytes": arena["allocated"],
    }
    atomic.write_json("reports/quantize.json", report)
    print(f"quantize ({method}): int8 test accuracy {report['test_accuracy_int8']:.3f} (float "
          f"{float_accuracy:.3f}, drop {report['int8_drop']:.3f}), {report['tflite_bytes']:,} bytes "
          f"of .tflite, arena {report['arena_bytes']:,} bytes -> models/model_int8.tflite")


if __name__ == "__main__":
    main()
