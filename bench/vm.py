"""Build VM start-up, side by side: cold boot, warm start, bare qemu; 9p reads by msize.

Each round, on the same image, memory and CPUs (TCG unless KVM works):
  - new:   ``Instance.up()`` on a new instance (keys, seed ISO with the host CA bundle, overlay
           made first), then the first command (``true``) over SSH;
  - cold:  ``down()``, then ``up()`` again (the instance's files exist) and the first command;
  - warm:  ``down(save=True)``, then ``up()`` (loadvm) and the first command;
  - bare:  the very same qemu command line started by hand on a fresh overlay with keys and seed
           made beforehand; as soon as an SSH banner comes (the same detection workbench uses),
           a plain login and ``true`` (no lock, state, QMP, ready command or 9p mount).
The overhead ratio compares like with like: cold (files exist) against bare (files made first).
Then, in one warm guest, a sequential read of a file on the share mounted with msize 512000 and
8192. Reported: min / median / max, and the ratios the design targets (warm at least 5x faster
than cold; workbench at most 10% slower than bare qemu).

    .venv/bin/python bench/vm.py [--quick] [--image tiny] [--rounds N]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench.vm import keys, qemu, seed
from workbench.vm.images import BootImage, ensure_image
from workbench.vm.instance import InstanceDir
from workbench.vm.runtime import Instance, destroy
from workbench.vm.ssh import SshExecutor, known_hosts_line, wait_banner


def workbench_round(
    project: Path, image: BootImage, instances: Path, *, memory: str, cpus: int
) -> tuple[float, float, float, Instance]:
    """Seconds to the first command: a new instance's cold boot, an existing instance's cold
    boot, a warm start; the warm instance stays up."""

    def to_first_command(warm: bool) -> tuple[float, Instance]:
        vm = Instance(
            project, image=image, memory=memory, cpus=cpus, instances=instances, notify=print
        )
        start = time.monotonic()
        vm.up()
        vm.exec(["true"], check=True)
        elapsed = time.monotonic() - start
        state = vm.dir.load_state()
        assert state is not None
        assert ("-loadvm" in state.argv) == warm
        return elapsed, vm

    new, vm = to_first_command(False)
    vm.down()
    cold, vm = to_first_command(False)
    vm.down(save=True)
    warm, vm = to_first_command(True)
    return new, cold, warm, vm


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
                raise SystemExit(f"bare qemu exited with status {proc.returncode}")
        ssh.connect(timeout=30)
        ssh.run(["true"], check=True)
        return time.monotonic() - start
    finally:
        ssh.close()
        proc.kill()
        proc.wait()


def bare_setup(
    workdir: Path, image: BootImage, project: Path, *, accel: str, memory: int, cpus: int
) -> list[str]:
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
            accel=accel,
            memory_mib=memory,
            cpus=cpus,
            binary=qemu.binary_for(image.arch),
        )
    )


READ = (
    "umount /project; mount -t 9p -o trans=virtio,version=9p2000.L,msize={msize} project /project"
    " && cut -d' ' -f1 /proc/uptime && dd if=/project/big.bin of=/dev/null bs=1M 2>/dev/null"
    " && cut -d' ' -f1 /proc/uptime"
)


def read_mb_per_s(vm: Instance, msize: int, size_mib: int) -> float:
    """MB/s of a sequential read of the share remounted with ``msize`` (timed by the guest)."""
    out = vm.exec(["sh", "-c", READ.format(msize=msize)], check=True).stdout
    start, end = (float(word) for word in out.split())
    return size_mib * 1.048576 / max(end - start, 0.01)


def row(name: str, values: list[float], unit: str) -> str:
    return (
        f"{name:<38} {len(values):>4} {min(values):>9.2f} {statistics.median(values):>9.2f}"
        f" {max(values):>9.2f}  {unit}"
    )


@dataclass
class Results:
    new: list[float] = field(default_factory=list)
    cold: list[float] = field(default_factory=list)
    warm: list[float] = field(default_factory=list)
    bare: list[float] = field(default_factory=list)
    reads: dict[int, list[float]] = field(default_factory=lambda: {512000: [], 8192: []})
    accel: str = "?"


def measure(image: BootImage, *, rounds: int, size_mib: int, memory: str, cpus: int) -> Results:
    """Run the rounds (cold, warm, 9p reads, bare) and collect the timings."""
    results = Results()
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        root = Path(tmp)
        project = root / "project"
        project.mkdir()
        (project / "big.bin").write_bytes(os.urandom(size_mib * 2**20))
        argv: list[str] = []
        try:
            for number in range(rounds):
                new, cold, warm, vm = workbench_round(
                    project, image, root / "instances", memory=memory, cpus=cpus
                )
                results.new.append(new)
                results.cold.append(cold)
                results.warm.append(warm)
                for msize, values in results.reads.items():
                    values.append(read_mb_per_s(vm, msize, size_mib))
                state = vm.dir.load_state()
                assert state is not None
                assert state.accel is not None
                results.accel = state.accel
                vm.clean()
                if not argv:
                    argv = bare_setup(
                        root / "bare",
                        image,
                        project,
                        accel=state.accel,
                        memory=state.memory_mib,
                        cpus=state.cpus,
                    )
                results.bare.append(bare_round(argv, root / "bare", image))
                print(f"round {number + 1}/{rounds}: new {new:.2f} s, cold {cold:.2f} s", end="")
                print(f", warm {warm:.2f} s", end="")
                print(f", bare {results.bare[-1]:.2f} s", flush=True)
        finally:  # never leave a qemu behind, even when a round fails
            for path in (root / "instances").glob("*"):
                destroy(InstanceDir(path))
    return results


def report(r: Results, *, title: str, size_mib: int) -> None:
    print()
    print(f"{title}, accel {r.accel}")
    print(f"{'measurement':<38} {'runs':>4} {'min':>9} {'median':>9} {'max':>9}")
    print(row("new instance, cold -> first command", r.new, "s"))
    print(row("cold boot -> first command", r.cold, "s"))
    print(row("warm start -> first command", r.warm, "s"))
    print(row("bare qemu -> first SSH command", r.bare, "s"))
    print(row(f"9p read {size_mib} MiB, msize 512000", r.reads[512000], "MB/s"))
    print(row(f"9p read {size_mib} MiB, msize 8192", r.reads[8192], "MB/s"))
    speedup = statistics.median(r.cold) / statistics.median(r.warm)
    overhead = statistics.median(r.cold) / statistics.median(r.bare) - 1
    ratio_9p = statistics.median(r.reads[512000]) / statistics.median(r.reads[8192])
    verdict = {True: "ok", False: "MISSED"}
    print()
    print(f"warm start speed-up (cold / warm):    {speedup:6.1f}x  target >= 5x   ", end="")
    print(verdict[speedup >= 5])
    print(f"workbench overhead (cold / bare - 1): {overhead:+6.1%}  target <= +10% ", end="")
    print(verdict[overhead <= 0.10])
    print(f"9p msize 512000 / 8192:               {ratio_9p:6.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one round, a 64 MiB 9p file")
    parser.add_argument("--image", default="tiny")
    parser.add_argument("--rounds", type=int, help="rounds (default 3, quick 1)")
    parser.add_argument("--memory", default="384M")
    parser.add_argument("--cpus", type=int, default=1)
    args = parser.parse_args()
    rounds = args.rounds or (1 if args.quick else 3)
    size_mib = 64 if args.quick else 256
    image = ensure_image(args.image)
    results = measure(image, rounds=rounds, size_mib=size_mib, memory=args.memory, cpus=args.cpus)
    title = f"{args.image} guest, {args.memory} RAM, {args.cpus} CPU(s)"
    report(results, title=title, size_mib=size_mib)


if __name__ == "__main__":
    main()
