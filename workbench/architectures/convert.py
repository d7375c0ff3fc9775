"""Convert a core18/core20 ``architectures`` stanza to core22 or core24 syntax.

The targets are core22 ``architectures`` and core24 ``platforms``. Each entry becomes one
build-on/build-for pair: build-on is kept, the run-on becomes build-for.
core22+ builds each snap for exactly ONE architecture, so an entry whose run-on names several
(example 1, the example 6 shorthand) has no exact equivalent: :func:`convert` refuses it, with the
entries involved. What converts with a loss of meaning is said in ``notes`` (``build-error:
ignore`` has no core22+ counterpart; ``build-on: all`` becomes an explicit list).

:func:`round_trip` is the proof: it plans both sides (the legacy stanza with this package, the
converted one with craft-platforms) and compares the snaps each side can produce.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from ruamel.yaml.comments import CommentedMap, CommentedSeq

from workbench.architectures.model import (
    ALL,
    KNOWN_ARCHS,
    ArchitectureProblems,
    Problem,
    Stanza,
)
from workbench.architectures.plan import plan, supported_for_base
from workbench.architectures.platforms import Platforms, plan_platforms
from workbench.errors import UsageError
from workbench.yamlpos import dump

Target = Literal["core22", "core24"]
TARGETS: tuple[Target, ...] = ("core22", "core24")


@dataclass(frozen=True)
class Pair:
    """One converted entry: any of ``build_on`` builds the snap for ``build_for``."""

    build_on: tuple[str, ...]
    build_for: str


@dataclass(frozen=True)
class Conversion:
    """The converted stanza for ``target``, and what it could not carry over."""

    target: Target
    pairs: tuple[Pair, ...]
    notes: tuple[str, ...]

    def data(self) -> dict[str, Any]:
        """``{"architectures": [...]}`` (core22) or ``{"platforms": {...}}`` (core24)."""
        if self.target == "core22":
            return {
                "architectures": [
                    {"build-on": list(p.build_on), "build-for": [p.build_for]} for p in self.pairs
                ]
            }
        return {"platforms": self.platforms()}

    def platforms(self) -> Platforms:
        """The pairs as craft-platforms ``platforms``, named after their build-for arch."""
        return {
            p.build_for: None
            if p.build_on == (p.build_for,)
            else {"build-on": list(p.build_on), "build-for": [p.build_for]}
            for p in self.pairs
        }

    def to_yaml(self) -> str:
        """The stanza as YAML (lists in flow style), notes first as comments."""
        text = dump(_flow(self.data()))
        return "".join(f"# note: {n}\n" for n in self.notes) + text


@dataclass(frozen=True)
class SnapSpec:
    """A snap one side of a conversion can produce: built on any of ``build_on`` for ``runs_on``."""

    build_on: tuple[str, ...]
    runs_on: tuple[str, ...]


@dataclass(frozen=True)
class RoundTrip:
    """The snaps of the legacy plan and of the craft-platforms plan of its conversion."""

    legacy: tuple[SnapSpec, ...]
    modern: tuple[SnapSpec, ...]

    @property
    def equal(self) -> bool:
        return self.legacy == self.modern


def convert(stanza: Stanza, target: str) -> Conversion:
    """The ``target`` equivalent of ``stanza``; ArchitectureProblems when none is exact."""
    if target not in TARGETS:
        raise UsageError(f"cannot convert to {target!r}", hint=f"use one of: {', '.join(TARGETS)}")
    if stanza.dialect.name != "proposal":
        raise UsageError("convert reads the stanza as the proposal does", hint="drop --dialect")
    notes: list[str] = []
    problems: list[Problem] = []
    pairs: list[Pair] = []
    if not stanza.declared:
        base = stanza.base or "core"
        notes.append(
            f"no architectures key: {base}'s default set is listed, since {target}'s differs"
        )
        pairs = [Pair((a,), a) for a in supported_for_base(stanza.base)]
    for entry in stanza.entries:
        if len(entry.run_on) > 1:
            problems.append(
                Problem(
                    f"entry {entry.index} runs on {', '.join(entry.run_on)}: no exact {target} "
                    "equivalent, since core22+ builds each snap for exactly one architecture",
                    "split it into one entry per run-on arch, or use run-on: all if the snap "
                    "does not depend on the architecture",
                    stanza.locate(entry.index, "run-on" if entry.run_on_given else "build-on"),
                )
            )
            continue
        build_on = entry.build_on
        if ALL in build_on:
            build_on = KNOWN_ARCHS
            notes.append(f"entry {entry.index}: build-on all is written out as every architecture")
        if not entry.required:
            notes.append(
                f"entry {entry.index}: build-error: ignore has no {target} equivalent; "
                "that build is now required"
            )
        pairs.append(Pair(build_on, entry.run_on[0]))
    if problems:
        raise ArchitectureProblems(problems)
    default = supported_for_base(target)
    odd = sorted({a for p in pairs for a in (*p.build_on, p.build_for)} - {ALL, *default})
    if odd:
        notes.append(f"{', '.join(odd)} is not in {target}'s default set: builders may refuse it")
    return Conversion(target if target == "core22" else "core24", tuple(pairs), tuple(notes))


def round_trip(stanza: Stanza, conversion: Conversion) -> RoundTrip:
    """Plan both sides and list the snaps each can produce (sorted, comparable)."""
    supported = KNOWN_ARCHS if stanza.declared else supported_for_base(stanza.base)
    legacy = plan(stanza, supported=supported)
    legacy_specs = [SnapSpec(b.candidates, b.run_on) for b in legacy.builds]
    modern = plan_platforms(conversion.target, conversion.platforms())
    grouped: dict[str, tuple[list[str], str]] = {}
    for build in modern.builds:
        grouped.setdefault(build.platform, ([], build.build_for))[0].append(build.build_on)
    modern_specs = [
        SnapSpec(tuple(a for a in KNOWN_ARCHS if a in ons), (target,))
        for ons, target in grouped.values()
    ]
    return RoundTrip(tuple(sorted(legacy_specs, key=_key)), tuple(sorted(modern_specs, key=_key)))


def _key(spec: SnapSpec) -> tuple[tuple[str, ...], tuple[str, ...]]:
    return spec.runs_on, spec.build_on


def _flow(data: Any) -> Any:
    """Round-trip containers with lists of names in flow style (``[amd64, arm64]``)."""
    if isinstance(data, dict):
        out = CommentedMap()
        for key, value in data.items():
            out[key] = _flow(value)
        return out
    if isinstance(data, list):
        seq = CommentedSeq(_flow(v) for v in data)
        if all(isinstance(v, str) for v in data):
            seq.fa.set_flow_style()
        return seq
    return data
