"""prune.method=magnitude: tfmot magnitude pruning of every convolution and Dense kernel with a
polynomial schedule, fine-tuned with the distillation loss, then strip_pruning. The model keeps its
shape (zeros are stored and multiplied); see pruning_channels for the method that shrinks it."""
from __future__ import annotations

import math

import numpy as np


def prunable(keras, layer) -> bool:
    return isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense))


def wrap_for_pruning(keras, tfmot, model, cfg: dict, steps_per_epoch: int):
    end_step = max(1, math.ceil(cfg["epochs"] * cfg["ramp_fraction"]) * steps_per_epoch)
    schedule = tfmot.sparsity.keras.PolynomialDecay(
        initial_sparsity=cfg["initial_sparsity"], final_sparsity=cfg["sparsity"],
        begin_step=0, end_step=end_step,
        # masks update once per epoch, so the last update lands exactly on end_step
        frequency=steps_per_epoch)

    def wrap(layer):
        if prunable(keras, layer):
            return tfmot.sparsity.keras.prune_low_magnitude(layer, pruning_schedule=schedule)
        return layer

    return keras.models.clone_model(model, clone_function=wrap)


def kernel_sparsity(keras, model) -> float:
    """Fraction of zeros over the kernels of the prunable layers (biases excluded)."""
    kernels = [layer.kernel.numpy() for layer in model.layers if prunable(keras, layer)]
    zeros = sum(int(np.sum(k == 0)) for k in kernels)
    return zeros / sum(k.size for k in kernels)


def prune_magnitude(tf, keras, student, train: tuple, val: tuple, cfg: dict, loss):
    """The pruned model (same architecture, cfg['sparsity'] of each kernel zero) and its report fields."""
    import tensorflow_model_optimization as tfmot

    from mcuforge.ml import training

    wrapped = wrap_for_pruning(keras, tfmot, student, cfg, training.steps_per_epoch(train, cfg))
    training.fit(tf, keras, wrapped, train, val, {**cfg, "patience": None}, loss,
                 callbacks=[tfmot.sparsity.keras.UpdatePruningStep()], early_stopping=False, label="prune",
                 group="prune")
    return tfmot.sparsity.keras.strip_pruning(wrapped), {"target_sparsity": cfg["sparsity"]}


def model_macs(keras, model) -> int:
    """Multiply-accumulates of one inference: convolutions (depthwise included) and Dense layers."""
    total = 0
    for layer in model.layers:
        out_pixels = int(np.prod(layer.output.shape[1:-1])) if hasattr(layer, "kernel") or isinstance(
            layer, keras.layers.DepthwiseConv2D) else 0
        if isinstance(layer, keras.layers.DepthwiseConv2D):
            total += out_pixels * int(np.prod(layer.depthwise_kernel.shape))
        elif isinstance(layer, (keras.layers.Conv1D, keras.layers.Conv2D, keras.layers.Dense)):
            total += out_pixels * int(np.prod(layer.kernel.shape))
    return total


def magnitude_summary(keras, model) -> dict:
    """Report fields beside the sparsity: magnitude pruning keeps every MAC and parameter slot."""
    macs, params = model_macs(keras, model), int(model.count_params())
    return {"macs_before": macs, "macs_after": macs, "macs_ratio": 1.0,
            "params_before": params, "params_after": params, "params_ratio": 1.0}
