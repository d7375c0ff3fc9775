"""core22/core24 plans through craft-platforms, and conversion round trips to them."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.architectures import (
    ArchitectureProblems,
    ModernPlan,
    Stanza,
    convert,
    load,
    load_project,
    parse,
    plan_modern,
    round_trip,
)
from workbench.errors import ArchitectureError, UsageError
from workbench.yamlpos import load_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "architectures"


def modern(text: str) -> ModernPlan:
    return plan_modern(load_text(f"name: x\n{text}", "snapcraft.yaml"))


def pairs(result: ModernPlan) -> list[tuple[str, str, str]]:
    return [(b.platform, b.build_on, b.build_for) for b in result.builds]


def test_core22_example() -> None:
    result = plan_modern(load_project(EXAMPLES / "core22-cross.yaml"))
    assert pairs(result) == [
        ("amd64", "amd64", "amd64"),
        ("arm64", "amd64", "arm64"),
        ("arm64", "arm64", "arm64"),
    ]


def test_core24_example_json_shape() -> None:
    result = plan_modern(load_project(EXAMPLES / "core24-platforms.yaml"))
    assert result.to_json() == {
        "builds": [
            {"platform": "amd64", "build_on": "amd64", "build_for": "amd64", "run_on": ["amd64"]},
            {"platform": "raspi", "build_on": "amd64", "build_for": "arm64", "run_on": ["arm64"]},
            {"platform": "raspi", "build_on": "arm64", "build_for": "arm64", "run_on": ["arm64"]},
        ]
    }


def test_core22_without_key_uses_the_craft_platforms_default() -> None:
    archs = [b.build_on for b in modern("base: core22\n").builds]
    assert archs == ["amd64", "arm64", "armhf", "ppc64el", "riscv64", "s390x"]


def test_core22_shorthand_is_one_entry_per_name() -> None:
    assert pairs(modern("base: core22\narchitectures: [amd64, arm64]\n")) == [
        ("amd64", "amd64", "amd64"),
        ("arm64", "arm64", "arm64"),
    ]


def test_core22_build_for_all() -> None:
    text = "base: core22\narchitectures:\n  - build-on: [amd64, arm64]\n    build-for: all\n"
    assert pairs(modern(text)) == [("all", "amd64", "all"), ("all", "arm64", "all")]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("base: core22\nplatforms:\n  amd64:\n", 3, "'platforms' is not supported on core22"),
        (
            "base: core22\narchitectures:\n  - build-on: amd64\n    run-on: arm64\n",
            5,
            "unknown key 'run-on'",
        ),
        (
            "base: core22\narchitectures:\n  - build-on: amd64\n    build-for: [amd64, arm64]\n",
            5,
            "'build-for' names 2 architectures; it takes one",
        ),
        (
            "base: core22\narchitectures:\n  - build-on: [amd64, arm64]\n",
            4,
            "'build-for' names 2 architectures (it defaults to 'build-on')",
        ),
        (
            "base: core22\narchitectures:\n  - build-on: all\n    build-for: all\n",
            4,
            "'all' cannot be used in 'build-on'",
        ),
        (
            "base: core22\narchitectures:\n  - build-on: amd64\n    build-for: arm64\n"
            "  - build-on: arm64\n",
            6,
            "entries 0 and 1 both build for arm64",
        ),
        ("base: core24\narchitectures: [amd64]\n", 3, "'architectures' is core22-and-older"),
        ("base: core24\nplatforms: [amd64]\n", 3, "'platforms' must be a non-empty mapping"),
        ("base: core24\nplatforms:\n  raspi:\n", 4, "platform 'raspi' needs build-on"),
        (
            "base: core24\nplatforms:\n  raspi:\n    build-on: amd64\n",
            4,
            "no 'build-for'",
        ),
        (
            "base: core24\nplatforms:\n  amd64:\n    build-on: amd46\n",
            5,
            "unknown architecture 'amd46'",
        ),
    ],
)
def test_modern_errors_are_positioned(text: str, line: int, message: str) -> None:
    with pytest.raises(ArchitectureError) as info:
        modern(text)
    assert message in str(info.value)
    assert info.value.location is not None
    assert info.value.location.line == line


def test_craft_platforms_errors_become_positioned_errors() -> None:
    text = (
        "base: core24\nplatforms:\n  a:\n    build-on: amd64\n    build-for: all\n"
        "  b:\n    build-on: amd64\n    build-for: arm64\n"
    )
    with pytest.raises(ArchitectureError) as info:
        modern(text)
    assert "craft-platforms: build-for: all must be the only build-for" in info.value.brief
    assert info.value.location is not None
    assert info.value.location.line == 3


# --- conversion ---------------------------------------------------------------------------------


def example(name: str) -> Stanza:
    return load(EXAMPLES / f"example-{name}.yaml")


CONVERTIBLE = ["2", "3", "3-short", "4", "5"]


@pytest.mark.parametrize("target", ["core22", "core24"])
@pytest.mark.parametrize("name", CONVERTIBLE)
def test_round_trip(name: str, target: str) -> None:
    stanza = example(name)
    conversion = convert(stanza, target)
    proof = round_trip(stanza, conversion)
    assert proof.equal
    assert len(proof.legacy) == len(stanza.entries)
    # and through the text: the printed stanza, loaded as a project, plans to the same snaps
    text = f"name: x\nbase: {target}\n{conversion.to_yaml()}"
    reparsed = plan_modern(load_text(text, "converted.yaml"))
    assert {(b.build_on, b.build_for) for b in reparsed.builds} == {
        (on, spec.runs_on[0]) for spec in proof.modern for on in spec.build_on
    }


def test_convert_example_5_text() -> None:
    assert convert(example("5"), "core24").to_yaml().splitlines()[1:] == [
        "platforms:",
        "  all:",
        "    build-on: [amd64, i386]",
        "    build-for: [all]",
    ]
    assert convert(example("3"), "core22").to_yaml().splitlines()[1:] == [
        "architectures:",
        "  - build-on: [amd64]",
        "    build-for: [amd64]",
        "  - build-on: [i386]",
        "    build-for: [i386]",
    ]


def test_convert_notes_what_is_lost() -> None:
    notes = convert(example("4"), "core24").notes
    assert "entry 2: build-error: ignore has no core24 equivalent; that build is now required" in (
        notes
    )
    assert any("i386 is not in core24's default set" in n for n in notes)


def test_convert_without_key_lists_the_old_default_set() -> None:
    stanza = parse(load_text("name: x\nbase: core20\n", "snapcraft.yaml"))
    conversion = convert(stanza, "core22")
    assert [p.build_for for p in conversion.pairs] == [
        "amd64",
        "arm64",
        "armhf",
        "ppc64el",
        "s390x",
    ]
    assert round_trip(stanza, conversion).equal
    assert "core20's default set is listed" in conversion.notes[0]


def test_convert_build_on_all() -> None:
    stanza = parse(load_text("name: x\narchitectures:\n  - build-on: all\n    run-on: all\n"))
    conversion = convert(stanza, "core24")
    assert len(conversion.pairs[0].build_on) == 7
    assert round_trip(stanza, conversion).equal


@pytest.mark.parametrize("target", ["core22", "core24"])
@pytest.mark.parametrize(("name", "line"), [("1", 11), ("6", 9), ("6-build-on", 10)])
def test_multi_arch_run_on_has_no_exact_equivalent(name: str, line: int, target: str) -> None:
    with pytest.raises(ArchitectureProblems) as info:
        convert(example(name), target)
    err = info.value
    assert f"entry 0 runs on amd64, i386: no exact {target} equivalent" in err.brief
    assert err.hint is not None
    assert "one entry per run-on arch" in err.hint
    assert err.location is not None
    assert err.location.line == line


def test_convert_refuses_other_dialects_and_targets() -> None:
    stanza = load(EXAMPLES / "example-3.yaml", dialect="launchpad")
    with pytest.raises(UsageError, match="reads the stanza as the proposal does"):
        convert(stanza, "core22")
    with pytest.raises(UsageError, match="cannot convert to 'core26'"):
        convert(example("3"), "core26")
