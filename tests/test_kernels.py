"""Per-op and fuzz tests: generated C equals the tflite_micro interpreter bit for bit.

Small Keras models are built and converted with full-integer PTQ (int8 in/out, per-channel
weights unless a case says otherwise); converted models are cached for the test session.
"""
from __future__ import annotations

import functools
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")

from mcuforge.codegen.host_build import native_outputs  # noqa: E402
from mcuforge.codegen.model_reader import read_model  # noqa: E402
from mcuforge.codegen.tflm_reference import tflm_outputs  # noqa: E402

INPUTS_PER_MODEL = 64


@functools.lru_cache(maxsize=None)
def _tf():
    import tensorflow as tf

    return tf


def convert(model, input_shape: tuple[int, ...], seed: int, per_channel: bool = True) -> bytes:
    """Full-integer int8 PTQ with a random representative dataset."""
    tf = _tf()
    rng = np.random.default_rng(seed)

    def representative():
        for _ in range(24):
            yield [rng.uniform(-2.0, 2.0, size=(1, *input_shape)).astype(np.float32)]

    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = representative
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_input_type = tf.int8
    converter.inference_output_type = tf.int8
    if not per_channel:
        converter._experimental_disable_per_channel = True
    return converter.convert()


def _keras_model(seed: int, input_shape, body):
    tf = _tf()
    tf.keras.utils.set_random_seed(seed)
    inputs = tf.keras.Input(shape=input_shape, batch_size=1)
    return tf.keras.Model(inputs, body(tf.keras.layers, inputs))


def _channel_scaled(scales: tuple[float, ...]):
    """A kernel initializer: standard normal weights times scales[output channel]."""
    def init(shape, dtype=None):
        tf = _tf()
        return tf.random.normal(shape, dtype=dtype or "float32") * tf.constant(scales, dtype=dtype or "float32")
    return init


def _bias():
    return _tf().keras.initializers.RandomNormal(stddev=0.3)


# name -> (input_shape, body(layers, x) -> y, per_channel)
OP_CASES = {
    "conv2d_same_relu": ((9, 7, 3), lambda L, x: L.Conv2D(5, 3, padding="same", activation="relu",
                                                           bias_initializer=_bias())(x), True),
    "conv2d_valid_stride2_relu6": ((9, 8, 2), lambda L, x: L.Conv2D(4, (3, 2), strides=2, activation="relu6",
                                                                     bias_initializer=_bias())(x), True),
    "conv2d_same_stride2_even": ((8, 8, 2), lambda L, x: L.Conv2D(3, 4, strides=2, padding="same")(x), True),
    "conv2d_dilation2": ((10, 9, 2), lambda L, x: L.Conv2D(3, 3, dilation_rate=2, padding="same",
                                                            bias_initializer=_bias())(x), True),
    # weights of 0.1 to 300 per output channel under RELU6: effective scales above 1 (positive shifts,
    # the left-shift path of the output stage) beside negative ones, a clamp range narrower than int8
    "conv2d_left_shift_relu6": ((8, 6, 3), lambda L, x: L.Conv2D(4, 3, padding="same", activation="relu6",
                                                                  kernel_initializer=_channel_scaled(
                                                                      (0.1, 30.0, 100.0, 300.0)))(x), True),
    "conv2d_per_tensor": ((6, 6, 3), lambda L, x: L.Conv2D(4, 3, activation="relu")(x), False),
    "conv1d_valid": ((30, 4), lambda L, x: L.Conv1D(6, 5, activation="relu", bias_initializer=_bias())(x), True),
    # 12 channels: ARMv6-M's 5-row kernel twice and its 2-row one; 9 taps: one before its 4-tap loop
    "conv1d_same_c12": ((20, 3), lambda L, x: L.Conv1D(12, 3, padding="same", activation="relu")(x), True),
    "depthwise_dm2_same_relu": ((7, 7, 3), lambda L, x: L.DepthwiseConv2D(3, depth_multiplier=2, padding="same",
                                                                         activation="relu",
                                                                         bias_initializer=_bias())(x), True),
    "depthwise_stride2_valid": ((9, 9, 4), lambda L, x: L.DepthwiseConv2D((2, 3), strides=2)(x), True),
    # the specialised depthwise kernel (dwconv_fast.h): every pixel an edge pixel, 5 channels (one
    # group of 4 and a leftover); stride 2 'same' with 6 channels under RELU6; dilation 2 on a
    # DS-CNN-like 3x3 'same' layer (interior and edge pixels, two groups of 4); a per-tensor one
    "depthwise_pad1_small_c5": ((3, 2, 5), lambda L, x: L.DepthwiseConv2D(3, padding="same",
                                                                         bias_initializer=_bias())(x), True),
    "depthwise_stride2_same_relu6": ((7, 6, 6), lambda L, x: L.DepthwiseConv2D(3, strides=2, padding="same",
                                                                              activation="relu6",
                                                                              bias_initializer=_bias())(x), True),
    "depthwise_dilation2_c8": ((9, 8, 8), lambda L, x: L.DepthwiseConv2D(3, dilation_rate=2, padding="same",
                                                                        activation="relu",
                                                                        bias_initializer=_bias())(x), True),
    "depthwise_per_tensor_5x1": ((12, 3, 4), lambda L, x: L.DepthwiseConv2D((5, 1), padding="same")(x), False),
    # effective scales above 1 on some channels: positive shifts, the general output stage
    "depthwise_left_shift_relu6": ((6, 5, 4), lambda L, x: L.DepthwiseConv2D(
        3, padding="same", activation="relu6",
        depthwise_initializer=_channel_scaled(((0.1,), (30.0,), (100.0,), (300.0,))))(x), True),
    "max_pool_same_stride2": ((7, 9, 3), lambda L, x: L.MaxPooling2D(3, strides=2, padding="same")(
        L.Conv2D(3, 1)(x)), True),
    "avg_pool_same_stride2": ((7, 9, 3), lambda L, x: L.AveragePooling2D(3, strides=2, padding="same")(
        L.Conv2D(3, 1)(x)), True),
    "avg_pool_valid": ((8, 6, 2), lambda L, x: L.AveragePooling2D((2, 3))(L.Conv2D(2, 1)(x)), True),
    "mean_hw": ((5, 6, 4), lambda L, x: L.GlobalAveragePooling2D()(L.Conv2D(4, 3, activation="relu")(x)), True),
    "mean_hw_keepdims": ((5, 6, 4), lambda L, x: L.GlobalAveragePooling2D(keepdims=True)(
        L.Conv2D(4, 3)(x)), True),
    "mean_1d": ((20, 3), lambda L, x: L.GlobalAveragePooling1D()(L.Conv1D(5, 3)(x)), True),
    "add_same_shape": ((6, 6, 3), lambda L, x: L.Add()([L.Conv2D(4, 3, padding="same")(x),
                                                        L.Conv2D(4, 1, bias_initializer=_bias())(x)]), True),
    "add_relu": ((6, 5, 3), lambda L, x: L.ReLU()(L.Add()([L.Conv2D(3, 1)(x), L.Conv2D(3, 3, padding="same")(x)])),
                 True),
    "dense_per_channel": ((24,), lambda L, x: L.Dense(10, activation="relu", bias_initializer=_bias())(x), True),
    "dense_on_sequence": ((5, 6), lambda L, x: L.Dense(4, activation="relu", bias_initializer=_bias())(x), True),
    "dense_per_tensor": ((24,), lambda L, x: L.Dense(6)(L.Dense(10, activation="relu")(x)), False),
    "flatten_dense_softmax": ((4, 4, 2), lambda L, x: L.Softmax()(L.Dense(7)(L.Flatten()(L.Conv2D(3, 3)(x)))),
                              True),
    "softmax_wide": ((12,), lambda L, x: L.Softmax()(L.Dense(40, bias_initializer=_bias())(x)), True),
    "reshape": ((6, 4), lambda L, x: L.Dense(5)(L.Reshape((24,))(L.Conv1D(4, 1)(x))), True),
    "add_broadcast_constant": ((5, 4, 3), lambda L, x: L.Lambda(
        lambda t: t + _tf().constant([0.5, -1.0, 0.25], dtype="float32"))(L.MaxPooling2D(2)(x)), True),
}


@functools.lru_cache(maxsize=None)
def op_case_model(name: str) -> bytes:
    input_shape, body, per_channel = OP_CASES[name]
    seed = sum(map(ord, name))
    return convert(_keras_model(seed, input_shape, body), input_shape, seed, per_channel)


def random_inputs(model_bytes: bytes, count: int, seed: int) -> np.ndarray:
    graph = read_model(model_bytes)
    size = graph.tensors[graph.inputs[0]].size
    return np.random.default_rng(seed).integers(-128, 128, size=(count, size), dtype=np.int8)


def assert_native_equals_tflm(model_bytes: bytes, tmp_path, count: int = INPUTS_PER_MODEL, seed: int = 0,
                              extra_flags: tuple[str, ...] = ()):
    inputs = random_inputs(model_bytes, count, seed)
    expected = tflm_outputs(model_bytes, inputs)
    actual = native_outputs(model_bytes, inputs, tmp_path, extra_flags=extra_flags)
    mismatched = np.flatnonzero((expected != actual).any(axis=1))
    assert mismatched.size == 0, (
        f"{mismatched.size}/{count} inputs differ; first {mismatched[0]}: "
        f"tflm {expected[mismatched[0]].tolist()} vs native {actual[mismatched[0]].tolist()}")


@pytest.mark.parametrize("case", sorted(OP_CASES))
def test_op_case_matches_tflm(case, tmp_path):
    model = op_case_model(case)
    assert_native_equals_tflm(model, tmp_path, seed=len(case))


DEPTHWISE_CASES = sorted(c for c in OP_CASES if c.startswith("depthwise_"))


@pytest.mark.parametrize("case", DEPTHWISE_CASES)
def test_depthwise_case_with_emulated_dsp_matches_tflm(case, tmp_path):
    """The SXTB16 + SMLABB / SMLATT loop of dwconv_fast.h, its instructions modelled in C."""
    assert_native_equals_tflm(op_case_model(case), tmp_path, seed=len(case) + 1, extra_flags=("-DMF_EMULATE_DSP",))


@pytest.mark.parametrize("flags", [(), ("-DMF_EMULATE_DSP",)], ids=["portable", "emulated-dsp"])
def test_depthwise_without_nudged_rounding_matches_tflm(flags, tmp_path, monkeypatch):
    """The right-shift output stage's plain division, which layers whose bound nudged_rounding
    cannot prove keep (the op cases all prove it)."""
    from mcuforge.codegen import conv_fast  # output_stage, shared with the depthwise kernel

    monkeypatch.setattr(conv_fast, "nudged_rounding", lambda *args: 0)
    assert_native_equals_tflm(op_case_model("depthwise_dilation2_c8"), tmp_path, seed=5, extra_flags=flags)
    assert "/* nudged */ 0" in (tmp_path / "generated" / "model.c").read_text()


@pytest.mark.parametrize("flags", [(), ("-DMF_EMULATE_DSP",)], ids=["portable", "emulated-dsp"])
def test_conv_without_nudged_rounding_matches_tflm(flags, tmp_path, monkeypatch):
    """The specialised conv's right-shift output stage with the plain division (the op cases all
    prove the nudged one's bound)."""
    from mcuforge.codegen import conv_fast

    monkeypatch.setattr(conv_fast, "nudged_rounding", lambda *args: 0)
    assert_native_equals_tflm(op_case_model("conv2d_same_relu"), tmp_path, seed=6, extra_flags=flags)
    text = (tmp_path / "generated" / "model.c").read_text()
    assert "/* right_shifts_only */ 1" in text and "/* nudged */ 0" in text


def test_op_cases_lower_to_the_intended_ops():
    expected = {
        "conv2d_same_relu": "CONV_2D", "depthwise_dm2_same_relu": "DEPTHWISE_CONV_2D",
        "max_pool_same_stride2": "MAX_POOL_2D", "avg_pool_valid": "AVERAGE_POOL_2D", "mean_hw": "MEAN",
        "add_relu": "ADD", "flatten_dense_softmax": "SOFTMAX", "dense_per_tensor": "FULLY_CONNECTED",
        "add_broadcast_constant": "ADD",
    }
    for case, opcode in expected.items():
        assert opcode in [op.opcode for op in read_model(op_case_model(case)).operators], case
    fused = {op.opcode: op.options.get("fusedActivationFunction")
             for op in read_model(op_case_model("conv2d_valid_stride2_relu6")).operators}
    assert fused["CONV_2D"] == "RELU6"
    per_tensor = [t for t in read_model(op_case_model("dense_per_tensor")).tensors
                  if t.dtype == "int8" and t.data is not None]
    assert per_tensor and all(len(t.scales) == 1 for t in per_tensor)


def with_tensor_quantization(model_bytes: bytes, tensor_index: int, scale: float, zero_point: int) -> bytes:
    """Rewrite one tensor's (per-tensor) quantisation through the schema object API."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    quant = model.subgraphs[0].tensors[tensor_index].quantization
    quant.scale, quant.zeroPoint = [float(scale)], [int(zero_point)]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def reshapes_to_squeezes(model_bytes: bytes) -> bytes:
    """Turn every RESHAPE that only drops one size-1 axis into the equivalent SQUEEZE (the
    converter never emits SQUEEZE for Keras models)."""
    import flatbuffers
    from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

    model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    code = schema.OperatorCodeT()
    code.builtinCode = code.deprecatedBuiltinCode = schema.BuiltinOperator.SQUEEZE
    code.version = 1
    model.operatorCodes.append(code)
    squeeze_index = len(model.operatorCodes) - 1
    tensors = model.subgraphs[0].tensors
    for op in model.subgraphs[0].operators:
        if max(model.operatorCodes[op.opcodeIndex].builtinCode,
               model.operatorCodes[op.opcodeIndex].deprecatedBuiltinCode) != schema.BuiltinOperator.RESHAPE:
            continue
        in_shape, out_shape = list(tensors[op.inputs[0]].shape), list(tensors[op.outputs[0]].shape)
        axes = [a for a in range(len(in_shape)) if in_shape[a] == 1 and in_shape[:a] + in_shape[a + 1:] == out_shape]
        if not axes:
            continue
        op.opcodeIndex = squeeze_index
        op.inputs = [op.inputs[0]]
        op.builtinOptionsType = schema.BuiltinOptions.SqueezeOptions
        op.builtinOptions = schema.SqueezeOptionsT()
        op.builtinOptions.squeezeDims = [axes[0]]
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())


def test_squeeze_aliases_like_reshape(tmp_path):
    model = reshapes_to_squeezes(op_case_model("conv1d_valid"))
    assert "SQUEEZE" in [op.opcode for op in read_model(model).operators]
    assert_native_equals_tflm(model, tmp_path, seed=9)


def test_mean_with_equal_in_out_quantisation(tmp_path):
    """Upstream sources show a plain sum / n path for this case; the wheel measured here
    still rescales (QuantizedMeanOrSum), and so must we."""
    model = op_case_model("mean_hw")
    graph = read_model(model)
    mean = next(op for op in graph.operators if op.opcode == "MEAN")
    source = graph.tensors[mean.inputs[0]]
    patched = with_tensor_quantization(model, mean.outputs[0], source.scale, source.zero_point)
    assert_native_equals_tflm(patched, tmp_path, seed=5)


# ---------------------------------------------------------------------------------------------
# Fuzz: random small models from the supported op set.

FUZZ_SEEDS = list(range(24))


def _fuzz_body(seed: int):
    rng = np.random.default_rng(1000 + seed)
    one_d = bool(rng.integers(0, 2))
    if one_d:
        length, channels = int(rng.integers(12, 40)), int(rng.integers(1, 6))
        input_shape = (length, channels)
    else:
        h, w, channels = int(rng.integers(5, 14)), int(rng.integers(5, 14)), int(rng.integers(1, 5))
        input_shape = (h, w, channels)
    plan = [str(rng.choice(["conv", "dwconv", "maxpool", "avgpool", "residual"])) for _ in range(rng.integers(1, 4))]
    head = str(rng.choice(["gap", "flatten"]))
    softmax = bool(rng.integers(0, 2))
    acts = [None, "relu", "relu6"]
    choices = rng.integers(0, 1 << 30, size=64).tolist()

    def pick(options):
        return options[choices.pop() % len(options)]

    def body(L, x):
        spatial = list(input_shape[:-1])
        for kind in plan:
            padding = pick(["same", "valid"])
            kernel = [pick([1, 2, 3, 5]) for _ in spatial]
            if padding == "valid":
                kernel = [min(k, s) for k, s in zip(kernel, spatial)]
            stride = pick([1, 1, 2])
            dilation = pick([1, 2]) if stride == 1 else 1
            if padding == "valid" and any((k - 1) * dilation + 1 > s for k, s in zip(kernel, spatial)):
                dilation = 1
            act = pick(acts)
            init = _bias()
            if kind == "conv":
                filters = pick([2, 3, 4, 8])
                layer = (L.Conv1D(filters, kernel[0], strides=stride, padding=padding, dilation_rate=dilation,
                                  activation=act, bias_initializer=init) if one_d else
                         L.Conv2D(filters, kernel, strides=stride, padding=padding, dilation_rate=dilation,
                                  activation=act, bias_initializer=init))
            elif kind == "dwconv":
                dm = pick([1, 1, 2, 3])
                layer = (L.DepthwiseConv1D(kernel[0], strides=stride, padding=padding, depth_multiplier=dm,
                                           dilation_rate=dilation, activation=act, bias_initializer=init)
                         if one_d else
                         L.DepthwiseConv2D(kernel, strides=stride, padding=padding, depth_multiplier=dm,
                                           dilation_rate=dilation, activation=act, bias_initializer=init))
            elif kind in ("maxpool", "avgpool"):
                pool = [max(1, min(k, 3)) for k in kernel]
                pstride = pick([1, 2])
                cls = {("maxpool", True): L.MaxPooling1D, ("maxpool", False): L.MaxPooling2D,
                       ("avgpool", True): L.AveragePooling1D, ("avgpool", False): L.AveragePooling2D}[(kind, one_d)]
                layer = cls(pool[0] if one_d else pool, strides=pstride, padding=padding)
            else:  # residual: two same-padding branches added, optional relu
                filters = pick([2, 4])
                conv = L.Conv1D if one_d else L.Conv2D
                a = conv(filters, kernel[0] if one_d else kernel, padding="same", activation=act)(x)
                b = conv(filters, 1, bias_initializer=init)(x)
                x = L.Add()([a, b])
                if pick([False, True]):
                    x = L.ReLU()(x)
                continue
            x = layer(x)
            spatial = [int(d) for d in x.shape[1:-1]]
            if min(spatial) < 1:
                raise AssertionError("generator produced an empty tensor")
        if head == "gap":
            x = (L.GlobalAveragePooling1D() if one_d else L.GlobalAveragePooling2D())(x)
        else:
            x = L.Flatten()(x)
        if pick([False, True]):
            x = L.Dense(pick([4, 8, 16]), activation=pick(acts), bias_initializer=_bias())(x)
        x = L.Dense(pick([2, 5, 7]), bias_initializer=_bias())(x)
        return L.Softmax()(x) if softmax else x

    return input_shape, body


@functools.lru_cache(maxsize=None)
def fuzz_model(seed: int) -> bytes:
    input_shape, body = _fuzz_body(seed)
    per_channel = seed % 5 != 4
    return convert(_keras_model(seed, input_shape, body), input_shape, seed, per_channel)


@pytest.mark.parametrize("seed", FUZZ_SEEDS)
def test_fuzz_model_matches_tflm(seed, tmp_path):
    """Odd seeds build the Cortex-M DSP inner loop with its instructions modelled in C."""
    flags = ("-DMF_EMULATE_DSP",) if seed % 2 else ()
    assert_native_equals_tflm(fuzz_model(seed), tmp_path, seed=seed, extra_flags=flags)


# ---------------------------------------------------------------------------------------------
# C-level tests of the runtime itself (tests/c/).

TESTS_C = Path(__file__).parent / "c"


def _compile(tmp_path, *sources: Path, defines: tuple[str, ...] = ()) -> Path:
    from mcuforge.codegen.host_build import CFLAGS, RUNTIME_DIR

    exe = tmp_path / sources[0].stem
    subprocess.run(["gcc", *CFLAGS, *defines, "-I", str(RUNTIME_DIR / "include"), *map(str, sources), "-o", str(exe)],
                   check=True, capture_output=True, text=True)
    return exe


def _wrap32(v: int) -> int:
    return (v + (1 << 31)) % (1 << 32) - (1 << 31)


def _srdhm(a: int, b: int) -> int:
    """gemmlowp SaturatingRoundingDoublingHighMul with big integers (C truncating division)."""
    if a == b == -(1 << 31):
        return (1 << 31) - 1
    ab = a * b
    total = ab + ((1 << 30) if ab >= 0 else 1 - (1 << 30))
    quotient = abs(total) >> 31
    return quotient if total >= 0 else -quotient


def _rdbp(x: int, exponent: int) -> int:
    mask = (1 << exponent) - 1
    threshold = (mask >> 1) + (1 if x < 0 else 0)
    return (x >> exponent) + (1 if (x & mask) > threshold else 0)


def _mbqm(x: int, multiplier: int, shift: int) -> int:
    left, right = max(shift, 0), max(-shift, 0)
    return _rdbp(_srdhm(_wrap32(x << left), multiplier), right)



def test_armv6m_requant_table_matches_gemmlowp_model(tmp_path):
    """mf_mbqm_table (ARMv6-M's output stage, one shift for both roundings) with the words
    armv6m_requant_table writes, against MultiplyByQuantizedMultiplier, over its whole domain's edges:
    |acc| < 2^20, multipliers >= 0, right shifts 1..22 (outside it the table is refused)."""
    from mcuforge.codegen.conv_fast import armv6m_requant_table

    exe = _compile(tmp_path, TESTS_C / "requant_table_cli.c")
    stage = dict(right_shifts_only=1, nudged=1, below_2p20=1)
    rng = np.random.default_rng(5)
    xs = [-(1 << 20) + 1, -(1 << 19), -513, -512, -1, 0, 1, 511, 512, (1 << 20) - 1]
    cases = [(x, m, s) for x in xs for m in (0, 1, 0x7FF, 1 << 22, 1 << 30, (1 << 31) - 1) for s in (1, 7, 22)]
    cases += [(int(x), int(m), int(s)) for x, m, s in zip(rng.integers(-(1 << 20) + 1, 1 << 20, 4000),
                                                         rng.integers(1 << 30, 1 << 31, 4000),
                                                         rng.integers(1, 23, 4000))]
    lines = []
    for x, m, s in cases:
        words = armv6m_requant_table(stage, (m,), (-s,))
        lines.append(" ".join(map(str, (x, *words))))
    out = subprocess.run([str(exe)], input="\n".join(lines) + "\n", capture_output=True, text=True,
                         check=True).stdout.split()
    assert [int(v) for v in out] == [_mbqm(x, m, -s) for x, m, s in cases]
    assert armv6m_requant_table(stage, (1 << 30,), (-23,)) is None  # 2^(8+s) would overflow
    assert armv6m_requant_table(stage, (1 << 30,), (0,)) is None
    assert armv6m_requant_table(dict(stage, below_2p20=0), (1 << 30,), (-3,)) is None

@pytest.mark.parametrize("defines", [(), ("-DMF_MUL32_HIGH",)], ids=["int64", "mul32"])
def test_fixedpoint_helpers_match_gemmlowp_model(tmp_path, defines):
    """int64: SMULL-style 64-bit product; mul32: the ARMv6-M path (four 16 x 16-bit multiplies)."""
    exe = _compile(tmp_path, TESTS_C / "fixedpoint_cli.c", defines=defines)
    rng = np.random.default_rng(3)
    edges = [-(1 << 31), -(1 << 31) + 1, -1, 0, 1, (1 << 31) - 1, 1 << 30, -(1 << 30),
             0xFFFF, 0x10000, -0x10000, -0x8000, 0x7FFF, 0x8000, (1 << 31) - 0x10000]
    rows = [(x, m, s) for x in edges for m in edges[3:] for s in (-31, -5, 0, 3)]
    rows += [(x, m, 0) for x in edges for m in edges]  # every sign pair of both 16-bit halves
    rows += [((1 << 31) - (1 << (e - 1)) + d, 1 << 30, -e) for e in (1, 2, 7, 31) for d in (-2, -1, 0)]
    rows += [(int(x), int(m), 0) for x, m in zip(rng.integers(-(1 << 31), 1 << 31, 3000),
                                                  rng.integers(-(1 << 31), 1 << 31, 3000))]
    rows += [(int(x), int(m), int(s)) for x, m, s in zip(rng.integers(-(1 << 31), 1 << 31, 3000),
                                                         rng.integers(1 << 30, 1 << 31, 3000),
                                                         rng.integers(-31, 8, 3000))]
    below = [-(1 << 20), -(1 << 20) + 1, (1 << 20) - 1, 1 << 20, -(1 << 19), 0x7FF, -0x800]
    rows += [(x, m, 0) for x in below for m in (0, 1, 0x7FF, 0x800, 1 << 22, (1 << 22) - 1, 1 << 30, (1 << 31) - 1)]
    rows += [(int(x), int(m), int(s)) for x, m, s in zip(rng.integers(-(1 << 20), 1 << 20, 2000),
                                                         rng.integers(1 << 30, 1 << 31, 2000),
                                                         rng.integers(-31, 1, 2000))]
    text = "".join(f"{x} {m} {s}\n" for x, m, s in rows)
    out = subprocess.run([str(exe)], input=text, capture_output=True, text=True, check=True).stdout.splitlines()
    assert len(out) == len(rows), f"{len(out)} output lines for {len(rows)} rows"
    for (x, m, s), line in zip(rows, out, strict=True):
        e = min(max(-s, 0), 31)
        *values, nudged, below = line.split()
        assert [int(v) for v in values] == [_srdhm(x, m), _rdbp(x, e), _mbqm(x, m, s)], (x, m, s)
        # the nudged division (dwconv_fast.h's output stage) equals rdbp wherever it applies
        assert nudged == (str(_rdbp(x, e)) if e >= 1 and x + (1 << (e - 1)) < (1 << 31) else "-"), (x, e)
        # the three-multiply high product (ARMv6-M's output stage) equals srdhm wherever it applies
        assert below == (str(_srdhm(x, m)) if abs(x) < (1 << 20) and m >= 0 else "-"), (x, m)


def test_kernels_check_preconditions(tmp_path):
    from mcuforge.codegen.host_build import runtime_sources

    exe = _compile(tmp_path, TESTS_C / "kernel_preconditions.c", *runtime_sources())
    result = subprocess.run([str(exe)], capture_output=True, text=True)
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stdout
