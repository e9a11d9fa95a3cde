"""Training-set augmentation of raw windows: small random rotations of the sensor frame and gain.

A watch sits a little differently on every wrist, so the train split gets `copies` extra versions
of each window, each turned by a random rotation (the same one for every 3-axis group, e.g. the
accelerometer and the gyroscope, which share the sensor frame) and scaled by a random gain.
Only the train split is augmented; val and test stay as recorded.
"""
from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from mcuforge.errors import McuforgeError


def channel_groups(channels: list[str], groups: list[list[str]]) -> list[list[int]]:
    """Channel names of each 3-axis group → column indices, checked against dataset.channels."""
    indices = []
    for group in groups:
        missing = [name for name in group if name not in channels]
        if len(group) != 3 or missing:
            raise McuforgeError(f"dataset.vector_groups: {group} must name 3 of dataset.channels "
                                f"({', '.join(channels)}); missing {missing}")
        indices.append([channels.index(name) for name in group])
    return indices


def augment_windows(windows: np.ndarray, groups: list[list[int]], cfg: dict) -> np.ndarray:
    """(N, T, C) → (copies·N, T, C) float32 rotated and scaled copies (deterministic for cfg["seed"])."""
    rng = np.random.default_rng(cfg["seed"])
    copies = []
    for _ in range(cfg["copies"]):
        rotvec = rng.normal(size=(len(windows), 3)) * np.deg2rad(cfg["rotate_deg"]) / np.sqrt(3)
        rotation = Rotation.from_rotvec(rotvec).as_matrix().astype(np.float32)
        gain = (1.0 + cfg["scale"] * rng.normal(size=(len(windows), 1, 1))).astype(np.float32)
        out = windows.copy()
        for group in groups:
            out[:, :, group] = np.einsum("nij,ntj->nti", rotation, windows[:, :, group])
        copies.append(out * gain)
    if not copies:
        return windows[:0].astype(np.float32)
    return np.concatenate(copies).astype(np.float32)


def augment_split(arrays: dict[str, np.ndarray], groups: list[list[int]], cfg: dict) -> dict[str, np.ndarray]:
    """A windowed split plus its augmented copies; `augmented` marks which rows are copies."""
    return with_copies(arrays, augment_windows(arrays["windows"], groups, cfg), cfg["copies"])


def with_copies(arrays: dict[str, np.ndarray], extra: np.ndarray, copies: int) -> dict[str, np.ndarray]:
    """The split's windows followed by `copies` augmented copies (`extra`), labels repeated to match."""
    out = {"windows": np.concatenate([arrays["windows"], extra]),
           "augmented": np.repeat([False, True], [len(arrays["y"]), len(extra)])}
    for key in ("y", "recording", "subject"):
        out[key] = np.concatenate([arrays[key]] + [arrays[key]] * copies)
    return out
