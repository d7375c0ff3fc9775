"""Explode a project: apply its templates and say where every value came from.

Each template named by an app's ``templates:`` (alias ``extensions:``) or the root ``templates:``
list (for apps without a list of their own) is applied once, in sorted order of name. For each:
its root keys are merged into the project root, its ``apps."*"`` snippet into each app using it,
its part snippets (``"*[plugin=X]"`` instead of ``"*"`` for parts with that plugin) into every part
existing at that point, and finally its own ``NAME/...`` parts are added. The template lists are
then removed, so exploding an exploded project changes nothing. See
:mod:`workbench.templates.merge` for the merge rules.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from workbench.errors import Location, SourceError, TemplateError
from workbench.project import is_modern, load_project
from workbench.templates.checks import check_loaded
from workbench.templates.decline import (
    DECLINE_KEY,
    Declined,
    Declines,
    Request,
    build_tree,
    combine,
    read_declines,
    subtree,
)
from workbench.templates.grammar import check_architectures, resolve_grammar
from workbench.templates.merge import Merger, SourceNode
from workbench.templates.model import (
    TEMPLATE_LIST_KEYS,
    Template,
    TemplateContext,
    TemplateInfo,
    check_fragment,
    plugin_snippet,
)
from workbench.templates.provenance import Origin, Override, Tree
from workbench.templates.registry import Registry
from workbench.templates.selectors import resolve
from workbench.templates.text import to_yaml
from workbench.templates.usage import Usage, check_project
from workbench.yamlpos import Document, load_text, to_json, to_plain

ProjectInput = str | os.PathLike[str] | Document
"""A path to snapcraft.yaml or its project directory, YAML text (a ``str`` is never a file
name), or a loaded Document."""
Templates = Registry | str | os.PathLike[str] | Sequence[str | os.PathLike[str]] | None


@dataclass(frozen=True)
class Exploded:
    """An exploded project: its data (values as snapcraft reads them), per-path origins (looked
    up on first use), and the overrides that happened."""

    tree: Tree
    overrides: tuple[Override, ...]
    templates: tuple[str, ...]
    file: str
    confinement_rule: str = ""
    declined: tuple[Declined, ...] = ()

    @property
    def project(self) -> Any:
        """The exploded project: plain dicts, lists and PyYAML (YAML 1.1) scalars."""
        return self.tree.data

    @functools.cached_property
    def origins(self) -> dict[str, Origin]:
        """Key path -> :class:`Origin`, in document order."""
        return self.tree.provenance()

    @property
    def provenance(self) -> dict[str, str]:
        """Key path -> ``"template gtk3 (gtk3.yaml:9:5)"`` or ``"project (snapcraft.yaml:3:5)"``."""
        return {path: str(origin) for path, origin in self.origins.items()}

    def to_yaml(self) -> str:
        """The exploded project as YAML, keeping the sources' comments, spelling and key order."""
        return to_yaml(self.tree)

    def to_plain(self) -> dict[str, Any]:
        """The exploded project as plain dicts and lists."""
        plain: dict[str, Any] = to_plain(self.project)
        return plain

    def report(self) -> dict[str, Any]:
        """``{"project", "provenance", "overrides", "declined", "confinement_rule"}``
        (JSON-ready)."""
        return {
            "project": self.to_plain(),
            "provenance": self.provenance,
            "overrides": [override.to_json() for override in self.overrides],
            "declined": [declined.to_json() for declined in self.declined],
            "confinement_rule": self.confinement_rule,
        }

    def to_json(self) -> str:
        """The exploded project as indented JSON."""
        return to_json(self.project)


@dataclass(frozen=True)
class ExplodeOptions:
    """How to explode: ``base`` replaces the project's base for template checks and selectors;
    ``build_on``/``build_for`` (both or neither) resolve advanced grammar; ``strict`` turns every
    override into an error; ``enable_experimental`` allows experimental templates."""

    base: str | None = None
    build_on: str | None = None
    build_for: str | None = None
    strict: bool = False
    enable_experimental: bool = False


def explode(
    project: ProjectInput,
    *,
    templates: Templates = None,
    options: ExplodeOptions = ExplodeOptions(),
) -> Exploded:
    """Apply the project's templates; the input (file or Document) is never modified.

    ``project``: a ``pathlib.Path`` to snapcraft.yaml or its project directory, YAML text
    (``str``) or a loaded :class:`~workbench.yamlpos.Document`. ``templates``: a
    :class:`Registry`, or template directories to add above the built-ins (None: built-ins only).
    """
    arch = check_architectures(options.build_on, options.build_for)
    registry = templates if isinstance(templates, Registry) else Registry.default(_dirs(templates))
    doc = _document(project)
    try:
        return _explode(doc, registry, options, arch)
    except RecursionError:
        raise SourceError(
            "project or template is nested too deeply",
            hint="flatten the structure",
            location=doc.locate(()),
        ) from None


def _document(project: ProjectInput) -> Document:
    if isinstance(project, Document):
        return project
    if isinstance(project, str):
        return load_text(project, file="<project>")
    return load_project(project)


def _dirs(templates: Templates) -> list[str | os.PathLike[str]]:
    if templates is None or isinstance(templates, Registry):
        return []
    if isinstance(templates, str | os.PathLike):
        return [templates]
    return list(templates)


def _explode(
    doc: Document, registry: Registry, options: ExplodeOptions, arch: tuple[str, str] | None
) -> Exploded:
    usage = check_project(doc.data, doc.locate)
    base, project_base = options.base, doc.data.get("base")
    confinement = doc.data.get("confinement")
    checks = _Checks(
        base=base if base is not None else project_base,
        base_at=doc.locate(("base",)) if base is None and project_base else None,
        confinement=confinement,
        confinement_at=doc.locate(("confinement",)) if confinement else None,
        experimental=options.enable_experimental,
    )
    declines = read_declines(doc.data, doc.locate, _users(doc.data, usage))
    tree = Tree.from_document(doc, template=None)
    merger = Merger(tree, strict=options.strict)
    for name in usage.names():
        where = doc.locate(usage.named_at[name])
        template = registry.get(name, location=where)
        checks.check(template.info, where)
        _apply(merger, template, usage, base=checks.base, declines=declines.get(name, []))
    _remove_template_lists(tree)
    check_project(tree.data, tree.locate)
    check_loaded(tree.data, checks.base, tree.locate)
    if arch is not None:
        resolve_grammar(tree, build_on=arch[0], build_for=arch[1])
    return Exploded(
        tree=tree,
        overrides=tuple(merger.overrides),
        templates=tuple(usage.names()),
        file=doc.file,
        confinement_rule=checks.rule,
        declined=tuple(merger.declined),
    )


def _users(data: Mapping[str, Any], usage: Usage) -> dict[tuple[str, ...], list[str]]:
    """Which templates each owner of a ``decline`` may name: those it uses (every template for
    the root and for parts, which every template's part snippets reach)."""
    users: dict[tuple[str, ...], list[str]] = {(): usage.names()}
    for template, apps in usage.apps.items():
        for app in apps:
            users.setdefault(("apps", app), []).append(template)
    for part in data.get("parts") or ():
        users[("parts", str(part))] = usage.names()
    return users


@dataclass(frozen=True)
class _Checks:
    """What a template's metadata is checked against, read from the project before any merge."""

    base: str | None
    base_at: Location | None
    confinement: str | None
    confinement_at: Location | None
    experimental: bool

    @property
    def modern(self) -> bool:
        """snapcraft 7 and later (core22+) check only a confinement that is set."""
        return is_modern(self.base)

    @property
    def rule(self) -> str:
        """Which era's confinement rule applies, in words."""
        if self.modern:
            return (
                f"snapcraft 7+ (base {self.base}): only a confinement that is set is checked "
                "against what a template supports"
            )
        return (
            f"snapcraft 3/4 (base {self.base or 'core'}): an absent confinement counts as "
            "devmode when checking what a template supports"
        )

    def check(self, info: TemplateInfo, where: Location) -> None:
        """Refuse a template that is experimental (unless enabled), or wrong for base or
        confinement; ``where`` is the entry naming it."""
        if info.experimental and not self.experimental:
            raise TemplateError(
                f"template {info.name} is experimental",
                hint="pass --enable-experimental or set WORKBENCH_EXPERIMENTAL=1",
                location=where,
            )
        if self.base not in info.bases:
            stated = f"base {self.base!r}" if self.base else "no base"
            raise TemplateError(
                f"template {info.name} does not support {stated}",
                hint=f"supported bases: {', '.join(info.bases)}",
                location=self.base_at or where,
            )
        if self.modern and not self.confinement:
            return
        if (self.confinement or "devmode") not in info.confinement:
            stated = (
                f"confinement {self.confinement!r}"
                if self.confinement
                else "devmode (no confinement)"
            )
            raise TemplateError(
                f"template {info.name} does not support {stated}",
                hint=f"supported confinement: {', '.join(info.confinement)}",
                location=self.confinement_at or where,
            )


def _apply(
    merger: Merger, template: Template, usage: Usage, *, base: str | None, declines: list[Request]
) -> None:
    tree, name = merger.tree, template.info.name
    root = tree.data
    context = TemplateContext(
        base=base,
        apps=tuple(usage.apps.get(name, ())),
        parts=tuple(root.get("parts") or ()),
        snapshot=lambda: to_plain(root),
    )
    fragment = resolve(template.build(context), template=name, base=base)
    check_fragment(fragment, name)
    frag = fragment.data
    snippets = frag.get("apps") or {}
    frag_parts = frag.get("parts") or {}
    parts = root.get("parts")

    def snippet_of(owner: tuple[str, ...]) -> Any:
        if owner[0] == "apps":
            return snippets.get("*")
        key = plugin_snippet(frag_parts, (parts[owner[1]] or {}).get("plugin"))
        return frag_parts.get(key) if key is not None else None

    declined: Declines | Location | None = None
    for request in declines:
        node = frag if not request.owner else snippet_of(request.owner)
        own_tree: Declines | Location | None = build_tree(name, node, request.entries)
        if request.owner:
            own_tree = {request.owner[0]: {request.owner[1]: own_tree}}  # type: ignore[dict-item]
        declined = combine(declined, own_tree)
    for key in frag:
        if key not in ("apps", "parts"):
            merger.merge(
                root,
                key,
                SourceNode(fragment, frag, key),
                path=(key,),
                decline=subtree(declined, key),
            )
    if "*" in snippets:
        for app in usage.apps.get(name, ()):
            merger.merge(
                root["apps"],
                app,
                SourceNode(fragment, snippets, "*"),
                path=("apps", app),
                decline=combine(subtree(declined, "apps", "*"), subtree(declined, "apps", app)),
            )
    if isinstance(parts, Mapping):
        for part in list(parts):
            snippet = plugin_snippet(frag_parts, (parts[part] or {}).get("plugin"))
            if snippet is not None:
                merger.merge(
                    parts,
                    part,
                    SourceNode(fragment, frag_parts, snippet),
                    path=("parts", part),
                    decline=combine(
                        subtree(declined, "parts", snippet), subtree(declined, "parts", part)
                    ),
                )
    own = [part for part in frag_parts if not part.startswith("*")]
    if not own:
        return
    if not isinstance(root.get("parts"), Mapping):
        tree.set(root, "parts", tree.new_map(), fragment.origin(frag, "parts"))
    parts = root["parts"]
    for part in own:
        if part in parts:
            project_at = tree.origin(parts, part)
            raise TemplateError(
                f"template {name} adds part {part!r}, which the project already has",
                hint=f"rename the project's part at {project_at.where}",
                location=fragment.origin(frag_parts, part).location,
            )
        merger.merge(
            parts,
            part,
            SourceNode(fragment, frag_parts, part),
            path=("parts", part),
            decline=subtree(declined, "parts", part),
        )


def _remove_template_lists(tree: Tree) -> None:
    root = tree.data
    template_keys: tuple[str, ...] = (*TEMPLATE_LIST_KEYS, DECLINE_KEY)
    nodes: list[tuple[Any, tuple[str, ...]]] = [(root, template_keys)]
    for section, removed in (("apps", template_keys), ("parts", (DECLINE_KEY,))):
        entries = root.get(section)
        if isinstance(entries, Mapping):
            nodes.extend((node, removed) for node in entries.values())
    for node, keys in nodes:
        if isinstance(node, Mapping):
            for key in keys:
                if key in node:
                    tree.delete(node, key)
