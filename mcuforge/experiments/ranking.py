"""Best under budget, as pure functions: fit against a board's budget, rank, Pareto front.

A candidate fits when flash <= the flash budget, RAM (+ measured stack) <= the RAM budget and,
when a latency limit is given and the latency is known, latency <= the limit. Ranking: candidates
that fit first, then by accuracy (higher first), flash, RAM, latency (lower first), name. The
Pareto front is over accuracy (up), flash (down) and RAM (down): a candidate is on it when no other
is at least as good on all three and better on one. Latency is instructions per inference / clock,
an estimate (instructions, not cycles).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Candidate:
    name: str
    accuracy: float
    flash: int                          # bytes
    ram: int                            # bytes, static RAM + measured stack
    instructions: float | None = None   # per inference


@dataclass(frozen=True)
class Budget:
    flash: int
    ram: int
    clock_hz: int
    max_latency_ms: float | None = None


@dataclass(frozen=True)
class Ranked:
    candidate: Candidate
    latency_ms: float | None
    flash_over: int        # bytes over the budget, 0 when within
    ram_over: int
    latency_over_ms: float  # 0.0 when within, unknown or unlimited
    pareto: bool

    @property
    def fits(self) -> bool:
        return self.flash_over == 0 and self.ram_over == 0 and self.latency_over_ms == 0.0


def latency_ms(instructions: float | None, clock_hz: int) -> float | None:
    return None if instructions is None else instructions / clock_hz * 1000.0


def dominates(a: Candidate, b: Candidate) -> bool:
    at_least = a.accuracy >= b.accuracy and a.flash <= b.flash and a.ram <= b.ram
    return at_least and (a.accuracy > b.accuracy or a.flash < b.flash or a.ram < b.ram)


def pareto_front(candidates: list[Candidate]) -> set[str]:
    return {c.name for c in candidates if not any(dominates(o, c) for o in candidates)}


def rank(candidates: list[Candidate], budget: Budget) -> list[Ranked]:
    front = pareto_front(candidates)
    ranked = []
    for c in candidates:
        latency = latency_ms(c.instructions, budget.clock_hz)
        late = 0.0
        if budget.max_latency_ms is not None and latency is not None:
            late = max(0.0, latency - budget.max_latency_ms)
        ranked.append(Ranked(c, latency, max(0, c.flash - budget.flash), max(0, c.ram - budget.ram), late,
                             c.name in front))
    inf = float("inf")
    return sorted(ranked, key=lambda r: (not r.fits, -r.candidate.accuracy, r.candidate.flash, r.candidate.ram,
                                         inf if r.latency_ms is None else r.latency_ms, r.candidate.name))


def best(ranked: list[Ranked]) -> Ranked | None:
    """The first candidate that fits (rank() puts them first), or None."""
    return next((r for r in ranked if r.fits), None)
