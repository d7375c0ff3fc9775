"""A line diff of two texts (the project as written and as exploded), as data and as HTML."""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

from workbench.widgets.style import CSS, esc

Kind = Literal["same", "added", "removed"]

COLOURS: dict[Kind, str] = {"same": "transparent", "added": "#dcfce7", "removed": "#fee2e2"}
MARKS: dict[Kind, str] = {"same": " ", "added": "+", "removed": "-"}


@dataclass(frozen=True)
class DiffRow:
    """One line of the diff: kept, added or removed, with its line number on its side(s)."""

    kind: Kind
    text: str
    old: int | None
    new: int | None


def diff_rows(before: str, after: str) -> list[DiffRow]:
    """Every line of ``before`` and ``after`` in order, marked as kept, removed or added."""
    old, new = before.splitlines(), after.splitlines()
    rows: list[DiffRow] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            rows.extend(
                DiffRow("same", old[i], i + 1, j + 1)
                for i, j in zip(range(i1, i2), range(j1, j2), strict=True)
            )
            continue
        rows.extend(DiffRow("removed", old[i], i + 1, None) for i in range(i1, i2))
        rows.extend(DiffRow("added", new[j], None, j + 1) for j in range(j1, j2))
    return rows


def render_diff(before: str, after: str) -> str:
    """The diff as coloured HTML lines with old/new line numbers and a summary."""
    rows = diff_rows(before, after)
    added = sum(row.kind == "added" for row in rows)
    removed = sum(row.kind == "removed" for row in rows)
    out = []
    for row in rows:
        numbers = f"{row.old or '':>4} {row.new or '':>4} {MARKS[row.kind]} "
        out.append(
            f'<span class="wb-line wb-diff-{row.kind}" style="background:{COLOURS[row.kind]}">'
            f"{esc(numbers + row.text)}</span>"
        )
    summary = f"<div>{added} lines added, {removed} removed</div>"
    return f'{CSS}{summary}<pre class="wb-pre wb-diff">{"".join(out)}</pre>'
