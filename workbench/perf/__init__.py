"""The design's headline numbers, measured on this machine side by side (what ``bench/`` prints
as a table and notebook 05 draws as charts).

:mod:`.compare` (a comparison's sides, rounds and ratio; where it was measured), :mod:`.feedback`
(how long measurements report progress), :mod:`.vm_start` (a VM's cold boot vs warm start; 9p
reads by msize), :mod:`.builds` (a build's parts on the VM disk vs on the 9p share; a new
project's first build from the saved base vs from scratch) and :mod:`.suite` (which comparisons a
run makes, in order).

Importing this package loads nothing; the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.lazy import lazy_getattr

_LAZY = {
    "Comparison": "workbench.perf.compare",
    "Side": "workbench.perf.compare",
    "Row": "workbench.perf.compare",
    "Plan": "workbench.perf.suite",
    "WorkDir": "workbench.perf.suite",
    "run_plan": "workbench.perf.suite",
}

__all__ = ["Comparison", "Plan", "Row", "Side", "WorkDir", "run_plan"]

if TYPE_CHECKING:
    from workbench.perf.compare import Comparison, Row, Side
    from workbench.perf.suite import Plan, WorkDir, run_plan

__getattr__ = lazy_getattr(__name__, _LAZY)
