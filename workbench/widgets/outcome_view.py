"""The outcome simulator: toggle each build's result and see whether the set is released.

Setting ``build_set`` makes one success/failure toggle per build (results of archs that stay in the
set are kept); every toggle re-runs :func:`workbench.architectures.judge` and sets ``outcome`` and
``verdict`` (``"released"`` or ``"failed"``).
"""

from __future__ import annotations

from typing import Any

import ipywidgets as w
import traitlets

from workbench.architectures import BuildSet, Outcome, judge
from workbench.architectures.outcome import RESULTS
from workbench.errors import WorkbenchError, format_error
from workbench.widgets.style import CSS, esc, table, verdict_badge


def outcome_html(outcome: Outcome) -> str:
    """The set's verdict and reason, then one row per build."""
    head = verdict_badge(outcome.set == "released", f"set {outcome.set}")
    rows = [
        (
            v.build_on,
            "required" if v.required else "optional",
            v.result,
            "released" if v.released else "not released",
        )
        for v in outcome.verdicts
    ]
    return (
        f'{CSS}<div class="wb-verdict" data-verdict="{outcome.set}">{head}: '
        f"{esc(outcome.reason)}</div>" + table(("build on", "", "result", "snap"), rows)
    )


class OutcomeView(w.VBox):  # type: ignore[misc]
    """One toggle per build and the set's verdict."""

    build_set = traitlets.Any(None, allow_none=True)
    outcome = traitlets.Any(None, allow_none=True)
    verdict = traitlets.Unicode("")

    def __init__(self) -> None:
        self.toggles: dict[str, w.ToggleButtons] = {}
        self.controls = w.VBox()
        self.result = w.HTML()
        self.result.add_class("wb-outcome")
        super().__init__([w.HTML("<b>Outcome simulator</b>"), self.controls, self.result])
        self.observe(self._on_build_set, names="build_set")

    def _on_build_set(self, _change: Any = None) -> None:
        build_set: BuildSet | None = self.build_set
        archs = [b.build_on for b in build_set.builds] if build_set is not None else []
        kept = {a: t.value for a, t in self.toggles.items() if a in archs}
        self.toggles = {}
        for arch in archs:
            toggle = w.ToggleButtons(options=RESULTS, value=kept.get(arch, "success"))
            toggle.style.button_width = "6em"
            toggle.add_class(f"wb-toggle-{arch}")
            toggle.observe(self.refresh, names="value")
            self.toggles[arch] = toggle
        self.controls.children = [
            w.HBox([w.Label(f"build on {a}", layout=w.Layout(width="9em")), t])
            for a, t in self.toggles.items()
        ]
        self.refresh()

    def set_result(self, arch: str, result: str) -> None:
        """Set the build on ``arch`` to ``"success"`` or ``"failure"`` (as clicking does)."""
        self.toggles[arch].value = result

    def refresh(self, _change: Any = None) -> None:
        """Judge the set with the toggled results."""
        build_set: BuildSet | None = self.build_set
        if build_set is None:
            self.outcome, self.verdict, self.result.value = None, "", ""
            return
        try:
            outcome = judge(build_set, {a: t.value for a, t in self.toggles.items()})
        except WorkbenchError as err:
            self.outcome, self.verdict = None, ""
            self.result.value = verdict_badge(False, format_error(err))
            return
        self.outcome = outcome
        self.verdict = outcome.set
        self.result.value = outcome_html(outcome)
