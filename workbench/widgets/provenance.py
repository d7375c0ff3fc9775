"""The exploded project as coloured lines: every value on the background of where it came from.

:func:`exploded_lines` walks an :class:`~workbench.templates.Exploded` project in document order
and yields one :class:`ViewLine` per key or list item (lists in block style, so each item carries
its own origin). After a value that won a merge, the value it overrode follows as a struck-through
line on the loser's colour, saying who won; a template value the project declined follows its
place (or ends the view) struck through, marked "declined". :func:`render_exploded` turns the
lines into HTML.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from workbench.templates import Declined, Exploded, Origin, Override
from workbench.widgets.style import CSS, esc, legend, palette, project_label, template_label
from workbench.yamlpos import key_path

INLINE_ITEM = 60
"""List items that are containers are drawn on one line (flow style) up to this many characters."""


@dataclass(frozen=True)
class ViewLine:
    """One line of the exploded view: its text, key path, origin label and position there."""

    depth: int
    text: str
    path: str
    origin: str
    where: str
    struck: bool = False
    note: str = ""
    declined: bool = False


def scalar(value: Any) -> str:
    """A scalar as YAML would show it (strings quoted only when needed)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    text = str(value)
    if isinstance(value, str) and _needs_quotes(text):
        return json.dumps(text, ensure_ascii=False)
    return text


_SPECIAL_START = tuple(",[]{}#&*!|>'\"%@`")
_INDICATORS = ("- ", "? ", ": ")
_NOT_STRINGS = re.compile(
    r"^(?:[-+]?(?:\d[\d_]*)?\.?\d+(?:[eE][-+]?\d+)?|0x[0-9a-fA-F]+|0o[0-7]+"
    r"|true|false|yes|no|on|off|null|~)$",
    re.IGNORECASE,
)


def _needs_quotes(text: str) -> bool:
    """True when ``text`` would not read back as this string in plain YAML."""
    return (
        not text
        or text != text.strip()
        or text.startswith(_SPECIAL_START)
        or text.startswith(_INDICATORS)
        or text in ("-", "?", ":")
        or ": " in text
        or " #" in text
        or text.endswith(":")
        or bool(_NOT_STRINGS.match(text))
    )


def inline(value: Any) -> str:
    """A value on one line: scalars as they are, containers in flow style."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(inline(v) for v in value) + "]"
    return scalar(value)


def loser(override: Override) -> str:
    """The origin label of the value an override dropped."""
    template = template_label(override.template)
    return project_label() if override.winner == template else template


def exploded_lines(exploded: Exploded) -> list[ViewLine]:
    """Every key and list item of the exploded project, with overridden values after winners."""
    by_path: dict[str, list[Override]] = {}
    for override in exploded.overrides:
        by_path.setdefault(override.path, []).append(override)
    declined_at: dict[str, list[Declined]] = {}
    for declined in exploded.declined:
        declined_at.setdefault(declined.path, []).append(declined)
    lines: list[ViewLine] = []
    for line in _walk(exploded, exploded.project, (), 0):
        lines.append(line)
        lines.extend(_struck(line, override) for override in by_path.get(line.path, []))
        lines.extend(_declined(line.depth + 1, d) for d in declined_at.pop(line.path, []))
    shown = {line.path for line in lines}
    for override in exploded.overrides:
        if override.path not in shown:
            lines.append(_struck(ViewLine(0, override.path, override.path, "", ""), override))
    lines.extend(_declined(0, d) for rest in declined_at.values() for d in rest)
    return lines


def _declined(depth: int, declined: Declined) -> ViewLine:
    """A declined template value: struck, on the template's colour, saying who declined it."""
    return ViewLine(
        depth=depth,
        text=f"{declined.path}: {inline(declined.value)}",
        path=declined.path,
        origin=template_label(declined.template),
        where=Origin(declined.template, declined.template_location).where,
        struck=True,
        note=f"declined by the project ({Origin(None, declined.declined_at).where})",
        declined=True,
    )


def _struck(winner: ViewLine, override: Override) -> ViewLine:
    key = winner.text.split(":", 1)[0] if ":" in winner.text else winner.text
    key = key.lstrip("- ").strip() or override.path
    return ViewLine(
        depth=winner.depth,
        text=f"{key}: {inline(override.overridden_value)}",
        path=override.path,
        origin=loser(override),
        where=Origin(override.template, override.template_location).where
        if loser(override) != project_label()
        else "",
        struck=True,
        note=f"overridden by {override.winner}",
    )


def _walk(
    exploded: Exploded, node: Any, path: tuple[str | int, ...], depth: int
) -> Iterator[ViewLine]:
    items = node.items() if isinstance(node, Mapping) else enumerate(node)
    for key, value in items:
        child = (*path, key if isinstance(node, list) else str(key))
        where = key_path(child)
        origin = exploded.origins.get(where)
        label = origin.label if origin else ""
        at = origin.where if origin else ""
        container = isinstance(value, Mapping | list) and len(value) > 0
        if isinstance(node, list):
            # a list item that is itself a container (grammar: "- on arm64: [...]") stays on
            # its dash's line, in flow style, when it is short
            flat = container and len(inline(value)) <= INLINE_ITEM
            text = f"- {inline(value)}" if flat or not container else "-"
            container = container and not flat
        else:
            text = f"{key}:" if container else f"{key}: {inline(value)}"
        yield ViewLine(depth, text, where, label, at)
        if container:
            yield from _walk(exploded, value, child, depth + 1)


def render_lines(lines: list[ViewLine], colours: dict[str, str]) -> str:
    """The lines as ``<pre>`` HTML; each line carries ``data-path`` and ``data-origin``."""
    out = []
    for line in lines:
        colour = colours.get(line.origin, "transparent")
        text = esc("  " * line.depth + line.text)
        attrs = (
            f'data-path="{esc(line.path)}" data-origin="{esc(line.origin)}" '
            f'title="{esc(line.origin)} ({esc(line.where)})" style="background:{colour}"'
        )
        if line.struck:
            body = f"<s>{text}</s>  \u2190 {esc(line.note)}"
            kind = "wb-struck wb-declined" if line.declined else "wb-struck"
            out.append(f'<span class="wb-line {kind}" {attrs}>{body}</span>')
        else:
            out.append(f'<span class="wb-line" {attrs}>{text}</span>')
    return f'<pre class="wb-pre wb-exploded">{"".join(out)}</pre>'


def render_exploded(exploded: Exploded) -> str:
    """Legend plus coloured lines of ``exploded`` (self-contained HTML)."""
    colours = palette(exploded.templates)
    return CSS + legend(colours) + render_lines(exploded_lines(exploded), colours)


def origin_counts(exploded: Exploded) -> dict[str, int]:
    """How many values (keys and list items) each origin label contributed."""
    counts: dict[str, int] = {}
    for origin in exploded.origins.values():
        counts[origin.label] = counts.get(origin.label, 0) + 1
    return counts


def summary(exploded: Exploded) -> str:
    """A few plain lines: templates applied, values per origin, each override and its winner."""
    applied = ", ".join(exploded.templates) or "none"
    counts = ", ".join(f"{n} {label}" for label, n in origin_counts(exploded).items())
    lines = [f"templates applied: {applied}", f"values: {counts}"]
    lines.extend(
        f"override at {o.path}: {inline(o.overridden_value)} from {loser(o)} "
        f"lost to {inline(o.winning_value)} from {o.winner}"
        for o in exploded.overrides
    )
    lines.extend(
        f"declined at {d.path}: {inline(d.value)} from template {d.template}"
        for d in exploded.declined
    )
    return "\n".join(lines)
