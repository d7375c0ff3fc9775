"""Choosing the accelerator: KVM only when it really runs a guest, else TCG with a clear notice.

An open ``/dev/kvm`` is not proof that KVM works: on some hosts a KVM guest hangs as soon as it
leaves real mode. The probe therefore boots the image's own kernel with ``-accel kvm`` and waits,
within a short deadline, for the kernel's ``Linux version`` banner on the serial console (printed
after the decompressor switched to long mode). A probe that hangs is killed. The verdict is cached
per host boot (``/proc/sys/kernel/random/boot_id``). ``--accel`` or ``WORKBENCH_ACCEL`` force a
choice without probing.

KVM only runs guests of the host's own architecture: a foreign guest (an arm64 VM on an amd64
host) always runs under TCG, without a probe, and forcing KVM for it is a usage error.
"""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from workbench.errors import UsageError
from workbench.files import write_atomic
from workbench.vm.arch import GuestArch, foreign, host_arch

ACCELS = ("auto", "kvm", "tcg")
KVM_DEVICE = Path("/dev/kvm")
PROBE_DEADLINE = 3.0
_BANNER = b"Linux version"


@dataclass(frozen=True)
class AccelChoice:
    """The accelerator to launch with and why."""

    accel: str
    reason: str


def cpu_model(accel: str, guest: GuestArch) -> str:
    """The CPU a ``guest`` gets: the host's own under KVM, else its architecture's TCG model."""
    return "host" if accel == "kvm" else guest.tcg_cpu


def accel_args(accel: str, cpu: str) -> list[str]:
    """The qemu arguments selecting ``accel`` and the CPU model ``cpu``."""
    return ["-accel", accel, "-cpu", cpu]


def requested(value: str | None) -> str:
    """The requested accelerator: ``value`` (``--accel``), else ``WORKBENCH_ACCEL``, else auto."""
    choice = value or os.environ.get("WORKBENCH_ACCEL") or "auto"
    if choice not in ACCELS:
        raise UsageError(
            f"unknown accelerator {choice!r}",
            hint=f"use one of {', '.join(ACCELS)} (--accel or WORKBENCH_ACCEL)",
        )
    return choice


def probe_argv(binary: str, kernel: Path, guest: GuestArch, *, cpu: str = "host") -> list[str]:
    """A throw-away KVM guest of the host's architecture ``guest`` that prints the kernel banner
    on stdout (pure)."""
    return [
        binary,
        *accel_args("kvm", cpu),
        "-machine",
        guest.machine,
        "-m",
        "128",
        "-nodefaults",
        "-display",
        "none",
        "-no-reboot",
        "-serial",
        "stdio",
        "-kernel",
        str(kernel),
        "-append",
        f"console={guest.console} {guest.early_console} panic=-1",
    ]


def probe_kvm(
    binary: str,
    kernel: Path,
    guest: GuestArch,
    *,
    deadline: float = PROBE_DEADLINE,
    cpu: str = "host",
) -> str | None:
    """None when a KVM guest printed its banner within ``deadline`` s; else why not."""
    proc = subprocess.Popen(
        probe_argv(binary, kernel, guest, cpu=cpu),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    assert proc.stdout is not None
    seen = b""
    end = time.monotonic() + deadline
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            while _BANNER not in seen:
                left = end - time.monotonic()
                if left <= 0:
                    return f"a KVM test guest printed nothing within {deadline:g} s (KVM hangs)"
                if not sel.select(left):
                    continue
                chunk = os.read(proc.stdout.fileno(), 4096)
                if not chunk:
                    lines = seen.decode("utf-8", "replace").strip().splitlines()
                    last = lines[-1] if lines else "no output"
                    return f"a KVM test guest failed: {last}"
                seen = (seen + chunk)[-8192:]
        return None
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()


def boot_id() -> str:
    try:
        return Path("/proc/sys/kernel/random/boot_id").read_text(encoding="ascii").strip()
    except OSError:
        return "unknown"


def choose(
    value: str | None,
    *,
    guest: str,
    probe: Callable[[], str | None],
    cache: Path,
    notify: Callable[[str], None],
) -> AccelChoice:
    """Resolve ``value`` (None, auto, kvm, tcg) to an accelerator for a guest of architecture
    ``guest``, probing KVM at most once a boot (never for a foreign guest).

    ``probe`` is :func:`probe_kvm` bound to a qemu binary and kernel (None: KVM works, else why
    not); ``notify`` receives one line whenever auto runs TCG.
    """
    want = requested(value)
    if foreign(guest):
        return _emulated(guest, want, notify)
    if want != "auto":
        return AccelChoice(want, f"forced ({want})")
    verdict = _cached(cache)
    if verdict is None:
        if not os.access(KVM_DEVICE, os.R_OK | os.W_OK):
            verdict = AccelChoice("tcg", f"no read/write access to {KVM_DEVICE}")
        else:
            failure = probe()
            verdict = (
                AccelChoice("kvm", "KVM probe passed")
                if failure is None
                else (AccelChoice("tcg", failure))
            )
        _store(cache, verdict)
    if verdict.accel == "tcg":
        notify(f"using TCG (slow software emulation): {verdict.reason}")
    return verdict


def _emulated(guest: str, want: str, notify: Callable[[str], None]) -> AccelChoice:
    """TCG for a guest of another architecture than the host's; KVM asked for is refused."""
    host = host_arch()
    if want == "kvm":
        raise UsageError(
            f"KVM cannot run an {guest} guest on this {host} host",
            hint=f"use --accel tcg or auto: {guest} guests are emulated here",
        )
    if want == "tcg":
        return AccelChoice("tcg", "forced (tcg)")
    choice = AccelChoice("tcg", f"an {guest} guest is emulated on this {host} host")
    notify(f"using TCG (slow software emulation): {choice.reason}")
    return choice


def _cached(cache: Path) -> AccelChoice | None:
    try:
        raw = json.loads(cache.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(raw, dict) or raw.get("boot_id") != boot_id():
        return None
    return AccelChoice(str(raw.get("accel")), str(raw.get("reason")))


def _store(cache: Path, verdict: AccelChoice) -> None:
    cache.parent.mkdir(parents=True, exist_ok=True)
    write_atomic(cache, json.dumps({"boot_id": boot_id(), **asdict(verdict)}) + "\n")
