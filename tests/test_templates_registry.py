"""The registry: built-ins, directories, shadowing, metadata checks, Python-function templates."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from test_templates_helpers import template_dir, tpl

from workbench.errors import SourceError, TemplateError, UsageError
from workbench.templates import ExplodeOptions, Registry, TemplateContext, explode
from workbench.templates.registry import BUILTIN_DIR, env_template_dirs

BUILTINS = ("flutter", "gnome", "gtk3", "kde-neon", "ros1")
PLUGINS = {"ros1": "catkin", "flutter": "flutter", "gnome": "meson", "kde-neon": "cmake"}


def project_for(name: str, base: str) -> str:
    plugin = PLUGINS.get(name, "make")
    return (
        f"name: demo\nbase: {base}\nconfinement: strict\n"
        f"apps:\n  demo:\n    command: bin/demo\n    templates: [{name}]\n"
        f"parts:\n  demo:\n    plugin: {plugin}\n    source: .\n"
    )


def test_builtins_are_the_five_yaml_files() -> None:
    registry = Registry.default()
    assert registry.names() == list(BUILTINS)
    assert sorted(path.stem for path in BUILTIN_DIR.glob("*.yaml")) == list(BUILTINS)


@pytest.mark.parametrize(
    ("name", "base"),
    [(name, base) for name in BUILTINS for base in Registry.default().get(name).info.bases],
)
def test_each_builtin_explodes_for_each_of_its_bases(name: str, base: str) -> None:
    result = explode(
        project_for(name, base), options=ExplodeOptions(enable_experimental=True, strict=True)
    )
    plain = result.to_plain()
    app = plain["apps"]["demo"]
    assert app["command-chain"], "a command-chain entry"
    assert all(chain.startswith(f"snap/command-chain/{name}/") for chain in app["command-chain"])
    assert {"desktop", "network"} & set(app["plugs"])
    own = [part for part in plain["parts"] if part.startswith(f"{name}/")]
    assert own, "a namespaced helper part"
    assert all(plain["parts"][part].get("plugin") for part in own)
    assert not any("@" in path for path in result.provenance)
    assert result.overrides == ()


def test_builtin_metadata() -> None:
    infos = {info.name: info for info in Registry.default().infos()}
    assert infos["gtk3"].bases == ("core18", "core20", "core22")
    assert infos["flutter"].experimental
    assert not infos["gnome"].experimental
    assert all(set(info.confinement) == {"strict", "devmode"} for info in infos.values())
    assert [info.name for info in Registry.default().infos(base="core24")] == ["gnome"]


def test_later_directories_shadow_earlier_ones(tmp_path: Path) -> None:
    first = template_dir(tmp_path / "one", {"gtk3": tpl(), "mine": tpl()})
    second = template_dir(tmp_path / "two", {"mine": tpl()})
    registry = Registry.default([first, second])
    assert [entry.source for entry in registry.definitions("gtk3")] == [
        str(BUILTIN_DIR / "gtk3.yaml"),
        str(first / "gtk3.yaml"),
    ]
    assert registry.get("mine").info.source == str(second / "mine.yaml")
    assert registry.definitions("mine")[0].layer == str(first)


def test_files_that_are_not_template_names_are_ignored(tmp_path: Path) -> None:
    directory = template_dir(tmp_path, {"Bad_Name": "x: [", "ok": tpl()})
    (directory / "notes.txt").write_text("not a template")
    assert "ok" in Registry.default([directory]).names()
    assert "Bad_Name" not in Registry.default([directory]).names()


def test_missing_directory_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="templates directory not found"):
        Registry.default([tmp_path / "nope"])


def test_env_template_dirs() -> None:
    value = os.pathsep.join(["/a", "", "/b"])
    assert env_template_dirs({"WORKBENCH_TEMPLATES_PATH": value}) == [Path("/a"), Path("/b")]
    assert env_template_dirs({}) == []


@pytest.mark.parametrize(
    ("text", "message", "line"),
    [
        ("- a\n", "must be a mapping", 1),
        ("apps: {}\n", "no 'template:' metadata", 1),
        ("template:\n  bases: [core22]\n", "needs a summary", 1),
        ("template:\n  summary: s\n  bases: []\n", "lists no bases", 3),
        ("template:\n  summary: s\n  bases: core22\n", "bases must be a list of names", 3),
        ("template:\n  summary: s\n  bases: [core22]\n  confinement: [free]\n", "'free'", 4),
        ("template:\n  summary: s\n  bases: [core22]\n  experimental: 1\n", "true or false", 4),
        ("template:\n  summary: s\n  bases: [core22]\n  colour: red\n", "'colour'", 4),
        ("template:\n  summary: s\n  bases: [core22\n", "invalid YAML", 4),
    ],
)
def test_metadata_errors_have_positions(tmp_path: Path, text: str, message: str, line: int) -> None:
    registry = Registry.default([template_dir(tmp_path, {"bad": text})])
    with pytest.raises(SourceError, match=message) as info:
        registry.get("bad")
    location = info.value.location
    assert location is not None
    assert location.file == str(tmp_path / "templates" / "bad.yaml")
    assert location.line == line


def desktop(context: TemplateContext) -> dict[str, Any]:
    """A procedural template: one plug per app that uses it, a part per base."""
    return {
        "apps": {"*": {"plugs": ["desktop"], "environment": {"APPS": ",".join(context.apps)}}},
        "parts": {"*": {"after": ["proc/helper"]}, "proc/helper": {"plugin": "nil"}},
        "grade@core22": "stable",
        "grade@": "devel",
    }


def test_python_function_templates_obey_the_same_rules() -> None:
    registry = Registry.default()
    registry.register("proc", desktop, {"summary": "procedural", "bases": ["core20", "core22"]})
    project = (
        "base: core22\nconfinement: strict\ntemplates: [proc]\n"
        "apps:\n  a: {plugs: [desktop, home]}\n  b: {}\nparts:\n  p: {plugin: nil}\n"
    )
    result = explode(project, templates=registry)
    plain = result.to_plain()
    assert plain["apps"]["a"] == {"plugs": ["desktop", "home"], "environment": {"APPS": "a,b"}}
    assert plain["parts"]["p"] == {"plugin": "nil", "after": ["proc/helper"]}
    assert plain["grade"] == "stable"
    origin = result.origins["parts.proc/helper"]
    assert str(origin) == "template proc (test_templates_registry.desktop)"
    assert registry.get("proc").info.source == "test_templates_registry.desktop"
    assert explode(project.replace("core22", "core20"), templates=registry).project["grade"] == (
        "devel"
    )


def test_python_templates_shadow_files_and_are_checked() -> None:
    registry = Registry.default()
    registry.register(
        "gtk3", lambda _c: {"apps": {"web": {}}}, {"summary": "s", "bases": ["core22"]}
    )
    assert registry.definitions("gtk3")[-1].layer == "python"
    with pytest.raises(TemplateError, match="names app 'web'"):
        explode("base: core22\nconfinement: strict\ntemplates: [gtk3]\n", templates=registry)


@pytest.mark.parametrize(
    ("output", "message"),
    [
        (["not", "a", "dict"], "returned list, not a mapping"),
        ({1: "x"}, "non-string key"),
        ({"x": {1, 2}}, "set, which is not YAML data"),
        ({"template": {}}, "returned a 'template' key"),
    ],
)
def test_python_template_output_must_be_yaml_data(output: Any, message: str) -> None:
    registry = Registry.default()
    registry.register("bad", lambda _c: output, {"summary": "s", "bases": ["core22"]})
    with pytest.raises(TemplateError, match=message):
        explode("base: core22\nconfinement: strict\ntemplates: [bad]\n", templates=registry)


def test_python_template_metadata_is_checked() -> None:
    registry = Registry()
    with pytest.raises(TemplateError, match="lists no bases"):
        registry.register("x", desktop, {"summary": "s", "bases": []})
    with pytest.raises(TemplateError, match="invalid template name"):
        registry.register("X Y", desktop, {"summary": "s", "bases": ["core22"]})


def test_python_templates_see_the_project_exploded_so_far() -> None:
    seen: list[TemplateContext] = []

    def record(context: TemplateContext) -> dict[str, Any]:
        seen.append(context)
        return {"summary": f"{context.project['summary']} with {sorted(context.project)}"}

    registry = Registry.default()
    registry.register("zz", record, {"summary": "s", "bases": ["core22"]})
    project = "summary: x\nbase: core22\nconfinement: strict\ntemplates: [gnome, zz]\napps: {a: {}}"
    result = explode(project, templates=registry)
    [context] = seen
    assert (context.base, context.apps, context.parts) == ("core22", ("a",), ("gnome/launcher",))
    assert "environment" in context.project  # gnome (applied first) added it
    assert "templates" in context.project  # the lists go only at the end
    assert result.project["summary"] == "x"
    assert [o.path for o in result.overrides] == ["summary"]
