"""Which templates a project names, for which apps: read while checking the shape explode needs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, NoReturn

from workbench.errors import Location, SourceError
from workbench.templates.model import TEMPLATE_LIST_KEYS
from workbench.yamlpos import KeyPath

Locator = Callable[[KeyPath], Location]


@dataclass
class Usage:
    """Which templates the project names, for which apps, and where (for error positions)."""

    apps: dict[str, list[str]] = field(default_factory=dict)
    named_at: dict[str, KeyPath] = field(default_factory=dict)

    def names(self) -> list[str]:
        """The templates to apply, in the order they are applied (sorted by name)."""
        return sorted(self.named_at)


def check_project(data: Any, locate: Locator) -> Usage:
    """Check the shape explode relies on and collect the template usage.

    ``locate`` turns a key path into a position (``Document.locate`` for the input; the tree's
    origins for an exploded result, which must pass the same checks).
    """
    if not isinstance(data, Mapping):
        raise SourceError(
            "a project must be a mapping of keys",
            hint="to read a file pass a pathlib.Path; a str is YAML text",
            location=locate(()),
        )
    for key in ("base", "confinement"):
        if key in data and not isinstance(data[key], str):
            _fail(locate, (key,), f"{key!r} must be a string")
    usage = Usage()
    root_names, root_path = _template_list(locate, data, ()) or ([], ())
    for section in ("apps", "parts"):
        if data.get(section) is None:
            continue
        entries = data[section]
        if not isinstance(entries, Mapping):
            _fail(locate, (section,), f"{section!r} must be a mapping of names")
        for name, value in entries.items():
            if not isinstance(name, str):
                _fail(locate, (section, name), f"{section} names must be strings, not {name!r}")
            if value is not None and not isinstance(value, Mapping):
                _fail(locate, (section, name), f"{section}.{name} must be a mapping")
            if section == "parts":
                plugin = (value or {}).get("plugin")
                if plugin is not None and not isinstance(plugin, str):
                    _fail(locate, (section, name, "plugin"), "plugin must be a string")
                continue
            own = _template_list(locate, value or {}, ("apps", name))
            chosen, where = own if own is not None else (root_names, root_path)
            for template in chosen:
                usage.apps.setdefault(template, []).append(name)
                usage.named_at.setdefault(template, (*where, chosen.index(template)))
    for template in root_names:
        usage.named_at.setdefault(template, (*root_path, root_names.index(template)))
    return usage


def _template_list(
    locate: Locator, node: Mapping[Any, Any], path: tuple[str, ...]
) -> tuple[list[str], tuple[str, ...]] | None:
    """The ``templates:`` (or alias ``extensions:``) list of ``node``, and its key path."""
    present = [key for key in TEMPLATE_LIST_KEYS if key in node]
    if not present:
        return None
    if len(present) > 1:
        _fail(locate, (*path, present[1]), "use either 'templates' or 'extensions', not both")
    key = present[0]
    names = node[key]
    if names is None:
        names = []
    if not isinstance(names, list) or not all(isinstance(name, str) for name in names):
        _fail(locate, (*path, key), f"{key!r} must be a list of template names")
    return [str(name) for name in names], (*path, key)


def _fail(locate: Locator, path: KeyPath, brief: str) -> NoReturn:
    raise SourceError(brief, hint="fix the value at this position", location=locate(path))
