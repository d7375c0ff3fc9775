"""The ``debian-12-arm64`` image: :mod:`~workbench.vm.builders.debian` for arm64 guests."""

from __future__ import annotations

from pathlib import Path

from workbench.vm.builders import debian
from workbench.vm.builders.recipe import Recipe
from workbench.vm.builders.session import BuildSession

STEPS = debian.STEPS


def recipe() -> Recipe:
    """The debian-12-arm64 recipe."""
    return debian.recipe_for("arm64")


def build(session: BuildSession, out: Path, recipe: Recipe) -> None:
    """Write debian-12-arm64's ``vmlinuz``, ``initrd.img`` and ``disk.qcow2`` into ``out``."""
    debian.build_for("arm64", session, out, recipe)
