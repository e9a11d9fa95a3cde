"""The features stage's outputs as model inputs and targets."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from mcuforge.arrays import load_arrays

FEATURES_DIR = Path("data/features")


@dataclass(frozen=True)
class Split:
    x: np.ndarray
    y: np.ndarray


@dataclass(frozen=True)
class Features:
    train: Split
    val: Split
    test: Split
    labels: list[str]
    input_shape: tuple[int, ...]

    @property
    def n_classes(self) -> int:
        return len(self.labels)


def load_features(folder: str | Path = FEATURES_DIR) -> Features:
    folder = Path(folder)
    meta = json.loads((folder / "normalization.json").read_text())
    splits = {}
    for name in ("train", "val", "test"):
        arrays = load_arrays(folder / f"{name}.npz")
        splits[name] = Split(arrays["x"], arrays["y"])
    return Features(**splits, labels=meta["labels"], input_shape=tuple(meta["input_shape"]))
