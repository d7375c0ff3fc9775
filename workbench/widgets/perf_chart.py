"""A comparison as a chart: one bar per side at its median, whiskers from its min to its max over
the rounds, titled with what was measured, the ratio, the accelerator and the machine.

Drawn by matplotlib's object API on the Agg canvas (no pyplot, no global state) into PNG bytes.
"""

from __future__ import annotations

import io
import textwrap

from workbench.perf.compare import Comparison, number

COLOURS = ("#2563eb", "#f59e0b")
"""Side A, side B."""
WIDTH = 84
"""Characters a title line takes before it wraps."""


def caption(comparison: Comparison) -> str:
    """What the chart measured and where, as plain lines (pure): the title; each side's median
    and spread; the ratio; ``measured on TCG (accelerator), 2 cores, 3 rounds``."""
    sides = [
        f"{side.label}: {number(side.median)} {side.unit}"
        + (f" [{number(side.min)}..{number(side.max)}]" if len(side.values) > 1 else "")
        for side in comparison.sides
    ]
    ratio = comparison.ratio
    if ratio is not None:
        sides.append(f"A/B {number(ratio.median)}x")
    accel = comparison.accel.upper()
    rounds = f"{comparison.rounds} round{'s' if comparison.rounds > 1 else ''}"
    where = f"measured on {accel} (accelerator), {comparison.cores} cores, {rounds}"
    return "\n".join([comparison.title, "; ".join(sides), where])


def chart_png(comparison: Comparison) -> bytes:
    """The comparison as a horizontal bar chart, PNG bytes."""
    from matplotlib.figure import Figure  # noqa: PLC0415 (heavy: only when a chart is drawn)

    sides = comparison.sides
    unit = sides[0].unit
    figure = Figure(figsize=(8, 1.9 + 0.55 * len(sides)), dpi=96, layout="constrained")
    axes = figure.subplots()
    rows = range(len(sides))
    medians = [side.median for side in sides]
    spread = [[m - s.min for m, s in zip(medians, sides, strict=True)]]
    spread.append([s.max - m for m, s in zip(medians, sides, strict=True)])
    axes.barh(rows, medians, xerr=spread, capsize=5, color=COLOURS[: len(sides)], height=0.6)
    axes.set_yticks(list(rows), [side.label for side in sides])
    axes.invert_yaxis()
    for row, side in zip(rows, sides, strict=True):
        axes.annotate(
            f" {number(side.median)} {unit}",
            (side.max, row),
            va="center",
            xytext=(4, 0),
            textcoords="offset points",
        )
    axes.set_xlim(0, max(side.max for side in sides) * 1.25)
    axes.set_xlabel(f"{unit} (bar: median; whiskers: min..max of the rounds)")
    title, *rest = caption(comparison).split("\n")
    axes.set_title("\n".join([*textwrap.wrap(title, WIDTH), *rest]), fontsize=9, loc="left")
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()
