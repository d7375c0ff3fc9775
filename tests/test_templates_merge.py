"""The merge rules, one by one, with the overrides they record and --strict."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_templates_helpers import position, run, tpl

from workbench.errors import TemplateError

PROJECT = """\
name: demo
base: core22
confinement: strict
templates: [t]
apps:
  a:
    command: bin/a
parts:
  p:
    plugin: nil
"""


def test_missing_scalar_is_taken_from_the_template(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT, {"t": tpl("grade: stable\n")})
    assert result.project["grade"] == "stable"
    assert result.provenance["grade"] == "template t (t.yaml:6:1)"
    assert result.overrides == ()


def test_project_scalar_wins_and_the_template_value_is_recorded(tmp_path: Path) -> None:
    project = PROJECT + "grade: devel\n"
    result = run(tmp_path, project, {"t": tpl("grade: stable\n")})
    assert result.project["grade"] == "devel"
    assert result.provenance["grade"] == "project (<project>:11:1)"
    [override] = result.overrides
    assert override.path == "grade"
    assert override.template == "t"
    assert override.template_value == "stable"
    assert override.winning_value == "devel"
    assert override.overridden_value == "stable"
    assert override.winner == "project"
    assert (override.template_location.line, override.template_location.col) == (6, 1)
    assert (override.winner_location.line, override.winner_location.col) == (11, 1)


def test_equal_scalar_is_not_an_override(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT + "grade: stable\n", {"t": tpl("grade: stable\n")})
    assert result.overrides == ()
    assert result.provenance["grade"].startswith("project")


@pytest.mark.parametrize("falsy", ["false", '""', "0", "[]", "{}"])
def test_falsy_project_value_is_replaced_and_recorded(tmp_path: Path, falsy: str) -> None:
    result = run(tmp_path, PROJECT + f"flag: {falsy}\n", {"t": tpl("flag: on-by-template\n")})
    assert result.project["flag"] == "on-by-template"
    assert result.provenance["flag"].startswith("template t")
    [override] = result.overrides
    assert override.winner == "template t"
    assert override.winning_value == "on-by-template"
    assert override.overridden_value in (False, "", 0, [], {})


def test_null_project_value_is_replaced_silently(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT + "grade:\n", {"t": tpl("grade: stable\n")})
    assert result.project["grade"] == "stable"
    assert result.overrides == ()


def test_true_and_one_are_different_values(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT + "flag: 1\n", {"t": tpl("flag: true\n")})
    assert result.project["flag"] == 1
    assert [o.template_value for o in result.overrides] == [True]


def test_dicts_merge_recursively_with_project_keys_winning(tmp_path: Path) -> None:
    project = PROJECT + "environment:\n  A: project\n  C: only-project\n"
    template = tpl("environment:\n  A: template\n  B: only-template\n")
    result = run(tmp_path, project, {"t": template})
    assert dict(result.project["environment"]) == {
        "A": "project",
        "C": "only-project",
        "B": "only-template",
    }
    assert result.provenance["environment.B"] == "template t (t.yaml:8:3)"
    assert result.provenance["environment.A"] == "project (<project>:12:3)"
    assert [o.path for o in result.overrides] == ["environment.A"]


def test_lists_put_template_items_first_and_drop_duplicate_strings(tmp_path: Path) -> None:
    project = PROJECT.replace("command: bin/a", "command: bin/a\n    plugs: [home, x11, home2]")
    template = tpl('apps:\n  "*":\n    plugs: [desktop, x11]\n')
    result = run(tmp_path, project, {"t": template})
    assert list(result.project["apps"]["a"]["plugs"]) == ["desktop", "x11", "home", "home2"]
    assert result.provenance["apps.a.plugs[1]"] == "template t (t.yaml:8:22)"
    assert result.provenance["apps.a.plugs[2]"] == "project (<project>:8:13)"
    assert result.overrides == ()


def test_lists_of_mappings_are_concatenated_not_deduplicated(tmp_path: Path) -> None:
    project = PROJECT.replace("plugin: nil", "plugin: nil\n    build-environment: [{A: '1'}]")
    template = tpl("parts:\n  '*':\n    build-environment: [{A: '1'}, {B: '2'}]\n")
    result = run(tmp_path, project, {"t": template})
    env = result.to_plain()["parts"]["p"]["build-environment"]
    assert env == [{"A": "1"}, {"B": "2"}, {"A": "1"}]


def test_type_mismatch_follows_the_scalar_rule(tmp_path: Path) -> None:
    project = PROJECT.replace("plugin: nil", "plugin: nil\n    after: deps")
    template = tpl("parts:\n  '*':\n    after: [t/helper]\n  t/helper:\n    plugin: nil\n")
    result = run(tmp_path, project, {"t": template})
    assert result.project["parts"]["p"]["after"] == "deps"
    [override] = result.overrides
    assert override.path == "parts.p.after"
    assert override.template_value == ["t/helper"]


def test_a_later_template_loses_a_scalar_to_an_earlier_one(tmp_path: Path) -> None:
    project = PROJECT.replace("templates: [t]", "templates: [b, a]")
    templates = {"a": tpl("grade: stable\n"), "b": tpl("grade: devel\n")}
    result = run(tmp_path, project, templates)
    assert result.templates == ("a", "b")
    assert result.project["grade"] == "stable"
    [override] = result.overrides
    assert (override.template, override.winner, override.template_value) == (
        "b",
        "template a",
        "devel",
    )


def test_strict_refuses_a_project_override_at_the_project_value(tmp_path: Path) -> None:
    project = PROJECT + "grade: devel\n"
    with pytest.raises(TemplateError) as info:
        run(tmp_path, project, {"t": tpl("grade: stable\n")}, strict=True)
    err = info.value
    assert err.location is not None
    assert (err.location.line, err.location.col) == position(project, "grade")
    assert "overrides 'stable' from template t" in err.brief
    assert "t.yaml:6:1" in (err.hint or "")


def test_strict_refuses_templates_that_disagree(tmp_path: Path) -> None:
    project = PROJECT.replace("templates: [t]", "templates: [a, b]")
    templates = {"a": tpl("grade: stable\n"), "b": tpl("\n\ngrade: devel\n")}
    with pytest.raises(TemplateError, match="templates a and b disagree on grade") as info:
        run(tmp_path, project, templates, strict=True)
    assert info.value.location is not None
    assert info.value.location.line == 8


def test_strict_refuses_replacing_a_falsy_project_value(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="replace the project's False"):
        run(tmp_path, PROJECT + "flag: false\n", {"t": tpl("flag: true\n")}, strict=True)


def test_strict_accepts_merges_without_overrides(tmp_path: Path) -> None:
    template = tpl('apps:\n  "*":\n    plugs: [desktop]\ngrade: stable\n')
    result = run(tmp_path, PROJECT, {"t": template}, strict=True)
    assert result.overrides == ()
    assert list(result.project["apps"]["a"]["plugs"]) == ["desktop"]
