"""What every benchmark shares: timing, statistics over repeated runs, the ratio table, its JSON.

A benchmark measures two sides (A and B) side by side in one run, round after round, and returns
:class:`Row` values. Each round gives one value per side, so a row's ratio is taken per round
(A/B of the same round) and reported as min / median / max next to both sides' absolute figures.
The rows, their statistics and the machine's description are :mod:`workbench.perf.compare`'s
(notebook 05 draws the same measurements as charts).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from workbench.perf.compare import Row, Side, machine, number, row, side_cell

__all__ = [
    "Benchmark",
    "Report",
    "Row",
    "Side",
    "against_safe_load",
    "format_table",
    "main",
    "number",
    "row",
]

SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


# -- timing ----------------------------------------------------------------------------------------


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
