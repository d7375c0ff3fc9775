"""The ``tiny-arm64`` image: the tiny guest (:mod:`~workbench.vm.builders.tiny`) for arm64.

Nothing comes from the host: :data:`PACKAGES` of Debian's arm64 archive, at the versions the
host's apt would install (:func:`~workbench.vm.builders.apt.candidates`, part of the recipe), are
downloaded and unpacked (:func:`~workbench.vm.builders.apt.fetch`: no maintainer scripts), the
kernel's modules are indexed by the host's depmod, and tiny builds the image from that tree.
The only arm64 program run is busybox listing its applets, through qemu-user (no binfmt_misc).

The kernel is ``linux-image-arm64``'s: ``linux-image-cloud-arm64`` has no 9p (the project share)
and no gpio-keys (the power key of qemu's ``virt`` machine). The libraries are those dropbear and
sftp-server need (``libgcc-s1``, which libc6 depends on for thread cancellation, is not).
"""

from __future__ import annotations

import shutil
from pathlib import Path

from workbench.vm.arch import guest_arch
from workbench.vm.builders import apt, tiny
from workbench.vm.builders.recipe import Recipe, files_digest
from workbench.vm.builders.session import BuildSession

ARCH = guest_arch("arm64")
PACKAGES = (
    "linux-image-arm64",
    "busybox-static",
    "dropbear-bin",
    "openssh-sftp-server",
    "libc6",
    "libcrypt1",
    "libtomcrypt1",
    "libtommath1",
    "libgmp10",
    "zlib1g",
)
SOURCES = (*tiny.SOURCES, Path(__file__), Path(apt.__file__))
STEPS = ("packages", *tiny.STEPS)
KERNEL_PACKAGE = "linux-image-"


def recipe() -> Recipe:
    """The tiny-arm64 recipe: the exact package versions, this builder and tiny's."""
    versions = apt.candidates(PACKAGES, ARCH.name)
    return Recipe(
        "tiny-arm64",
        {
            "packages": " ".join(f"{p}={v}" for p, v in sorted(versions.items())),
            "builder": files_digest(SOURCES),
            "disk_mib": str(tiny.DISK_MIB),
        },
    )


def kernel_release(versions: dict[str, str]) -> str:
    """``6.1.0-57-arm64`` from the pinned kernel package ``linux-image-6.1.0-57-arm64`` (pure)."""
    kernels = [p for p in versions if p.startswith(KERNEL_PACKAGE)]
    assert len(kernels) == 1, kernels
    return kernels[0].removeprefix(KERNEL_PACKAGE)


def build(session: BuildSession, out: Path, recipe: Recipe) -> None:
    """Write ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` of the packages into ``out``."""
    versions = dict(item.split("=", 1) for item in recipe.inputs["packages"].split())
    release = kernel_release(versions)
    packages = out / "packages"
    try:
        with session.step("packages"):
            apt.fetch(session, versions, ARCH.name, packages)
            session.run(["depmod", "-b", str(packages), release])
        inputs = tiny.read_inputs(
            ARCH, packages, release, hint=f"the packages {' '.join(PACKAGES)} lack it"
        )
        tiny.build_image(session, out, recipe, inputs)
    finally:
        shutil.rmtree(packages, ignore_errors=True)
