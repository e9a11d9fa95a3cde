"""What lowering produces (ConstArray, Step, Alias) and the per-operator context it works in.

OpContext checks operands the way every lowering needs (int8 activations with per-tensor
quantisation, constant weights, supported fused activations) and raises CodegenError naming the
op, the tensor and the option.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from mcuforge.codegen.errors import CodegenError
from mcuforge.codegen.model_reader import Graph, Operator, Tensor


@dataclass(frozen=True)
class ConstArray:
    suffix: str        # name part, e.g. "filter"
    ctype: str         # "int8_t" or "int32_t"
    values: tuple[int, ...]
    guard: str = ""    # a core macro of mcuforge/dot.h (e.g. "MF_ARMV6M"): defined only there, passed
                       # as GUARD_ONLY(name) (null elsewhere); a copy of other weights in a core's layout


@dataclass(frozen=True)
class Step:
    """One kernel call: kernel(&params, args..., output).

    specialised: the kernel is an always-inline body instantiated once per layer,
    kernel(args..., output[, scratch], *params.values()) with every param a literal;
    scratch_bytes: the shared scratch buffer it needs (0: none)."""
    op_index: int
    opcode: str
    kernel: str
    params_type: str
    params: dict                       # field -> int | list[int] | dict (nested struct)
    args: tuple[tuple[str, object], ...]  # ("tensor", id) | ("const", suffix) | ("null", None)
    consts: tuple[ConstArray, ...]
    output: int
    macs: int
    specialised: bool = False
    scratch_bytes: int = 0

    @property
    def tensor_inputs(self) -> tuple[int, ...]:
        return tuple(v for kind, v in self.args if kind == "tensor")


@dataclass(frozen=True)
class Alias:
    """A shape-only op: the output tensor shares the input tensor's bytes."""
    op_index: int
    opcode: str
    source: int
    target: int


@dataclass
class OpContext:
    graph: Graph
    op: Operator

    def tensor(self, position: int, *, output: bool = False) -> Tensor:
        ids = self.op.outputs if output else self.op.inputs
        if position >= len(ids) or ids[position] < 0:
            raise self.error("-", f"missing {'output' if output else 'input'} {position}")
        return self.graph.tensors[ids[position]]

    def optional(self, position: int) -> Tensor | None:
        ids = self.op.inputs
        if position >= len(ids) or ids[position] < 0:
            return None
        return self.graph.tensors[ids[position]]

    def error(self, tensor: str, option: str) -> CodegenError:
        return CodegenError.unsupported(self.op.opcode, tensor, option)

    def activation(self, t: Tensor, *, as_input: bool = True) -> Tensor:
        if t.dtype != "int8":
            raise self.error(t.name, f"dtype {t.dtype} (only int8 activations)")
        if as_input and t.data is not None:
            raise self.error(t.name, "constant activation input")
        if len(t.scales) != 1 or len(t.zero_points) != 1:
            raise self.error(t.name, f"{len(t.scales)} activation scales (need per-tensor quantisation)")
        return t

    def const(self, t: Tensor, dtype: str) -> np.ndarray:
        if t.dtype != dtype:
            raise self.error(t.name, f"dtype {t.dtype} (need {dtype})")
        if t.data is None:
            raise self.error(t.name, "non-constant weights/bias/axis")
        return t.data

    def fused(self) -> str:
        act = self.op.options.get("fusedActivationFunction", "NONE")
        if act not in ("NONE", "RELU", "RELU6", "RELU_N1_TO_1"):
            raise self.error(self.tensor(0, output=True).name, f"fused activation {act}")
        return act


def shape4(shape: tuple[int, ...]) -> dict:
    if len(shape) > 4:
        raise ValueError(shape)
    s = (1,) * (4 - len(shape)) + tuple(shape)
    return dict(n=s[0], h=s[1], w=s[2], c=s[3])


def ints(array) -> tuple[int, ...]:
    return tuple(int(v) for v in np.asarray(array).reshape(-1))


def const_weights(ctx: OpContext, filt: Tensor, channels: int) -> tuple[int, ...]:
    data = ctx.const(filt, "int8")
    if any(z != 0 for z in filt.zero_points):
        raise ctx.error(filt.name, "non-zero filter zero point")
    if len(filt.scales) not in (1, channels):
        raise ctx.error(filt.name, f"{len(filt.scales)} filter scales for {channels} channels")
    return ints(data)


def bias_operand(ctx: OpContext, bias: Tensor | None, channels: int):
    if bias is None:
        return ("null", None), ()
    data = ctx.const(bias, "int32")
    if data.size != channels:
        raise ctx.error(bias.name, f"bias of {data.size} values for {channels} channels")
    return ("const", "bias"), (ConstArray("bias", "int32_t", ints(data)),)
