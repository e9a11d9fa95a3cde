"""Static arena planning from buffer lifetimes over the kernel schedule.

A buffer is live from the step that writes it to the last step that reads it (inclusive);
buffers whose lifetimes overlap may not overlap in memory. Several placement orders are tried
(greedy first-fit) and the smallest arena wins; `lower_bound` is the largest sum of sizes of
buffers live at one step, which no plan can beat.
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
    lower_bound: int


def _align(value: int, alignment: int) -> int:
    return (value + alignment - 1) // alignment * alignment


def lower_bound(buffers: list[Buffer]) -> int:
    steps = sorted({b.first for b in buffers} | {b.last for b in buffers})
    return max((sum(b.size for b in buffers if b.first <= s <= b.last) for s in steps), default=0)


def _first_fit(order: list[Buffer], alignment: int) -> tuple[dict[int, int], int]:
    placed: list[tuple[Buffer, int]] = []
    offsets: dict[int, int] = {}
    for buf in order:
        conflicts = sorted((off, off + b.size) for b, off in placed if b.overlaps(buf))
        candidate = 0
        for start, end in conflicts:
            if candidate + buf.size <= start:
                break
            candidate = max(candidate, _align(end, alignment))
        offsets[buf.key] = candidate
        placed.append((buf, candidate))
    arena = max((offsets[b.key] + b.size for b in order), default=0)
    return offsets, arena


def plan_arena(buffers: list[Buffer], alignment: int = 1, trials: int = 400) -> ArenaPlan:
    """Place every buffer at an aligned offset; deterministic for a given buffer list.

    First-fit over a few classic orders (size, lifetime, size x lifetime, start), then over
    exhaustive (<= 7 buffers) or seeded random orders; stops early at the lower bound.
    """
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
        offsets, arena = _first_fit(order, alignment)
        if best is None or arena < best[1]:
            best = (offsets, arena)
            if arena <= bound:
                break
    offsets, arena = best if best else ({}, 0)
    return ArenaPlan(offsets=dict(sorted(offsets.items())), arena_bytes=arena, lower_bound=bound)
