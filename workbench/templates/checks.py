"""The checks snapcraft makes when it loads a project, made on the exploded project too.

Each failure is one positioned :class:`~workbench.errors.SourceError`: an ``after`` naming a part
that does not exist, a plugin unknown for the base, two part names that differ only by case.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any

from workbench.errors import Location, SourceError
from workbench.yamlpos import KeyPath


def _plugins(names: str) -> frozenset[str]:
    return frozenset(names.split())


_V1 = _plugins(  # snapcraft 4 (core18 and older): the legacy plugins
    "ant autotools catkin catkin-tools cmake colcon conda crystal dotnet dump flutter go godeps "
    "gradle kbuild kernel make maven meson nil nodejs plainbox-provider python qmake ruby rust "
    "scons waf"
)
_CORE20 = _plugins(
    "autotools catkin catkin-tools cmake colcon conda dump flutter go kernel make meson nil npm "
    "python qmake rust"
)
_CORE22 = _plugins(
    "ant autotools cmake colcon conda dotnet dump flutter go make matter-sdk maven meson nil npm "
    "python qmake rust scons"
)
_CORE24 = _CORE22 | _plugins("go-use gradle jlink maven-use poetry rust-use uv")
PLUGINS: dict[str | None, frozenset[str]] = {
    None: _V1,
    "core": _V1,
    "core18": _V1,
    "core20": _CORE20,
    "core22": _CORE22,
    "core24": _CORE24,
}
"""The plugins snapcraft offers for each base (bases not listed here are not checked)."""


def check_loaded(data: Any, base: str | None, locate: Callable[[KeyPath], Location]) -> None:
    """Refuse what snapcraft refuses at load time (``data`` passed :func:`check_project`)."""
    parts = data.get("parts") if isinstance(data, Mapping) else None
    if not isinstance(parts, Mapping):
        return
    lowered: dict[str, str] = {}
    for name in parts:
        other = lowered.setdefault(str(name).lower(), str(name))
        if other != name:
            raise SourceError(
                f"part names {other!r} and {name!r} differ only by case",
                hint="snapcraft refuses this: rename one of them",
                location=locate(("parts", name)),
            )
    known = PLUGINS.get(base)
    for name, value in parts.items():
        part = value or {}
        plugin = part.get("plugin")
        if known is not None and isinstance(plugin, str) and plugin not in known:
            close = difflib.get_close_matches(plugin, sorted(known), n=1)
            raise SourceError(
                f"part {name}: plugin {plugin!r} is not available on {base or 'core'}",
                hint=f"did you mean {close[0]!r}?" if close else f"use {', '.join(sorted(known))}",
                location=locate(("parts", name, "plugin")),
            )
        after = part.get("after")
        for index, needed in enumerate(after if isinstance(after, list) else ()):
            if isinstance(needed, str) and needed not in parts:
                close = difflib.get_close_matches(str(needed), [str(p) for p in parts], n=1)
                raise SourceError(
                    f"part {name}: 'after' names part {needed!r}, which does not exist",
                    hint=f"did you mean {close[0]!r}?" if close else "add that part or remove it",
                    location=locate(("parts", name, "after", index)),
                )
