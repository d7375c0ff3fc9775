"""Known launch failures: qemu's log, the serial console and error texts -> cause, fix, log path.

:data:`FAILURES` is the table, in priority order (a missing backing file also mentions the overlay,
so it comes first; out-of-memory panics come before generic panics). :func:`diagnose` is pure;
:func:`explain` reads an instance's logs and returns the one line a user needs.

Before a launch, :func:`memory_notice` compares the guest RAM asked for with the host's
``MemAvailable``. It warns and does not refuse: qemu reserves guest RAM lazily, a build guest
rarely touches all of it, and what is available moves with the other VMs. A size the host cannot
reserve at all is refused by qemu itself, and that refusal is diagnosed from the table.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import VmError, WorkbenchError
from workbench.vm.readiness import QemuExited

QEMU, SERIAL, ERROR = "qemu", "serial", "error"


@dataclass(frozen=True)
class Failure:
    """One known failure: where to look, what to look for, what it means and what to do."""

    key: str
    sources: tuple[str, ...]
    pattern: str
    cause: str
    fix: str


FAILURES: tuple[Failure, ...] = (
    Failure(
        "kvm-permission",
        (QEMU, ERROR),
        r"Could not access KVM kernel module: Permission denied"
        r"|failed to initialize kvm: Permission denied",
        "no permission to use KVM (/dev/kvm)",
        "add your user to the kvm group and log in again, or use --accel tcg",
    ),
    Failure(
        "port-in-use",
        (QEMU,),
        r"Could not set up host forwarding rule",
        "the SSH port on 127.0.0.1 is already in use",
        "free that port, or let workbench pick a free one (no fixed port)",
    ),
    Failure(
        "backing-missing",
        (QEMU,),
        r"Could not open backing file",
        "the base image behind the instance's overlay is missing or unreadable",
        "rebuild the image (`vm image build NAME`), or `vm clean` and `vm up`",
    ),
    Failure(
        "overlay-missing",
        (QEMU,),
        r"Could not open '[^']*overlay\.qcow2': No such file",
        "the instance's disk (overlay.qcow2) is missing",
        "run `vm clean` then `vm up` to create a fresh instance",
    ),
    Failure(
        "overlay-corrupt",
        (QEMU,),
        r"Image is not in qcow2 format|qcow2: Image is corrupt|Could not read qcow2 header"
        r"|qcow2 header (?:exceeds|too short)|errors were found on the image",
        "the instance's disk (overlay.qcow2) is corrupt",
        "run `vm clean` then `vm up` (`qemu-img check -r all` may repair it)",
    ),
    Failure(
        "out-of-memory",
        (QEMU, SERIAL, ERROR),
        r"cannot set up guest memory|Cannot allocate memory|Out of memory: Killed process"
        r"|Kernel panic - not syncing: (?:Out of memory|System is deadlocked on memory)",
        "out of memory (the host cannot give the guest its RAM, or the guest ran out)",
        "use a smaller --memory, or a larger one if the guest ran out, and close other VMs",
    ),
    Failure(
        "disk-full",
        (QEMU, SERIAL, ERROR),
        r"No space left on device",
        "disk full (the guest's root file system, or the host disk under the cache)",
        "give the instance a bigger disk (`vm down`, then `vm up --disk-size 16G` or"
        " `build --disk-size 16G`), delete files in the guest, or free host space",
    ),
    Failure(
        "snapshot-incompatible",
        (QEMU, ERROR),
        r"snapshot \S+ does not match|Error -?\d+ while loading VM state"
        r"|Unknown savevm section|Missing section footer|(?:Length|Size) mismatch",
        "the saved VM state does not match this instance (image, memory, CPUs, machine or qemu)",
        "boot cold (`vm down`, `vm up`) and save a new state with `vm down --save`",
    ),
    Failure(
        "kernel-panic",
        (SERIAL,),
        r"Kernel panic - not syncing",
        "the guest kernel panicked",
        "check the kernel command line and root device; `vm image build NAME` to rebuild",
    ),
    Failure(
        "no-9p",
        (SERIAL, ERROR),
        r"unknown filesystem type '9p'|mounting project on /project failed: No such device"
        r"|mount: /project: [^\n]*(?:No such device|unknown filesystem)",
        "the guest has no 9p support, so the project cannot be mounted",
        "use an image whose kernel has the 9p and 9pnet_virtio modules (tiny, debian-12)",
    ),
    Failure(
        "project-read-only",
        (ERROR,),
        r"/project\b[^\n]*Read-only file system",
        "the guest sees the project read-only: a build step may not write into it",
        "write into the part's install directory ($CRAFT_PART_INSTALL) instead; or build "
        "with --share-mode rw, which lets the guest write the project (docs/security.md)",
    ),
    Failure(
        "ssh-never-up",
        (ERROR,),
        r"SSH server never answered|SSH banner",
        "the guest's SSH server never came up",
        "check serial.log for boot errors; the guest may need more time or memory",
    ),
)


@dataclass(frozen=True)
class Diagnosis:
    """A matched failure, the line that matched and the log to read."""

    failure: Failure
    evidence: str
    log: Path | None

    def line(self) -> str:
        where = f" (see {self.log})" if self.log else ""
        return f"{self.failure.cause}; fix: {self.failure.fix}{where}"


def diagnose(texts: Mapping[str, str], logs: Mapping[str, Path]) -> Diagnosis | None:
    """The first failure of :data:`FAILURES` found in ``texts`` by source (pure)."""
    for failure in FAILURES:
        for source in failure.sources:
            match = re.search(failure.pattern, texts.get(source, ""))
            if match:
                text = texts[source]
                start = text.rfind("\n", 0, match.start()) + 1
                end = text.find("\n", match.end())
                evidence = text[start : end if end >= 0 else len(text)].strip()
                log = logs.get(source) or logs.get(SERIAL)
                return Diagnosis(failure, evidence, log)
    return None


def tail(path: Path, lines: int = 15, *, max_bytes: int = 65536) -> str:
    """The last ``lines`` lines of a log file ('' when missing)."""
    try:
        with path.open("rb") as f:
            f.seek(0, 2)
            f.seek(max(0, f.tell() - max_bytes))
            data = f.read().decode("utf-8", "replace")
    except OSError:
        return ""
    return "\n".join(data.replace("\r", "").splitlines()[-lines:])


def explain(error: str, *, qemu_log: Path, serial_log: Path) -> Diagnosis | None:
    """Diagnose ``error`` together with an instance's qemu and serial logs."""
    texts = {ERROR: error, QEMU: tail(qemu_log, 200), SERIAL: tail(serial_log, 400)}
    return diagnose(texts, {QEMU: qemu_log, SERIAL: serial_log})


def with_logs(
    err: WorkbenchError, *, qemu_log: Path, serial_log: Path, cls: type[WorkbenchError] = VmError
) -> WorkbenchError:
    """``err`` as ``cls`` with the diagnosis as hint, and the matched line and the log tails as
    details (qemu's last words join the brief when qemu exited)."""
    found = explain(f"{err.brief}\n{err.details or ''}", qemu_log=qemu_log, serial_log=serial_log)
    brief = err.brief
    qemu_said = tail(qemu_log, 1)
    if isinstance(err, QemuExited) and qemu_said:
        brief = f"{brief}: {qemu_said}"
    details = [f"matched: {found.evidence}"] if found else []
    details += [
        f"--- {path} (last lines) ---\n{text}"
        for path in (qemu_log, serial_log)
        if (text := tail(path))
    ]
    hint = found.line() if found else (err.hint or f"see {serial_log}")
    return cls(brief, hint=hint, details="\n".join(details) or err.details)


def memory_notice(memory_mib: int, meminfo: str) -> str | None:
    """A warning when ``memory_mib`` exceeds ``MemAvailable`` in ``meminfo`` (pure)."""
    kib = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+):\s+(\d+) kB$", meminfo, re.MULTILINE)}
    if "MemAvailable" not in kib or memory_mib * 1024 <= kib["MemAvailable"]:
        return None
    available, total = kib["MemAvailable"] // 1024, kib.get("MemTotal", 0) // 1024
    return (
        f"the guest's {memory_mib} MiB of RAM is more than the host has available "
        f"({available} MiB of {total} MiB): the guest or qemu may be killed when it uses it; "
        "use a smaller --memory or stop other VMs"
    )


def host_meminfo() -> str:
    """The host's /proc/meminfo ('' where there is none)."""
    try:
        return Path("/proc/meminfo").read_text(encoding="ascii")
    except OSError:
        return ""
