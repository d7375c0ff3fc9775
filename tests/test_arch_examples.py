"""The seven examples of the proposal in the builder's view and the CI's view, and outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from workbench.architectures import (
    KNOWN_ARCHS,
    ArchitectureProblems,
    BuildSet,
    Stanza,
    choose,
    claim,
    claims,
    judge,
    load,
    parse,
    plan,
    supported_for_base,
)
from workbench.errors import UsageError
from workbench.yamlpos import load_text

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "architectures"


def example(name: str) -> Stanza:
    return load(EXAMPLES / f"example-{name}.yaml")


def claimed(stanza: Stanza, host: str) -> tuple[list[str], int | None]:
    c = claim(stanza, host)
    return list(c.architectures), c.entry


def builds(build_set: BuildSet) -> list[tuple[str, list[str], bool]]:
    return [(b.build_on, list(b.run_on), b.required) for b in build_set.builds]


# --- builder's view (what snapcraft on one host claims) -----------------------------------------


@pytest.mark.parametrize(
    ("name", "host", "expected"),
    [
        ("1", "i386", (["amd64", "i386"], 0)),
        ("1", "amd64", (["amd64"], None)),
        ("2", "amd64", (["all"], 0)),
        ("2", "arm64", (["arm64"], None)),
        ("3", "amd64", (["amd64"], 0)),
        ("3", "i386", (["i386"], 1)),
        ("3", "s390x", (["s390x"], None)),
        ("4", "armhf", (["armhf"], 2)),
        ("4", "arm64", (["arm64"], None)),
        ("5", "amd64", (["all"], 0)),
        ("5", "i386", (["all"], 0)),
        ("5", "ppc64el", (["ppc64el"], None)),
        ("6", "amd64", (["amd64", "i386"], 0)),
        ("6", "i386", (["amd64", "i386"], 0)),
        ("6", "armhf", (["armhf"], None)),
    ],
)
def test_builder_view(name: str, host: str, expected: tuple[list[str], int | None]) -> None:
    assert claimed(example(name), host) == expected


def test_no_key_claims_the_host() -> None:
    stanza = parse(load_text("name: x\nbase: core20\n"), dialect="snapcraft")
    assert not stanza.declared
    c = claim(stanza, "riscv64")
    assert (c.architectures, c.entry) == (("riscv64",), None)
    assert "no architectures key" in c.reason


def test_claims_give_one_row_per_host_for_a_grid() -> None:
    rows = claims(example("3"))
    assert [c.host for c in rows] == list(KNOWN_ARCHS)
    assert {c.host: c.entry for c in rows} == {
        "amd64": 0,
        "arm64": None,
        "armhf": None,
        "i386": 1,
        "ppc64el": None,
        "riscv64": None,
        "s390x": None,
    }


def test_unknown_host_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown host architecture 'x86_64'"):
        claim(example("1"), "x86_64")


# --- the "same as" forms ------------------------------------------------------------------------


@pytest.mark.parametrize(("a", "b"), [("3", "3-short"), ("6", "6-build-on"), ("6", "6-explicit")])
def test_equivalent_forms_plan_and_claim_alike(a: str, b: str) -> None:
    left, right = example(a), example(b)
    assert claims(left) == claims(right)
    assert plan(left) == plan(right)
    assert [(e.build_on, e.run_on, e.required) for e in left.entries] == [
        (e.build_on, e.run_on, e.required) for e in right.entries
    ]


def test_shorthand_is_one_entry() -> None:
    stanza = example("6")
    assert stanza.shorthand
    assert len(stanza.entries) == 1
    assert len(plan(stanza).builds) == 1


# --- CI's view ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("1", [("i386", ["amd64", "i386"], True)]),
        ("2", [("amd64", ["all"], True)]),
        ("3", [("amd64", ["amd64"], True), ("i386", ["i386"], True)]),
        (
            "4",
            [("amd64", ["amd64"], True), ("i386", ["i386"], True), ("armhf", ["armhf"], False)],
        ),
        ("5", [("amd64", ["all"], True)]),
        ("6", [("amd64", ["amd64", "i386"], True)]),
    ],
)
def test_ci_view(name: str, expected: list[tuple[str, list[str], bool]]) -> None:
    build_set = plan(example(name))
    assert builds(build_set) == expected
    assert build_set.dropped == ()


def test_example_7_is_an_error_in_both_views() -> None:
    with pytest.raises(ArchitectureProblems) as info:
        example("7")
    err = info.value
    assert "would both be released to i386" in err.brief
    assert err.location is not None
    assert (err.location.line, err.location.col) == (11, 5)
    assert err.location.file is not None
    assert err.location.file.endswith("example-7.yaml")


def test_no_key_builds_every_supported_arch() -> None:
    stanza = parse(load_text("name: x\nbase: core18\n"))
    assert [b.build_on for b in plan(stanza).builds] == list(supported_for_base("core18"))
    assert [b.build_on for b in plan(stanza, supported=["amd64", "s390x"]).builds] == [
        "amd64",
        "s390x",
    ]


@pytest.mark.parametrize(
    ("base", "has_i386", "has_riscv64"),
    [(None, True, False), ("core18", True, False), ("core20", False, False)],
)
def test_supported_defaults_by_base(base: str | None, has_i386: bool, has_riscv64: bool) -> None:
    archs = supported_for_base(base)
    assert ("i386" in archs) == has_i386
    assert ("riscv64" in archs) == has_riscv64
    assert "riscv64" in supported_for_base("core22")


def test_unsupported_entry_is_reported_not_dropped_silently() -> None:
    build_set = plan(example("4"), supported=["amd64", "i386"])
    assert [b.build_on for b in build_set.builds] == ["amd64", "i386"]
    (dropped,) = build_set.dropped
    assert (dropped.entry, dropped.build_on, dropped.required) == (2, ("armhf",), False)
    assert "none of its build-on (armhf) is supported" in dropped.reason
    assert build_set.to_json()["dropped"][0]["entry"] == 2


# --- queue choice (examples 5 and 6) ------------------------------------------------------------


@pytest.mark.parametrize(
    ("queue", "supported", "expected"),
    [
        ({"amd64": 3, "i386": 0}, None, "i386"),
        ({"amd64": 0, "i386": 3}, None, "amd64"),
        ({}, None, "amd64"),  # tie: priority order of the default list
        ({"amd64": 2, "i386": 2}, None, "amd64"),
        ({"amd64": 2, "i386": 2}, ["i386", "amd64"], "i386"),  # tie: the given priority order
        ({"amd64": 0}, ["i386", "s390x"], "i386"),  # amd64 not supported at all
    ],
)
def test_queue_choice(queue: dict[str, int], supported: list[str] | None, expected: str) -> None:
    for name in ("5", "6"):
        (build,) = plan(example(name), supported=supported, queue=queue).builds
        assert build.build_on == expected


def test_choose_reports_its_candidates() -> None:
    (build,) = plan(example("5"), queue={"amd64": 3, "i386": 1}).builds
    assert build.candidates == ("amd64", "i386")
    assert "amd64 (3), i386 (1)" in build.reason
    assert choose(["s390x", "arm64"], {"arm64": 1, "s390x": 1}) == "s390x"


@pytest.mark.parametrize(
    ("supported", "queue", "message"),
    [
        ([], {}, "supported architecture list is empty"),
        (["amd64", "amd64"], {}, "listed twice"),
        (["x86"], {}, "unknown supported architecture 'x86'"),
        (None, {"sparc": 1}, "unknown queue architecture 'sparc'"),
        (None, {"amd64": -1}, "must be a whole number"),
    ],
)
def test_bad_ci_settings(supported: list[str] | None, queue: dict[str, int], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        plan(example("5"), supported=supported, queue=queue)


# --- outcome ------------------------------------------------------------------------------------


def test_outcome_all_succeed() -> None:
    out = judge(plan(example("3")), {"amd64": "success", "i386": "success"})
    assert out.to_json() == {
        "released": ["amd64", "i386"],
        "failed": [],
        "set": "released",
        "reason": "every build succeeded",
    }


def test_outcome_required_failure_fails_the_set() -> None:
    out = judge(plan(example("3")), {"amd64": "success", "i386": "failure"})
    assert (out.set, out.released, out.failed) == ("failed", (), ("i386",))
    assert "required build on i386 failed" in out.reason


def test_outcome_optional_failure_drops_only_that_snap() -> None:
    out = judge(plan(example("4")), {"amd64": True, "i386": True, "armhf": False})
    assert (out.set, out.released, out.failed) == ("released", ("amd64", "i386"), ("armhf",))
    assert [(v.build_on, v.released) for v in out.verdicts] == [
        ("amd64", True),
        ("i386", True),
        ("armhf", False),
    ]


def test_outcome_required_and_optional_failures() -> None:
    out = judge(plan(example("4")), {"amd64": "failure", "i386": "success", "armhf": "failure"})
    assert (out.set, out.released, out.failed) == ("failed", (), ("amd64", "armhf"))


def test_outcome_unbuildable_required_entry_fails_the_set() -> None:
    build_set = plan(example("3"), supported=["amd64"])
    out = judge(build_set, {"amd64": "success"})
    assert out.set == "failed"
    assert "required entry 1 cannot be built" in out.reason


def test_outcome_unbuildable_optional_entry_does_not() -> None:
    out = judge(plan(example("4"), supported=["amd64", "i386"]), {"amd64": True, "i386": True})
    assert out.set == "released"


def test_outcome_toggle_changes_the_verdict() -> None:
    build_set = plan(example("4"))
    results = {"amd64": True, "i386": True, "armhf": True}
    assert judge(build_set, results).set == "released"
    results["i386"] = False
    assert judge(build_set, results).set == "failed"


@pytest.mark.parametrize(
    ("results", "message"),
    [
        ({"amd64": "success"}, "no result for the build on i386"),
        ({"amd64": "success", "i386": "success", "s390x": "success"}, "no build on s390x"),
        ({"amd64": "success", "i386": "maybe"}, "must be success or failure"),
    ],
)
def test_outcome_bad_results(results: dict[str, str], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        judge(plan(example("3")), results)  # type: ignore[arg-type]
