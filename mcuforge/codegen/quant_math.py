"""TFLite Micro's quantisation arithmetic, reproduced exactly in Python (double precision).

Every function names the TFLM function (tensorflow/lite/kernels/internal/quantization_util.cc,
kernel_util.cc) whose result it must equal; the results become C constants.
"""
from __future__ import annotations

import math

import numpy as np

INT8_MIN, INT8_MAX = -128, 127


def tflite_round(value: float) -> float:
    """TfLiteRound = std::round: halves away from zero (Python's round() is banker's)."""
    return math.copysign(math.floor(abs(value) + 0.5), value)


def quantize_multiplier(real_multiplier: float) -> tuple[int, int]:
    """tflite::QuantizeMultiplier: frexp significand as Q31 plus a power-of-two shift."""
    if real_multiplier == 0.0:
        return 0, 0
    significand, shift = math.frexp(real_multiplier)
    q_fixed = int(tflite_round(significand * (1 << 31)))
    if q_fixed > (1 << 31):
        raise ValueError(f"QuantizeMultiplier overflow for {real_multiplier!r}")
    if q_fixed == (1 << 31):
        q_fixed //= 2
        shift += 1
    if shift < -31:
        shift, q_fixed = 0, 0
    return q_fixed, shift


def per_channel_multipliers(input_scale: float, filter_scales, output_scale: float):
    """tflite::PopulateConvolutionQuantizationParams / per-channel CalculateOpDataFullyConnected.

    effective = double(input_scale) * double(filter_scale) / double(output_scale).
    """
    multipliers, shifts = [], []
    for filter_scale in np.asarray(filter_scales, dtype=np.float32):
        effective = float(np.float32(input_scale)) * float(filter_scale) / float(np.float32(output_scale))
        m, s = quantize_multiplier(effective)
        multipliers.append(m)
        shifts.append(s)
    return multipliers, shifts


def per_tensor_conv_multiplier(input_scale: float, filter_scale: float, output_scale: float):
    """tflite::GetQuantizedConvolutionMultipler: the scale product is taken in float32."""
    product = float(np.float32(input_scale) * np.float32(filter_scale))
    return quantize_multiplier(product / float(np.float32(output_scale)))


def activation_range(activation: str, scale: float, zero_point: int) -> tuple[int, int]:
    """tflite::CalculateActivationRangeQuantized for int8 outputs (float32 division, std::round)."""

    def quantize(value: float) -> int:
        return int(zero_point) + int(tflite_round(float(np.float32(value) / np.float32(scale))))

    if activation == "NONE":
        return INT8_MIN, INT8_MAX
    if activation == "RELU":
        return max(INT8_MIN, quantize(0.0)), INT8_MAX
    if activation == "RELU6":
        return max(INT8_MIN, quantize(0.0)), min(INT8_MAX, quantize(6.0))
    if activation == "RELU_N1_TO_1":
        return max(INT8_MIN, quantize(-1.0)), min(INT8_MAX, quantize(1.0))
    raise ValueError(activation)


def mean_multiplier(input_scale: float, output_scale: float, num_elements: int) -> tuple[int, int]:
    """PrepareMeanOrSum's QuantizeMultiplier(in/out) folded with 1/num_elements exactly as
    reference_ops::QuantizedMeanOrSum(compute_sum=false) does at run time."""
    multiplier, shift = quantize_multiplier(float(np.float32(input_scale)) / float(np.float32(output_scale)))
    fold = num_elements.bit_length() - 1  # 63 - CountLeadingZeros(uint64)
    fold = min(fold, 32, 31 + shift)
    multiplier = (multiplier << fold) // num_elements  # int64 division of positives
    multiplier = int(np.int64(multiplier).astype(np.int32))  # static_cast<int32_t>
    return multiplier, shift - fold


def add_params(scale1: float, scale2: float, out_scale: float) -> dict:
    """tflite::CalculateOpDataAdd for int8 (left_shift 20, QuantizeMultiplierSmallerThanOneExp)."""
    left_shift = 20
    twice_max = 2.0 * float(max(np.float32(scale1), np.float32(scale2)))
    real1 = float(np.float32(scale1)) / twice_max
    real2 = float(np.float32(scale2)) / twice_max
    real_out = twice_max / ((1 << left_shift) * float(np.float32(out_scale)))
    m1, s1 = quantize_multiplier(real1)
    m2, s2 = quantize_multiplier(real2)
    mo, so = quantize_multiplier(real_out)
    return dict(left_shift=left_shift, input1_multiplier=m1, input1_shift=s1,
                input2_multiplier=m2, input2_shift=s2, output_multiplier=mo, output_shift=so)


def softmax_params(beta: float, input_scale: float) -> dict:
    """tflite::PreprocessSoftmaxScaling + CalculateInputRadius with kScaledDiffIntegerBits = 5."""
    integer_bits = 5
    real = min(float(np.float32(beta)) * float(np.float32(input_scale)) * (1 << (31 - integer_bits)),
               float((1 << 31) - 1))
    multiplier, left_shift = quantize_multiplier(real)
    if left_shift < 0:
        raise ValueError("softmax multiplier below one")
    radius = math.floor(1.0 * ((1 << integer_bits) - 1) * (1 << (31 - integer_bits)) / (1 << left_shift))
    return dict(input_multiplier=multiplier, input_left_shift=left_shift, diff_min=-int(radius))


def compute_padding(stride: int, dilation: int, in_size: int, filter_size: int, out_size: int) -> int:
    """tflite::ComputePaddingWithOffset: the leading (floor-half) padding."""
    effective = (filter_size - 1) * dilation + 1
    total = max(0, (out_size - 1) * stride + effective - in_size)
    return total // 2


def compute_out_size(padding: str, in_size: int, filter_size: int, stride: int, dilation: int) -> int:
    """tflite::ComputeOutSize."""
    effective = (filter_size - 1) * dilation + 1
    if padding == "SAME":
        return (in_size + stride - 1) // stride
    return (in_size + stride - effective) // stride
