"""Fit a Keras model on packed targets, save/load weights with deterministic bytes, score it."""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path

import numpy as np

from mcuforge import atomic
from mcuforge.arrays import load_arrays, save_arrays
from mcuforge.errors import McuforgeError
from mcuforge.ml import mixup
from mcuforge.ml.losses import packed_accuracy


def progress_callback(keras, label: str, epochs: int, out=None):
    """Prints one line per epoch: `train epoch 3/40  loss 0.512  acc 0.812  val_acc 0.790  4.1 s`.
    It only reads the logs, so the weights are those of a run without it."""

    class EpochLine(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            logs = logs or {}
            shown = "".join(f"  {name} {logs[key]:.3f}" for key, name in
                            (("loss", "loss"), ("accuracy", "acc"), ("val_accuracy", "val_acc"))
                            if key in logs)
            print(f"{label} epoch {epoch + 1}/{epochs}{shown}  "
                  f"{time.perf_counter() - self.started:.1f} s", file=out or sys.stdout, flush=True)

    return EpochLine()


LR_SCHEDULES = ("constant", "cosine")


def steps_per_epoch(train: tuple, cfg: dict) -> int:
    """Optimizer steps per epoch of fit() over train = (x, targets) in cfg['batch_size'] batches."""
    return math.ceil(len(train[0]) / cfg["batch_size"])


def learning_rate(keras, cfg: dict, steps_per_epoch: int, group: str):
    """cfg['lr'], constant, or with lr_schedule: cosine decaying to 0 over cfg['epochs'] (a late
    epoch then moves the weights little, so the one early stopping or the last epoch keeps is not
    a snapshot of a bouncing trajectory). `group` names the config for the error."""
    schedule = cfg.get("lr_schedule", "constant")
    if schedule not in LR_SCHEDULES:
        raise McuforgeError(f"{group}.lr_schedule={schedule!r} is not one of {', '.join(LR_SCHEDULES)}; "
                            f"set it in conf/{group}/")
    if schedule == "constant":
        return cfg["lr"]
    return keras.optimizers.schedules.CosineDecay(cfg["lr"], decay_steps=cfg["epochs"] * steps_per_epoch)


def fit(tf, keras, model, train: tuple, val: tuple, cfg: dict, loss, callbacks=(),
        early_stopping: bool = True, label: str = "train", group: str = "train") -> list[dict]:
    """train/val are (x, packed targets). Returns one row per epoch (loss, accuracy, val_…).
    Prints a progress line per epoch, prefixed with `label`; `group` is the config group of cfg.
    With cfg['mixup'] > 0 it trains on blended batches (mcuforge/ml/mixup.py)."""
    optimizer = keras.optimizers.Adam(learning_rate(keras, cfg, steps_per_epoch(train, cfg), group))
    metric, inputs = packed_accuracy(tf), {"x": train[0], "y": train[1], "batch_size": cfg["batch_size"]}
    alpha = cfg.get("mixup", 0.0)
    if alpha < 0:
        raise McuforgeError(f"{group}.mixup={alpha} must be >= 0 (the Beta(α, α) of mixup; 0 turns it off); "
                            f"set it in conf/{group}/")
    if alpha > 0:  # pairs drawn from the numpy generator keras.utils.set_random_seed seeded
        width = train[1].shape[1]
        loss, metric = mixup.loss(loss, width), mixup.accuracy(metric, width)
        inputs = {"x": mixup.batches(keras, *train, alpha, cfg["batch_size"], np.random.randint(2**31))}
        val = (val[0], mixup.unmixed(val[1]))
    model.compile(optimizer=optimizer, loss=loss, metrics=[metric])
    callbacks = [*callbacks, progress_callback(keras, label, cfg["epochs"])]
    if early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(monitor="val_loss", patience=cfg["patience"],
                                                       restore_best_weights=True))
    history = model.fit(**inputs, validation_data=val, epochs=cfg["epochs"], shuffle="y" in inputs,
                        verbose=0, callbacks=callbacks)
    keys = sorted(history.history)
    return [{"epoch": i + 1, **{k: float(history.history[k][i]) for k in keys}}
            for i in range(len(history.history[keys[0]]))]


def logits(model, x: np.ndarray) -> np.ndarray:
    return model.predict(x, batch_size=256, verbose=0).astype(np.float32)


def accuracy(model, x: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(logits(model, x).argmax(axis=1) == y))


def save_weights(path: str | Path, model) -> None:
    save_arrays(path, {f"w{i:03d}": w for i, w in enumerate(model.get_weights())})


def load_weights(model, path: str | Path) -> None:
    arrays = load_arrays(path)
    model.set_weights([arrays[name] for name in sorted(arrays)])


def write_history_csv(path: str | Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: (f"{v:.6g}" if isinstance(v, float) else v) for k, v in row.items()})
    atomic.write_text(path, buf.getvalue())


def load_trained(keras, arch: dict, data, name: str, weights: str | Path):
    """The model of `arch` for these features, with weights from a stage's .npz output."""
    from mcuforge.ml.architectures import build_model

    model = build_model(keras, arch, data.input_shape, data.n_classes, name)
    load_weights(model, weights)
    return model


def distillation_targets(teacher, data) -> dict[str, np.ndarray]:
    """Packed targets (label + the teacher's logits) for the train and val splits."""
    from mcuforge.ml.losses import pack_targets

    return {split: pack_targets(getattr(data, split).y, logits(teacher, getattr(data, split).x),
                                data.n_classes) for split in ("train", "val")}
