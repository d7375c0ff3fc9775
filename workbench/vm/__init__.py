"""Build VMs: images (:mod:`~workbench.vm.images`) and running instances (:class:`Instance`).

Importing this package does no I/O and loads nothing heavy; the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.lazy import lazy_getattr

_LAZY = {
    "Instance": "workbench.vm.runtime",
    "Timeouts": "workbench.vm.runtime",
    "StatusReport": "workbench.vm.runtime",
    "SnapshotInfo": "workbench.vm.runtime",
    "Completed": "workbench.vm.ssh",
    "Status": "workbench.vm.instance",
    "InstanceDir": "workbench.vm.instance",
    "SnapshotTag": "workbench.vm.snapshots",
    "Diagnosis": "workbench.vm.diagnose",
}

__all__ = [
    "Completed",
    "Diagnosis",
    "Instance",
    "InstanceDir",
    "SnapshotInfo",
    "SnapshotTag",
    "Status",
    "StatusReport",
    "Timeouts",
]

if TYPE_CHECKING:
    from workbench.vm.diagnose import Diagnosis
    from workbench.vm.instance import InstanceDir, Status
    from workbench.vm.runtime import Instance, SnapshotInfo, StatusReport, Timeouts
    from workbench.vm.snapshots import SnapshotTag
    from workbench.vm.ssh import Completed


__getattr__ = lazy_getattr(__name__, _LAZY)
