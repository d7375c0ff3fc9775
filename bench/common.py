"""What every benchmark shares: timing, statistics over repeated runs, the ratio table, its JSON.

A benchmark measures two sides (A and B) side by side in one run, round after round, and returns
:class:`Row` values. Each round gives one value per side, so a row's ratio is taken per round
(A/B of the same round) and reported as min / median / max next to both sides' absolute figures.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


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


# -- timing ----------------------------------------------------------------------------------------


def seconds(call: Callable[[], object]) -> float:
    """Wall-clock seconds one call of ``call`` takes."""
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def milliseconds_per_call(
    cases: Mapping[str, Callable[[], object]], *, rounds: int, budget: float
) -> dict[str, list[float]]:
    """Per case, the mean milliseconds per call of each round: each case is called again and
    again for ``budget`` seconds, the cases taking turns within each round (after a warm-up
    call each), so machine noise hits them alike."""
    for call in cases.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(rounds):
        for name, call in cases.items():
            count, start = 0, time.perf_counter()
            while (elapsed := time.perf_counter() - start) < budget or not count:
                call()
                count += 1
            times[name].append(1000 * elapsed / count)
    return times


def against_safe_load(
    subjects: Mapping[str, Callable[[], object]],
    texts: Sequence[str],
    what: str,
    *,
    quick: bool,
    goals: Mapping[str, str] | None = None,
) -> list[Row]:
    """Milliseconds per call of each subject (each handles every text of ``texts`` once) against
    plain PyYAML loads (C loader when available) of the same texts, all measured in one run."""
    rounds, budget = (3, 0.3) if quick else (7, 1.5)
    times = milliseconds_per_call(
        {**subjects, "safe_load": lambda: [yaml.load(text, Loader=SAFE_LOADER) for text in texts]},
        rounds=rounds,
        budget=budget,
    )
    return [
        row(
            f"{subject} vs PyYAML {SAFE_LOADER.__name__} ({what})",
            (subject, times[subject]),
            ("safe_load", times["safe_load"]),
            "ms",
            (goals or {}).get(subject, ""),
        )
        for subject in subjects
    ]


# -- the table -------------------------------------------------------------------------------------


def number(value: float) -> str:
    """``value`` with three significant digits, never in exponent form (pure)."""
    if value == 0 or not math.isfinite(value):
        return f"{value:g}"
    return f"{value:.{max(0, 2 - math.floor(math.log10(abs(value))))}f}"


def side_cell(side: Side) -> str:
    """``label median [min..max] unit`` (pure)."""
    spread = f" [{number(side.min)}..{number(side.max)}]" if len(side.values) > 1 else ""
    return f"{side.label} {number(side.median)}{spread} {side.unit}"


HEADER = (
    "benchmark",
    "A: median [min..max]",
    "B: median [min..max]",
    "A/B min",
    "median",
    "max",
    "n",
    "note",
)
RIGHT = {3, 4, 5, 6}


def format_table(rows: Sequence[Row]) -> str:
    """The rows as one aligned text table (pure)."""
    cells = [HEADER] + [
        (
            r.name,
            side_cell(r.a),
            side_cell(r.b),
            f"{number(r.ratio.min)}x",
            f"{number(r.ratio.median)}x",
            f"{number(r.ratio.max)}x",
            str(len(r.ratios)),
            r.note,
        )
        for r in rows
    ]
    widths = [max(len(line[column]) for line in cells) for column in range(len(HEADER))]
    lines = [
        "  ".join(
            text.rjust(width) if column in RIGHT else text.ljust(width)
            for column, (text, width) in enumerate(zip(line, widths, strict=True))
        ).rstrip()
        for line in cells
    ]
    lines.insert(1, "-" * max(len(line) for line in lines))
    return "\n".join(lines)


@dataclass
class Report:
    """The rows of a run, where it ran, how long each benchmark took and which ones raised."""

    rows: list[Row] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)
    machine: dict[str, Any] = field(default_factory=dict)
    quick: bool = False

    def to_json(self) -> dict[str, Any]:
        return {
            "machine": self.machine,
            "quick": self.quick,
            "rows": [r.to_json() for r in self.rows],
            "failures": self.failures,
            "seconds": self.seconds,
        }


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


Benchmark = Callable[[bool], list[Row]]


def run(benchmarks: Mapping[str, Benchmark], *, quick: bool) -> Report:
    """Run each benchmark in turn; one that raises is recorded as a failure, the rest still run."""
    report = Report(quick=quick, machine=machine())
    for name, benchmark in benchmarks.items():
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        started = time.monotonic()
        try:
            report.rows += benchmark(quick)
        except Exception as exc:  # reported after the table; the exit status says it
            report.failures[name] = f"{type(exc).__name__}: {exc}"
        report.seconds[name] = time.monotonic() - started
    report.machine["load_average_after"] = [round(value, 2) for value in os.getloadavg()]
    return report


def print_report(report: Report) -> None:
    m = report.machine
    print(
        f"{m['date']}: {m['cpu']}, {m['cores']} cores, {m['ram_gib']} GiB RAM, load average "
        f"{m['load_average'][0]} before, {m['load_average_after'][0]} after"
        f"{' (quick mode)' if report.quick else ''}"
    )
    if report.rows:
        print(format_table(report.rows))
    print("took: " + ", ".join(f"{name} {spent:.0f} s" for name, spent in report.seconds.items()))
    for name, why in report.failures.items():
        print(f"bench: {name} FAILED: {why}")


def main(
    benchmarks: Mapping[str, Benchmark], argv: Sequence[str] | None, *, prog: str, doc: str
) -> int:
    """The command line every benchmark shares: ``python -m PROG [--quick] [--json FILE]``."""
    parser = argparse.ArgumentParser(f"python -m {prog}", description=doc.strip().splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a short run (CI)")
    parser.add_argument("--json", type=Path, metavar="FILE", help="also write the table as JSON")
    args = parser.parse_args(argv)
    report = run(benchmarks, quick=args.quick)
    print_report(report)
    if args.json:
        args.json.write_text(json.dumps(report.to_json(), indent=2) + "\n")
    return 1 if report.failures else 0
