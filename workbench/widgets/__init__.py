"""Interactive views (ipywidgets) over the pure core; every view is driven by a Python API too.

Set a control's ``value`` or call a button's ``click()``, then read the view's traits (``result``,
``error``, ``verdict``...) or ``summary()``: exactly what the notebooks and the tests do. The apps:
:class:`ExplodeView` (notebook 01), :class:`ArchitecturesView` (02), :class:`BuildView` (03),
:class:`SetRunView` (02 and 03: a whole build set), :class:`AuthoringView` and
:class:`LiveAuthoringView` (04), :class:`PerfView` (05). The pieces
they are made of (editor, provenance view, diff, grid, build set, outcome, dialects, conversion,
log pane, progress, timeline, background task runner, debouncer, step spans, prime browser, build
chooser, debug panel, JupyterLab terminal, charts) are importable from their modules for other
views.
Importing this package loads ipywidgets and the core; it does no I/O.
"""

from __future__ import annotations

from workbench.widgets.architectures_view import ArchitecturesView
from workbench.widgets.authoring import AuthoringView
from workbench.widgets.build_view import BuildView
from workbench.widgets.explode_view import ExplodeView
from workbench.widgets.live_preview import LiveAuthoringView
from workbench.widgets.perf_view import PerfView
from workbench.widgets.set_run_view import SetRunView
from workbench.widgets.tasks import TaskRunner

__all__ = [
    "ArchitecturesView",
    "AuthoringView",
    "BuildView",
    "ExplodeView",
    "LiveAuthoringView",
    "PerfView",
    "SetRunView",
    "TaskRunner",
]
