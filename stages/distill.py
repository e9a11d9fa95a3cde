"""distill: a student (≤ distill.max_param_ratio of the teacher's parameters) learns from hard
labels and the teacher's softened logits; the same student trained without the teacher is
reported beside it, so the value of distillation is visible.

Writes models/student.npz, reports/distill.json and reports/plots/distill_history.csv.
"""
from __future__ import annotations

from mcuforge import atomic
from mcuforge.errors import McuforgeError, stage_main
from mcuforge.ml.datasets import load_features
from mcuforge.params import load_params


@stage_main
def main() -> None:
    params = load_params()
    cfg = params["distill"]
    from mcuforge.ml.tf_setup import import_tf

    tf, keras = import_tf(params["seed"])
    from mcuforge.ml import training, weight_averaging
    from mcuforge.ml.architectures import build_model
    from mcuforge.ml.losses import distillation_loss

    data = load_features()
    teacher = training.load_trained(keras, params["model"]["teacher"], data, "teacher", "models/teacher.npz")

    def new_student():
        return build_model(keras, params["model"]["student"], data.input_shape, data.n_classes, "student")

    ratio = new_student().count_params() / teacher.count_params()
    if ratio > cfg["max_param_ratio"]:
        raise McuforgeError(f"model.student has {ratio:.2f}× the teacher's parameters, above "
                            f"distill.max_param_ratio={cfg['max_param_ratio']}: make the student smaller")
    targets = training.distillation_targets(teacher, data)

    def train_student(alpha: float, label: str):
        keras.utils.set_random_seed(params["seed"])
        student = new_student()
        averaging = weight_averaging.callbacks(keras, cfg, "distill")  # distill.average_last > 0
        history = training.fit(tf, keras, student, (data.train.x, targets["train"]),
                               (data.val.x, targets["val"]), cfg,
                               distillation_loss(tf, cfg["temperature"], alpha), callbacks=averaging,
                               early_stopping=not averaging, label=label, group="distill")
        return student, history

    student, history = train_student(cfg["alpha"], "distill")
    # alpha 0 is already the hard-label student: same seed, same loss, deterministic -> the same model
    alone = student if cfg["alpha"] == 0.0 else train_student(0.0, "no-teacher")[0]

    training.save_weights("models/student.npz", student)
    training.write_history_csv("reports/plots/distill_history.csv", history)
    report = {
        "params": int(student.count_params()),
        "param_ratio": round(ratio, 4),
        "epochs": len(history),
        "test_accuracy": training.accuracy(student, data.test.x, data.test.y),
        "test_accuracy_no_teacher": training.accuracy(alone, data.test.x, data.test.y),
        "teacher_test_accuracy": training.accuracy(teacher, data.test.x, data.test.y),
    }
    atomic.write_json("reports/distill.json", report)
    print(f"distill: student {report['params']:,} params ({ratio:.2f}x the teacher), "
          f"{report['epochs']} epochs, test accuracy {report['test_accuracy']:.3f} (without the "
          f"teacher {report['test_accuracy_no_teacher']:.3f}, teacher "
          f"{report['teacher_test_accuracy']:.3f}) -> models/student.npz")


if __name__ == "__main__":
    main()
