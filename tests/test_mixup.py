"""mcuforge/ml/mixup.py: blended batches, the loss on both examples, and fit() with distill.mixup."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.errors import McuforgeError
from mcuforge.ml.tf_setup import import_tf

tf, keras = import_tf(0)

from mcuforge.ml import mixup, training  # noqa: E402
from mcuforge.ml.architectures import build_model  # noqa: E402
from mcuforge.ml.losses import distillation_loss, pack_targets, packed_accuracy  # noqa: E402

CNN = {"arch": "cnn1d", "conv": [{"filters": 4, "kernel": 3, "pool": 2}], "dense": [8], "dropout": 0.0}


def packed(n: int, classes: int = 3, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return pack_targets(np.arange(n) % classes, rng.normal(size=(n, classes)).astype(np.float32), classes)


def test_a_mixed_batch_blends_each_example_with_another_and_keeps_the_dominant_one_first():
    x = np.random.default_rng(1).normal(size=(32, 5, 2)).astype(np.float32)
    targets = packed(32)
    mixed_x, mixed = mixup.mix(x, targets, 0.4, np.random.default_rng(2))
    lam, a, b = mixed[:, 0], mixed[:, 1:5], mixed[:, 5:]
    assert (lam >= 0.5).all() and (lam <= 1.0).all() and len(np.unique(lam)) > 1
    assert np.array_equal(a, targets)                       # a is the example itself, in order
    other = np.array([np.flatnonzero((targets == row).all(axis=1))[0] for row in b])
    np.testing.assert_allclose(mixed_x, lam[:, None, None] * x + (1 - lam[:, None, None]) * x[other], rtol=1e-6)
    assert (other != np.arange(32)).any()


def test_the_mixed_loss_is_the_lambda_weighted_loss_of_both_examples_and_unmixed_is_the_base_loss():
    base = distillation_loss(tf, 4.0, 0.7)
    targets = packed(16)
    logits = np.random.default_rng(3).normal(size=(16, 3)).astype(np.float32)
    lam = np.linspace(0.5, 1.0, 16).astype(np.float32)
    other = np.roll(np.arange(16), 1)
    mixed = np.concatenate([lam[:, None], targets, targets[other]], axis=1)
    got = mixup.loss(base, 4)(tf.constant(mixed), tf.constant(logits)).numpy()
    want = lam * base(targets, logits).numpy() + (1 - lam) * base(targets[other], logits[...]).numpy()
    np.testing.assert_allclose(got, want, rtol=1e-5)
    plain = mixup.loss(base, 4)(tf.constant(mixup.unmixed(targets)), tf.constant(logits)).numpy()
    np.testing.assert_allclose(plain, base(targets, logits).numpy(), rtol=1e-6)
    score = mixup.accuracy(packed_accuracy(tf), 4)(tf.constant(mixed), tf.constant(logits)).numpy()
    assert np.array_equal(score, packed_accuracy(tf)(targets, logits).numpy())


def fit_once(alpha: float, seed: int = 5) -> list:
    rng = np.random.default_rng(4)
    y = np.arange(96) % 3
    x = (0.3 * rng.normal(size=(96, 20, 3)) + 2 * y[:, None, None]).astype(np.float32)  # separable by mean
    targets = pack_targets(y, None, 3)
    cfg = {"lr": 0.03, "epochs": 8, "batch_size": 16, "mixup": alpha}
    keras.utils.set_random_seed(seed)
    model = build_model(keras, CNN, (20, 3), 3, "student")
    history = training.fit(tf, keras, model, (x, targets), (x[:24], targets[:24]), cfg,
                           distillation_loss(tf, 1.0, 0.0), early_stopping=False, group="distill")
    assert int(model.optimizer.iterations) == 8 * 6            # every batch of every epoch
    assert history[-1]["val_accuracy"] > 0.9                    # it learns the classes
    return model.get_weights()


def test_fit_with_mixup_is_deterministic_differs_from_plain_fit_and_refuses_a_negative_alpha():
    first, again, plain = fit_once(0.4), fit_once(0.4), fit_once(0.0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(np.array_equal(a, b) for a, b in zip(first, plain, strict=True))
    with pytest.raises(McuforgeError, match=r"distill.mixup=-0.1 must be >= 0 .* set it in conf/distill/"):
        fit_once(-0.1)
