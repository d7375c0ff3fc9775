"""Build machines: images (:mod:`~workbench.vm.images`), qemu VMs (:class:`Instance`, made by
:class:`QemuProvider`) and existing SSH hosts (:class:`RemoteHost`, made by :class:`HostProvider`).

Importing this package does no I/O and loads nothing heavy; the names below load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from workbench.lazy import lazy_getattr

_LAZY = {
    "Instance": "workbench.vm.local",
    "QemuProvider": "workbench.vm.local",
    "InstanceConfig": "workbench.vm.config",
    "Timeouts": "workbench.vm.config",
    "StatusReport": "workbench.vm.state",
    "Status": "workbench.vm.state",
    "InstanceDir": "workbench.vm.state",
    "SnapshotInfo": "workbench.vm.snapshots",
    "SnapshotTag": "workbench.vm.snapshots",
    "Command": "workbench.vm.executor",
    "Completed": "workbench.vm.executor",
    "Executor": "workbench.vm.executor",
    "Machine": "workbench.vm.provider",
    "Provider": "workbench.vm.provider",
    "RemoteHost": "workbench.vm.remote",
    "HostProvider": "workbench.vm.remote",
    "Diagnosis": "workbench.vm.diagnose",
}

__all__ = [
    "Command",
    "Completed",
    "Diagnosis",
    "Executor",
    "HostProvider",
    "Instance",
    "InstanceConfig",
    "InstanceDir",
    "Machine",
    "Provider",
    "QemuProvider",
    "RemoteHost",
    "SnapshotInfo",
    "SnapshotTag",
    "Status",
    "StatusReport",
    "Timeouts",
]

if TYPE_CHECKING:
    from workbench.vm.config import InstanceConfig, Timeouts
    from workbench.vm.diagnose import Diagnosis
    from workbench.vm.executor import Command, Completed, Executor
    from workbench.vm.local import Instance, QemuProvider
    from workbench.vm.provider import Machine, Provider
    from workbench.vm.remote import HostProvider, RemoteHost
    from workbench.vm.snapshots import SnapshotInfo, SnapshotTag
    from workbench.vm.state import InstanceDir, Status, StatusReport


__getattr__ = lazy_getattr(__name__, _LAZY)
