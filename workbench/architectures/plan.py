"""The CI's view: which builds one commit produces, and on which architecture each runs.

No stanza: one build per supported architecture (Launchpad: only those the base's series has,
D14). Otherwise one build per entry, on one of its build-on archs that the CI supports. The
proposal leaves the choice to the CI ("which one has a smaller build queue?"): :func:`choose` picks
the least loaded candidate, ties broken by the supported list's priority order. Launchpad takes the
first supported candidate (rule D8). An entry no supported arch can build is reported in
``dropped``, never lost silently.

The supported list defaults by base, from craft-platforms
(``craft_platforms.snap.get_default_architectures``): core16/18 with i386, core20 without,
core22+ with riscv64. A project without ``base`` is a core (16.04) snap.

:func:`plan_project` is the one choice between the two planners: a core22+ project under the
proposal dialect is planned whole by craft-platforms (:func:`~.modern.plan_modern`), anything else
from its stanza here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from craft_platforms import snap

from workbench.architectures.claim import check_arch
from workbench.architectures.dialects import Dialect, get_dialect
from workbench.architectures.model import (
    ALL,
    Build,
    BuildSet,
    Dropped,
    ModernPlan,
    Stanza,
    StanzaEntry,
)
from workbench.architectures.parse import parse
from workbench.architectures.platforms import plan_modern
from workbench.errors import UsageError
from workbench.project import is_modern, project_base
from workbench.yamlpos import Document


def supported_for_base(base: str | None) -> tuple[str, ...]:
    """The architectures a CI builds for ``base`` by default, in priority order."""
    return tuple(str(arch) for arch in snap.get_default_architectures(base or "core"))


def check_supported(supported: Sequence[str]) -> tuple[str, ...]:
    """A validated supported list: known names, no duplicates, at least one."""
    if not supported:
        raise UsageError("the supported architecture list is empty", hint="name at least one")
    for arch in supported:
        check_arch(arch, what="supported architecture")
    if len(set(supported)) != len(supported):
        raise UsageError("an architecture is listed twice as supported", hint="list each once")
    return tuple(supported)


def check_queue(queue: Mapping[str, int]) -> dict[str, int]:
    """A validated queue map: known names, non-negative integer lengths."""
    for arch, length in queue.items():
        check_arch(arch, what="queue architecture")
        if isinstance(length, bool) or not isinstance(length, int) or length < 0:
            raise UsageError(
                f"queue length of {arch} must be a whole number >= 0, not {length!r}",
                hint="e.g. amd64=3",
            )
    return dict(queue)


def choose(candidates: Sequence[str], queue: Mapping[str, int]) -> str:
    """The least loaded of ``candidates`` (priority order); ties go to the earliest."""
    return min(candidates, key=lambda arch: (queue.get(arch, 0), candidates.index(arch)))


def plan(
    stanza: Stanza,
    *,
    supported: Sequence[str] | None = None,
    queue: Mapping[str, int] | None = None,
) -> BuildSet:
    """The build set of ``stanza`` on a CI supporting ``supported`` with these queue lengths."""
    dialect = stanza.dialect
    dialect.require_view("plan")
    archs = supported_for_base(stanza.base)
    if supported is not None:
        given = check_supported(supported)
        archs = tuple(a for a in given if a in archs) if dialect.supported_within_series else given
    loads = check_queue(queue or {})
    if not stanza.declared:
        builds = tuple(
            Build(None, a, (a,), True, (a,), "no architectures key: one build per supported arch")
            for a in archs
        )
        return BuildSet(builds, (), archs, dialect)
    built: list[Build] = []
    dropped: list[Dropped] = []
    for entry in stanza.entries:
        wanted = _wanted(entry, archs, follow_run_on=dialect.build_on_all_follows_run_on)
        candidates = tuple(a for a in archs if a in wanted)
        if not candidates:
            silently = "" if dialect.required_dropped_fails_set else "; Launchpad drops it silently"
            reason = f"none of its build-on ({', '.join(entry.build_on) or 'nothing'}) is supported"
            dropped.append(Dropped(entry.index, entry.build_on, entry.required, reason + silently))
            continue
        if dialect.least_loaded:
            pick = choose(candidates, loads)
            why = _queue_reason(candidates, loads)
        else:
            pick = candidates[0]
            why = "first supported candidate in priority order (Launchpad ignores queues)"
        built.append(Build(entry.index, pick, entry.run_on, entry.required, candidates, why))
    return BuildSet(tuple(built), tuple(dropped), archs, dialect)


def plan_project(
    document: Document,
    *,
    dialect: str | Dialect = "proposal",
    supported: Sequence[str] | None = None,
    queue: Mapping[str, int] | None = None,
) -> BuildSet | ModernPlan:
    """The CI's builds of the project ``document``: a :class:`ModernPlan` from craft-platforms
    for a core22+ project under the proposal, else the :class:`BuildSet` of its stanza read under
    ``dialect`` (:func:`plan`)."""
    if get_dialect(dialect).name == "proposal" and is_modern(project_base(document)):
        if supported or queue:
            raise UsageError(
                "--supported and --queue apply to core20-and-older stanzas",
                hint="core22+ plans come whole from craft-platforms",
            )
        return plan_modern(document)
    return plan(parse(document, dialect=dialect), supported=supported, queue=queue)


def _wanted(
    entry: StanzaEntry, supported: Sequence[str], *, follow_run_on: bool
) -> tuple[str, ...]:
    """The archs an entry may build on; ``build-on: all`` per rule D9."""
    if ALL not in entry.build_on:
        return entry.build_on
    if follow_run_on and ALL not in entry.run_on:
        return entry.run_on
    return tuple(supported[:1]) if follow_run_on else tuple(supported)


def _queue_reason(candidates: Sequence[str], queue: Mapping[str, int]) -> str:
    if len(candidates) == 1:
        return "its only supported build-on arch"
    loads = ", ".join(f"{a} ({queue.get(a, 0)})" for a in candidates)
    return f"least loaded of {loads}; ties go to the earlier in priority order"
