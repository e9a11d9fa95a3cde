"""The planned arena as plot data: one row per arena buffer, its live kernel steps and its bytes.

A row spans kernel steps step_first..step_last (inclusive, indices into the static schedule the
planner worked on) and bytes offset..offset+bytes of the arena. `tensor` is the buffer's tensor
name up to the first ';' (TFLite joins fused names with ';'); `written_by` is the opcode of the
step that writes it, or "input" for the model input the caller copies in. The caller's output
buffer takes no arena space and has no row. max(offset + bytes) over the rows is the arena size.
"""
from __future__ import annotations

from mcuforge.codegen.memory_layout import MemoryLayout
from mcuforge.codegen.model_reader import Graph

COLUMNS = ("step_first", "step_last", "offset", "bytes", "tensor", "written_by")


def timeline_rows(graph: Graph, layout: MemoryLayout) -> list[dict]:
    writer = {layout.group_of[step.output]: step.opcode for step in layout.steps}
    offsets = layout.plan.offsets
    ordered = sorted(layout.buffers, key=lambda b: (b.first, offsets[b.key], b.key))
    return [{"step_first": b.first, "step_last": b.last, "offset": offsets[b.key], "bytes": b.size,
             "tensor": graph.tensors[b.key].name.split(";")[0], "written_by": writer.get(b.key, "input")}
            for b in ordered]
