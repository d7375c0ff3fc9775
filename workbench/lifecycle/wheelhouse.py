"""Injection: the host's workbench and the guest's dependencies as a wheelhouse, installed offline.

On the host (where PyPI is reachable) :func:`ensure_wheelhouse` ``pip download``\\ s the
``guest`` extra (craft-parts and its dependencies) plus pip itself, for the guest's Python
(CPython 3.11: Debian 12) and the guest's architecture (manylinux wheels of x86_64 or aarch64),
into ``cache_dir()/wheelhouse/deps/DEPS_KEY`` (keyed by the requirements and the platform), and
makes the workbench wheel of the chosen release (:mod:`workbench.lifecycle.guest_workbench`: this
source tree by default) into
``cache_dir()/wheelhouse/workbench/KEY`` (the version plus a digest of its sources), so a changed
source tree costs one small wheel, written directly (:mod:`workbench.lifecycle.source_wheel`).

The cache's wheelhouse root reaches the guest as a read-only 9p share (:func:`share`, mount tag
``wheelhouse``): every instance of a build has it, so the device set, and with it the snapshot
tag, is the same for the saved base instance and every project. In the guest :func:`inject`
mounts it read-only, installs the dependencies once per deps key into a venv that sees Debian's
``python3-apt`` (``--system-site-packages``, notes part 2) with ``--no-index``, then the workbench
wheel, and unmounts it; marker files holding the keys make later sessions skip what is there. A
machine without the share (an SSH host: :class:`~workbench.vm.provider.Layout` says which) gets
the two directories pushed over SFTP into its workbench directory instead, once per key, and
installs from there.
"""

from __future__ import annotations

import hashlib
import shlex
import shutil
import subprocess
import sys
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from workbench import dirs
from workbench.errors import BuildError, VmError
from workbench.lifecycle import guest_workbench
from workbench.lifecycle.guest_workbench import GuestWorkbench
from workbench.lifecycle.source_wheel import write_wheel
from workbench.vm import qemu
from workbench.vm.arch import guest_arch
from workbench.vm.provider import Layout, Machine

GUEST = Layout()
"""Where the workbench goes in a qemu guest."""
SHARE_TAG = "wheelhouse"
GUEST_MOUNT = "/mnt/wheelhouse"
PYTHON_VERSION = "3.11"
"""The guest Python the wheels are for unless the image says otherwise (Debian 12's)."""
MIN_PYTHON = "3.10"
"""The oldest guest Python the guest runner's dependencies (craft-parts) support."""


@dataclass(frozen=True)
class Wheelhouse:
    """What the guest installs: one workbench wheel and, cached apart, its dependencies' wheels.

    The dependencies (pip, craft-parts...) are keyed by their own requirements, so a change to
    the workbench's code rebuilds and reinstalls one small wheel, not the whole wheelhouse.
    """

    guest: GuestWorkbench
    root: Path  # the share root, wheelhouses_root()
    arch: str = "amd64"  # the guest's architecture: which platform's wheels the deps are
    python: str = PYTHON_VERSION  # the guest's Python: which version's wheels

    @property
    def key(self) -> str:
        """The workbench's key, recorded in the guest once installed."""
        return self.guest.key

    @property
    def requirements(self) -> tuple[str, ...]:
        return self.guest.requirements

    @property
    def deps_key(self) -> str:
        return deps_key(self.requirements, self.arch, self.python)

    @property
    def deps(self) -> Path:
        """The directory of the dependencies' wheels (pip included)."""
        return self.root / "deps" / self.deps_key

    @property
    def workbench(self) -> Path:
        """The directory holding the workbench wheel alone."""
        return self.root / "workbench" / self.key

    def wheel(self, directory: Path, prefix: str) -> Path:
        """The one wheel named ``prefix-*`` in ``directory`` (a VmError when missing)."""
        found = sorted(directory.glob(f"{prefix}-*.whl"))
        if not found:
            raise VmError(f"the wheelhouse {directory} has no {prefix} wheel", hint="delete it")
        return found[-1]


def wheelhouses_root() -> Path:
    """The host directory holding every cached wheelhouse (deps/KEY and workbench/KEY)."""
    return dirs.cache_dir() / "wheelhouse"


def share() -> dict[str, Path]:
    """The read-only 9p share every build instance gets: ``{SHARE_TAG: wheelhouses_root()}``."""
    root = wheelhouses_root()
    root.mkdir(parents=True, exist_ok=True)
    return {SHARE_TAG: root}


def deps_key(
    requirements: tuple[str, ...], arch: str = "amd64", python: str = PYTHON_VERSION
) -> str:
    """``deps-DIGEST``: the requirements and the guest platform they are downloaded for."""
    text = "\n".join((*requirements, python, *guest_arch(arch).wheel_platforms))
    return f"deps-{hashlib.sha256(text.encode()).hexdigest()[:12]}"


def download_argv(
    requirements: tuple[str, ...], dest: Path, arch: str = "amd64", python: str = PYTHON_VERSION
) -> list[str]:
    """``pip download`` of ``requirements`` and pip, as wheels for the guest's Python ``python``
    on ``arch`` (pure)."""
    platforms = [p for name in guest_arch(arch).wheel_platforms for p in ("--platform", name)]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--python-version",
        python,
        "--implementation",
        "cp",
        *platforms,
        "-d",
        str(dest),
        "pip",
        *requirements,
    ]


def ensure_wheelhouse(
    guest: GuestWorkbench | None = None,
    *,
    arch: str = "amd64",
    python: str = PYTHON_VERSION,
    notify: Callable[[str], None] = lambda _line: None,
) -> Wheelhouse:
    """The cached wheelhouse for ``guest`` (default: this workbench) on an ``arch`` guest with
    Python ``python``, built on the host when missing: the dependencies once per requirement set
    and platform, the workbench wheel (pure Python, any architecture) once per key."""
    house = Wheelhouse(guest or guest_workbench.resolve(), wheelhouses_root(), arch, python)
    if not _complete(house.deps):
        notify(
            f"downloading the guest's dependencies {house.deps_key} for Python {python} on {arch}"
            " (pip, needs PyPI)"
        )
        requirements = house.requirements
        _build_into(
            house.deps, lambda out: _run_host(download_argv(requirements, out, arch, python))
        )
    if not _complete(house.workbench):
        notify(f"building the guest's workbench wheel {house.key} from {house.guest.label}")
        _build_into(house.workbench, partial(_make_wheel, house.guest))
    return house


def _complete(directory: Path) -> bool:
    return (directory / "complete").exists()


def _build_into(directory: Path, make: Callable[[Path], None]) -> None:
    """Run ``make(out)`` in a scratch directory beside ``directory``, then move it in place."""
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".build-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        make(out)
        (out / "complete").write_text(directory.name + "\n", encoding="utf-8")
        shutil.rmtree(directory, ignore_errors=True)
        out.rename(directory)


def _make_wheel(guest: GuestWorkbench, out: Path) -> None:
    """Put ``guest``'s workbench wheel in ``out``: copied, or built from its tree or revision."""
    if guest.wheel is not None:
        shutil.copy2(guest.wheel, out / guest.wheel.name)
        return
    assert guest.tree is not None  # a GuestWorkbench has a wheel or a tree
    if guest.revision is None:
        write_wheel(guest.tree, out)
        return
    with tempfile.TemporaryDirectory(prefix="workbench-src-") as tmp:
        _export_revision(guest.tree, guest.revision, Path(tmp))
        write_wheel(Path(tmp), out)


def _export_revision(tree: Path, commit: str, dest: Path) -> None:
    """The files of git ``commit`` of ``tree``'s repository, unpacked into ``dest``."""
    archive = dest / ".revision.tar"
    _run_host(["git", "-C", str(tree), "archive", "--format=tar", "-o", str(archive), commit])
    with tarfile.open(archive) as tar:
        tar.extractall(dest, filter="data")
    archive.unlink()


def _run_host(argv: list[str]) -> None:
    try:
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=900)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise VmError(
            f"building the guest wheelhouse failed ({argv[2] if len(argv) > 2 else argv[0]}):"
            f" {tail[0]}",
            hint="the host needs PyPI (or a pip index) for this once per workbench version",
            details=exc.stderr,
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VmError(f"cannot run pip for the guest wheelhouse: {exc}") from exc


UNPACK_WHEEL = """\
import compileall, shutil, sys, sysconfig, zipfile
from pathlib import Path
site = Path(sysconfig.get_path("purelib"))
for old in [site / "workbench", *site.glob("workbench-*.dist-info")]:
    shutil.rmtree(old, ignore_errors=True)
zipfile.ZipFile(sys.argv[1]).extractall(site)
compileall.compile_dir(site / "workbench" / "lifecycle", maxlevels=0, quiet=1)
compileall.compile_dir(site / "workbench", maxlevels=0, quiet=1)
"""
"""Installs the workbench wheel ``argv[1]`` into the running Python's site-packages by unpacking
it (a pure-Python wheel's install), the previous release's files removed first, and byte-compiles
the modules the guest runner imports. ``pip install`` of the same 300 KiB wheel took about a
minute in a TCG guest (pip's own start from its wheel, resolving, uninstalling); this takes a
second or two."""


def install_script(
    house: Wheelhouse, layout: Layout = GUEST, sources: tuple[str, str] | None = None
) -> str:
    """The shell script installing ``house`` offline into ``layout``'s venv (pure): the
    dependencies into a fresh venv when their key changed (pip), then the workbench wheel
    (:data:`UNPACK_WHEEL`). ``sources``:
    the dependencies' and the workbench wheel's directories on the machine (default: on the
    read-only share, mounted for it)."""
    deps, workbench = sources or (
        f"{GUEST_MOUNT}/deps/{house.deps_key}",
        f"{GUEST_MOUNT}/workbench/{house.key}",
    )
    wheel = f"{workbench}/{house.wheel(house.workbench, 'workbench').name}"
    pip = [layout.python, f"{deps}/{house.wheel(house.deps, 'pip').name}/pip", "install"]
    pip += ["--no-index", "--no-cache-dir", "--disable-pip-version-check", "--quiet"]
    options = "ro,trans=virtio,version=9p2000.L,msize=512000"
    mount = [
        f"mkdir -p {GUEST_MOUNT}",
        f"grep -qs ' {GUEST_MOUNT} 9p ' /proc/mounts || mount -t 9p -o {options}"
        f" {SHARE_TAG} {GUEST_MOUNT}",
        f"trap 'umount {GUEST_MOUNT}' EXIT",
    ]
    deps_key, venv = shlex.quote(house.deps_key), shlex.quote(layout.venv)
    deps_marker = shlex.quote(layout.deps_marker)
    lines = [
        "set -e",
        *(mount if sources is None else []),
        f'if [ "$(cat {deps_marker} 2>/dev/null)" != {deps_key} ]; then',
        f"  rm -rf {venv}",
        f"  python3 -m venv --system-site-packages --without-pip {venv}",
        "  " + shlex.join([*pip, "--find-links", deps, *house.requirements]),
        f"  echo {deps_key} > {deps_marker}",
        "fi",
        shlex.join([layout.python, "-c", UNPACK_WHEEL, wheel]),
        f"echo {shlex.quote(house.key)} > {shlex.quote(layout.marker)}",
    ]
    return "\n".join(lines)


def installed_key(machine: Machine) -> str | None:
    """The wheelhouse key installed on the running machine, or None."""
    result = machine.exec(["cat", machine.layout.marker])
    return result.stdout.strip() or None if result.exit_status == 0 else None


def inject(machine: Machine, house: Wheelhouse) -> bool:
    """Install ``house`` on the machine unless it is there already; True when it installed.

    A VM must have been started with :func:`share` among its shares (a VM started without it,
    e.g. by ``vm up``, is refused: the share cannot be added to a running qemu); a machine
    without the share gets the wheelhouse pushed first (:func:`push`).
    """
    if installed_key(machine) == house.key:
        return False
    layout = machine.layout
    if layout.wheelhouse_share:
        state = machine.dir.load_state()
        if SHARE_TAG not in qemu.share_tags(state.argv if state else []):
            raise VmError(
                f"instance {machine.dir.name} was started without the wheelhouse share",
                hint="stop it (`workbench vm down`) and build again: a build starts it with the "
                "share",
            )
        script = install_script(house, layout)
    else:
        script = install_script(house, layout, push(machine, house))
    result = machine.exec(["sh", "-c", script], timeout=1800)
    if result.exit_status != 0:
        raise BuildError(
            "installing workbench in the guest failed",
            hint="the wheelhouse may not match the guest's Python; see the details",
            details=result.stderr or result.stdout,
        )
    return True


def push(machine: Machine, house: Wheelhouse) -> tuple[str, str]:
    """Copy the dependencies' and the workbench's wheels of ``house`` into the machine's
    workbench directory (SFTP; each skipped when a complete copy is there); the two directories."""
    root = f"{machine.layout.root}/wheelhouse"
    deps = _push_directory(machine, house.deps, f"{root}/deps/{house.deps_key}")
    return deps, _push_directory(machine, house.workbench, f"{root}/workbench/{house.key}")


def _push_directory(machine: Machine, local: Path, remote: str) -> str:
    done = f"{remote}/complete"
    if machine.exec(["test", "-e", done]).exit_status == 0:
        return remote
    machine.exec(["sh", "-c", 'rm -rf "$1" && mkdir -p "$1"', "push", remote], check=True)
    for wheel in sorted(local.glob("*.whl")):
        machine.push(wheel, f"{remote}/{wheel.name}")
    machine.exec(["touch", done], check=True)
    return remote
