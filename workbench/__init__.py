"""workbench: explore, and really run, the snapcraft build design.

Importing this package does no I/O; the heavier modules load on first use of their names.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'workbench' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)
