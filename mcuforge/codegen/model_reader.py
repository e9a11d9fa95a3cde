"""Read a .tflite flatbuffer into plain Python objects through the maintained generated schema
module that ships in the tflite_micro wheel (no hand parsing of bytes)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema

from mcuforge.codegen.errors import CodegenError

_OPCODE_NAMES = {v: k for k, v in vars(schema.BuiltinOperator).items() if not k.startswith("_")}
_TYPE_NAMES = {v: k.lower() for k, v in vars(schema.TensorType).items() if not k.startswith("_")}
_NUMPY_TYPES = {"int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
                "uint8": np.uint8, "float32": np.float32, "bool": np.bool_}
_ACTIVATIONS = {v: k for k, v in vars(schema.ActivationFunctionType).items() if not k.startswith("_")}
_PADDINGS = {v: k for k, v in vars(schema.Padding).items() if not k.startswith("_")}


@dataclass(frozen=True)
class Tensor:
    index: int
    name: str
    shape: tuple[int, ...]
    dtype: str
    data: np.ndarray | None  # constant data (weights, biases, shape/axis operands), else None
    scales: tuple[float, ...] = ()
    zero_points: tuple[int, ...] = ()
    quantized_dimension: int = 0

    @property
    def size(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) if self.shape else 1

    @property
    def scale(self) -> float:
        return self.scales[0]

    @property
    def zero_point(self) -> int:
        return self.zero_points[0]


@dataclass(frozen=True)
class Operator:
    index: int
    opcode: str
    inputs: tuple[int, ...]  # -1 marks an omitted optional input
    outputs: tuple[int, ...]
    options: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Graph:
    tensors: tuple[Tensor, ...]
    operators: tuple[Operator, ...]
    inputs: tuple[int, ...]
    outputs: tuple[int, ...]


def _options(op) -> dict:
    if op.builtinOptions is None:
        return {}
    options = {k: v for k, v in vars(op.builtinOptions).items()}
    if "fusedActivationFunction" in options:
        options["fusedActivationFunction"] = _ACTIVATIONS.get(options["fusedActivationFunction"], "UNKNOWN")
    if "padding" in options:
        options["padding"] = _PADDINGS.get(options["padding"], "UNKNOWN")
    return options


def _buffer_data(model_bytes: bytes, model, tensor) -> np.ndarray | None:
    buffer = model.buffers[tensor.buffer] if tensor.buffer < len(model.buffers) else None
    if buffer is None:
        return None
    if buffer.data is not None and len(buffer.data):
        raw = np.asarray(buffer.data, dtype=np.uint8).tobytes()
    elif buffer.offset and buffer.offset > 1:
        raw = model_bytes[buffer.offset:buffer.offset + buffer.size]
    else:
        return None
    dtype = _NUMPY_TYPES.get(_TYPE_NAMES.get(tensor.type, ""))
    if dtype is None:
        return None
    shape = tuple(int(d) for d in tensor.shape) if tensor.shape is not None else ()
    return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()


def _opcode_name(model, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    builtin = max(int(code.builtinCode), int(code.deprecatedBuiltinCode))
    if builtin == schema.BuiltinOperator.CUSTOM:
        custom = code.customCode.decode() if isinstance(code.customCode, bytes) else str(code.customCode)
        return f"CUSTOM:{custom}"
    return _OPCODE_NAMES.get(builtin, f"BUILTIN_{builtin}")


def read_model(model_bytes: bytes) -> Graph:
    """Parse the first subgraph of a TFLite model."""
    try:
        model = schema.ModelT.InitFromPackedBuf(bytearray(model_bytes), 0)
    except Exception as err:  # the generated reader raises assorted errors on garbage
        raise CodegenError(f"not a readable .tflite flatbuffer: {err}") from err
    if not model.subgraphs:
        raise CodegenError("model has no subgraph")
    if len(model.subgraphs) > 1:
        raise CodegenError.unsupported("a multi-subgraph model", "-", f"{len(model.subgraphs)} subgraphs")
    graph = model.subgraphs[0]
    tensors = []
    for index, t in enumerate(graph.tensors):
        q = t.quantization
        scales = tuple(float(s) for s in q.scale) if q is not None and q.scale is not None else ()
        zps = tuple(int(z) for z in q.zeroPoint) if q is not None and q.zeroPoint is not None else ()
        name = t.name.decode("utf-8", "replace") if isinstance(t.name, bytes) else str(t.name or "")
        tensors.append(Tensor(
            index=index, name=name,
            shape=tuple(int(d) for d in t.shape) if t.shape is not None else (),
            dtype=_TYPE_NAMES.get(t.type, f"type{t.type}"),
            data=_buffer_data(model_bytes, model, t),
            scales=scales, zero_points=zps,
            quantized_dimension=int(q.quantizedDimension) if q is not None else 0,
        ))
    operators = tuple(
        Operator(index=i, opcode=_opcode_name(model, op),
                 inputs=tuple(int(x) for x in op.inputs) if op.inputs is not None else (),
                 outputs=tuple(int(x) for x in op.outputs) if op.outputs is not None else (),
                 options=_options(op))
        for i, op in enumerate(graph.operators or [])
    )
    return Graph(tensors=tuple(tensors), operators=operators,
                 inputs=tuple(int(x) for x in graph.inputs), outputs=tuple(int(x) for x in graph.outputs))
