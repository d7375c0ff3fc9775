"""Choosing the accelerator: KVM only when it really runs a guest, else TCG with a clear notice.

An open ``/dev/kvm`` is not proof that KVM works: on some hosts a KVM guest hangs as soon as it
leaves real mode. The probe therefore boots the image's own kernel with ``-accel kvm`` and waits,
within a short deadline, for the kernel's ``Linux version`` banner on the serial console (printed
after the decompressor switched to long mode). A probe that hangs is killed. The verdict is cached
per host boot (``/proc/sys/kernel/random/boot_id``). ``--accel`` or ``WORKBENCH_ACCEL`` force a
choice without probing.
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

ACCELS = ("auto", "kvm", "tcg")
KVM_DEVICE = Path("/dev/kvm")
PROBE_DEADLINE = 3.0
_BANNER = b"Linux version"


@dataclass(frozen=True)
class AccelChoice:
    """The accelerator to launch with and why."""

    accel: str
    reason: str


def accel_args(accel: str, cpu: str | None = None) -> list[str]:
    """The qemu arguments selecting ``accel`` and its CPU model (default: host for KVM)."""
    return ["-accel", accel, "-cpu", cpu or ("host" if accel == "kvm" else "max")]


def requested(value: str | None) -> str:
    """The requested accelerator: ``value`` (``--accel``), else ``WORKBENCH_ACCEL``, else auto."""
    choice = value or os.environ.get("WORKBENCH_ACCEL") or "auto"
    if choice not in ACCELS:
        raise UsageError(
            f"unknown accelerator {choice!r}",
            hint=f"use one of {', '.join(ACCELS)} (--accel or WORKBENCH_ACCEL)",
        )
    return choice


def probe_argv(binary: str, kernel: Path, *, cpu: str | None = None) -> list[str]:
    """A throw-away KVM guest that prints the kernel banner on stdout (pure)."""
    return [
        binary,
        *accel_args("kvm", cpu),
        "-machine",
        "q35",
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
        "console=ttyS0 earlyprintk=ttyS0 panic=-1",
    ]


def probe_kvm(
    binary: str, kernel: Path, *, deadline: float = PROBE_DEADLINE, cpu: str | None = None
) -> str | None:
    """None when a KVM guest printed its banner within ``deadline`` s; else why not."""
    proc = subprocess.Popen(
        probe_argv(binary, kernel, cpu=cpu),
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
    probe: Callable[[], str | None],
    cache: Path,
    notify: Callable[[str], None],
) -> AccelChoice:
    """Resolve ``value`` (None, auto, kvm, tcg) to an accelerator, probing KVM at most once a boot.

    ``probe`` is :func:`probe_kvm` bound to a qemu binary and kernel (None: KVM works, else why
    not); ``notify`` receives one line whenever auto falls back to TCG.
    """
    want = requested(value)
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
