"""explode(): order, snippets, namespacing, checks, errors with positions, idempotence, inputs."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
import yaml
from test_templates_helpers import position, run, template_dir, tpl

from workbench.errors import SourceError, TemplateError
from workbench.templates import Registry, explode
from workbench.yamlpos import load_text, to_plain

PROJECT = """\
name: demo
base: core22
confinement: strict
apps:
  a:
    command: bin/a
    templates: [t]
  b:
    command: bin/b
parts:
  py:
    plugin: python
  mk:
    plugin: make
"""

SNIPPETS = tpl(
    """\
    apps:
      "*":
        plugs: [desktop]
    parts:
      "*":
        after: [t/helper]
      "*[plugin=python]":
        build-environment: [{PIP_NO_CACHE_DIR: "1"}]
      t/helper:
        plugin: nil
    """
)


def test_app_snippet_goes_only_to_apps_that_name_the_template(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT, {"t": SNIPPETS})
    apps = result.to_plain()["apps"]
    assert apps["a"] == {"command": "bin/a", "plugs": ["desktop"]}
    assert apps["b"] == {"command": "bin/b"}


def test_plugin_snippet_replaces_the_star_snippet(tmp_path: Path) -> None:
    parts = run(tmp_path, PROJECT, {"t": SNIPPETS}).to_plain()["parts"]
    assert parts["py"] == {"plugin": "python", "build-environment": [{"PIP_NO_CACHE_DIR": "1"}]}
    assert parts["mk"] == {"plugin": "make", "after": ["t/helper"]}


def test_own_parts_are_added_after_the_snippets(tmp_path: Path) -> None:
    parts = run(tmp_path, PROJECT, {"t": SNIPPETS}).to_plain()["parts"]
    assert list(parts) == ["py", "mk", "t/helper"]
    assert parts["t/helper"] == {"plugin": "nil"}


def test_template_lists_are_removed(tmp_path: Path) -> None:
    project = PROJECT.replace("templates: [t]", "extensions: [t]") + "templates: [t]\n"
    plain = run(tmp_path, project, {"t": SNIPPETS}).to_plain()
    assert "templates" not in plain
    assert "extensions" not in plain["apps"]["a"]


def test_root_list_applies_to_apps_without_their_own(tmp_path: Path) -> None:
    project = PROJECT.replace("templates: [t]", "templates: []") + "templates: [t]\n"
    apps = run(tmp_path, project, {"t": SNIPPETS}).to_plain()["apps"]
    assert "plugs" not in apps["a"]
    assert apps["b"]["plugs"] == ["desktop"]


def test_a_template_named_only_at_the_root_still_adds_root_keys_and_parts(tmp_path: Path) -> None:
    project = "name: x\nbase: core22\nconfinement: strict\ntemplates: [t]\n"
    plain = run(tmp_path, project, {"t": SNIPPETS + "grade: stable\n"}).to_plain()
    assert plain["grade"] == "stable"
    assert plain["parts"] == {"t/helper": {"plugin": "nil"}}


def test_templates_apply_in_sorted_order_each_once(tmp_path: Path) -> None:
    project = PROJECT.replace("templates: [t]", "templates: [zz, aa, zz]")
    templates = {
        "aa": tpl('apps:\n  "*":\n    command-chain: [aa-chain]\n'),
        "zz": tpl('apps:\n  "*":\n    command-chain: [zz-chain]\n'),
    }
    result = run(tmp_path, project, templates)
    assert result.templates == ("aa", "zz")
    assert list(result.project["apps"]["a"]["command-chain"]) == ["zz-chain", "aa-chain"]


def test_part_snippets_reach_parts_added_by_earlier_templates(tmp_path: Path) -> None:
    project = PROJECT.replace("templates: [t]", "templates: [aa, bb]")
    templates = {
        "aa": tpl("parts:\n  aa/lib:\n    plugin: nil\n"),
        "bb": tpl("parts:\n  '*':\n    after: [bb/lib]\n  bb/lib:\n    plugin: nil\n"),
    }
    parts = run(tmp_path, project, templates).to_plain()["parts"]
    assert parts["aa/lib"]["after"] == ["bb/lib"]
    assert "after" not in parts["bb/lib"]


def test_null_app_and_part_bodies_receive_snippets(tmp_path: Path) -> None:
    project = "base: core22\nconfinement: strict\ntemplates: [t]\napps:\n  a:\nparts:\n  p:\n"
    plain = run(tmp_path, project, {"t": SNIPPETS}).to_plain()
    assert plain["apps"]["a"] == {"plugs": ["desktop"]}
    assert plain["parts"]["p"] == {"after": ["t/helper"]}


def test_project_comments_and_key_order_are_kept_and_input_untouched(tmp_path: Path) -> None:
    project = PROJECT.replace("command: bin/a", "command: bin/a  # the command")
    doc = load_text(project, file="snapcraft.yaml")
    before = to_plain(doc.data)
    result = explode(doc, templates=Registry.default([template_dir(tmp_path, {"t": SNIPPETS})]))
    assert to_plain(doc.data) == before
    text = result.to_yaml()
    assert "command: bin/a  # the command" in text
    assert text.index("name: demo") < text.index("apps:") < text.index("parts:")


@pytest.mark.parametrize(
    ("template", "needle", "message"),
    [
        (tpl("apps:\n  web:\n    plugs: [x]\n"), "web", "names app 'web'"),
        (tpl("parts:\n  helper:\n    plugin: nil\n"), "helper", "is not namespaced"),
        (tpl("parts:\n  other/helper:\n    plugin: nil\n"), "other/helper", "not namespaced"),
        (tpl("parts:\n  '*[plugin=]':\n    plugin: nil\n"), "'*[plugin=]'", "not namespaced"),
        (tpl("templates: [x]\n"), "templates: [x]", "names templates itself"),
        (tpl("apps: [x]\n"), "apps: [x]", "'apps' must be a mapping"),
        (tpl("parts:\n  t/x: [1]\n"), "t/x", "'t/x' must be a mapping"),
    ],
)
def test_template_structure_errors_point_into_the_template(
    tmp_path: Path, template: str, needle: str, message: str
) -> None:
    with pytest.raises(TemplateError, match=message) as info:
        run(tmp_path, PROJECT, {"t": template})
    loc = info.value.location
    assert loc is not None
    assert loc.file == str(tmp_path / "templates" / "t.yaml")
    assert (loc.line, loc.col) == position(template, needle)


def test_template_part_clash_points_at_the_template_part(tmp_path: Path) -> None:
    project = PROJECT + "  t/helper:\n    plugin: nil\n"
    with pytest.raises(TemplateError, match="the project already has") as info:
        run(tmp_path, project, {"t": SNIPPETS})
    assert info.value.location is not None
    assert info.value.location.line == position(SNIPPETS, "t/helper:")[0]
    assert "<project>:15:3" in (info.value.hint or "")


def test_unknown_template_suggests_a_name_at_its_position(tmp_path: Path) -> None:
    project = PROJECT.replace("templates: [t]", "templates: [gtk]")
    with pytest.raises(TemplateError, match="unknown template 'gtk'") as info:
        run(tmp_path, project, {})
    assert info.value.hint == "did you mean 'gtk3'?"
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.col) == position(project, "gtk]")


def test_unsupported_base_names_the_supported_ones(tmp_path: Path) -> None:
    project = PROJECT.replace("core22", "core24")
    with pytest.raises(TemplateError, match="does not support base 'core24'") as info:
        run(tmp_path, project, {"t": tpl(bases="[core20, core22]")})
    assert info.value.hint == "supported bases: core20, core22"
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.col) == (2, 1)


def test_base_option_replaces_the_projects_base(tmp_path: Path) -> None:
    template = tpl("grade@core20: old\ngrade@core22: new\n", bases="[core20, core22]")
    assert run(tmp_path, PROJECT, {"t": template}, base="core20").project["grade"] == "old"
    with pytest.raises(TemplateError, match="does not support base 'core18'") as info:
        run(tmp_path, PROJECT, {"t": template}, base="core18")
    assert info.value.location is not None
    assert info.value.location.line == 7


def test_project_without_base(tmp_path: Path) -> None:
    project = PROJECT.replace("base: core22\n", "")
    with pytest.raises(TemplateError, match="does not support no base"):
        run(tmp_path, project, {"t": tpl()})


def test_confinement_defaults_to_strict_only(tmp_path: Path) -> None:
    template = "template:\n  summary: s\n  bases: [core22]\n"
    assert run(tmp_path, PROJECT, {"t": template}).templates == ("t",)
    project = PROJECT.replace("confinement: strict", "confinement: classic")
    with pytest.raises(TemplateError, match="does not support confinement 'classic'") as info:
        run(tmp_path, project, {"t": template})
    assert info.value.hint == "supported confinement: strict"
    assert info.value.location is not None
    assert info.value.location.line == 3


def test_a_project_without_confinement_counts_as_devmode_before_core22(tmp_path: Path) -> None:
    project = PROJECT.replace("confinement: strict\n", "")
    strict_only = "template:\n  summary: s\n  bases: [core20, core22]\n  confinement: [strict]\n"
    with pytest.raises(TemplateError, match=r"devmode \(no confinement\)"):
        run(tmp_path, project.replace("core22", "core20"), {"t": strict_only})
    assert run(tmp_path, project, {"t": strict_only}).templates == ("t",)  # snapcraft 7+
    assert run(tmp_path, project, {"t": tpl()}).templates == ("t",)


def test_experimental_templates_need_enabling(tmp_path: Path) -> None:
    template = tpl("grade: stable\n", experimental="true")
    with pytest.raises(TemplateError, match="template t is experimental") as info:
        run(tmp_path, PROJECT, {"t": template})
    assert "--enable-experimental" in (info.value.hint or "")
    result = run(tmp_path, PROJECT, {"t": template}, enable_experimental=True)
    assert result.project["grade"] == "stable"


@pytest.mark.parametrize(
    ("project", "message", "path"),
    [
        ("- a\n- b\n", "must be a mapping of keys", ()),
        ("base: [core22]\n", "'base' must be a string", (1, 1)),
        ("apps: [a]\n", "'apps' must be a mapping", (1, 1)),
        ("apps:\n  a: text\n", "apps.a must be a mapping", (2, 3)),
        ("apps:\n  1: {}\n", "names must be strings", (2, 3)),
        ("parts:\n  p: {plugin: [x]}\n", "plugin must be a string", (2, 7)),
        ("apps:\n  a: {templates: gtk3}\n", "must be a list of template names", (2, 7)),
        ("templates: [t]\nextensions: [t]\n", "either 'templates' or 'extensions'", (2, 1)),
    ],
)
def test_project_shape_errors_have_positions(
    project: str, message: str, path: tuple[int, int]
) -> None:
    with pytest.raises(SourceError, match=message) as info:
        explode(project)
    loc = info.value.location
    assert loc is not None
    assert loc.file == "<project>"
    if path:
        assert (loc.line, loc.col) == path


def test_provenance_maps_every_path(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT, {"t": SNIPPETS})
    provenance = result.provenance
    assert provenance["apps.a.command"] == "project (<project>:6:5)"
    line, col = position(SNIPPETS, "desktop")
    assert provenance["apps.a.plugs[0]"] == f"template t (t.yaml:{line}:{col})"
    assert provenance["parts.t/helper.plugin"].startswith("template t (t.yaml:")
    assert set(provenance) >= {"apps", "apps.a", "parts.py.build-environment[0].PIP_NO_CACHE_DIR"}
    origin = result.origins["apps.a.plugs[0]"]
    assert origin.template == "t"
    assert origin.location.path == "apps.*.plugs[0]"


def test_report_is_json_ready(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT + "grade: devel\n", {"t": tpl("grade: stable\n")})
    report = result.report()
    assert report["project"]["grade"] == "devel"
    assert report["provenance"]["grade"] == "project (<project>:15:1)"
    assert report["overrides"] == [
        {
            "path": "grade",
            "template": "t",
            "template_value": "stable",
            "winning_value": "devel",
            "overridden_value": "stable",
            "winner": "project",
            "template_location": f"{tmp_path / 'templates' / 't.yaml'}:6:1",
            "winner_location": "<project>:15:1",
        }
    ]


def test_exploding_an_exploded_project_changes_nothing(tmp_path: Path) -> None:
    first = run(tmp_path, PROJECT, {"t": SNIPPETS})
    second = explode(first.to_yaml(), templates=Registry.default([tmp_path / "templates"]))
    assert second.to_plain() == first.to_plain()
    assert second.to_yaml() == first.to_yaml()
    assert second.overrides == ()
    assert all(origin.startswith("project") for origin in second.provenance.values())


def test_yaml_anchors_and_aliases_are_exploded_per_use(tmp_path: Path) -> None:
    project = textwrap.dedent(
        """\
        base: core22
        confinement: strict
        templates: [t]
        parts:
          py: &common
            plugin: python
            stage-packages: [a]
          copy: *common
        """
    )
    template = tpl("parts:\n  '*':\n    build-environment: [{X: '1'}]\n")
    parts = run(tmp_path, project, {"t": template}).to_plain()["parts"]
    assert parts["py"]["build-environment"] == [{"X": "1"}]
    assert parts["copy"]["build-environment"] == [{"X": "1"}]


def test_project_forms(tmp_path: Path) -> None:
    text = "name: x\n"
    (tmp_path / "snapcraft.yaml").write_text(text)
    assert explode(tmp_path).file == str(tmp_path / "snapcraft.yaml")
    assert explode(tmp_path / "snapcraft.yaml").to_plain() == {"name": "x"}
    assert explode(text).file == "<project>"
    assert explode(load_text(text, file="f.yaml")).file == "f.yaml"
    (tmp_path / "snap").mkdir()
    (tmp_path / "snap" / "snapcraft.yaml").write_text(text)
    with pytest.raises(SourceError, match="more than one project file"):
        explode(tmp_path)
    (tmp_path / "snapcraft.yaml").unlink()
    assert explode(tmp_path).file == str(tmp_path / "snap" / "snapcraft.yaml")
    (tmp_path / "empty").mkdir()
    with pytest.raises(SourceError, match=r"no snapcraft\.yaml"):
        explode(tmp_path / "empty")


def test_a_str_is_yaml_text_not_a_file_name() -> None:
    with pytest.raises(SourceError, match="must be a mapping") as info:
        explode("snapcraft.yaml")
    assert "pathlib.Path" in (info.value.hint or "")


SPLICED = """\
# head
name: demo  # the name
base: core22
confinement: strict
templates: [t]
apps:
  a:
    command: bin/a
    plugs:
      - home  # mine
    environment:
      MODE: 0660
parts:
  p:
    plugin: nil
    build-environment:
    - Q: yes
    stage-packages:
      - on amd64: [a]  # grammar
      - else: [b]
  q:
"""


def test_yaml_text_splices_template_values_into_the_project_text(tmp_path: Path) -> None:
    snippets = tpl(
        "apps:\n  '*':\n    plugs: [x11, 'needs: quote']\n    environment:\n      A: '1'\n"
        "parts:\n  '*':\n    build-environment:\n      - T: 'on'\n    after: [t/x]\n"
        "  t/x:\n    plugin: nil\n"
    )
    result = run(tmp_path, SPLICED, {"t": snippets})
    text = result.to_yaml()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == result.project
    assert text.startswith("# head\nname: demo  # the name\n")
    for kept in ("- home  # mine", "MODE: 0660", "- Q: yes", "- on amd64: [a]  # grammar"):
        assert kept in text
    assert "    plugs:\n      - x11\n      - 'needs: quote'\n      - home  # mine\n" in text
    assert "      MODE: 0660\n      A: '1'\n" in text
    assert "templates" not in text


MERGED = """\
x-daemon: &daemon  # shared app settings
  daemon: simple
  restart-condition: always
name: demo
base: core22
confinement: strict
templates: [t]
apps:
  a:
    <<: *daemon
    command: bin/a  # the a command
  b:
    command: bin/b
    <<: *daemon
    plugs: [home]
"""


def test_yaml_text_keeps_merge_lines_and_writes_out_merged_keys_a_template_changed(
    tmp_path: Path,
) -> None:
    unchanged = run(tmp_path / "kept", MERGED, {"t": tpl("apps:\n  '*':\n    plugs: [x11]\n")})
    text = unchanged.to_yaml()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == unchanged.project
    assert text.count("<<: *daemon") == 2  # merged keys come back through the merge lines
    assert "command: bin/a  # the a command" in text
    assert "plugs: [x11, home]" in text
    # a template value for a merged key that the project left empty: written out, wins over <<
    changed = run(
        tmp_path / "changed",
        MERGED.replace("restart-condition: always", "restart-condition: ''"),
        {"t": tpl("apps:\n  '*':\n    restart-condition: on-failure\n")},
    )
    text = changed.to_yaml()
    assert yaml.load(text, Loader=yaml.CSafeLoader) == changed.project
    assert changed.project["apps"]["a"]["restart-condition"] == "on-failure"
