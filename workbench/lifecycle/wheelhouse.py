"""Injection: the host's workbench and the guest's dependencies as a wheelhouse, installed offline.

On the host (where PyPI is reachable) :func:`ensure_wheelhouse` builds the workbench wheel from
the source tree and ``pip download``\\ s the ``guest`` extra (craft-parts and its dependencies) plus
pip itself, for the guest's Python (CPython 3.11, manylinux x86_64: Debian 12). The result is
cached under ``cache_dir()/wheelhouse/KEY``; the key is the workbench version plus a digest of its
sources and the guest requirements, so a changed source tree gets a new wheelhouse.

The cache's wheelhouse root reaches the guest as a read-only 9p share (:func:`share`, mount tag
``wheelhouse``): every instance of a build has it, so the device set, and with it the snapshot
tag, is the same for the saved base instance and every project. In the guest :func:`inject`
mounts it read-only, installs the wheelhouse of this key once per instance into a venv that sees
Debian's ``python3-apt`` (``--system-site-packages``, notes part 2) with ``--no-index``, and
unmounts it; a marker file holding the key makes later sessions skip it. A machine without the
share (an SSH host: :class:`~workbench.vm.provider.Layout` says which) gets the wheelhouse pushed
over SFTP into its workbench directory instead, once per key, and installs it from there.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench import __version__, dirs
from workbench.errors import BuildError, VmError
from workbench.vm import qemu
from workbench.vm.provider import Layout, Machine

GUEST = Layout()
"""Where the workbench goes in a qemu guest."""
SHARE_TAG = "wheelhouse"
GUEST_MOUNT = "/mnt/wheelhouse"
PYTHON_VERSION = "3.11"
PLATFORMS = ("manylinux2014_x86_64", "manylinux_2_17_x86_64", "manylinux_2_28_x86_64")
"""Wheel platforms the guest (Debian 12, glibc 2.36, x86_64) accepts."""
EXTRA = "guest"
_EXTRA_MARKER = re.compile(r";\s*extra\s*==\s*[\"']" + EXTRA + r"[\"']\s*$")


@dataclass(frozen=True)
class Wheelhouse:
    """A cached wheelhouse: its key, directory and the requirements to install from it."""

    key: str
    directory: Path
    requirements: tuple[str, ...]

    @property
    def wheels(self) -> list[Path]:
        return sorted(self.directory.glob("*.whl"))


def wheelhouses_root() -> Path:
    """The host directory holding every cached wheelhouse (one subdirectory per key)."""
    return dirs.cache_dir() / "wheelhouse"


def share() -> dict[str, Path]:
    """The read-only 9p share every build instance gets: ``{SHARE_TAG: wheelhouses_root()}``."""
    root = wheelhouses_root()
    root.mkdir(parents=True, exist_ok=True)
    return {SHARE_TAG: root}


def source_root() -> Path:
    """The source tree of the running workbench (the directory holding ``pyproject.toml``)."""
    root = Path(__file__).resolve().parents[2]
    if not (root / "pyproject.toml").is_file():
        raise VmError(
            "cannot inject workbench: it is not running from a source tree",
            hint="install it editable (./dev) so its wheel can be built for the guest",
        )
    return root


def guest_requirements() -> tuple[str, ...]:
    """The ``guest`` extra of the installed workbench, without its marker."""
    found = [
        _EXTRA_MARKER.sub("", req).strip()
        for req in importlib.metadata.requires("workbench") or []
        if _EXTRA_MARKER.search(req)
    ]
    if not found:
        raise VmError(
            "the installed workbench metadata has no 'guest' extra",
            hint="reinstall it: pip install -e '.[guest]'",
        )
    return tuple(sorted(found))


def wheelhouse_key(root: Path, requirements: tuple[str, ...]) -> str:
    """``VERSION-DIGEST``: the version and a digest of the package sources and requirements."""
    digest = hashlib.sha256("\n".join(requirements).encode())
    for path in sorted((root / "workbench").rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            digest.update(str(path.relative_to(root)).encode())
            digest.update(path.read_bytes())
    digest.update((root / "pyproject.toml").read_bytes())
    return f"{__version__}-{digest.hexdigest()[:12]}"


def current_key() -> str:
    """The key of the wheelhouse this workbench needs (cheap: no pip, no network)."""
    return wheelhouse_key(source_root(), guest_requirements())


def download_argv(requirements: tuple[str, ...], dest: Path) -> list[str]:
    """``pip download`` of ``requirements`` and pip, as wheels for the guest's Python (pure)."""
    platforms = [arg for platform in PLATFORMS for arg in ("--platform", platform)]
    return [
        sys.executable,
        "-m",
        "pip",
        "download",
        "--disable-pip-version-check",
        "--only-binary=:all:",
        "--python-version",
        PYTHON_VERSION,
        "--implementation",
        "cp",
        *platforms,
        "-d",
        str(dest),
        "pip",
        *requirements,
    ]


def wheel_argv(source: Path, dest: Path) -> list[str]:
    """``pip wheel`` of the workbench source copy ``source`` alone into ``dest`` (pure)."""
    return [
        sys.executable,
        "-m",
        "pip",
        "wheel",
        "--disable-pip-version-check",
        "--no-deps",
        "-w",
        str(dest),
        str(source),
    ]


def ensure_wheelhouse(*, notify: Callable[[str], None] = lambda _line: None) -> Wheelhouse:
    """The cached wheelhouse for this workbench, built on the host when missing."""
    root = source_root()
    requirements = guest_requirements()
    key = current_key()
    directory = wheelhouses_root() / key
    house = Wheelhouse(key, directory, requirements)
    if (directory / "complete").exists():
        return house
    notify(f"building the guest wheelhouse {key} (pip, needs PyPI)")
    directory.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=directory.parent, prefix=".build-") as tmp:
        scratch = Path(tmp)
        source = scratch / "src"
        source.mkdir()
        for name in ("pyproject.toml", "README.md"):
            if (root / name).exists():
                shutil.copy2(root / name, source / name)
        shutil.copytree(
            root / "workbench", source / "workbench", ignore=shutil.ignore_patterns("__pycache__")
        )
        out = scratch / "wheels"
        for argv in (wheel_argv(source, out), download_argv(requirements, out)):
            _run_host(argv)
        (out / "complete").write_text(key + "\n", encoding="utf-8")
        shutil.rmtree(directory, ignore_errors=True)
        out.rename(directory)
    return house


def _run_host(argv: list[str]) -> None:
    try:
        subprocess.run(argv, capture_output=True, text=True, check=True, timeout=900)
    except subprocess.CalledProcessError as exc:
        tail = (exc.stderr or exc.stdout or "").strip().splitlines()[-1:] or ["no output"]
        raise VmError(
            f"building the guest wheelhouse failed: {tail[0]}",
            hint="the host needs PyPI (or a pip index) for this once per workbench version",
            details=exc.stderr,
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise VmError(f"cannot run pip for the guest wheelhouse: {exc}") from exc


def install_script(house: Wheelhouse, layout: Layout = GUEST, source: str | None = None) -> str:
    """The guest shell script installing ``house`` offline into ``layout``'s venv, from the
    directory ``source`` on the machine (default: the read-only share, mounted for it; pure)."""
    remote = source or f"{GUEST_MOUNT}/{house.key}"
    pip = [layout.python, f"{remote}/{_pip_wheel(house).name}/pip", "install", "--no-index"]
    pip += ["--no-cache-dir", "--disable-pip-version-check", "--quiet"]
    workbench = next(w.name for w in house.wheels if w.name.startswith("workbench-"))
    options = "ro,trans=virtio,version=9p2000.L,msize=512000"
    mount = [
        f"mkdir -p {GUEST_MOUNT}",
        f"grep -qs ' {GUEST_MOUNT} 9p ' /proc/mounts || mount -t 9p -o {options}"
        f" {SHARE_TAG} {GUEST_MOUNT}",
        f"trap 'umount {GUEST_MOUNT}' EXIT",
    ]
    lines = [
        "set -e",
        *(mount if source is None else []),
        f"rm -rf {shlex.quote(layout.venv)}",
        f"python3 -m venv --system-site-packages --without-pip {shlex.quote(layout.venv)}",
        shlex.join([*pip, "--find-links", remote, *house.requirements]),
        shlex.join([*pip, "--no-deps", f"{remote}/{workbench}"]),
        f"echo {shlex.quote(house.key)} > {shlex.quote(layout.marker)}",
    ]
    return "\n".join(lines)


def _pip_wheel(house: Wheelhouse) -> Path:
    found = [w for w in house.wheels if w.name.startswith("pip-")]
    if not found:
        raise VmError(f"the wheelhouse {house.directory} has no pip wheel", hint="delete it")
    return found[-1]


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


def push(machine: Machine, house: Wheelhouse) -> str:
    """Copy the wheels of ``house`` into the machine's workbench directory (SFTP; skipped when a
    complete copy is there); the directory."""
    remote = f"{machine.layout.root}/wheelhouse/{house.key}"
    done = f"{remote}/complete"
    if machine.exec(["test", "-e", done]).exit_status == 0:
        return remote
    machine.exec(["sh", "-c", 'rm -rf "$1" && mkdir -p "$1"', "push", remote], check=True)
    for wheel in house.wheels:
        machine.push(wheel, f"{remote}/{wheel.name}")
    machine.exec(["touch", done], check=True)
    return remote
