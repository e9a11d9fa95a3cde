"""Weight averaging over the last epochs (stochastic weight averaging, Izmailov et al. 2018):
the model ends with the mean of its weights at the end of each of its last `average_last`
epochs, instead of the weights of one epoch.

Every weight is averaged, BatchNormalization's moving mean and variance too: with a learning
rate decaying to 0 (lr_schedule: cosine) the last epochs' weights lie close together, so their
statistics do as well. It replaces early stopping (which would keep one epoch): training runs all
`epochs`. Same seed, same data → the same average (a running sum in float64, fixed order).
"""
from __future__ import annotations

import numpy as np

from mcuforge.errors import McuforgeError


def last_epochs(cfg: dict, group: str) -> int:
    """cfg['average_last'] (0 = off), checked against cfg['epochs']."""
    n = cfg.get("average_last", 0)
    if not isinstance(n, int) or isinstance(n, bool) or not 0 <= n <= cfg["epochs"]:
        raise McuforgeError(f"{group}.average_last={n!r} must be a whole number of epochs from 0 (off) "
                            f"to {group}.epochs={cfg['epochs']}; set it in conf/{group}/")
    return n


def callbacks(keras, cfg: dict, group: str) -> list:
    """[] when cfg['average_last'] is 0; else the callback for training.fit(callbacks=...,
    early_stopping=False)."""
    last = last_epochs(cfg, group)
    return [_callback(keras, last, cfg["epochs"])] if last else []


def _callback(keras, last: int, epochs: int):
    """Sums the weights after each of the last `last` of `epochs` epochs; at the end of training
    the model gets their mean (an interrupted run, fewer epochs: the mean of those it saw)."""

    class AverageLastEpochs(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            self.total, self.count = None, 0

        def on_epoch_end(self, epoch, logs=None):
            if epoch < epochs - last:
                return
            weights = [np.asarray(w, np.float64) for w in self.model.get_weights()]
            self.total = weights if self.total is None else [t + w for t, w in zip(self.total, weights)]
            self.count += 1

        def on_train_end(self, logs=None):
            if self.count:
                self.model.set_weights([(t / self.count).astype(w.dtype)
                                        for t, w in zip(self.total, self.model.get_weights())])

    return AverageLastEpochs()
