"""workbench: explore, and really run, the snapcraft build design.

Importing this package does no I/O; the heavier modules load on first use of their names.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.lazy import lazy_getattr

__version__ = "0.1.0"

_LAZY = {
    "WorkbenchError": "workbench.errors",
    "explode": "workbench.templates",
    "Exploded": "workbench.templates",
}

__all__ = ["Exploded", "WorkbenchError", "__version__", "explode"]

if TYPE_CHECKING:
    from workbench.errors import WorkbenchError
    from workbench.templates import Exploded, explode


__getattr__ = lazy_getattr(__name__, _LAZY)
