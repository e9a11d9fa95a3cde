"""Code generation from int8 .tflite models. `native`: our own C99 kernels + static arena."""
from mcuforge.codegen.emit_native import generate_native
from mcuforge.codegen.errors import CodegenError
from mcuforge.codegen.lowering import SUPPORTED_OPS

__all__ = ["CodegenError", "SUPPORTED_OPS", "generate_native"]
