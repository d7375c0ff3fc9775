"""The checks snapcraft makes when it loads a project, made on the exploded project too.

Each failure is one positioned :class:`~workbench.errors.SourceError`: an ``after`` naming a part
that does not exist, a plugin unknown for the base, two part names that differ only by case, and
the app fields snapcraft validates by their text (the characters of ``command`` and the other
command fields, of each ``command-chain`` entry and alias, the form of time values).

Whether an app's ``command`` or ``command-chain`` names a file some part installs is not known
before the parts are built: snapcraft checks it when it packs, and so does the workbench's pack
(:func:`workbench.lifecycle.pack.missing_commands`).
"""

from __future__ import annotations

import difflib
import re
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


_COMMAND = re.compile(r"[A-Za-z0-9/. _#:$-]*")  # snapd's rule, which snapcraft applies
_CHAIN = re.compile(r"[A-Za-z0-9/._#:$-]*")
_ALIAS = re.compile(r"[a-zA-Z0-9][-_.a-zA-Z0-9]*")
_TIME = re.compile(r"[0-9]+(ns|us|ms|s|m)*")
_APP_TEXT: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    (
        ("command", "stop-command", "post-stop-command", "reload-command", "bus-name"),
        _COMMAND,
        "use only ASCII letters, digits, spaces and / . _ # : $ -",
    ),
    (("command-chain",), _CHAIN, "use only ASCII letters, digits and / . _ # : $ -"),
    (("aliases",), _ALIAS, "start with a letter or digit; then letters, digits and . _ -"),
    (
        ("start-timeout", "stop-timeout", "watchdog-timeout", "restart-delay"),
        _TIME,
        "write a number with an optional unit: ns, us, ms, s or m (for example 10s)",
    ),
)


def check_loaded(data: Any, base: str | None, locate: Callable[[KeyPath], Location]) -> None:
    """Refuse what snapcraft refuses at load time (``data`` passed :func:`check_project`)."""
    apps = data.get("apps") if isinstance(data, Mapping) else None
    for app, value in (apps or {}).items():
        _check_app(str(app), value or {}, locate)
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


def _check_app(app: str, fields: Mapping[str, Any], locate: Callable[[KeyPath], Location]) -> None:
    """The app fields snapcraft checks by their text alone."""
    for keys, pattern, hint in _APP_TEXT:
        for key in keys:
            value = fields.get(key)
            entries = value if isinstance(value, list) else [value]
            for index, entry in enumerate(entries):
                if entry is None or (isinstance(entry, str) and pattern.fullmatch(entry)):
                    continue
                where = (index,) if isinstance(value, list) else ()
                raise SourceError(
                    f"app {app}: {key} {entry!r} is not valid",
                    hint=hint,
                    location=locate(("apps", app, key, *where)),
                )
