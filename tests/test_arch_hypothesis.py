"""Property tests: any input gives a plan (with its invariants) or a WorkbenchError."""

from __future__ import annotations

import contextlib
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from workbench.architectures import (
    ALL,
    KNOWN_ARCHS,
    check_github_job,
    claim,
    convert,
    github_job,
    is_modern,
    judge,
    parse,
    plan,
    plan_modern,
    project_base,
    round_trip,
)
from workbench.errors import WorkbenchError
from workbench.yamlpos import Document, dump, load_text

ARCH_NAMES = st.sampled_from([*KNOWN_ARCHS, ALL, "x86_64", "amd64, arm64", ""])
SCALARS = st.one_of(ARCH_NAMES, st.none(), st.booleans(), st.integers(-2, 300))
ARCH_VALUES = st.one_of(SCALARS, st.lists(SCALARS, max_size=4))
KEYS = st.sampled_from(["build-on", "run-on", "build-error", "build-for", "flavour", 3])
ENTRY = st.dictionaries(
    KEYS,
    st.one_of(ARCH_VALUES, st.just("ignore"), st.dictionaries(ARCH_NAMES, SCALARS)),
    max_size=4,
)
REAL = st.sampled_from(KNOWN_ARCHS)
REAL_VALUES = st.one_of(REAL, st.lists(REAL, min_size=1, max_size=3, unique=True))
WELL_FORMED = st.lists(
    st.fixed_dictionaries(
        {"build-on": REAL_VALUES},
        optional={
            "run-on": st.one_of(REAL_VALUES, st.just(ALL)),
            "build-error": st.just("ignore"),
        },
    ),
    min_size=1,
    max_size=4,
)
STANZA = st.one_of(
    WELL_FORMED,
    st.lists(REAL, min_size=1, max_size=3, unique=True),
    st.lists(st.one_of(ENTRY, ARCH_NAMES, SCALARS), max_size=5),
    st.lists(ENTRY, min_size=1, max_size=5),
    st.lists(ARCH_NAMES, min_size=1, max_size=4),
    SCALARS,
    st.dictionaries(ARCH_NAMES, st.one_of(st.none(), ENTRY), max_size=3),
)
BASES = st.sampled_from([None, "core", "core18", "core20", "core22", "core24", "bare", 7])
SUPPORTED = st.one_of(st.none(), st.lists(st.sampled_from(KNOWN_ARCHS), unique=True, max_size=7))
QUEUE = st.dictionaries(st.sampled_from(KNOWN_ARCHS), st.integers(0, 5), max_size=7)


def project(base: Any, stanza: Any, key: str) -> dict[str, Any]:
    data: dict[str, Any] = {"name": "x", key: stanza}
    if base is not None:
        data["base"] = base
    return data


def exercise(document: Document, supported: Any, queue: Any, seed: int) -> None:
    """Every view of ``document``; only WorkbenchError may escape, and plans keep invariants."""
    try:
        if is_modern(project_base(document)):
            result = plan_modern(document)
            assert all(b.build_on in KNOWN_ARCHS for b in result.builds)
            if result.builds:
                assert check_github_job(github_job(result)) == []
            return
    except WorkbenchError:
        return
    for dialect in ("proposal", "snapcraft", "launchpad"):
        try:
            stanza = parse(document, dialect=dialect)
        except WorkbenchError:
            continue
        for host in KNOWN_ARCHS:
            try:
                c = claim(stanza, host)
            except WorkbenchError:
                break
            assert c.architectures
            assert c.entry is None or c.entry < len(stanza.entries)
        try:
            build_set = plan(stanza, supported=supported, queue=queue)
        except WorkbenchError:
            continue
        for b in build_set.builds:
            assert b.build_on in build_set.supported
            assert b.build_on in b.candidates
        assert len(build_set.builds) + len(build_set.dropped) == max(
            len(stanza.entries), 0 if stanza.declared else len(build_set.supported)
        )
        results = {b.build_on: (seed >> i) & 1 == 1 for i, b in enumerate(build_set.builds)}
        try:
            outcome = judge(build_set, results)
        except WorkbenchError:
            pass  # duplicate build-on archs (Launchpad on core22) cannot be keyed
        else:
            assert set(outcome.released) <= set(results)
            assert outcome.set == ("released" if outcome.released else "failed")
        if build_set.builds:
            assert check_github_job(github_job(build_set)) == []
        if dialect == "proposal":
            for target in ("core22", "core24"):
                try:
                    conversion = convert(stanza, target)
                except WorkbenchError:
                    continue
                with contextlib.suppress(WorkbenchError):  # craft-platforms may refuse
                    assert round_trip(stanza, conversion).equal


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    data=st.builds(project, BASES, STANZA, st.sampled_from(["architectures", "platforms"])),
    supported=SUPPORTED,
    queue=QUEUE,
    seed=st.integers(0, 255),
)
def test_any_structure_plans_or_raises_workbench_error(
    data: dict[str, Any], supported: Any, queue: Any, seed: int
) -> None:
    exercise(Document(data=data, file="plain.yaml"), supported, queue, seed)
    exercise(load_text(dump(data), "dumped.yaml"), supported, queue, seed)


@settings(max_examples=200, deadline=None)
@given(text=st.text(alphabet=st.sampled_from(list("abcdeilnoru-:[]{},\n #&*!'\"0123456789 "))))
def test_any_text_plans_or_raises_workbench_error(text: str) -> None:
    try:
        document = load_text("name: x\narchitectures:\n" + text, "fuzz.yaml")
    except WorkbenchError:
        return
    exercise(document, None, {}, 0)
