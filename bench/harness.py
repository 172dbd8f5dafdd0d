"""A small benchmark harness: interleaved rounds, medians and spread, ratios only.

Contenders are timed round by round in turn, so that machine drift hits each alike; a
figure is a ratio of medians measured in the same run, never an absolute time to gate on.
Times are the process's CPU time: on a machine shared with other work, the time another
process holds the CPU is not counted against either contender.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass
from typing import Callable

clock = time.process_time


@dataclass(frozen=True)
class Timing:
    """Seconds per call of one contender: the median over rounds and the spread."""

    name: str
    median: float
    low: float
    high: float

    @property
    def spread(self) -> float:
        """(slowest - fastest) / median, over the rounds."""
        return (self.high - self.low) / self.median


def calls_per_round(function: Callable[[], object], target_seconds: float) -> int:
    """How many calls make one round last about target_seconds."""
    calls = 1
    while True:
        start = clock()
        for _ in range(calls):
            function()
        elapsed = clock() - start
        if elapsed >= target_seconds / 4 or calls >= 1_000_000:
            return max(1, int(calls * target_seconds / max(elapsed, 1e-9)))
        calls *= 4


def warm_up(function: Callable[[], object], seconds: float) -> None:
    """Call function for about this long (a JIT such as PyPy's settles meanwhile)."""
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline:
        function()


def compare(
    contenders: dict[str, Callable[[], object]],
    rounds: int = 9,
    round_seconds: float = 0.05,
    warmup_seconds: float = 0.0,
) -> dict[str, Timing]:
    """Per-call timings of each contender, measured interleaved after a warm-up."""
    for function in contenders.values():
        warm_up(function, warmup_seconds)
    counts = {name: calls_per_round(f, round_seconds) for name, f in contenders.items()}
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, function in contenders.items():
            calls = counts[name]
            start = clock()
            for _ in range(calls):
                function()
            samples[name].append((clock() - start) / calls)
    return {
        name: Timing(name, statistics.median(s), min(s), max(s))
        for name, s in samples.items()
    }


def ratio(timings: dict[str, Timing], numerator: str, denominator: str) -> float:
    return timings[numerator].median / timings[denominator].median
