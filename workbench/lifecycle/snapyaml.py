"""``meta/snap.yaml`` and the ``.snap`` file name, from a resolved project (pure).

The input is the exploded, grammar-resolved project as plain data plus the architectures the snap
claims (the resolved run-on). snapcraft-only keys (``parts``, ``adopt-info``, ``build-base``,
templates, ``x-*``) are left out; apps keep their ``command-chain``, plugs and slots.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import yaml

TOP_KEYS = (
    "name",
    "version",
    "summary",
    "description",
    "title",
    "license",
    "base",
    "type",
    "grade",
    "confinement",
    "assumes",
    "epoch",
    "architectures",
    "environment",
    "plugs",
    "slots",
    "layout",
    "hooks",
    "apps",
)
"""The snap.yaml keys copied from the project, in the order they are written."""

APP_DROPPED = frozenset({"adapter", "desktop", "extensions", "templates", "passthrough"})
"""App keys snapcraft consumes itself and never writes to snap.yaml."""


def arch_label(architectures: Sequence[str]) -> str:
    """The architecture part of a snap file name: the one arch, ``all``, or ``multi``."""
    if len(architectures) == 1:
        return architectures[0]
    return "all" if "all" in architectures else "multi"


def snap_file_name(name: str, version: str, architectures: Sequence[str]) -> str:
    """``NAME_VERSION_ARCH.snap`` as snapcraft names it."""
    return f"{name}_{version}_{arch_label(architectures)}.snap"


def snap_yaml_data(project: Mapping[str, Any], architectures: Sequence[str]) -> dict[str, Any]:
    """The snap.yaml mapping for ``project`` claiming ``architectures``."""
    source = {**project, "architectures": list(architectures)}
    if "version" in source:
        source["version"] = str(source["version"])
    data: dict[str, Any] = {}
    for key in TOP_KEYS:
        if source.get(key) is None:
            continue
        value = source[key]
        if key == "apps":
            value = {
                name: {k: v for k, v in (app or {}).items() if k not in APP_DROPPED}
                for name, app in value.items()
            }
        data[key] = value
    passthrough = project.get("passthrough")
    if isinstance(passthrough, Mapping):
        data.update(passthrough)
    return data


def snap_yaml(project: Mapping[str, Any], architectures: Sequence[str]) -> str:
    """The text of ``meta/snap.yaml``."""
    return yaml.safe_dump(
        snap_yaml_data(project, architectures),
        sort_keys=False,
        default_flow_style=False,
        allow_unicode=True,
    )
