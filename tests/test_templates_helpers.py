"""Helpers shared by the template and explode tests (this module holds no tests)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

from workbench.templates import Exploded, ExplodeOptions, Registry, explode


def tpl(
    body: str = "",
    *,
    bases: str = "[core22]",
    confinement: str = "[strict, devmode]",
    experimental: str = "false",
) -> str:
    """A template file: metadata, then the dedented ``body``."""
    head = (
        "template:\n  summary: a test template\n"
        f"  bases: {bases}\n  confinement: {confinement}\n  experimental: {experimental}\n"
    )
    return head + textwrap.dedent(body)


def template_dir(root: Path, templates: dict[str, str]) -> Path:
    """Write each ``NAME.yaml`` into ``root/templates`` and return that directory."""
    directory = root / "templates"
    directory.mkdir(parents=True, exist_ok=True)
    for name, text in templates.items():
        (directory / f"{name}.yaml").write_text(text)
    return directory


def run(root: Path, project: str, templates: dict[str, str], **options: Any) -> Exploded:
    """Explode dedented ``project`` with the built-ins plus ``templates`` (written under root)."""
    registry = Registry.default([template_dir(root, templates)])
    return explode(textwrap.dedent(project), templates=registry, options=ExplodeOptions(**options))


def position(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the ``nth`` occurrence of ``needle`` in dedented ``text``."""
    text = textwrap.dedent(text)
    index = -1
    for _ in range(nth + 1):
        index = text.index(needle, index + 1)
    line = text.count("\n", 0, index) + 1
    return line, index - (text.rfind("\n", 0, index) + 1) + 1
