"""The one fact about a project that every view needs: its base."""

from __future__ import annotations

import re
from collections.abc import Mapping

from workbench.errors import SourceError
from workbench.yamlpos import Document

_CORE = re.compile(r"^core(?P<version>\d\d)?$")
MODERN_FROM = 22
"""``coreNN`` bases from this version on plan ``build-for`` / ``platforms`` (craft-platforms)."""


def project_base(document: Document) -> str | None:
    """The effective base: ``base`` when it is a ``coreNN`` base, else ``build-base``."""
    data = document.data
    if not isinstance(data, Mapping):
        return None
    for key in ("base", "build-base"):
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise SourceError(
                f"'{key}' must be a string",
                hint="e.g. base: core20",
                location=document.locate((key,)),
            )
    base = data.get("base")
    if base is None or _CORE.match(base):
        return base
    build_base = data.get("build-base")
    return build_base if isinstance(build_base, str) else base


def is_modern(base: str | None) -> bool:
    """True for ``core22`` and later, whose architectures come from craft-platforms."""
    match = _CORE.match(base or "")
    version = match.group("version") if match else None
    return version is not None and int(version) >= MODERN_FROM
