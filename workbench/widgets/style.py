"""Colours and small HTML helpers shared by every view (pure functions, no widgets).

Provenance colours are stable per template name: a salted hash picks each name's own colour (the
salt is chosen so that the built-in templates all get different ones); in a project whose
templates share a colour, the later name (sorted) takes the next free one. Switching a project
from one template to another therefore visibly changes its colours.
"""

from __future__ import annotations

import html
import zlib
from collections.abc import Iterable, Sequence

from workbench.lifecycle.safetext import printable

PROJECT_COLOUR = "#dbeafe"
"""Background of values that come from the project itself."""

TEMPLATE_COLOURS: tuple[str, ...] = (
    "#fde68a",
    "#bbf7d0",
    "#fbcfe8",
    "#ddd6fe",
    "#fed7aa",
    "#a5f3fc",
    "#d9f99d",
    "#fecaca",
)
"""Backgrounds of values that come from templates."""

_SALT = b"15"

GOOD = "#16a34a"
BAD = "#dc2626"
DIFFERS = "#fef3c7"

CSS = """<style>
.wb-pre { font-family: monospace; font-size: 12px; line-height: 1.45; margin: 0; }
.wb-line { display: block; white-space: pre; padding: 0 4px; }
.wb-struck { color: #6b7280; }
.wb-err { background: #fee2e2; color: #991b1b; }
.wb-table { border-collapse: collapse; font-size: 12px; }
.wb-table td, .wb-table th { border: 1px solid #d1d5db; padding: 2px 6px; text-align: left;
  line-height: 1.3; }
.wb-stale { opacity: 0.45; }
.wb-chip { display: inline-block; padding: 0 6px; margin: 0 4px 2px 0; border-radius: 3px; }
</style>"""
"""The CSS every HTML view embeds (class names prefixed ``wb-``)."""


def esc(value: object) -> str:
    """``value`` as HTML-escaped text, its control characters shown escaped (as a terminal gets
    them: guest text is data, in a notebook too)."""
    return html.escape(printable(str(value), multiline=True, limit=None), quote=True)


def project_label() -> str:
    """The origin label of project values (as :class:`~workbench.templates.Origin` says it)."""
    return "project"


def template_label(name: str) -> str:
    """The origin label of values from template ``name``."""
    return f"template {name}"


def palette(templates: Iterable[str]) -> dict[str, str]:
    """Origin label -> background colour: the project, then each template (stable per name)."""
    colours = {project_label(): PROJECT_COLOUR}
    used: set[str] = set()
    for name in sorted(set(templates)):
        index = zlib.crc32(_SALT + name.encode()) % len(TEMPLATE_COLOURS)
        for step in range(len(TEMPLATE_COLOURS)):
            colour = TEMPLATE_COLOURS[(index + step) % len(TEMPLATE_COLOURS)]
            if colour not in used or len(used) == len(TEMPLATE_COLOURS):
                break
        used.add(colour)
        colours[template_label(name)] = colour
    return colours


def legend(colours: dict[str, str]) -> str:
    """One coloured chip per origin label."""
    chips = "".join(
        f'<span class="wb-chip" style="background:{colour}">{esc(label)}</span>'
        for label, colour in colours.items()
    )
    return f"<div>{chips}</div>"


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless ``raw`` (then they are HTML already)."""
    cell = (lambda value: value) if raw else esc
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{cell(c)}</td>" for c in row) + "</tr>" for row in rows)
    return f'<table class="wb-table"><tr>{head}</tr>{body}</table>'


def verdict_badge(ok: bool, text: str) -> str:
    """A bold, green (ok) or red text."""
    return f'<b style="color:{GOOD if ok else BAD}">{esc(text)}</b>'
