"""The CI's build set: supported-arch checkboxes and queue-length sliders around
:func:`workbench.architectures.plan`.

Setting a ``stanza`` of another base resets the checkboxes to that base's default supported set
(in its priority order, the other architectures after it); every change re-plans and sets
``build_set`` (or ``error``).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets

from workbench.architectures import KNOWN_ARCHS, BuildSet, Stanza, plan, supported_for_base
from workbench.errors import WorkbenchError, format_error
from workbench.widgets.style import CSS, table, verdict_badge

MAX_QUEUE = 10


def arch_order(base: str | None) -> list[str]:
    """The base's default supported archs in priority order, then every other known arch."""
    default = list(supported_for_base(base))
    return default + [a for a in KNOWN_ARCHS if a not in default]


def build_set_table(build_set: BuildSet) -> str:
    """The builds (entry, chosen arch, candidates, run-on, required, why) and dropped entries."""
    rows = [
        (
            "-" if b.entry is None else str(b.entry),
            b.build_on,
            ", ".join(b.candidates),
            ", ".join(b.run_on),
            "required" if b.required else "optional",
            b.reason,
        )
        for b in build_set.builds
    ]
    html = table(("entry", "builds on", "candidates", "runs on", "", "why"), rows)
    for d in build_set.dropped:
        kind = "required" if d.required else "optional"
        html += f"<div>dropped {kind} entry {d.entry}: {d.reason}</div>"
    return CSS + html


class BuildSetView(w.VBox):  # type: ignore[misc]
    """Checkboxes (supported archs), sliders (queue lengths) and the planned build set."""

    stanza = traitlets.Any(None, allow_none=True)
    build_set = traitlets.Any(None, allow_none=True)
    error = traitlets.Any(None, allow_none=True)

    def __init__(self) -> None:
        self.supported = {a: w.Checkbox(False, description=a, indent=False) for a in KNOWN_ARCHS}
        self.queue = {
            a: w.IntSlider(
                0, min=0, max=MAX_QUEUE, description="queue", style={"description_width": "initial"}
            )
            for a in KNOWN_ARCHS
        }
        self.rows = w.VBox()
        self._base: str | None = None
        self.builds = w.HTML()
        self.builds.add_class("wb-build-set")
        super().__init__([w.HTML("<b>CI build set</b>"), self.rows, self.builds])
        for control in (*self.supported.values(), *self.queue.values()):
            control.observe(self.refresh, names="value")
        self.observe(self._on_stanza, names="stanza")

    def _on_stanza(self, _change: Any = None) -> None:
        stanza: Stanza | None = self.stanza
        base = stanza.base if stanza is not None else None
        if stanza is not None and (base != self._base or not self.rows.children):
            self._base = base
            default = supported_for_base(base)
            for arch, box in self.supported.items():
                box.unobserve(self.refresh, names="value")
                box.value = arch in default
                box.observe(self.refresh, names="value")
            self.rows.children = [
                w.HBox([self.supported[a], self.queue[a]]) for a in arch_order(base)
            ]
        self.refresh()

    def checked(self) -> list[str]:
        """The supported archs ticked, in the order shown (their priority order)."""
        return [a for a in self._order() if self.supported[a].value]

    def _order(self) -> list[str]:
        return [row.children[0].description for row in self.rows.children] or list(KNOWN_ARCHS)

    def refresh(self, _change: Any = None) -> None:
        """Re-plan the stanza with the ticked archs and the queue lengths."""
        stanza: Stanza | None = self.stanza
        if stanza is None:
            self.build_set, self.error, self.builds.value = None, None, ""
            return
        try:
            result = plan(
                stanza,
                supported=self.checked(),
                queue={a: s.value for a, s in self.queue.items()},
            )
        except WorkbenchError as err:
            self.build_set, self.error = None, err
            self.builds.value = verdict_badge(False, format_error(err))
            return
        self.error = None
        self.build_set = result
        self.builds.value = build_set_table(result)
