"""Lower each TFLite operator to one kernel call of the C runtime (a Step) or to an Alias.

Every lowering checks what the kernel supports and raises CodegenError naming the op, the
tensor and the option otherwise. Quantisation constants are computed here, in Python, exactly
as TFLM computes them in its Prepare functions (see quant_math).
"""
from __future__ import annotations


import numpy as np

from mcuforge.codegen import quant_math as qm
from mcuforge.codegen.conv_fast import specialise_conv
from mcuforge.codegen.dwconv_fast import specialise_depthwise
from mcuforge.codegen.pool_fast import specialise_mean, specialise_pool
from mcuforge.codegen.sparse_weights import choose_weight_storage
from mcuforge.codegen.errors import CodegenError
from mcuforge.codegen.model_reader import Graph
from mcuforge.codegen.steps import (Alias, ConstArray, OpContext, Step, bias_operand, const_weights, ints,
                                     shape4)


def _conv_common(ctx: OpContext, depthwise: bool) -> Step:
    opts = ctx.op.options
    inp, filt, out = ctx.activation(ctx.tensor(0)), ctx.tensor(1), ctx.activation(ctx.tensor(0, output=True), as_input=False)
    if len(inp.shape) != 4 or len(filt.shape) != 4 or len(out.shape) != 4:
        raise ctx.error(inp.name, f"rank {len(inp.shape)} input (need NHWC)")
    padding = opts.get("padding")
    if padding not in ("SAME", "VALID"):
        raise ctx.error(out.name, f"padding {padding}")
    n, ih, iw, ic = inp.shape
    _, oh, ow, oc = out.shape
    kh, kw = filt.shape[1], filt.shape[2]
    sh, sw = opts["strideH"], opts["strideW"]
    dh, dw = opts.get("dilationHFactor", 1) or 1, opts.get("dilationWFactor", 1) or 1
    if min(sh, sw, dh, dw) < 1:
        raise ctx.error(out.name, f"stride {sh}x{sw} / dilation {dh}x{dw}")
    for size, insize, k, s, d in ((oh, ih, kh, sh, dh), (ow, iw, kw, sw, dw)):
        if qm.compute_out_size(padding, insize, k, s, d) != size:
            raise ctx.error(out.name, f"output size {size} inconsistent with {padding} padding")
    if depthwise:
        if filt.shape[0] != 1 or filt.shape[3] != oc or oc % ic != 0:
            raise ctx.error(filt.name, f"depthwise filter shape {filt.shape}")
        depth_multiplier = oc // ic
    else:
        if filt.shape[0] != oc:
            raise ctx.error(filt.name, f"filter shape {filt.shape}")
        if filt.shape[3] != ic:
            raise ctx.error(filt.name, f"grouped convolution ({ic // max(filt.shape[3], 1)} groups)")
        depth_multiplier = 1
    if len(filt.scales) > 1 and filt.quantized_dimension != (3 if depthwise else 0):
        raise ctx.error(filt.name, f"per-channel scales along axis {filt.quantized_dimension}")
    weights = const_weights(ctx, filt, oc)
    bias_arg, bias_consts = bias_operand(ctx, ctx.optional(2), oc)
    scales = filt.scales if len(filt.scales) == oc else filt.scales * oc
    mult, shift = qm.per_channel_multipliers(inp.scale, scales, out.scale)
    act_min, act_max = qm.activation_range(ctx.fused(), out.scale, out.zero_point)
    params = dict(
        input=shape4(inp.shape), filter=shape4(filt.shape), output=shape4(out.shape),
        stride_h=sh, stride_w=sw, dilation_h=dh, dilation_w=dw,
        pad_h=qm.compute_padding(sh, dh, ih, kh, oh), pad_w=qm.compute_padding(sw, dw, iw, kw, ow),
        depth_multiplier=depth_multiplier, input_offset=-inp.zero_point, output_offset=out.zero_point,
        act_min=act_min, act_max=act_max,
    )
    macs = n * oh * ow * oc * kh * kw * (1 if depthwise else ic)
    return Step(
        op_index=ctx.op.index, opcode=ctx.op.opcode,
        kernel="mf_depthwise_conv2d_s8" if depthwise else "mf_conv2d_s8", params_type="mf_conv_params",
        params=params,
        args=(("tensor", inp.index), ("const", "filter"), bias_arg, ("const", "multiplier"), ("const", "shift")),
        consts=(ConstArray("filter", "int8_t", weights),) + bias_consts + (
            ConstArray("multiplier", "int32_t", tuple(mult)), ConstArray("shift", "int32_t", tuple(shift))),
        output=out.index, macs=macs,
    )


def lower_conv_2d(ctx: OpContext) -> Step:
    step = _conv_common(ctx, depthwise=False)
    sparse = choose_weight_storage(step)   # magnitude-pruned filters: compressed when smaller
    return sparse if sparse is not step else specialise_conv(step)


def lower_depthwise_conv_2d(ctx: OpContext) -> Step:
    return specialise_depthwise(_conv_common(ctx, depthwise=True))


def lower_fully_connected(ctx: OpContext) -> Step:
    opts = ctx.op.options
    inp, filt, out = ctx.activation(ctx.tensor(0)), ctx.tensor(1), ctx.activation(ctx.tensor(0, output=True), as_input=False)
    if opts.get("weightsFormat", 0) != 0:
        raise ctx.error(filt.name, "shuffled weights format")
    if opts.get("asymmetricQuantizeInputs"):
        raise ctx.error(inp.name, "asymmetric_quantize_inputs (hybrid)")
    if len(filt.shape) != 2:
        raise ctx.error(filt.name, f"rank {len(filt.shape)} weights")
    out_depth, accum_depth = filt.shape
    if inp.size % accum_depth or out.shape[-1] != out_depth:
        raise ctx.error(inp.name, f"input of {inp.size} values for accum depth {accum_depth}")
    batches = inp.size // accum_depth
    if filt.dtype != "int8":
        raise ctx.error(filt.name, f"weights dtype {filt.dtype}")
    per_channel = len(filt.scales) > 1
    if per_channel:
        if len(filt.scales) != out_depth or filt.quantized_dimension != 0:
            raise ctx.error(filt.name, "per-channel scales not along output channels")
        mult, shift = qm.per_channel_multipliers(inp.scale, filt.scales, out.scale)
        weights_offset = 0
    else:
        m, s = qm.per_tensor_conv_multiplier(inp.scale, filt.scale, out.scale)
        mult, shift = [m], [s]
        weights_offset = -filt.zero_point
    data = ctx.const(filt, "int8")
    bias_arg, bias_consts = bias_operand(ctx, ctx.optional(2), out_depth)
    act_min, act_max = qm.activation_range(ctx.fused(), out.scale, out.zero_point)
    params = dict(batches=batches, accum_depth=accum_depth, output_depth=out_depth,
                  input_offset=-inp.zero_point, weights_offset=weights_offset, output_offset=out.zero_point,
                  act_min=act_min, act_max=act_max, per_channel=int(per_channel))
    return choose_weight_storage(Step(
        op_index=ctx.op.index, opcode=ctx.op.opcode, kernel="mf_fully_connected_s8",
        params_type="mf_fc_params", params=params,
        args=(("tensor", inp.index), ("const", "weights"), bias_arg, ("const", "multiplier"), ("const", "shift")),
        consts=(ConstArray("weights", "int8_t", ints(data)),) + bias_consts + (
            ConstArray("multiplier", "int32_t", tuple(mult)), ConstArray("shift", "int32_t", tuple(shift))),
        output=out.index, macs=batches * out_depth * accum_depth,
    ))


def _pool(ctx: OpContext, kernel: str) -> Step:
    opts = ctx.op.options
    inp, out = ctx.activation(ctx.tensor(0)), ctx.activation(ctx.tensor(0, output=True), as_input=False)
    if len(inp.shape) != 4:
        raise ctx.error(inp.name, f"rank {len(inp.shape)} input (need NHWC)")
    padding = opts.get("padding")
    if padding not in ("SAME", "VALID"):
        raise ctx.error(out.name, f"padding {padding}")
    _, ih, iw, _ = inp.shape
    _, oh, ow, _ = out.shape
    fh, fw, sh, sw = opts["filterHeight"], opts["filterWidth"], opts["strideH"], opts["strideW"]
    if min(fh, fw, sh, sw) < 1:
        raise ctx.error(out.name, f"filter {fh}x{fw} / stride {sh}x{sw}")
    for size, insize, k, s in ((oh, ih, fh, sh), (ow, iw, fw, sw)):
        if qm.compute_out_size(padding, insize, k, s, 1) != size:
            raise ctx.error(out.name, f"output size {size} inconsistent with {padding} padding")
    act_min, act_max = qm.activation_range(ctx.fused(), out.scale, out.zero_point)
    params = dict(input=shape4(inp.shape), output=shape4(out.shape), filter_h=fh, filter_w=fw,
                  stride_h=sh, stride_w=sw, pad_h=qm.compute_padding(sh, 1, ih, fh, oh),
                  pad_w=qm.compute_padding(sw, 1, iw, fw, ow), act_min=act_min, act_max=act_max)
    return Step(op_index=ctx.op.index, opcode=ctx.op.opcode, kernel=kernel, params_type="mf_pool_params",
                params=params, args=(("tensor", inp.index),), consts=(), output=out.index, macs=0)


def lower_max_pool_2d(ctx: OpContext) -> Step:
    return specialise_pool(_pool(ctx, "mf_max_pool_s8"))


def lower_average_pool_2d(ctx: OpContext) -> Step:
    return specialise_pool(_pool(ctx, "mf_avg_pool_s8"))


def lower_mean(ctx: OpContext) -> Step:
    inp, axis_t, out = ctx.activation(ctx.tensor(0)), ctx.tensor(1), ctx.activation(ctx.tensor(0, output=True), as_input=False)
    rank = len(inp.shape)
    if rank > 4 or rank == 0:
        raise ctx.error(inp.name, f"rank {rank} input")
    axes = []
    for a in ints(ctx.const(axis_t, "int32")):
        a = a + rank if a < 0 else a
        if not 0 <= a < rank:
            raise ctx.error(axis_t.name, f"axis {a} out of range")
        if a not in axes:
            axes.append(a)
    if len(axes) > 2:  # TFLM resolves at most kMaxNumberOfReducedAxis = 2 axes
        raise ctx.error(axis_t.name, f"{len(axes)} reduction axes (TFLM supports at most 2)")
    dims = [1] * (4 - rank) + list(inp.shape)
    reduce = [0] * 4
    for a in axes:
        reduce[a + 4 - rank] = 1
    count = int(np.prod([dims[k] for k in range(4) if reduce[k]])) if axes else 1
    # Measured: the tflite_micro interpreter uses QuantizedMeanOrSum even for equal in/out
    # quantisation (not the integer sum / n of reference_ops::Mean).
    mult, shift = qm.mean_multiplier(inp.scale, out.scale, count)
    if not -31 <= shift <= 30:
        raise ctx.error(out.name, f"mean rescale shift {shift}")
    params = dict(dims=dims, reduce=reduce, input_zp=inp.zero_point,
                  output_zp=out.zero_point, multiplier=mult, shift=shift)
    return specialise_mean(Step(op_index=ctx.op.index, opcode=ctx.op.opcode, kernel="mf_mean_s8",
                                params_type="mf_mean_params", params=params, args=(("tensor", inp.index),),
                                consts=(), output=out.index, macs=0))


def lower_add(ctx: OpContext) -> Step:
    a, b = ctx.tensor(0), ctx.tensor(1)
    out = ctx.activation(ctx.tensor(0, output=True), as_input=False)
    consts, args = [], []
    for name, t in (("input1", a), ("input2", b)):
        ctx.activation(t, as_input=False)
        if t.data is not None:
            consts.append(ConstArray(name, "int8_t", ints(t.data)))
            args.append(("const", name))
        else:
            args.append(("tensor", t.index))
    rank = len(out.shape)
    if rank > 4 or len(a.shape) > rank or len(b.shape) > rank:
        raise ctx.error(out.name, f"rank {rank} broadcast (at most 4)")
    out_dims = [1] * (4 - rank) + list(out.shape)

    def strides(shape):
        dims = [1] * (4 - len(shape)) + list(shape)
        result, step = [0] * 4, 1
        for k in range(3, -1, -1):
            if dims[k] != out_dims[k] and dims[k] != 1:
                raise ctx.error(out.name, f"shapes {a.shape} and {b.shape} do not broadcast")
            result[k] = step if dims[k] == out_dims[k] and dims[k] != 1 else 0
            step *= dims[k]
        return result

    act_min, act_max = qm.activation_range(ctx.fused(), out.scale, out.zero_point)
    rescale = qm.add_params(a.scale, b.scale, out.scale)
    if max(rescale["input1_shift"], rescale["input2_shift"], rescale["output_shift"]) > 0:
        # TFLM's QuantizeMultiplierSmallerThanOneExp refuses multipliers >= 1 as well.
        raise ctx.error(out.name, "output scale too small for the int8 ADD rescale (multiplier >= 1)")
    params = dict(out_dims=out_dims, in1_strides=strides(a.shape), in2_strides=strides(b.shape),
                  input1_offset=-a.zero_point, input2_offset=-b.zero_point, output_offset=out.zero_point,
                  **rescale, act_min=act_min, act_max=act_max)
    return Step(op_index=ctx.op.index, opcode=ctx.op.opcode, kernel="mf_add_s8", params_type="mf_add_params",
                params=params, args=tuple(args), consts=tuple(consts), output=out.index, macs=0)


def lower_softmax(ctx: OpContext) -> Step:
    inp, out = ctx.activation(ctx.tensor(0)), ctx.activation(ctx.tensor(0, output=True), as_input=False)
    if out.zero_point != -128 or np.float32(out.scale) != np.float32(1.0 / 256):
        raise ctx.error(out.name, f"output quantisation scale={out.scale} zero_point={out.zero_point} "
                                  "(TFLM needs 1/256 and -128)")
    depth = inp.shape[-1]
    params = dict(outer_size=inp.size // depth, depth=depth,
                  **qm.softmax_params(ctx.op.options.get("beta", 1.0), inp.scale))
    return Step(op_index=ctx.op.index, opcode=ctx.op.opcode, kernel="mf_softmax_s8",
                params_type="mf_softmax_params", params=params, args=(("tensor", inp.index),), consts=(),
                output=out.index, macs=0)


def lower_alias(ctx: OpContext) -> Alias:
    inp, out = ctx.tensor(0), ctx.tensor(0, output=True)
    ctx.activation(inp)
    ctx.activation(out, as_input=False)
    if inp.size != out.size:
        raise ctx.error(out.name, f"reshape from {inp.size} to {out.size} elements")
    return Alias(op_index=ctx.op.index, opcode=ctx.op.opcode, source=inp.index, target=out.index)


LOWERINGS = {
    "CONV_2D": lower_conv_2d,
    "DEPTHWISE_CONV_2D": lower_depthwise_conv_2d,
    "FULLY_CONNECTED": lower_fully_connected,
    "MAX_POOL_2D": lower_max_pool_2d,
    "AVERAGE_POOL_2D": lower_average_pool_2d,
    "MEAN": lower_mean,
    "ADD": lower_add,
    "SOFTMAX": lower_softmax,
    "RESHAPE": lower_alias,
    "EXPAND_DIMS": lower_alias,
    "SQUEEZE": lower_alias,
}

SUPPORTED_OPS = tuple(sorted(LOWERINGS))


def lower_graph(graph: Graph) -> list[Step | Alias]:
    """Lower every operator in graph order (TFLite stores them topologically sorted)."""
    lowered = []
    for op in graph.operators:
        lowering = LOWERINGS.get(op.opcode)
        if lowering is None:
            names = [graph.tensors[t].name for t in (*op.inputs[:1], *op.outputs[:1]) if t >= 0]
            raise CodegenError.unsupported(f"{op.opcode} (operator #{op.index})", " -> ".join(names) or "-",
                                           f"operator not in the native kernel set ({', '.join(SUPPORTED_OPS)})")
        lowered.append(lowering(OpContext(graph, op)))
    return lowered
