"""The codegen error: an op, tensor or option the native backend cannot compile."""
from __future__ import annotations

from mcuforge.errors import McuforgeError


class CodegenError(McuforgeError):
    """Raised for anything the native backend does not support; names op, tensor and option."""

    @classmethod
    def unsupported(cls, op: str, tensor: str, option: str) -> "CodegenError":
        return cls(
            f"native codegen does not support {op} (tensor {tensor!r}, {option}); "
            "use codegen.backend=tflm for this model"
        )
