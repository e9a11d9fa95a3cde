"""Mixup (Zhang et al. 2018) on packed targets: each training example is blended with another of
its batch, x = λ·x_a + (1 − λ)·x_b, and the loss is λ·L(a) + (1 − λ)·L(b), so the hard labels and
the teacher's logits of both enter as they are (no mixing of logits).

Mixed targets are [λ | packed_a | packed_b]. λ ~ Beta(α, α), folded to λ ≥ 0.5 so `a` stays the
example's dominant label (accuracy is scored on it). The pairs and λ are drawn with numpy from a
seeded generator, a new draw per epoch, so a run is deterministic. Validation targets are
unmixed: [1 | packed | packed].
"""
from __future__ import annotations

import numpy as np


def unmixed(packed: np.ndarray) -> np.ndarray:
    """Mixed-layout targets with λ = 1 (validation, or any split that is not blended)."""
    return np.concatenate([np.ones((len(packed), 1), np.float32), packed, packed], axis=1)


def mix(x: np.ndarray, packed: np.ndarray, alpha: float, rng: np.random.Generator) -> tuple:
    """One batch blended with a permutation of itself: (mixed x, mixed targets)."""
    lam = rng.beta(alpha, alpha, len(x)).astype(np.float32)
    lam = np.maximum(lam, 1.0 - lam)
    other = rng.permutation(len(x))
    shape = (-1,) + (1,) * (x.ndim - 1)
    mixed_x = lam.reshape(shape) * x + (1.0 - lam.reshape(shape)) * x[other]
    targets = np.concatenate([lam[:, None], packed, packed[other]], axis=1)
    return mixed_x.astype(np.float32), targets


def batches(keras, x: np.ndarray, packed: np.ndarray, alpha: float, batch_size: int, seed: int):
    """A keras Sequence of mixed batches over (x, packed), reshuffled and redrawn every epoch."""

    class MixedBatches(keras.utils.Sequence):
        def __init__(self):
            super().__init__()
            self.rng = np.random.default_rng(seed)
            self.on_epoch_end()

        def __len__(self):
            return -(-len(x) // batch_size)

        def __getitem__(self, index):
            return self.epoch_x[index * batch_size:(index + 1) * batch_size], \
                self.epoch_targets[index * batch_size:(index + 1) * batch_size]

        def on_epoch_end(self):
            order = self.rng.permutation(len(x))
            parts = [mix(x[rows], packed[rows], alpha, self.rng)  # pairs drawn within each batch
                     for rows in (order[i:i + batch_size] for i in range(0, len(x), batch_size))]
            self.epoch_x = np.concatenate([part[0] for part in parts])
            self.epoch_targets = np.concatenate([part[1] for part in parts])

    return MixedBatches()


def loss(base_loss, width: int):
    """λ·base(packed_a) + (1 − λ)·base(packed_b) over targets [λ | packed_a | packed_b]."""

    def mixed(targets, logits):
        lam = targets[:, 0]
        return lam * base_loss(targets[:, 1:1 + width], logits) + \
            (1.0 - lam) * base_loss(targets[:, 1 + width:], logits)

    return mixed


def accuracy(base_accuracy, width: int):
    """The base metric on the dominant example a."""

    def accuracy(targets, logits):
        return base_accuracy(targets[:, 1:1 + width], logits)

    return accuracy
