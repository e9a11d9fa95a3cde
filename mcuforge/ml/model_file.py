"""models/pruned.npz: the weights (w000, w001, … as training.save_weights writes them) plus the
architecture they belong to (canonical JSON as uint8 bytes under `arch`), because a channel-pruned
student is narrower than params' model.student."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from mcuforge.arrays import load_arrays, save_arrays
from mcuforge.errors import McuforgeError


def save_model(path: str | Path, model, arch: dict) -> None:
    save_weights_with_arch(path, {f"w{i:03d}": w for i, w in enumerate(model.get_weights())}, arch)


def save_weights_with_arch(path: str | Path, weights: dict[str, np.ndarray], arch: dict) -> None:
    """`weights` as training.save_weights names them, plus `arch` (no TensorFlow needed)."""
    arch_bytes = np.frombuffer(json.dumps(arch, sort_keys=True).encode(), np.uint8)
    save_arrays(path, {**weights, "arch": arch_bytes})


def saved_arch(path: str | Path) -> dict:
    return json.loads(load_arrays(path)["arch"].tobytes())


def load_model(keras, data, name: str, path: str | Path):
    """(model built from the file's own architecture with its weights, that architecture)."""
    from mcuforge.ml.architectures import build_model

    arrays = load_arrays(path)
    if "arch" not in arrays:
        raise McuforgeError(f"{path} carries no architecture (written before prune.method existed): "
                            "run `dvc repro prune`")
    arch = json.loads(arrays["arch"].tobytes())
    model = build_model(keras, arch, data.input_shape, data.n_classes, name)
    model.set_weights([arrays[k] for k in sorted(arrays) if k != "arch"])
    return model, arch
