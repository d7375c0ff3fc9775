"""Which image a project's base builds on, per VM architecture, and when a stand-in is used.

snapcraft builds a ``core22`` snap in an Ubuntu 22.04 environment. :func:`choose_image` maps a
base and a VM architecture, through the image index's ``bases``, to that release's Ubuntu image
when it is cached, can be built here, or can be downloaded; else to the index's stand-in for the
architecture (built locally from Debian packages), which every output names as a stand-in so
nobody mistakes it for Ubuntu. ``--image`` overrides the choice. Whether an image can be
downloaded is one bounded check of its server (:mod:`workbench.vm.reachability`), skipped with
``WORKBENCH_OFFLINE=1``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from workbench.errors import UsageError
from workbench.vm import reachability
from workbench.vm.arch import guest_arch
from workbench.vm.image_index import IndexEntry, entry, load_index
from workbench.vm.images import find_cached

OFFLINE = "WORKBENCH_OFFLINE"
"""Set to 1: never check the network; a base's image that is not cached is replaced at once."""


@dataclass(frozen=True)
class ImageChoice:
    """The image a build boots: ``image``; ``stand_in_for`` names the Ubuntu release it replaces
    (None: it is the image asked or meant); ``reason`` says why this image."""

    image: str
    base: str | None
    arch: str
    stand_in_for: str | None
    reason: str
    python: str  # the image's Python (the index's ``python``)

    @property
    def label(self) -> str:
        """``debian-12 (stand-in for Ubuntu 22.04)`` or the image's name."""
        if self.stand_in_for is None:
            return self.image
        return f"{self.image} (stand-in for {self.stand_in_for})"


def offline(env: Mapping[str, str] = os.environ) -> bool:
    """Whether ``WORKBENCH_OFFLINE`` forbids looking at the network."""
    return env.get(OFFLINE, "") not in ("", "0")


def _availability(item: IndexEntry) -> tuple[bool, str]:
    """Whether ``item`` can be had now, and why (or why not)."""
    if item.builder is not None:
        return True, f"built here by the {item.builder} builder"
    if find_cached(item.name) is not None:
        return True, "cached"
    if offline():
        return False, f"{OFFLINE}=1 and {item.name} is not cached"
    assert item.files is not None
    url = item.files["disk"].url
    reach = reachability.check(url)
    if reach.reachable:
        return True, f"to download from {reach.host}"
    return False, f"{reach.host} unreachable ({reach.why})"


def _version(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split("."))


def choose_image(
    base: str | None, arch: str, *, override: str | None = None, min_python: str | None = None
) -> ImageChoice:
    """The image a ``base`` project builds in on an ``arch`` VM (``override``: ``--image``); an
    Ubuntu image whose Python is older than ``min_python`` (what runs in the guest needs it) is
    replaced by the stand-in."""
    guest_arch(arch)
    if override is not None:
        return ImageChoice(
            override, base, arch, None, "asked for (--image)", entry(override).python
        )
    index = load_index()
    spec = index.bases.get(base or "")
    release = spec.release if spec is not None else None
    if spec is None:
        why_not = f"no Ubuntu image for base {base or '(none)'}"
    elif (name := spec.images.get(arch)) is None:
        why_not = f"the image index has no {spec.release} image for {arch}"
    elif min_python and _version(python := index.images[name].python) < _version(min_python):
        why_not = (
            f"{spec.release}'s Python {python} cannot run the guest runner (it needs {min_python}+)"
        )
    else:
        item = index.images[name]
        available, why = _availability(item)
        if available:
            reason = f"{spec.release} for {base}: {why}"
            return ImageChoice(name, base, arch, None, reason, item.python)
        why_not = why
    stand_in = index.stand_ins.get(arch)
    if stand_in is None:
        raise UsageError(
            f"no image for base {base or '(none)'} on {arch}: {why_not}, and no stand-in",
            hint=f"pass --image NAME, or add stand_ins.{arch} to the image index",
        )
    return ImageChoice(stand_in, base, arch, release, why_not, index.images[stand_in].python)
