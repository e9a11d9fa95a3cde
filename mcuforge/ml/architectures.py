"""Keras models from conf/model/*.yaml. Every model ends in a linear Dense: it outputs logits."""
from __future__ import annotations

from mcuforge.errors import McuforgeError


def build_model(keras, arch: dict, input_shape: tuple[int, ...], n_classes: int, name: str):
    builders = {"cnn1d": _cnn1d, "dense": _dense, "dscnn": _dscnn}
    if arch.get("arch") not in builders:
        raise McuforgeError(f"model.{name}.arch={arch.get('arch')!r} is unknown; choose one of "
                            f"{', '.join(builders)}")
    inputs = keras.Input(shape=tuple(input_shape), name="features")
    hidden = builders[arch["arch"]](keras, arch, inputs, name)
    for units in arch.get("dense", []):
        hidden = keras.layers.Dense(units, activation="relu")(hidden)
        if arch.get("dropout", 0) > 0:
            hidden = keras.layers.Dropout(arch["dropout"])(hidden)
    logits = keras.layers.Dense(n_classes, name="logits")(hidden)
    return keras.Model(inputs, logits, name=name)


def _cnn1d(keras, arch: dict, inputs, name: str):
    """Convolutions along time, built as Conv2D with (kernel, 1) kernels over a (time, 1, channels)
    view: the same maths as Conv1D, but tfmot's quantisation-aware training supports Conv2D only."""
    if len(inputs.shape) != 3:
        raise McuforgeError(f"model.{name}.arch=cnn1d needs windows (time × channels) as input: "
                            "use features=raw, or model=dense with features=spectral")
    steps, channels = inputs.shape[1], inputs.shape[2]
    hidden = keras.layers.Reshape((steps, 1, channels))(inputs)
    for block in arch["conv"]:
        kernel = (block["kernel"], 1)
        if arch.get("batch_norm", False):  # folded into the convolution by the TFLite converter
            hidden = keras.layers.Conv2D(block["filters"], kernel, padding="same")(hidden)
            hidden = keras.layers.BatchNormalization()(hidden)
            hidden = keras.layers.ReLU()(hidden)
        else:
            hidden = keras.layers.Conv2D(block["filters"], kernel, padding="same",
                                         activation="relu")(hidden)
        if block.get("pool", 1) > 1:
            hidden = keras.layers.MaxPool2D((block["pool"], 1))(hidden)
    return keras.layers.GlobalAveragePooling2D()(hidden)


def _dense(keras, arch: dict, inputs, name: str):
    if len(inputs.shape) != 2:
        return keras.layers.Flatten()(inputs)
    return inputs


def _dscnn(keras, arch: dict, inputs, name: str):
    """The MLPerf Tiny KWS DS-CNN over a frames × coefficients map: a strided Conv2D, then
    depthwise-separable blocks (DepthwiseConv2D 3×3 + BN + ReLU, Conv2D 1×1 + BN + ReLU), then
    global average pooling. BatchNormalization folds into the convolutions in the TFLite file."""
    layers = keras.layers
    if len(inputs.shape) not in (3, 4):
        raise McuforgeError(f"model.{name}.arch=dscnn needs a frames × coefficients map as input "
                            f"(got features of shape {tuple(inputs.shape[1:])}): use features=mfcc")
    hidden = inputs if len(inputs.shape) == 4 else layers.Reshape((*inputs.shape[1:], 1))(inputs)
    first = arch["first_conv"]
    hidden = layers.Conv2D(first["filters"], tuple(first["kernel"]), strides=tuple(first["stride"]),
                           padding="same", use_bias=False)(hidden)
    hidden = layers.ReLU()(layers.BatchNormalization()(hidden))
    if arch.get("dropout", 0) > 0:
        hidden = layers.Dropout(arch["dropout"])(hidden)
    for filters in arch["blocks"]:
        hidden = layers.DepthwiseConv2D(3, padding="same", use_bias=False)(hidden)
        hidden = layers.ReLU()(layers.BatchNormalization()(hidden))
        hidden = layers.Conv2D(filters, 1, use_bias=False)(hidden)
        hidden = layers.ReLU()(layers.BatchNormalization()(hidden))
    if arch.get("dropout", 0) > 0:
        hidden = layers.Dropout(arch["dropout"])(hidden)
    return layers.GlobalAveragePooling2D()(hidden)
