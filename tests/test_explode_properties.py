"""Property tests: explode raises nothing but WorkbenchError, and its output is a fixed point."""

from __future__ import annotations

import contextlib
import tempfile
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.errors import WorkbenchError
from workbench.templates import ExplodeOptions, Registry, TemplateContext, explode
from workbench.yamlpos import Document

KEYS = [
    "name", "base", "confinement", "apps", "parts", "templates", "extensions", "plugs",
    "plugin", "after", "source", "stage-packages", "build-environment", "command-chain",
    "environment", "*", "*[plugin=nil]", "gen/part", "other", "on amd64", "to arm64",
    "on amd64 to arm64", "try", "else", "grade@core22", "grade@", "x@core18,core22", "a@b@c",
]  # fmt: skip
WORDS = [
    "core22", "core18", "strict", "devmode", "classic", "nil", "gtk3", "gnome", "gen", "flutter",
    "else fail", "amd64", "", "x",
]  # fmt: skip
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-3, 3),
    st.sampled_from([0.5, -2.25, 1e3]),  # ruamel re-dumps some floats with other digits
    st.sampled_from(WORDS),
    st.text(max_size=6),
)
DATA = st.recursive(
    SCALARS,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.dictionaries(st.sampled_from([*KEYS, 0]), children, max_size=5),
    ),
    max_leaves=30,
)
TEMPLATE_NAMES = st.lists(
    st.sampled_from(["gtk3", "gnome", "gen", "gen", "gen", "nope"]), min_size=1, max_size=3
)
MAPS = st.dictionaries(st.sampled_from(KEYS), DATA, max_size=4)
BODY = st.dictionaries(st.sampled_from(KEYS[7:]), DATA, max_size=4)
BODIES = st.integers(0, 15).flatmap(
    lambda i: DATA if i == 0 else st.sampled_from([None, {}]) if i == 1 else BODY
)


@st.composite
def projects(draw: st.DrawFn) -> dict[Any, Any]:
    """Snapcraft-shaped data with random holes: likely to reach deep into explode."""
    project: dict[Any, Any] = draw(MAPS)
    if draw(st.integers(0, 9)):  # usually a valid base and confinement, sometimes anything
        project["base"] = draw(st.sampled_from(["core22", "core22", "core18", "core24"]))
        project["confinement"] = draw(st.sampled_from(["strict", "devmode"]))
    apps = draw(st.dictionaries(st.sampled_from(["a", "b"]), BODIES))
    for app in apps.values():
        if isinstance(app, dict) and draw(st.booleans()):
            app.pop("extensions", None)
            app["templates"] = draw(TEMPLATE_NAMES)
    project["apps"] = apps
    project["parts"] = draw(st.dictionaries(st.sampled_from(["p", "gen/part", "q"]), BODIES))
    project.pop("extensions", None)
    project["templates"] = draw(TEMPLATE_NAMES)
    return project


@st.composite
def fragments(draw: st.DrawFn) -> Any:
    """Template-shaped output for the "gen" Python template (sometimes anything at all)."""
    if not draw(st.integers(0, 5)):
        return draw(DATA)
    fragment: dict[Any, Any] = draw(MAPS)
    fragment.pop("templates", None)
    fragment.pop("extensions", None)
    fragment["apps"] = {"*": draw(BODY)}
    names = st.sampled_from(["*", "*[plugin=nil]", "gen/part"])
    fragment["parts"] = draw(st.dictionaries(names, BODY))
    return fragment


def options(draw: st.DrawFn) -> ExplodeOptions:
    arch = draw(st.sampled_from([None, ("amd64", "arm64"), ("arm64", "arm64")]))
    return ExplodeOptions(
        base=draw(st.sampled_from([None, None, None, "core22", "core18"])),
        build_on=arch[0] if arch else None,
        build_for=arch[1] if arch else None,
        strict=draw(st.booleans()),
        enable_experimental=draw(st.booleans()),
    )


def registry_with(fragment: Any) -> Registry:
    registry = Registry.default()

    def generated(_context: TemplateContext) -> Any:
        return fragment

    registry.register(
        "gen",
        generated,
        {
            "summary": "generated",
            "bases": ["core18", "core20", "core22", "core24"],
            "confinement": ["strict", "devmode"],
        },
    )
    return registry


SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@SETTINGS
@given(text=st.text(max_size=200))
def test_random_text_only_raises_workbench_errors(text: str) -> None:
    with contextlib.suppress(WorkbenchError):
        explode(text)


@SETTINGS
@given(project=projects(), fragment=fragments(), data=st.data())
def test_random_projects_and_templates_only_raise_workbench_errors(
    project: dict[Any, Any], fragment: Any, data: st.DataObject
) -> None:
    text = yaml.safe_dump(project, sort_keys=False)
    opts = options(data.draw)
    with contextlib.suppress(WorkbenchError):
        explode(text, templates=registry_with(fragment), options=opts)
    with contextlib.suppress(WorkbenchError):
        explode(Document(project, "plain.yaml"), templates=registry_with(fragment), options=opts)


@SETTINGS
@given(project=projects(), fragment=fragments())
def test_exploded_output_is_a_fixed_point(project: dict[Any, Any], fragment: Any) -> None:
    registry = registry_with(fragment)
    try:
        first = explode(yaml.safe_dump(project, sort_keys=False), templates=registry)
    except WorkbenchError:
        return
    second = explode(first.to_yaml(), templates=registry)
    assert second.to_plain() == first.to_plain()
    assert second.overrides == ()
    assert all(origin.template is None for origin in second.origins.values())


@SETTINGS
@given(body=st.one_of(DATA, fragments()), text=st.text(max_size=80), form=st.integers(0, 2))
def test_random_template_files_only_raise_workbench_errors(body: Any, text: str, form: int) -> None:
    meta = {"summary": "s", "bases": ["core22"], "confinement": ["strict"]}
    if form == 2 and isinstance(body, dict):
        body = {"template": meta, **body}
    with tempfile.TemporaryDirectory() as tmp:
        content = text if form == 0 else yaml.safe_dump(body, sort_keys=False)
        Path(tmp, "gen.yaml").write_text(content, encoding="utf-8", errors="surrogatepass")
        project = {"base": "core22", "confinement": "strict", "templates": ["gen"]}
        with contextlib.suppress(WorkbenchError):
            explode(yaml.safe_dump(project), templates=Registry.default([tmp]))
