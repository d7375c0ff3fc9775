"""Local image builders: each module makes one base image from its recipe.

A builder module provides ``STEPS`` (the step titles it reports), ``recipe() -> Recipe`` (what it
is built from; an image is rebuilt only when the digest changes) and
``build(session, out, recipe)``, which writes ``disk.qcow2``, ``vmlinuz`` and ``initrd.img`` into
the directory ``out``.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol, cast

from workbench.errors import UsageError
from workbench.vm.builders.recipe import Recipe
from workbench.vm.builders.session import BuildSession

MODULES = {
    "tiny": "tiny",
    "tiny-arm64": "tiny_arm64",
    "debian-12": "debian",
    "debian-12-arm64": "debian_arm64",
}


class Builder(Protocol):
    """What :mod:`workbench.vm.images` needs from a builder module."""

    STEPS: Sequence[str]

    def recipe(self) -> Recipe: ...

    def build(self, session: BuildSession, out: Path, recipe: Recipe) -> None: ...


def builder(name: str) -> Builder:
    """The builder module called ``name``."""
    if name not in MODULES:
        raise UsageError(
            f"unknown image builder {name!r}", hint=f"builders: {', '.join(sorted(MODULES))}"
        )
    return cast(Builder, importlib.import_module(f"{__name__}.{MODULES[name]}"))
