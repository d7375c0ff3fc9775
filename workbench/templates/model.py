"""Templates as data: metadata, loading from YAML files or Python functions, structural checks.

A template is a snapcraft.yaml-shaped fragment plus a ``template:`` metadata mapping::

    template:
      summary: GTK 3 desktop applications   # required
      bases: [core18, core20]               # required: the project bases it supports
      confinement: [strict, devmode]        # optional, default [strict]
      experimental: false                   # optional; true needs enable_experimental
    apps: {"*": {...}}                      # merged into every app that uses the template
    parts: {"*": {...}, "*[plugin=X]": {...}, "NAME/part": {...}}
    <any other key>: merged into the project root

A Python-function template gets the same metadata mapping (:class:`TemplateMetadata`) at
registration and returns the fragment (without ``template:``) from a :class:`TemplateContext`;
its output obeys the same rules.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NotRequired, TypedDict

from workbench.errors import Location, TemplateError
from workbench.templates.provenance import Tree
from workbench.yamlpos import Document, load_file

NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
BASE_PATTERN = re.compile(r"^[a-z0-9][a-z0-9.-]*$")
CONFINEMENTS = ("strict", "devmode", "classic")
METADATA_KEYS = ("summary", "bases", "confinement", "experimental")
PLUGIN_SNIPPET = re.compile(r"^\*\[plugin=(?P<plugin>[^\]\s]+)\]$")
TEMPLATE_LIST_KEYS = ("templates", "extensions")


class TemplateMetadata(TypedDict):
    """The ``template:`` mapping of a YAML template, given as a dict to a Python one."""

    summary: str
    bases: list[str]
    confinement: NotRequired[list[str]]
    experimental: NotRequired[bool]


@dataclass(frozen=True)
class TemplateInfo:
    """A template's metadata and where it was defined (a file path or ``module.function``)."""

    name: str
    summary: str
    bases: tuple[str, ...]
    confinement: tuple[str, ...]
    experimental: bool
    source: str

    def to_json(self) -> dict[str, Any]:
        """JSON-ready metadata."""
        return {
            "name": self.name,
            "summary": self.summary,
            "bases": list(self.bases),
            "confinement": list(self.confinement),
            "experimental": self.experimental,
            "source": self.source,
        }


@dataclass(frozen=True)
class TemplateContext:
    """Where a template is being applied: what a Python-function template is called with.

    ``base`` is the base selectors resolve against, ``apps`` the apps that use the template,
    ``parts`` the parts that exist when it is applied; :attr:`project` is the project exploded so
    far, as plain data.
    """

    base: str | None
    apps: tuple[str, ...]
    parts: tuple[str, ...]
    snapshot: Callable[[], dict[str, Any]] = field(repr=False)

    @functools.cached_property
    def project(self) -> dict[str, Any]:
        """A plain copy of the project exploded so far (made on first use)."""
        return self.snapshot()


TemplateFunction = Callable[[TemplateContext], Mapping[str, Any]]


@dataclass(frozen=True)
class Template:
    """Metadata plus ``build``, which returns the fragment for a context as a Document."""

    info: TemplateInfo
    build: Callable[[TemplateContext], Document]


def load_template(path: Path, name: str) -> Template:
    """Load and check a YAML template file; errors carry the file, line and column."""
    doc = load_file(path)
    data = doc.data
    if not isinstance(data, Mapping):
        raise TemplateError(
            f"template {name} must be a mapping",
            hint="start the file with a 'template:' metadata mapping",
            location=doc.locate(()),
        )
    meta = data.get("template")
    if not isinstance(meta, Mapping):
        raise TemplateError(
            f"template {name} has no 'template:' metadata mapping",
            hint="add template: {summary: ..., bases: [...]}",
            location=doc.locate(("template",)),
        )
    info = make_info(name, meta, source=str(path), where=lambda key: doc.locate(("template", key)))
    return Template(info=info, build=lambda _context: doc)


def function_template(
    name: str, function: TemplateFunction, metadata: TemplateMetadata
) -> Template:
    """A template whose fragment is computed by ``function(context)``."""
    source = f"{getattr(function, '__module__', '?')}.{getattr(function, '__qualname__', '?')}"
    info = make_info(
        name,
        metadata,
        source=source,
        where=lambda key: Location(file=source, path=f"template.{key}"),
    )

    def build(context: TemplateContext) -> Document:
        output = function(context)
        if not isinstance(output, Mapping):
            raise TemplateError(
                f"template {name} returned {type(output).__name__}, not a mapping",
                hint="return a snapcraft.yaml-shaped dict",
                location=Location(file=source),
            )
        _check_plain(output, name, source, ())
        if "template" in output:
            raise TemplateError(
                f"template {name} returned a 'template' key",
                hint="give the metadata when registering the function",
                location=Location(file=source, path="template"),
            )
        return Document(data=output, file=source)

    return Template(info=info, build=build)


def make_info(
    name: str,
    metadata: Mapping[str, object],
    *,
    source: str,
    where: Callable[[str], Location],
) -> TemplateInfo:
    """Check raw ``template:`` metadata (see :class:`TemplateMetadata`) and build the
    :class:`TemplateInfo`; ``where`` positions a metadata key."""
    unknown = [key for key in metadata if key not in METADATA_KEYS]
    if unknown:
        raise TemplateError(
            f"unknown template metadata key {unknown[0]!r}",
            hint=f"use {', '.join(METADATA_KEYS)}",
            location=where(unknown[0]),
        )
    summary = metadata.get("summary")
    confinement = metadata.get("confinement", ["strict"])
    experimental = metadata.get("experimental", False)
    if not isinstance(name, str) or not NAME_PATTERN.match(name):
        raise TemplateError(
            f"invalid template name {name!r}",
            hint="use lower-case letters, digits and dashes",
            location=Location(file=source),
        )
    if not isinstance(summary, str) or not summary.strip():
        raise TemplateError(
            f"template {name} needs a summary",
            hint="add template.summary: one line of text",
            location=where("summary"),
        )
    base_list = _names(metadata.get("bases"), name, "bases", BASE_PATTERN, where)
    if not base_list:
        raise TemplateError(
            f"template {name} lists no bases",
            hint="add template.bases: [core22, ...]",
            location=where("bases"),
        )
    confinement_list = _names(confinement, name, "confinement", NAME_PATTERN, where)
    wrong = [value for value in confinement_list if value not in CONFINEMENTS]
    if wrong or not confinement_list:
        raise TemplateError(
            f"template {name} has invalid confinement {(wrong or [''])[0]!r}",
            hint=f"use a non-empty list of {', '.join(CONFINEMENTS)}",
            location=where("confinement"),
        )
    if not isinstance(experimental, bool):
        raise TemplateError(
            f"template {name}: experimental must be true or false",
            location=where("experimental"),
        )
    return TemplateInfo(
        name=name,
        summary=summary.strip(),
        bases=tuple(base_list),
        confinement=tuple(confinement_list),
        experimental=experimental,
        source=source,
    )


def _names(
    value: Any, name: str, key: str, pattern: re.Pattern[str], where: Callable[[str], Location]
) -> list[str]:
    if not isinstance(value, list) or not all(
        isinstance(item, str) and pattern.match(item) for item in value
    ):
        raise TemplateError(
            f"template {name}: {key} must be a list of names",
            hint=f"write {key}: [name, ...]",
            location=where(key),
        )
    return [str(item) for item in value]


_SCALARS = (str, int, float, bool, type(None), datetime.date)


def _check_plain(value: Any, name: str, source: str, path: tuple[str | int, ...]) -> None:
    """A function template's output must be YAML data: str keys, lists, scalars."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            if not isinstance(key, str):
                raise TemplateError(
                    f"template {name} returned a non-string key {key!r}",
                    location=Location(file=source),
                )
            _check_plain(item, name, source, (*path, key))
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            _check_plain(item, name, source, (*path, index))
    elif not isinstance(value, _SCALARS):
        raise TemplateError(
            f"template {name} returned a {type(value).__name__}, which is not YAML data",
            hint="use dicts, lists, strings, numbers, booleans or None",
            location=Location(file=source),
        )


def check_fragment(fragment: Tree, name: str) -> None:
    """Structural rules for a resolved template: app ``*`` only, namespaced parts, no nesting."""
    root = fragment.data
    for key in TEMPLATE_LIST_KEYS:
        if key in root:
            raise TemplateError(
                f"template {name} names templates itself ({key!r})",
                hint="templates cannot use other templates",
                location=fragment.origin(root, key).location,
            )
    for section in ("apps", "parts"):
        if section in root and not isinstance(root[section], Mapping):
            raise TemplateError(
                f"template {name}: {section!r} must be a mapping",
                location=fragment.origin(root, section).location,
            )
    apps = root.get("apps") or {}
    for app in apps:
        if app != "*":
            raise TemplateError(
                f"template {name} names app {app!r}",
                hint='a template may only use the app name "*" (every app that uses it)',
                location=fragment.origin(apps, app).location,
            )
        _check_mapping(fragment, apps, app, name)
    parts = root.get("parts") or {}
    for part in parts:
        if not isinstance(part, str) or not (
            part == "*" or PLUGIN_SNIPPET.match(part) or _namespaced(part, name)
        ):
            raise TemplateError(
                f"template {name} adds part {part!r}, which is not namespaced",
                hint=f'name it "{name}/{part}", or use "*" or "*[plugin=NAME]" for snippets',
                location=fragment.origin(parts, part).location,
            )
        _check_mapping(fragment, parts, part, name)


def _namespaced(part: str, name: str) -> bool:
    prefix, _, rest = part.partition("/")
    return prefix == name and bool(rest)


def _check_mapping(fragment: Tree, parent: Mapping[str, Any], key: str, name: str) -> None:
    if not isinstance(parent[key], Mapping):
        raise TemplateError(
            f"template {name}: {key!r} must be a mapping",
            location=fragment.origin(parent, key).location,
        )


def plugin_snippet(parts: Mapping[str, Any], plugin: Any) -> str | None:
    """The snippet key of a template's ``parts`` for a part with ``plugin``: the
    ``*[plugin=X]`` that matches, else ``*``, else None."""
    if isinstance(plugin, str) and f"*[plugin={plugin}]" in parts:
        return f"*[plugin={plugin}]"
    return "*" if "*" in parts else None
