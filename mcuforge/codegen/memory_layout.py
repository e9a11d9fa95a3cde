"""From the lowered schedule to arena buffers: alias groups, lifetimes and the planned offsets.

Shape-only ops (RESHAPE, EXPAND_DIMS, SQUEEZE) make their output share the input's buffer, so a
group of aliased tensors is one buffer. The graph input's buffer lives in the arena (invoke
copies the caller's input there unless the caller wrote it in place); the graph output's buffer
is the caller's `output` pointer, so it takes no arena space. A step whose kernel walks its
output in raster order may write over its own input when that input dies at the step
(mcuforge.codegen.inplace proves how far); the planner uses such links where they shrink the
arena below the liveness bound.
"""
from __future__ import annotations

from dataclasses import dataclass

from mcuforge.codegen.arena_planner import ArenaPlan, Buffer, plan_arena
from mcuforge.codegen.errors import CodegenError
from mcuforge.codegen.inplace import max_displacement
from mcuforge.codegen.lowering import Alias, Step
from mcuforge.codegen.model_reader import Graph


@dataclass(frozen=True)
class MemoryLayout:
    steps: tuple[Step, ...]
    group_of: dict[int, int]        # tensor index -> representative tensor index
    external_output: bool           # True: the output group is the caller's buffer
    input_group: int
    output_group: int
    buffers: tuple[Buffer, ...]     # the arena buffers the plan placed (the caller's output excluded)
    plan: ArenaPlan
    inplace_links: dict[tuple[int, int], int]  # (input group, output group) -> largest safe displacement


def _resolve(group_of: dict[int, int], tensor: int) -> int:
    while group_of.get(tensor, tensor) != tensor:
        tensor = group_of[tensor]
    return tensor


def build_layout(graph: Graph, lowered: list[Step | Alias], alignment: int = 1) -> MemoryLayout:
    group_of: dict[int, int] = {}
    steps: list[Step] = []
    for item in lowered:
        if isinstance(item, Alias):
            group_of[item.target] = _resolve(group_of, item.source)
        else:
            steps.append(item)
    groups = {t: _resolve(group_of, t) for t in range(len(graph.tensors))}
    input_group = groups[graph.inputs[0]]
    output_group = groups[graph.outputs[0]]
    external_output = output_group != input_group

    first: dict[int, int] = {input_group: 0}
    last: dict[int, int] = {input_group: 0}
    for s, step in enumerate(steps):
        for t in step.tensor_inputs:
            g = groups[t]
            if g not in first:
                raise CodegenError(f"tensor {graph.tensors[t].name!r} is read by {step.opcode} before it is written")
            last[g] = max(last[g], s)
        g = groups[step.output]
        if g in first:
            raise CodegenError(f"tensor {graph.tensors[step.output].name!r} is written twice")
        first[g], last[g] = s, s
    if output_group not in first:
        raise CodegenError(f"graph output {graph.tensors[graph.outputs[0]].name!r} is never written")
    if not external_output:
        last[output_group] = max(last[output_group], len(steps) - 1, 0)

    buffers = [
        Buffer(key=g, size=graph.tensors[g].size, first=first[g], last=last[g])
        for g in sorted(first)
        if not (external_output and g == output_group)
    ]
    links = _inplace_links(steps, groups, buffers, last)
    plan = plan_arena(buffers, alignment=alignment, links=links)
    return MemoryLayout(steps=tuple(steps), group_of=groups, external_output=external_output,
                        input_group=input_group, output_group=output_group, buffers=tuple(buffers),
                        plan=plan, inplace_links=links)


def _inplace_links(steps: list[Step], groups: dict[int, int], buffers: list[Buffer],
                   last: dict[int, int]) -> dict[tuple[int, int], int]:
    """Steps whose one tensor input dies there and whose output is an arena buffer they may overlap."""
    size = {b.key: b.size for b in buffers}
    links = {}
    for s, step in enumerate(steps):
        ins = {groups[t] for t in step.tensor_inputs}
        out = groups[step.output]
        if len(ins) != 1 or out not in size:
            continue
        (inp,) = ins
        bound = max_displacement(step)
        if inp in size and last[inp] == s and bound is not None and bound > -size[out]:
            links[inp, out] = bound
    return links
