"""``KEY@BASE1,BASE2`` and ``KEY@`` selectors, resolved anywhere in a template."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_templates_helpers import position, run, tpl

from workbench.errors import TemplateError
from workbench.templates.selectors import split_selector

PROJECT = "name: s\nbase: {base}\nconfinement: strict\ntemplates: [t]\n"
BASES = "[core18, core20, core22]"

SELECTORS = tpl(
    """\
    parts:
      t/helper:
        plugin: nil
        source@core18: https://example.invalid/18.tar.gz
        source@core20,core22: https://example.invalid/20-22.tar.gz
        stage-packages@core18: [old]
        stage-packages@: [new]
    environment@core22:
      DEEP: yes
    """,
    bases=BASES,
)


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("source", ("source", None)),
        ("source@", ("source", ())),
        ("source@core18", ("source", ("core18",))),
        ("source@core18, core20", ("source", ("core18", "core20"))),
        (7, (7, None)),
    ],
)
def test_split_selector(key: object, expected: object) -> None:
    assert split_selector(key) == expected


@pytest.mark.parametrize("key", ["@core18", "a@b@c", "a@core18,", "a@Core 18"])
def test_split_selector_rejects_malformed(key: str) -> None:
    with pytest.raises(ValueError, match="selector"):
        split_selector(key)


@pytest.mark.parametrize(
    ("base", "source", "packages", "environment"),
    [
        ("core18", "18.tar.gz", ["old"], None),
        ("core20", "20-22.tar.gz", ["new"], None),
        ("core22", "20-22.tar.gz", ["new"], {"DEEP": True}),  # YAML 1.1, as snapcraft
    ],
)
def test_selectors_pick_the_key_for_the_base(
    tmp_path: Path, base: str, source: str, packages: list[str], environment: object
) -> None:
    plain = run(tmp_path, PROJECT.format(base=base), {"t": SELECTORS}).to_plain()
    helper = plain["parts"]["t/helper"]
    assert helper["source"].endswith(source)
    assert helper["stage-packages"] == packages
    assert plain.get("environment") == environment


def test_resolved_keys_keep_the_selector_position(tmp_path: Path) -> None:
    result = run(tmp_path, PROJECT.format(base="core20"), {"t": SELECTORS})
    line, col = position(SELECTORS, "source@core20")
    assert result.provenance["parts.t/helper.source"] == f"template t (t.yaml:{line}:{col})"
    assert result.origins["parts.t/helper.source"].location.path == "parts.t/helper.source"


def test_no_match_and_no_else_leaves_the_key_out(tmp_path: Path) -> None:
    template = tpl("grade@core18: stable\n", bases=BASES)
    assert "grade" not in run(tmp_path, PROJECT.format(base="core22"), {"t": template}).project


def test_two_matching_selectors_are_an_error(tmp_path: Path) -> None:
    template = tpl("grade@core18,core20: a\ngrade@core20: b\n", bases=BASES)
    assert run(tmp_path, PROJECT.format(base="core18"), {"t": template}).project["grade"] == "a"
    with pytest.raises(TemplateError, match="both match base 'core20'") as info:
        run(tmp_path, PROJECT.format(base="core20"), {"t": template})
    assert info.value.location is not None
    assert (info.value.location.line, info.value.location.col) == position(
        template, "grade@core20:"
    )


def test_plain_and_selector_forms_together_are_an_error(tmp_path: Path) -> None:
    template = tpl("plugs:\n  x:\n    interface: a\n    interface@core22: b\n", bases=BASES)
    with pytest.raises(TemplateError, match="given both plain and as 'interface@core22'") as info:
        run(tmp_path, PROJECT.format(base="core18"), {"t": template})
    assert info.value.location is not None
    assert info.value.location.line == position(template, "interface@core22")[0]


def test_malformed_selector_is_an_error_with_position(tmp_path: Path) -> None:
    template = tpl("grade@core22@x: a\n", bases=BASES)
    with pytest.raises(TemplateError, match="invalid selector 'grade@core22@x'") as info:
        run(tmp_path, PROJECT.format(base="core22"), {"t": template})
    assert info.value.location is not None
    assert info.value.location.line == 6


def test_selectors_apply_to_apps_and_snippets(tmp_path: Path) -> None:
    template = tpl(
        """\
        apps:
          "*":
            plugs@core18: [old-plug]
            plugs@: [new-plug]
        parts:
          "*@core22":
            after: [t/x]
          t/x:
            plugin: nil
        """,
        bases=BASES,
    )
    project = PROJECT.format(base="core22") + "apps:\n  a: {}\nparts:\n  p: {plugin: nil}\n"
    plain = run(tmp_path, project, {"t": template}).to_plain()
    assert plain["apps"]["a"]["plugs"] == ["new-plug"]
    assert plain["parts"]["p"]["after"] == ["t/x"]
    project18 = project.replace("core22", "core18")
    plain18 = run(tmp_path, project18, {"t": template}).to_plain()
    assert plain18["apps"]["a"]["plugs"] == ["old-plug"]
    assert "after" not in plain18["parts"]["p"]
