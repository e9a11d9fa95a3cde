"""What TFLM needs to know of an int8 .tflite model: its ops, the resolver methods, its int8 I/O.

    ops = model_ops(tflite_bytes)            # every operator, in order, as schema names
    methods = resolver_methods(ops)          # (op, MicroMutableOpResolver Add* method), distinct
    io = model_io(load_model(tflite_bytes))  # {"input": {size, scale, zero_point}, "output": {...}}
"""
from __future__ import annotations

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from mcuforge.codegen.errors import CodegenError

# Builtin operator (schema name) -> tflite::MicroMutableOpResolver method registering it.
TFLM_ADD_METHODS = {
    "ABS": "AddAbs", "ADD": "AddAdd", "ADD_N": "AddAddN", "ARG_MAX": "AddArgMax", "ARG_MIN": "AddArgMin",
    "AVERAGE_POOL_2D": "AddAveragePool2D", "BATCH_MATMUL": "AddBatchMatMul",
    "BATCH_TO_SPACE_ND": "AddBatchToSpaceNd", "BROADCAST_ARGS": "AddBroadcastArgs",
    "BROADCAST_TO": "AddBroadcastTo", "CAST": "AddCast", "CEIL": "AddCeil",
    "CONCATENATION": "AddConcatenation", "CONV_2D": "AddConv2D", "COS": "AddCos", "CUMSUM": "AddCumSum",
    "DEPTH_TO_SPACE": "AddDepthToSpace", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D",
    "DEQUANTIZE": "AddDequantize", "DIV": "AddDiv", "ELU": "AddElu", "EQUAL": "AddEqual", "EXP": "AddExp",
    "EXPAND_DIMS": "AddExpandDims", "FILL": "AddFill", "FLOOR": "AddFloor", "FLOOR_DIV": "AddFloorDiv",
    "FLOOR_MOD": "AddFloorMod", "FULLY_CONNECTED": "AddFullyConnected", "GATHER": "AddGather",
    "GATHER_ND": "AddGatherNd", "GREATER": "AddGreater", "GREATER_EQUAL": "AddGreaterEqual",
    "HARD_SWISH": "AddHardSwish", "L2_NORMALIZATION": "AddL2Normalization", "L2_POOL_2D": "AddL2Pool2D",
    "LEAKY_RELU": "AddLeakyRelu", "LESS": "AddLess", "LESS_EQUAL": "AddLessEqual", "LOG": "AddLog",
    "LOG_SOFTMAX": "AddLogSoftmax", "LOGICAL_AND": "AddLogicalAnd", "LOGICAL_NOT": "AddLogicalNot",
    "LOGICAL_OR": "AddLogicalOr", "LOGISTIC": "AddLogistic", "MAX_POOL_2D": "AddMaxPool2D",
    "MAXIMUM": "AddMaximum", "MEAN": "AddMean", "MINIMUM": "AddMinimum", "MIRROR_PAD": "AddMirrorPad",
    "MUL": "AddMul", "NEG": "AddNeg", "NOT_EQUAL": "AddNotEqual", "PACK": "AddPack", "PAD": "AddPad",
    "PADV2": "AddPadV2", "PRELU": "AddPrelu", "QUANTIZE": "AddQuantize", "REDUCE_MAX": "AddReduceMax",
    "RELU": "AddRelu", "RELU6": "AddRelu6", "RESHAPE": "AddReshape", "RESIZE_BILINEAR": "AddResizeBilinear",
    "RESIZE_NEAREST_NEIGHBOR": "AddResizeNearestNeighbor", "ROUND": "AddRound", "RSQRT": "AddRsqrt",
    "SELECT_V2": "AddSelectV2", "SHAPE": "AddShape", "SIN": "AddSin", "SLICE": "AddSlice",
    "SOFTMAX": "AddSoftmax", "SPACE_TO_BATCH_ND": "AddSpaceToBatchNd", "SPACE_TO_DEPTH": "AddSpaceToDepth",
    "SPLIT": "AddSplit", "SPLIT_V": "AddSplitV", "SQRT": "AddSqrt", "SQUARE": "AddSquare",
    "SQUARED_DIFFERENCE": "AddSquaredDifference", "SQUEEZE": "AddSqueeze",
    "STRIDED_SLICE": "AddStridedSlice", "SUB": "AddSub", "SUM": "AddSum", "SVDF": "AddSvdf",
    "TANH": "AddTanh", "TRANSPOSE": "AddTranspose", "TRANSPOSE_CONV": "AddTransposeConv",
    "UNIDIRECTIONAL_SEQUENCE_LSTM": "AddUnidirectionalSequenceLSTM", "UNPACK": "AddUnpack",
    "ZEROS_LIKE": "AddZerosLike",
}

_OPCODE_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}

def load_model(tflite_bytes: bytes):
    try:
        return schema.ModelT.InitFromPackedBuf(bytearray(tflite_bytes), 0)
    except Exception as err:  # the generated reader raises assorted errors on garbage
        raise CodegenError(f"not a readable .tflite flatbuffer: {err}") from err


def opcode_name(code) -> str:
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
        return f"CUSTOM:{custom}"
    return _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")


def model_ops(tflite_bytes: bytes) -> list[str]:
    """Every operator of every subgraph, in order (subgraph 0 first), as schema opcode names."""
    model = load_model(tflite_bytes)
    return [opcode_name(model.operatorCodes[op.opcodeIndex])
            for graph in (model.subgraphs or []) for op in (graph.operators or [])]


def resolver_methods(ops: list[str]) -> list[tuple[str, str]]:
    """(opcode, Add* method) for each distinct op in first-use order; CodegenError for any op the
    generated resolver cannot register (custom ops, builtins without a known Add* method)."""
    out, seen = [], set()
    for index, op in enumerate(ops):
        if op in seen:
            continue
        seen.add(op)
        if op.startswith("CUSTOM:"):
            raise CodegenError(f"tflm codegen: operator #{index} is the custom op {op[7:]!r}; the generated "
                               "MicroMutableOpResolver registers builtin ops only (register it with AddCustom "
                               "in your firmware, or remove it from the model)")
        if op not in TFLM_ADD_METHODS:
            raise CodegenError(f"tflm codegen: operator #{index} is {op}, which has no known "
                               "tflite::MicroMutableOpResolver Add* method (TFLM may not implement it); "
                               "change the model to avoid it")
        out.append((op, TFLM_ADD_METHODS[op]))
    return out


def model_io(model) -> dict:
    graph = model.subgraphs[0]
    if len(graph.inputs) != 1 or len(graph.outputs) != 1:
        raise CodegenError(f"tflm codegen: the model has {len(graph.inputs)} inputs / {len(graph.outputs)} "
                           "outputs; the generated API needs exactly one of each")
    out = {}
    for role, index in (("input", graph.inputs[0]), ("output", graph.outputs[0])):
        t = graph.tensors[index]
        q = t.quantization
        scales = list(q.scale) if q is not None and q.scale is not None else []
        zps = list(q.zeroPoint) if q is not None and q.zeroPoint is not None else []
        dtype = _TYPE_NAMES.get(t.type, f"type{t.type}")
        if dtype != "int8" or len(scales) != 1:
            raise CodegenError(f"tflm codegen: the model {role} is {dtype} with {len(scales)} scales; "
                               "the generated API needs a per-tensor quantised int8 input and output")
        shape = [int(d) for d in t.shape] if t.shape is not None else []
        out[role] = {"size": int(np.prod(shape, dtype=np.int64)) if shape else 1,
                     "scale": float(scales[0]), "zero_point": int(zps[0]) if zps else 0}
    return out
