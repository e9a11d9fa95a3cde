"""Static arena planning from buffer lifetimes over the kernel schedule.

A buffer is live from the step that writes it to the last step that reads it (inclusive);
buffers whose lifetimes overlap may not overlap in memory, except an in-place link: a step's
output may start at most A bytes after its dying input's start (A from mcuforge.codegen.inplace,
often negative), overlapping it. Several placement orders are tried (greedy first-fit) and the
smallest arena wins. `lower_bound` is the largest sum of sizes of buffers live at one step: no
plan without in-place links can beat it, and links are how a plan goes below it.
"""
from __future__ import annotations

import itertools
import random
from dataclasses import dataclass


@dataclass(frozen=True)
class Buffer:
    key: int    # a stable id (the representative tensor index)
    size: int   # bytes
    first: int  # first step at which it is live
    last: int   # last step at which it is live

    def overlaps(self, other: "Buffer") -> bool:
        return self.first <= other.last and other.first <= self.last


@dataclass(frozen=True)
class ArenaPlan:
    offsets: dict[int, int]
    arena_bytes: int
    lower_bound: int          # liveness bound: no plan without in-place links goes below it
    inplace_used: tuple[tuple[int, int], ...] = ()  # (input key, output key) links the plan overlaps


# (input key, output key) -> A: the output may start at input offset + d for any d <= A
InplaceLinks = dict[tuple[int, int], int]


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def lower_bound(buffers: list[Buffer]) -> int:
    steps = sorted({b.first for b in buffers} | {b.last for b in buffers})
    return max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)


def _forbidden(buf: Buffer, other: Buffer, off: int, links: InplaceLinks) -> tuple[int, int]:
    """[start, end): `buf` at x conflicts with `other` (placed at off) iff x + buf.size > start and x < end."""
    if (other.key, buf.key) in links:   # buf is the output, other its input: x - off <= A is fine
        return off + links[other.key, buf.key] + buf.size, off + other.size
    if (buf.key, other.key) in links:   # buf is the input, other its output: off - x <= A is fine
        return off, off - links[buf.key, other.key]
    return off, off + other.size


def _first_fit(order: list[Buffer], alignment: int, links: InplaceLinks) -> tuple[dict[int, int], int]:
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[int, int] = {}
    for buf in order:
        zones = [_forbidden(buf, b, off, links) for b, off in placed if b.overlaps(buf)]
        zones = [(start, end) for start, end in zones if start - buf.size < end - 1]
        candidates = sorted({0} | {_align(max(end, 0), alignment) for _, end in zones})
        offsets[buf.key] = next(x for x in candidates
                                if all(x + buf.size <= start or x >= end for start, end in zones))
        placed.append((buf, offsets[buf.key]))
    arena = max((offsets[b.key] + b.size for b in order), default=0)
    return offsets, arena


def _links_used(buffers: list[Buffer], offsets: dict[int, int], links: InplaceLinks) -> tuple[tuple[int, int], ...]:
    size = {b.key: b.size for b in buffers}
    return tuple(sorted((i, o) for i, o in links
                        if offsets[i] < offsets[o] + size[o] and offsets[o] < offsets[i] + size[i]))


def plan_arena(buffers: list[Buffer], alignment: int = 1, trials: int = 400,
               links: InplaceLinks | None = None) -> ArenaPlan:
    """Place every buffer at an aligned offset; deterministic for a given buffer list.

    First-fit over a few classic orders (size, lifetime, size x lifetime, start), then over
    exhaustive (<= 7 buffers) or seeded random orders; without in-place links it stops early at
    the lower bound (with links, it tries every order).
    """
    links = dict(links or {})
    if links:  # overlap only where it pays: a plan as small without links is preferred
        plain = plan_arena(buffers, alignment, trials)
        linked = _plan(buffers, alignment, trials, links)
        return plain if plain.arena_bytes <= linked.arena_bytes else linked
    return _plan(buffers, alignment, trials, links)


def _plan(buffers: list[Buffer], alignment: int, trials: int, links: InplaceLinks) -> ArenaPlan:
    bound = lower_bound(buffers)
    orders = [
        sorted(buffers, key=lambda b: (-b.size, b.first, b.key)),
        sorted(buffers, key=lambda b: (-(b.last - b.first), -b.size, b.key)),
        sorted(buffers, key=lambda b: (-b.size * (b.last - b.first + 1), b.key)),
        sorted(buffers, key=lambda b: (b.first, -b.size, b.key)),
    ]
    if len(buffers) <= 7:
        orders.extend(list(p) for p in itertools.permutations(sorted(buffers, key=lambda b: b.key)))
    else:
        rng = random.Random(0)
        for _ in range(trials):
            order = sorted(buffers, key=lambda b: b.key)
            rng.shuffle(order)
            orders.append(order)
    best: tuple[dict[int, int], int] | None = None
    for order in orders:
        offsets, arena = _first_fit(order, alignment, links)
        if best is None or arena < best[1]:
            best = (offsets, arena)
            if arena <= bound and not links:
                break
    offsets, arena = best if best else ({}, 0)
    return ArenaPlan(offsets=dict(sorted(offsets.items())), arena_bytes=arena, lower_bound=bound,
                     inplace_used=_links_used(buffers, offsets, links))
