"""core22 and later: the build plan comes from craft-platforms, not from this package.

This module only validates the stanza with positions and hands it to
``craft_platforms.snap.get_platforms_snap_build_plan``. core24+ ``platforms`` go in as written;
core22 ``architectures`` are first turned into platforms the way snapcraft does
(``Platform.from_architectures``: one platform per entry, named after its single build-for arch; a
list of names is one entry PER name, unlike the core20 shorthand). The plan lists every
build-on/build-for pair craft-platforms yields, in its order.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import craft_platforms

from workbench.architectures.model import ALL, KNOWN_ARCHS, ModernPlan, PlatformBuild
from workbench.architectures.parse import Collector, NodePath
from workbench.errors import ArchitectureError, Location
from workbench.project import effective_base, project_base
from workbench.yamlpos import Document

Platforms = dict[str, dict[str, list[str]] | None]


def plan_modern(document: Document) -> ModernPlan:
    """The craft-platforms build plan of a core22+ project."""
    base = project_base(document) or ""
    data = document.data
    checker = _Checker(document)
    platforms = checker.core22(data) if base == "core22" else checker.platforms(data)
    checker.check()
    key = "architectures" if base == "core22" else "platforms"
    return plan_platforms(
        data.get("base"),
        platforms,
        build_base=data.get("build-base"),
        snap_type=data.get("type"),
        location=document.locate((key,)),
    )


def plan_platforms(
    base: str | None,
    platforms: Platforms | None,
    *,
    build_base: str | None = None,
    snap_type: str | None = None,
    location: Location | None = None,
) -> ModernPlan:
    """Ask craft-platforms for the plan; its errors become positioned ArchitectureErrors.

    ``base`` and ``build_base`` are passed as the project writes them (``base: bare`` with a
    ``build-base``, a ``type: base`` snap without ``base``): craft-platforms counts them.
    """
    try:
        infos = craft_platforms.snap.get_platforms_snap_build_plan(
            base,  # type: ignore[arg-type]  # None is valid for base/kernel/snapd snaps
            build_base=build_base,
            snap_type=snap_type,
            platforms=platforms,  # type: ignore[arg-type]
        )
    except craft_platforms.CraftPlatformsError as exc:
        raise ArchitectureError(
            f"craft-platforms: {exc.message}", hint=exc.resolution, location=location
        ) from None
    except (ValueError, TypeError, KeyError) as exc:
        raise ArchitectureError(
            f"craft-platforms: {exc}", hint="check the stanza against the docs", location=location
        ) from None
    builds = tuple(PlatformBuild(i.platform, str(i.build_on), str(i.build_for)) for i in infos)
    return ModernPlan(effective_base(base, build_base) or "", builds)


class _Checker(Collector):
    def core22(self, data: Mapping[str, Any]) -> Platforms | None:
        if "platforms" in data:
            self.problem(
                ("platforms",),
                "'platforms' is not supported on core22",
                "use 'architectures' with build-on/build-for, or move to base: core24",
            )
        if "architectures" not in data:
            return None
        raw = data["architectures"]
        root: NodePath = ("architectures",)
        style = self.list_style(raw, root)
        platforms: Platforms = {}
        owner: dict[str, int] = {}
        for i, item in enumerate(raw if style else ()):
            if style == "names":
                name = self.names(item, (*root, i), "architectures", on_all=True)
                pair = (name, name) if name else None
            else:
                pair = self.pair(item, (*root, i), ("build-on", "build-for"))
            if pair is None:
                continue
            build_on, build_for = pair
            target = build_for[0]
            if target in owner:
                self.problem(
                    (*root, i),
                    f"entries {owner[target]} and {i} both build for {target}",
                    "upon release one snap would replace the other; build each arch once",
                )
            owner[target] = i
            platforms[target] = {"build-on": list(build_on), "build-for": list(build_for)}
        return platforms

    def platforms(self, data: Mapping[str, Any]) -> Platforms | None:
        if "architectures" in data:
            self.problem(
                ("architectures",),
                "'architectures' is core22-and-older syntax; core24 and later use 'platforms'",
                "run 'workbench arch convert PATH --to core24' on the core20 project",
            )
        if "platforms" not in data:
            return None
        raw = data["platforms"]
        if not isinstance(raw, Mapping) or not raw:
            self.problem(
                ("platforms",),
                "'platforms' must be a non-empty mapping of platform names",
                "e.g. 'platforms: {amd64: , arm64: }'",
            )
            return None
        platforms: Platforms = {}
        for name, value in raw.items():
            path: NodePath = ("platforms", name)
            if not isinstance(name, str):
                self.problem(path, f"platform name {name!r} is not a string", "quote it")
            elif value is None:
                if name in KNOWN_ARCHS:
                    platforms[name] = None
                else:
                    self.problem(
                        path,
                        f"platform {name!r} needs build-on and build-for",
                        "only a platform named after an architecture may be left empty",
                    )
            else:
                pair = self.pair(value, path, ("build-on", "build-for"), default_for=name)
                if pair is not None:
                    platforms[name] = {"build-on": list(pair[0]), "build-for": list(pair[1])}
        return platforms

    def names(
        self, value: Any, path: NodePath, key: str, *, on_all: bool = False
    ) -> tuple[str, ...] | None:
        names = self.arch_list(value, path, key)
        if names is not None and on_all and ALL in names:
            self.problem(path, f"'all' cannot be used in '{key}'", "build on a real architecture")
            return None
        return names

    def pair(
        self, item: Any, path: NodePath, keys: tuple[str, str], *, default_for: str | None = None
    ) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
        """A validated (build-on, build-for) pair from one entry or platform."""
        on_key, for_key = keys
        if not isinstance(item, Mapping):
            self.problem(path, "must be a mapping with build-on and build-for", "see the docs")
            return None
        for key in item:
            if key not in keys:
                hint = (
                    "core22+ spells it 'build-for'"
                    if key == "run-on"
                    else f"allowed keys: {on_key}, {for_key}"
                )
                self.problem((*path, key), f"unknown key {key!r}", hint)
        if on_key not in item:
            self.problem(path, f"no '{on_key}'", f"e.g. '{on_key}: amd64'")
            return None
        build_on = self.names(item[on_key], (*path, on_key), on_key, on_all=True)
        if for_key in item:
            build_for = self.arch_list(item[for_key], (*path, for_key), for_key)
        elif default_for in KNOWN_ARCHS:
            build_for = (str(default_for),)
        elif default_for is None and build_on is not None:
            build_for = build_on
        else:
            self.problem(path, f"no '{for_key}'", f"e.g. '{for_key}: arm64'")
            return None
        if build_for is not None and len(build_for) != 1:
            implicit = "" if for_key in item else f" (it defaults to '{on_key}')"
            self.problem(
                (*path, for_key),
                f"'{for_key}' names {len(build_for)} architectures{implicit}; it takes one",
                "one snap is built for one architecture: add one entry per target",
            )
            return None
        if build_on is None or build_for is None:
            return None
        return build_on, build_for
