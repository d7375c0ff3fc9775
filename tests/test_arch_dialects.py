"""One test per documented dialect rule (D1..D13 in workbench.architectures.dialects)."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.architectures import RULES, ArchitectureProblems, Stanza, claim, judge, parse, plan
from workbench.architectures.dialects import DIALECTS, get_dialect
from workbench.errors import UsageError
from workbench.yamlpos import load_text


def read(text: str, dialect: str, base: str = "core18") -> Stanza:
    return parse(load_text(f"name: x\nbase: {base}\n{text}", "snapcraft.yaml"), dialect=dialect)


def rejects(text: str, dialect: str, message: str, base: str = "core18") -> None:
    with pytest.raises(ArchitectureProblems) as info:
        read(text, dialect, base)
    assert message in str(info.value)


def planned(stanza: Stanza, **kwargs: object) -> list[tuple[str, tuple[str, ...], bool]]:
    return [(b.build_on, b.run_on, b.required) for b in plan(stanza, **kwargs).builds]  # type: ignore[arg-type]


def test_every_rule_has_a_test() -> None:
    source = Path(__file__).read_text()
    for rule in RULES:
        assert f"def test_rule_{rule.id.lower()}_" in source, rule.id
    assert [r.id for r in RULES] == [f"D{i}" for i in range(1, len(RULES) + 1)]


def test_rule_d1_build_error() -> None:
    text = "architectures:\n  - build-on: armhf\n    build-error: ignore\n"
    assert read(text, "proposal").entries[0].required is False
    rejects(text, "snapcraft", "snapcraft 4.x rejects 'build-error'")
    lp = "architectures:\n  - build-on: armhf\n    build-error: whatever\n"
    assert read(lp, "launchpad").entries[0].required is True
    assert read(text, "launchpad").entries[0].required is False
    rejects(lp, "proposal", "'build-error' must be 'ignore'")


def test_rule_d2_unknown_keys() -> None:
    text = "architectures:\n  - build-on: amd64\n    flavour: spicy\n"
    rejects(text, "proposal", "unknown key 'flavour' in entry 0")
    rejects(text, "snapcraft", "unknown key 'flavour' in entry 0")
    assert planned(read(text, "launchpad")) == [("amd64", ("amd64",), True)]


def test_rule_d3_architecture_names() -> None:
    text = "architectures:\n  - build-on: sparc\n  - build-on: amd64\n"
    rejects(text, "proposal", "unknown architecture 'sparc'")
    rejects(text, "snapcraft", "unknown architecture 'sparc'")
    build_set = plan(read(text, "launchpad"))
    assert [b.build_on for b in build_set.builds] == ["amd64"]
    assert [d.build_on for d in build_set.dropped] == [("sparc",)]


def test_rule_d4_empty_lists() -> None:
    rejects("architectures: []\n", "proposal", "'architectures' is empty")
    rejects("architectures: []\n", "snapcraft", "'architectures' is empty")
    stanza = read("architectures: []\n", "launchpad")
    assert not stanza.declared
    assert len(plan(stanza).builds) == 6  # core18 default set
    run_on = read("architectures:\n  - build-on: i386\n    run-on: []\n", "launchpad")
    assert planned(run_on) == [("i386", ("i386",), True)]
    build_on = plan(read("architectures:\n  - build-on: []\n", "launchpad"))
    assert (build_on.builds, len(build_on.dropped)) == ((), 1)


def test_rule_d5_all_with_several_entries() -> None:
    text = "architectures:\n  - build-on: amd64\n    run-on: all\n  - build-on: i386\n"
    rejects(text, "proposal", "would both be released to i386")
    rejects(text, "snapcraft", "would both be released to i386")
    assert planned(read(text, "launchpad")) == [
        ("amd64", ("all",), True),
        ("i386", ("i386",), True),
    ]


def test_rule_d6_arch_in_two_run_ons() -> None:
    text = "architectures:\n  - build-on: amd64\n    run-on: [amd64, i386]\n  - build-on: i386\n"
    rejects(text, "proposal", "both claim to run on i386")
    rejects(text, "snapcraft", "both claim to run on i386")
    assert len(plan(read(text, "launchpad")).builds) == 2


def test_rule_d7_arch_in_two_build_ons() -> None:
    text = "architectures:\n  - build-on: [amd64, i386]\n    run-on: amd64\n  - build-on: i386\n"
    rejects(text, "proposal", "i386 is in the build-on of entries 0 and 1")
    rejects(text, "snapcraft", "i386 is in the build-on of entries 0 and 1")
    rejects(text, "launchpad", "i386 is in the build-on of several entries", base="core20")
    core22 = (
        "architectures:\n  - build-on: amd64\n    build-for: amd64\n"
        "  - build-on: amd64\n    build-for: arm64\n"
    )
    assert planned(read(core22, "launchpad", base="core22")) == [
        ("amd64", ("amd64",), True),
        ("amd64", ("arm64",), True),
    ]


def test_rule_d8_choice_among_build_on_archs() -> None:
    text = "architectures:\n  - build-on: [amd64, i386]\n    run-on: all\n"
    queue = {"amd64": 3, "i386": 0}
    assert planned(read(text, "proposal"), queue=queue) == [("i386", ("all",), True)]
    assert planned(read(text, "launchpad"), queue=queue) == [("amd64", ("all",), True)]
    assert planned(read(text, "launchpad"), supported=["i386", "amd64"]) == [
        ("i386", ("all",), True)
    ]


def test_rule_d9_build_on_all() -> None:
    text = "architectures:\n  - build-on: all\n    run-on: armhf\n"
    queue = {"amd64": 5}
    assert planned(read(text, "proposal"), queue=queue) == [("arm64", ("armhf",), True)]
    assert planned(read(text, "launchpad"), queue=queue) == [("armhf", ("armhf",), True)]
    plain = "architectures:\n  - build-on: all\n"
    assert planned(read(plain, "launchpad"), supported=["s390x", "amd64"]) == [
        ("s390x", ("all",), True)
    ]
    snapcraft = read(text, "snapcraft")
    assert {claim(snapcraft, host).entry for host in ("amd64", "s390x", "riscv64")} == {0}


def test_rule_d10_unbuildable_entries() -> None:
    text = "architectures:\n  - build-on: amd64\n  - build-on: s390x\n"
    supported = ["amd64", "i386"]
    proposal = plan(read(text, "proposal"), supported=supported)
    launchpad = plan(read(text, "launchpad"), supported=supported)
    assert proposal.dropped[0].reason == "none of its build-on (s390x) is supported"
    assert launchpad.dropped[0].reason.endswith("Launchpad drops it silently")
    assert judge(proposal, {"amd64": "success"}).set == "failed"
    assert judge(launchpad, {"amd64": "success"}).set == "released"


def test_rule_d11_build_set_failure_logic() -> None:
    text = "architectures:\n  - build-on: amd64\n  - build-on: i386\n"
    results = {"amd64": "success", "i386": "failure"}
    proposal = judge(plan(read(text, "proposal")), results)  # type: ignore[arg-type]
    launchpad = judge(plan(read(text, "launchpad")), results)  # type: ignore[arg-type]
    assert (proposal.set, proposal.released) == ("failed", ())
    assert (launchpad.set, launchpad.released, launchpad.failed) == (
        "released",
        ("amd64",),
        ("i386",),
    )
    assert "no build-set logic" in launchpad.reason


def test_rule_d12_build_for_key() -> None:
    text = "architectures:\n  - build-on: amd64\n    build-for: arm64\n    run-on: i386\n"
    rejects(text, "proposal", "'build-for' is core22 syntax")
    rejects(text, "snapcraft", "'build-for' is core22 syntax")
    assert planned(read(text, "launchpad")) == [("amd64", ("arm64",), True)]


def test_rule_d13_arch_twice_in_one_list() -> None:
    text = "architectures:\n  - build-on: [amd64, amd64]\n"
    rejects(text, "proposal", "'amd64' is listed twice")
    rejects(text, "snapcraft", "'amd64' is listed twice")
    assert read(text, "launchpad").entries[0].build_on == ("amd64",)


def test_views_each_dialect_answers() -> None:
    text = "architectures: [amd64]\n"
    with pytest.raises(UsageError, match="the launchpad dialect has no 'snap' view"):
        claim(read(text, "launchpad"), "amd64")
    with pytest.raises(UsageError, match="the snapcraft dialect has no 'plan' view"):
        plan(read(text, "snapcraft"))
    assert sorted(DIALECTS) == ["launchpad", "proposal", "snapcraft"]
    with pytest.raises(UsageError, match="unknown dialect 'debian'"):
        get_dialect("debian")


def test_rule_d14_supported_list_within_the_series() -> None:
    core22 = "architectures:\n  - build-on: amd64\n  - build-on: i386\n"
    assert planned(read(core22, "launchpad", base="core22"), supported=["i386", "amd64"]) == [
        ("amd64", ("amd64",), True)
    ]
    assert plan(read(core22, "launchpad", base="core22"), supported=["i386"]).supported == ()
    legacy = "architectures:\n  - build-on: i386\n"  # focal has no i386: the proposal obeys
    assert planned(read(legacy, "proposal", base="core20"), supported=["i386"]) == [
        ("i386", ("i386",), True)
    ]
    assert planned(read(legacy, "launchpad", base="core20"), supported=["i386"]) == []
