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
    """The effective base, as snapcraft counts it: ``base`` when it is a ``coreNN`` base, else
    ``build-base`` (``base: bare``, or a ``type: base`` snap without ``base``), else ``base``."""
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
    return effective_base(data.get("base"), data.get("build-base"))


def effective_base(base: str | None, build_base: str | None) -> str | None:
    """``base`` when it is a ``coreNN`` base, else ``build_base`` when given, else ``base``."""
    if base is not None and _CORE.match(base):
        return base
    return build_base if isinstance(build_base, str) else base


def is_modern(base: str | None) -> bool:
    """True for ``core22`` and later, whose architectures come from craft-platforms."""
    match = _CORE.match(base or "")
    version = match.group("version") if match else None
    return version is not None and int(version) >= MODERN_FROM
