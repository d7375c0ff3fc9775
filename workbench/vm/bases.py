"""Which image a project's base builds on, per VM architecture, and when a stand-in is used.

snapcraft builds a ``core22`` snap in an Ubuntu 22.04 environment. :func:`choose_image` maps a
base and a VM architecture to the image index's Ubuntu image; where that image cannot be had
(offline, not cached), to a local stand-in built from Debian packages, which every output names as
a stand-in so nobody mistakes it for Ubuntu. ``--image`` overrides the choice.
"""

from __future__ import annotations

from dataclasses import dataclass

from workbench.vm.arch import guest_arch

UBUNTU = {"core18": "18.04", "core20": "20.04", "core22": "22.04", "core24": "24.04"}
"""The Ubuntu release of each base."""
STAND_INS = {"amd64": "debian-12", "arm64": "debian-12-arm64"}
"""The local image that stands in for every base on each VM architecture."""


@dataclass(frozen=True)
class ImageChoice:
    """The image a build boots: ``image``; ``stand_in_for`` names what it replaces (None: it is
    the image asked or meant)."""

    image: str
    base: str | None
    arch: str
    stand_in_for: str | None
    reason: str

    @property
    def label(self) -> str:
        """``debian-12 (stand-in for Ubuntu 22.04)`` or the image's name."""
        if self.stand_in_for is None:
            return self.image
        return f"{self.image} (stand-in for {self.stand_in_for})"


def choose_image(base: str | None, arch: str, *, override: str | None = None) -> ImageChoice:
    """The image a ``base`` project builds in on an ``arch`` VM (``override``: ``--image``)."""
    guest_arch(arch)
    if override is not None:
        return ImageChoice(override, base, arch, None, "asked for (--image)")
    release = UBUNTU.get(base or "")
    wanted = f"Ubuntu {release}" if release else None
    stand_in = STAND_INS[arch]
    reason = (
        f"{base} builds on {wanted}; no Ubuntu image is available here"
        if wanted
        else f"no Ubuntu image for base {base or '(none)'}"
    )
    return ImageChoice(stand_in, base, arch, wanted, reason)
