"""mcuforge/ml/weight_averaging.py: the distill stage's fit() with distill.average_last ends with the mean of the last
epochs' weights (BatchNormalization's moving statistics included), runs every epoch, and refuses
a count it cannot average."""
from __future__ import annotations

import numpy as np
import pytest

from mcuforge.errors import McuforgeError
from mcuforge.ml.tf_setup import import_tf

tf, keras = import_tf(0)

from mcuforge.ml import training, weight_averaging  # noqa: E402
from mcuforge.ml.losses import distillation_loss, pack_targets  # noqa: E402


def tiny_model():
    inputs = keras.Input((6,))
    hidden = keras.layers.BatchNormalization()(keras.layers.Dense(5)(inputs))
    return keras.Model(inputs, keras.layers.Dense(3)(keras.layers.ReLU()(hidden)))


def fit_recording(average_last: int, patience: int = 1) -> tuple[list, list]:
    """(the final weights, the weights after every epoch)."""
    rng = np.random.default_rng(0)
    y = np.arange(64) % 3
    x = (rng.normal(size=(64, 6)) + y[:, None]).astype(np.float32)
    targets = pack_targets(y, None, 3)
    seen = []

    class Record(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            seen.append(self.model.get_weights())

    cfg = {"lr": 0.05, "epochs": 6, "batch_size": 16, "patience": patience, "average_last": average_last}
    keras.utils.set_random_seed(1)
    model = tiny_model()
    # val = noise labels: its loss rises early, so early stopping (patience 1) would cut the run short
    noise = pack_targets(rng.integers(0, 3, 16), None, 3)
    averaging = weight_averaging.callbacks(keras, cfg, "distill")    # as stages/distill.py calls fit
    training.fit(tf, keras, model, (x, targets), (x[:16], noise), cfg, distillation_loss(tf, 1.0, 0.0),
                 callbacks=[Record(), *averaging], early_stopping=not averaging, group="distill")
    return model.get_weights(), seen


def test_the_model_ends_with_the_mean_of_the_last_epochs_weights_including_batchnorm_statistics():
    final, seen = fit_recording(average_last=3)
    assert len(seen) == 6                                     # every epoch ran: no early stopping
    for i, weight in enumerate(final):
        np.testing.assert_allclose(weight, np.mean([epoch[i] for epoch in seen[3:]], axis=0), rtol=1e-6)
    assert not np.allclose(final[2], seen[-1][2])             # BN gamma/beta/moving stats are averaged too
    again, _ = fit_recording(average_last=3)
    assert all(np.array_equal(a, b) for a, b in zip(final, again, strict=True))


def test_without_averaging_early_stopping_still_keeps_one_epoch():
    final, seen = fit_recording(average_last=0)
    assert len(seen) < 6
    assert any(all(np.array_equal(a, b) for a, b in zip(final, epoch)) for epoch in seen)


@pytest.mark.parametrize("bad", [-1, 7, 2.5, True])
def test_a_count_outside_0_to_epochs_is_refused_naming_the_key(bad):
    with pytest.raises(McuforgeError, match=r"distill.average_last=.* from 0 \(off\) to distill.epochs=6; "
                                            r"set it in conf/distill/"):
        fit_recording(average_last=bad)
