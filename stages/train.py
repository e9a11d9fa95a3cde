"""train: the teacher on hard labels, early stopping on val loss.

Writes models/teacher.npz (weights; the architecture is model.teacher in params.yaml),
reports/train.json and reports/plots/train_history.csv.
"""
from __future__ import annotations

from mcuforge import atomic
from mcuforge.errors import stage_main
from mcuforge.ml.datasets import load_features
from mcuforge.params import load_params


@stage_main
def main() -> None:
    params = load_params()
    from mcuforge.ml.tf_setup import import_tf

    tf, keras = import_tf(params["seed"])
    from mcuforge.ml.architectures import build_model
    from mcuforge.ml.losses import distillation_loss, pack_targets
    from mcuforge.ml import training

    data = load_features()
    teacher = build_model(keras, params["model"]["teacher"], data.input_shape, data.n_classes, "teacher")
    targets = {s: pack_targets(getattr(data, s).y, None, data.n_classes) for s in ("train", "val")}
    history = training.fit(tf, keras, teacher, (data.train.x, targets["train"]),
                           (data.val.x, targets["val"]), params["train"],
                           distillation_loss(tf, temperature=1.0, alpha=0.0))

    training.save_weights("models/teacher.npz", teacher)
    training.write_history_csv("reports/plots/train_history.csv", history)
    report = {
        "params": int(teacher.count_params()),
        "epochs": len(history),
        "val_accuracy": training.accuracy(teacher, data.val.x, data.val.y),
        "test_accuracy": training.accuracy(teacher, data.test.x, data.test.y),
    }
    atomic.write_json("reports/train.json", report)
    print(f"train: teacher {report['params']:,} params, {report['epochs']} epochs, val accuracy "
          f"{report['val_accuracy']:.3f}, test accuracy {report['test_accuracy']:.3f} "
          "-> models/teacher.npz")


if __name__ == "__main__":
    main()
