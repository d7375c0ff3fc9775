"""A comparison measured side by side: each side's value per round, the ratio taken round by
round, and where it was measured (the accelerator, the machine).

A measurement takes two sides (A and B) in turns, round after round, so that machine noise hits
both alike; a :class:`Row` is that for the benchmark table, a :class:`Comparison` the same with
its accelerator and cores for a chart (one side when only one was asked for).
"""

from __future__ import annotations

import contextlib
import math
import os
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass(frozen=True)
class Side:
    """One side of a comparison: what was measured, its unit and the value of every round."""

    label: str
    unit: str
    values: tuple[float, ...]

    def __post_init__(self) -> None:
        if not self.values:
            raise ValueError(f"{self.label}: no measurement")

    @property
    def min(self) -> float:
        return min(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def max(self) -> float:
        return max(self.values)

    def to_json(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "unit": self.unit,
            "values": list(self.values),
            "min": self.min,
            "median": self.median,
            "max": self.max,
        }


@dataclass(frozen=True)
class Row:
    """A ratio A/B measured side by side: ``a`` and ``b`` hold one value per round."""

    name: str
    a: Side
    b: Side
    note: str = ""

    def __post_init__(self) -> None:
        if len(self.a.values) != len(self.b.values):
            raise ValueError(f"{self.name}: the two sides have different numbers of rounds")

    @property
    def ratios(self) -> tuple[float, ...]:
        """A/B of each round."""
        return tuple(a / b for a, b in zip(self.a.values, self.b.values, strict=True))

    @property
    def ratio(self) -> Side:
        return Side(f"{self.a.label} / {self.b.label}", "x", self.ratios)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "a": self.a.to_json(),
            "b": self.b.to_json(),
            "ratio": self.ratio.to_json(),
            "rounds": len(self.ratios),
            "note": self.note,
        }


def row(
    name: str,
    a: tuple[str, Sequence[float]],
    b: tuple[str, Sequence[float]],
    unit: str,
    note: str = "",
) -> Row:
    """A :class:`Row` whose two sides share ``unit``: ``a`` and ``b`` are (label, values)."""
    return Row(name, Side(a[0], unit, tuple(a[1])), Side(b[0], unit, tuple(b[1])), note)


@dataclass(frozen=True)
class Comparison:
    """What one chart shows: the title (what was measured), one or two sides, and where it was
    measured: the accelerator (``kvm`` or ``tcg``) and the machine's cores."""

    title: str
    sides: tuple[Side, ...]
    accel: str
    cores: int
    note: str = ""

    @classmethod
    def of_row(cls, measured: Row, *, accel: str, cores: int) -> Comparison:
        """The chart of a table row."""
        return cls(measured.name, (measured.a, measured.b), accel, cores, measured.note)

    @property
    def rounds(self) -> int:
        return len(self.sides[0].values)

    @property
    def ratio(self) -> Side | None:
        """A/B round by round, when there are two sides."""
        if len(self.sides) != 2:
            return None
        return Row(self.title, *self.sides).ratio

    @property
    def where(self) -> str:
        """``TCG, 2 cores, 3 rounds``: how and where the figures were taken (pure)."""
        rounds = f"{self.rounds} round{'s' if self.rounds > 1 else ''}"
        return f"{self.accel.upper()}, {self.cores} cores, {rounds}"

    def headline(self) -> str:
        """One line: the title, each side's median [min..max], the ratio, where (pure)."""
        parts = [side_cell(side) for side in self.sides]
        ratio = self.ratio
        if ratio is not None:
            parts.append(f"A/B {number(ratio.median)}x")
        return f"{self.title}: {', '.join(parts)} ({self.where})"


def number(value: float) -> str:
    """``value`` with three significant digits, never in exponent form (pure)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"


def side_cell(side: Side) -> str:
    """``label median [min..max] unit`` (pure)."""
    spread = f" [{number(side.min)}..{number(side.max)}]" if len(side.values) > 1 else ""
    return f"{side.label} {number(side.median)}{spread} {side.unit}"


def seconds(call: Callable[[], object]) -> float:
    """Wall-clock seconds one call of ``call`` takes."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def machine() -> dict[str, Any]:
    """Where the figures come from: date, CPU model, cores, RAM, load average (1, 5, 15 min)."""
    cpu = "?"
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    ram_kib = 0
    with contextlib.suppress(OSError, ValueError, IndexError):
        ram_kib = int(Path("/proc/meminfo").read_text().split("\n")[0].split()[1])
    return {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "cpu": cpu,
        "cores": os.cpu_count(),
        "ram_gib": round(ram_kib / 2**20, 1),
        "load_average": [round(value, 2) for value in os.getloadavg()],
    }
