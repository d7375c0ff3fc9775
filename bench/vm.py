"""Build VM start-up, side by side: cold boot, warm start, bare qemu; 9p msize; SSH round trips.

Each round, on the tiny image, 384 MiB and 1 CPU (TCG unless KVM works):
  - new:   ``Instance.up()`` on a new instance (keys, seed ISO with the host CA bundle, overlay
           made first), then the first command (``true``) over SSH (it makes the instance; not
           in the table);
  - cold:  ``down()``, then ``up()`` again (the instance's files exist) and the first command;
  - warm:  ``down(save=True)``, then ``up()`` (loadvm) and the first command;
  - bare:  the very same qemu command line started by hand on a fresh overlay with keys and seed
           made beforehand; as soon as an SSH banner comes (the same detection workbench uses),
           a plain login and ``true`` (no lock, state, QMP, ready command or 9p mount).
The overhead ratio compares like with like: cold (files exist) against bare (files made first).
Then the warm instance is saved and copied twice as a new project's instance would be: the first
start of a copy that gets keys of its own (re-key) against one that keeps the base's keys.
Then, in the warm guest, taking turns: a sequential read of a file on the share mounted with
msize 512000 and with 8192 (timed in the guest, /proc/timer_list); and ``true`` run through the
product's :class:`SshExecutor`, on one persistent connection and on a new connection per command
(5 commands a turn, alternating). Then a new tiny-arm64 instance (384 MiB, 1 CPU; emulated
under TCG on a host of another architecture) goes through new, cold and warm as above. Last, a new
debian-12 instance (1 GiB, 2 CPUs, as the CLI makes it): its cold boot (cloud-init's first boot)
to the first command, then ``down(save=True)`` and its warm start. Rows: the ratios the design
targets (warm at least 5x faster than cold, tiny and tiny-arm64; workbench at most 10% slower than
bare qemu; debian-12: a new instance within 30 s, its warm start at least 15x faster and within
3 s), 9p throughput by msize, and what a new connection per command costs.

    .venv/bin/python -m bench.vm [--quick] [--json FILE]
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.common import Row, main, row
from workbench.errors import VmError
from workbench.lifecycle.base_instance import seed_instance
from workbench.perf.compare import seconds
from workbench.perf.vm_start import (
    CPUS,
    IMAGE,
    MEMORY,
    MSIZES,
    Guest,
    accelerator,
    read_mb_per_s,
    share_project,
    to_first_command,
    workbench_round,
)
from workbench.vm import keys, qemu, seed
from workbench.vm.hostkeys import known_hosts_line
from workbench.vm.images import BootImage, ensure_image
from workbench.vm.launch import LOGIN_USER
from workbench.vm.local import Instance
from workbench.vm.readiness import wait_banner
from workbench.vm.ssh import SshExecutor
from workbench.vm.state import InstanceDir, InstanceState
from workbench.vm.teardown import destroy


def debian_round(project: Path, guest: Guest, instances: Path) -> tuple[float, float]:
    """Seconds to the first command of a new instance (cold boot: cloud-init's first boot), then
    of its warm start; the instance is cleaned after."""
    new, vm = to_first_command(project, guest, instances, warm=False)
    try:
        vm.down(save=True)
        warm, vm = to_first_command(project, guest, instances, warm=True)
    finally:
        vm.clean()
    return new, warm


def bare_round(argv: list[str], workdir: Path, image: BootImage) -> float:
    """Seconds from starting qemu by hand to the first SSH command (same command line)."""
    overlay = Path(argv[argv.index("-drive") + 1].split(",")[0].removeprefix("file="))
    overlay.unlink(missing_ok=True)
    qemu.create_overlay(overlay, image.disk)
    port = int(argv[argv.index("-netdev") + 1].split("127.0.0.1:")[1].split("-")[0])
    ssh = SshExecutor(
        port=port, user="root", key=workdir / "ssh_key", known_hosts=workdir / "known_hosts"
    )
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while wait_banner(port, 1.0) is None:  # the same fast detection workbench uses
            if proc.poll() is not None:
                raise VmError(f"bare qemu exited with status {proc.returncode}")
        ssh.connect(timeout=30)
        ssh.run(["true"], check=True)
        return time.monotonic() - start
    finally:
        ssh.close()
        proc.kill()
        proc.wait()


def bare_setup(workdir: Path, image: BootImage, project: Path, state: InstanceState) -> list[str]:
    """Keys, seed and the qemu command line for the bare runs (prepared outside the timing)."""
    workdir.mkdir(parents=True, exist_ok=True)
    authorized = keys.generate_ed25519(workdir / "ssh_key", "bench")
    host_public = keys.generate_ed25519(workdir / "host_key", "bench-host")
    seed.write_seed_iso(
        seed.SeedConfig(
            instance_id="bench-bare",
            hostname="bench",
            user=image.user,
            authorized_key=authorized,
            host_private_key=(workdir / "host_key").read_text(),
            host_public_key=host_public,
        ),
        workdir / "seed.iso",
    )
    port = qemu.free_port()
    (workdir / "known_hosts").write_text(known_hosts_line(port, host_public))
    return qemu.qemu_argv(
        qemu.QemuConfig(
            name="bench-bare",
            kernel=image.kernel,
            initrd=image.initrd,
            append=image.append,
            overlay=workdir / "overlay.qcow2",
            seed_iso=workdir / "seed.iso",
            qmp_socket=workdir / "qmp.sock",
            serial_log=workdir / "serial.log",
            ssh_port=port,
            project=project,
            accel=state.accel or "tcg",
            memory_mib=state.memory_mib,
            cpus=state.cpus,
            arch=image.arch,
        )
    )


ARM64_IMAGE = "tiny-arm64"
"""The tiny guest for arm64: a build VM of another architecture than the host's, emulated."""
DEBIAN_MEMORY = "1G"
DEBIAN_CPUS = 2
"""The CLI's defaults: the debian-12 rows measure what `vm up` then `vm exec` do."""


def ssh_ms_per_command(vm: Instance, commands: int) -> tuple[float, float]:
    """Milliseconds per ``true`` through :class:`SshExecutor`, commands taking turns: on one
    connection made beforehand, and on a new connection each (login included), closed after."""
    state = vm.dir.load_state()
    assert state is not None
    port = state.port
    assert port is not None

    def executor() -> SshExecutor:
        return SshExecutor(
            port=port, user=LOGIN_USER, key=vm.dir.ssh_key, known_hosts=vm.dir.known_hosts
        )

    def on_new_connection() -> None:
        ssh = executor()
        try:
            ssh.run(["true"], check=True)  # connects on first use
        finally:
            ssh.close()

    persistent = executor()
    persistent.connect()
    try:
        times = [
            (seconds(lambda: persistent.run(["true"], check=True)), seconds(on_new_connection))
            for _ in range(commands)
        ]
    finally:
        persistent.close()
    return 1000 * sum(t[0] for t in times) / commands, 1000 * sum(t[1] for t in times) / commands


def rekey_round(base: Instance, guest: Guest, root: Path) -> tuple[float, float]:
    """Seconds to the first command of two copies of the saved ``base``: re-keyed, not."""
    times = []
    for name in ("rekeyed", "base-keys"):
        project = root / "projects" / name
        project.mkdir(parents=True, exist_ok=True)
        copy = guest.instance(project, root / "instances")
        seed_instance(base.dir, copy.dir, project)
        if name == "base-keys":
            copy.dir.rekey_marker.unlink()
        start = time.monotonic()
        copy.up()
        copy.exec(["true"], check=True)
        times.append(time.monotonic() - start)
        copy.clean()
    return times[0], times[1]


@dataclass
class Results:
    new: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    reads: dict[int, list[float]] = field(default_factory=lambda: {m: [] for m in MSIZES})
    ssh_persistent: list[float] = field(default_factory=list)
    ssh_new: list[float] = field(default_factory=list)
    rekeyed: list[float] = field(default_factory=list)
    base_keys: list[float] = field(default_factory=list)
    debian_new: list[float] = field(default_factory=list)
    debian_warm: list[float] = field(default_factory=list)
    arm64_cold: list[float] = field(default_factory=list)
    arm64_warm: list[float] = field(default_factory=list)
    accel: str = "?"
    arm64_accel: str = "?"


@dataclass(frozen=True)
class Guests:
    """What a run boots: the tiny guest (most rows), the tiny-arm64 guest, debian-12."""

    tiny: Guest
    arm64: Guest
    debian: Guest


def measure(guests: Guests, *, rounds: int, turns: int, size_mib: int) -> Results:
    """Run the rounds (cold, warm, then in the warm guest ``turns`` of 9p reads and SSH commands
    each, then bare qemu, tiny-arm64's cold and warm starts, debian-12) and collect the timings."""
    guest = guests.tiny
    results = Results()
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        root = Path(tmp)
        project = share_project(root, size_mib)
        argv: list[str] = []
        try:
            for _ in range(rounds):
                first, cold, warm, vm = workbench_round(project, guest, root / "instances")
                results.new.append(first)
                results.cold.append(cold)
                results.warm.append(warm)
                for _ in range(turns):
                    for msize, values in results.reads.items():
                        values.append(read_mb_per_s(vm, msize, size_mib))
                    persistent, new = ssh_ms_per_command(vm, commands=5)
                    results.ssh_persistent.append(persistent)
                    results.ssh_new.append(new)
                state = vm.dir.load_state()
                assert state is not None
                results.accel = accelerator(vm)
                vm.down(save=True)
                rekeyed, base_keys = rekey_round(vm, guest, root / "copies")
                results.rekeyed.append(rekeyed)
                results.base_keys.append(base_keys)
                vm.clean()
                if not argv:
                    argv = bare_setup(root / "bare", guest.image, project, state)
                results.bare.append(bare_round(argv, root / "bare", guest.image))
                _, cold, warm, vm = workbench_round(project, guests.arm64, root / "instances")
                results.arm64_cold.append(cold)
                results.arm64_warm.append(warm)
                results.arm64_accel = accelerator(vm)
                vm.clean()
                debian_new, debian_warm = debian_round(project, guests.debian, root / "instances")
                results.debian_new.append(debian_new)
                results.debian_warm.append(debian_warm)
        finally:  # never leave a qemu behind, even when a round fails
            for path in [*(root / "instances").glob("*"), *(root / "copies/instances").glob("*")]:
                destroy(InstanceDir(path))
    return results


def rows(quick: bool) -> list[Row]:
    """Cold vs warm (tiny and tiny-arm64), cold vs bare, 9p msize 512000 vs 8192, SSH new
    connection vs persistent."""
    rounds, turns, size_mib = (1, 3, 64) if quick else (3, 3, 256)
    r = measure(
        Guests(
            Guest(ensure_image(IMAGE), MEMORY, CPUS),
            Guest(ensure_image(ARM64_IMAGE), MEMORY, CPUS),
            Guest(ensure_image("debian-12"), DEBIAN_MEMORY, DEBIAN_CPUS),
        ),
        rounds=rounds,
        turns=turns,
        size_mib=size_mib,
    )
    guest = f"{IMAGE} guest, {MEMORY}, {CPUS} CPU, {r.accel}"
    cold = ("cold", r.cold)
    return [
        row(
            f"VM start: cold boot vs warm start ({guest})",
            cold,
            ("warm", r.warm),
            "s",
            "target >= 5x",
        ),
        row(
            f"arm64 tiny: cold boot vs warm start ({ARM64_IMAGE} guest, {MEMORY}, {CPUS} CPU,"
            f" {r.arm64_accel})",
            ("cold", r.arm64_cold),
            ("warm", r.arm64_warm),
            "s",
            "target >= 5x",
        ),
        row(
            "VM start: workbench cold boot vs bare qemu",
            cold,
            ("bare", r.bare),
            "s",
            "target <= 1.10x",
        ),
        row(
            f"9p read of {size_mib} MiB: msize 512000 vs 8192",
            ("512000", r.reads[512000]),
            ("8192", r.reads[8192]),
            "MB/s",
        ),
        row(
            "New project from a saved base: first start re-keyed vs with the base's keys",
            ("re-keyed", r.rekeyed),
            ("base keys", r.base_keys),
            "s",
            "re-key target: <= 2 s more",
        ),
        row(
            f"VM start: debian-12 new instance vs tiny new instance, cold boots (debian-12:"
            f" {DEBIAN_MEMORY}, {DEBIAN_CPUS} CPUs)",
            ("debian-12", r.debian_new),
            ("tiny", r.new),
            "s",
            "goal: debian-12 <= 30 s",
        ),
        row(
            "VM start: debian-12 new instance's cold boot vs warm start",
            ("cold", r.debian_new),
            ("warm", r.debian_warm),
            "s",
            "goal >= 15x, warm <= 3 s",
        ),
        row(
            "SSH `true`: new connection per command vs persistent",
            ("new", r.ssh_new),
            ("persistent", r.ssh_persistent),
            "ms",
        ),
    ]


if __name__ == "__main__":
    sys.exit(main({"vm": rows}, None, prog="bench.vm", doc=__doc__ or ""))
