"""Full-integer int8 conversion (int8 input and output) and pruning-preserving QAT."""
from __future__ import annotations

import numpy as np


def representative_sample(x_train: np.ndarray, count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return x_train[np.sort(rng.permutation(len(x_train))[:count])]


def convert_int8(tf, model, representative: np.ndarray) -> bytes:
    """Converted with a fixed batch of 1, as the device runs it: with a dynamic batch a Reshape
    becomes SHAPE → STRIDED_SLICE → PACK → RESHAPE in the graph."""
    spec = tf.TensorSpec([1, *model.inputs[0].shape[1:]], model.inputs[0].dtype)
    concrete = tf.function(lambda x: model(x, training=False)).get_concrete_function(spec)
    converter = tf.lite.TFLiteConverter.from_concrete_functions([concrete], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([row[np.newaxis]] for row in representative)
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    return converter.convert()


def prune_preserving_qat_model(tfmot, model):
    """Fake-quantised copy of `model` whose training keeps its zeros (plain QAT destroys sparsity)."""
    annotated = tfmot.quantization.keras.quantize_annotate_model(model)
    scheme = tfmot.experimental.combine.Default8BitPrunePreserveQuantizeScheme()
    return tfmot.quantization.keras.quantize_apply(annotated, scheme)
