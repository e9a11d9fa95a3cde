"""prune: tfmot magnitude pruning of the student to prune.sparsity (PolynomialDecay), fine-tuned
with the distillation loss, then strip_pruning.

Writes models/pruned.npz (student architecture), reports/prune.json.
"""
from __future__ import annotations

import math

from mcuforge import atomic
from mcuforge.errors import stage_main
from mcuforge.ml.datasets import load_features
from mcuforge.params import load_params


@stage_main
def main() -> None:
    params = load_params()
    cfg, distill = params["prune"], params["distill"]
    from mcuforge.ml.tf_setup import import_tf

    tf, keras = import_tf(params["seed"])
    import tensorflow_model_optimization as tfmot

    from mcuforge.ml import training
    from mcuforge.ml.losses import distillation_loss
    from mcuforge.ml.pruning import kernel_sparsity, wrap_for_pruning

    data = load_features()
    models = {role: training.load_trained(keras, params["model"][role], data, role, f"models/{role}.npz")
              for role in ("teacher", "student")}
    targets = training.distillation_targets(models["teacher"], data)

    student_accuracy = training.accuracy(models["student"], data.test.x, data.test.y)
    steps_per_epoch = math.ceil(len(data.train.y) / cfg["batch_size"])
    wrapped = wrap_for_pruning(keras, tfmot, models["student"], cfg, steps_per_epoch)
    training.fit(tf, keras, wrapped, (data.train.x, targets["train"]), (data.val.x, targets["val"]),
                 {**cfg, "patience": None}, distillation_loss(tf, distill["temperature"], distill["alpha"]),
                 callbacks=[tfmot.sparsity.keras.UpdatePruningStep()], early_stopping=False,
                 label="prune")
    pruned = tfmot.sparsity.keras.strip_pruning(wrapped)

    training.save_weights("models/pruned.npz", pruned)
    report = {
        "sparsity": round(kernel_sparsity(keras, pruned), 6),
        "target_sparsity": cfg["sparsity"],
        "test_accuracy": training.accuracy(pruned, data.test.x, data.test.y),
        "student_test_accuracy": student_accuracy,
    }
    atomic.write_json("reports/prune.json", report)
    print(f"prune: sparsity {report['sparsity']:.3f} (target {cfg['sparsity']:g}), test accuracy "
          f"{report['test_accuracy']:.3f} (student before pruning {student_accuracy:.3f}) "
          "-> models/pruned.npz")


if __name__ == "__main__":
    main()
