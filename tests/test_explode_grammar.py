"""Advanced grammar: kept as written by default, resolved through craft-grammar on request."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from test_templates_helpers import position, run, tpl

from workbench.errors import SourceError, UsageError
from workbench.templates import ExplodeOptions, explode

PROJECT = textwrap.dedent(
    """\
    base: core22
    confinement: strict
    parts:
      p:
        plugin: nil
        source:
          - on amd64 to arm64: https://example.invalid/cross.tar.gz
          - else: https://example.invalid/native.tar.gz
        stage-packages:
          - always
          - on arm64: [on-arm64]
          - to arm64: [to-arm64]
          - on amd64 to riscv64: [amd64-to-riscv64]
          - else: [fallback]
        build-packages:
          - try: [maybe]
          - else: [instead]
        build-environment:
          - A: "1"
          - to arm64:
              - CROSS: "yes"
        build-snaps: [plain-list]
        stage-snaps: not-a-list
    """
)


def test_grammar_is_kept_as_written_without_architectures() -> None:
    result = explode(PROJECT)
    assert result.to_plain() == explode(PROJECT).to_plain()
    assert result.to_plain()["parts"]["p"]["stage-packages"][1] == {"on arm64": ["on-arm64"]}
    assert "on amd64 to arm64" in result.to_yaml()


@pytest.mark.parametrize(
    ("on", "to", "source", "stage"),
    [
        ("amd64", "arm64", "cross", ["always", "to-arm64", "fallback"]),
        ("amd64", "riscv64", "native", ["always", "amd64-to-riscv64"]),
        ("arm64", "arm64", "native", ["always", "on-arm64", "to-arm64", "fallback"]),
    ],
)
def test_grammar_resolves_for_build_on_and_for(
    on: str, to: str, source: str, stage: list[str]
) -> None:
    part = explode(PROJECT, options=ExplodeOptions(build_on=on, build_for=to)).to_plain()["parts"][
        "p"
    ]
    assert part["source"] == f"https://example.invalid/{source}.tar.gz"
    assert part["stage-packages"] == stage
    assert part["build-packages"] == ["maybe"]
    assert part["build-snaps"] == ["plain-list"]
    assert part["stage-snaps"] == "not-a-list"
    expected_env = [{"A": "1"}, {"CROSS": "yes"}] if to == "arm64" else [{"A": "1"}]
    assert part["build-environment"] == expected_env


def test_resolved_items_keep_their_origin() -> None:
    result = explode(PROJECT, options=ExplodeOptions(build_on="amd64", build_for="arm64"))
    line, col = position(PROJECT, "to-arm64")
    assert result.provenance["parts.p.stage-packages[1]"] == f"project (<project>:{line}:{col})"
    line, _ = position(PROJECT, "CROSS")
    assert result.provenance["parts.p.build-environment[1].CROSS"].startswith(
        f"project (<project>:{line}:"
    )


def test_template_grammar_is_resolved_too(tmp_path: Path) -> None:
    template = tpl("parts:\n  '*':\n    stage-packages: [{on arm64: [t-arm]}, {else: [t-other]}]\n")
    project = "base: core22\nconfinement: strict\ntemplates: [t]\nparts:\n  p: {plugin: nil}\n"
    result = run(tmp_path, project, {"t": template}, build_on="arm64", build_for="arm64")
    assert result.to_plain()["parts"]["p"]["stage-packages"] == ["t-arm"]
    assert result.provenance["parts.p.stage-packages[0]"].startswith("template t (t.yaml:8:")


def test_else_fail_that_triggers_is_an_error_at_its_position() -> None:
    project = PROJECT.replace("      - else: [fallback]\n", "      - else fail\n")
    assert explode(project, options=ExplodeOptions(build_on="amd64", build_for="riscv64")).project
    with pytest.raises(
        SourceError, match=r"'else fail' triggered in parts\.p\.stage-packages"
    ) as info:
        explode(project, options=ExplodeOptions(build_on="amd64", build_for="amd64"))
    loc = info.value.location
    assert loc is not None
    assert (loc.line, loc.col) == position(project, "else fail")
    assert info.value.hint == "no branch matches this build (amd64 to amd64)"


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("[{else: [x]}]", "doesn't seem to correspond"),
        ("[{on amd64: [a]}, {on amd64: [b]}]", "duplicate"),
        ("[{on amd65: [a]}]", "Unknown architecture"),
        ("[{1: [a]}]", "grammar keys must be strings"),
        ("[null]", "expected grammar section"),
    ],
)
def test_invalid_grammar_is_a_user_error_at_the_key(value: str, message: str) -> None:
    project = f"parts:\n  p:\n    stage-packages: {value}\n"
    with pytest.raises(SourceError, match=message) as info:
        explode(project, options=ExplodeOptions(build_on="amd64", build_for="amd64"))
    assert info.value.location is not None
    assert info.value.location.line == 3


def test_source_grammar_must_select_at_most_one() -> None:
    project = "parts:\n  p:\n    source: [a, b]\n  q:\n    source: [{on arm64: x}]\n"
    with pytest.raises(SourceError, match="selects 2 sources"):
        explode(project, options=ExplodeOptions(build_on="amd64", build_for="amd64"))
    one = project.replace("[a, b]", "[a]")
    parts = explode(one, options=ExplodeOptions(build_on="amd64", build_for="amd64")).to_plain()[
        "parts"
    ]
    assert parts == {"p": {"source": "a"}, "q": {}}


@pytest.mark.parametrize(
    ("on", "to", "message"),
    [("amd64", None, "go together"), (None, "arm64", "go together"), ("x86", "arm64", "'x86'")],
)
def test_architecture_options_are_checked(on: str | None, to: str | None, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        explode("name: x\n", options=ExplodeOptions(build_on=on, build_for=to))


def test_resolving_twice_changes_nothing() -> None:
    first = explode(PROJECT, options=ExplodeOptions(build_on="amd64", build_for="arm64"))
    second = explode(first.to_yaml(), options=ExplodeOptions(build_on="amd64", build_for="arm64"))
    assert second.to_plain() == first.to_plain()
