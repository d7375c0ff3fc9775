"""The result objects of the ``architectures`` planner: frozen, comparable, JSON-ready.

Every view of a stanza is a value: :class:`Stanza` (what was written, normalised),
:class:`Claim` (what a builder on one host puts in ``snap.yaml``), :class:`BuildSet` (what a CI
builds), :class:`Outcome` (whether that set is released) and :class:`ModernPlan` (core22+, from
craft-platforms). ``to_json()`` gives exactly the shapes the CLI pins; the extra fields (entry
indexes, candidates, reasons, per-build verdicts) are there for notebooks that draw a
host-arch x entry grid or toggle build results.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from craft_platforms import DebianArchitecture

from workbench.errors import ArchitectureError, Location, format_error
from workbench.yamlpos import key_path

if TYPE_CHECKING:
    from workbench.architectures.dialects import Dialect
    from workbench.yamlpos import Document

KNOWN_ARCHS: tuple[str, ...] = tuple(arch.value for arch in DebianArchitecture)
"""Every Debian architecture a snap can name, in craft-platforms' order."""

ALL = "all"
"""The pseudo-architecture: run on (or build on) any architecture."""

Result = Literal["success", "failure"]
SetVerdict = Literal["released", "failed"]


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a stanza: what, what to do, and where."""

    brief: str
    hint: str | None
    location: Location


class ArchitectureProblems(ArchitectureError):
    """Every problem found in a stanza; formats as the first, the others go to ``details``."""

    def __init__(self, problems: Sequence[Problem]) -> None:
        first = problems[0]
        self.problems = tuple(problems)
        extra = [
            format_error(ArchitectureError(p.brief, hint=p.hint, location=p.location))
            for p in problems[1:]
        ]
        super().__init__(
            first.brief,
            hint=first.hint,
            location=first.location,
            details="\n".join(extra) or None,
        )


@dataclass(frozen=True)
class StanzaEntry:
    """One entry of ``architectures``: where it may build, what the snap claims, required or not."""

    index: int
    build_on: tuple[str, ...]
    run_on: tuple[str, ...]
    required: bool = True
    run_on_given: bool = True


@dataclass(frozen=True)
class Stanza:
    """A parsed core20-and-older ``architectures`` stanza, read under one dialect."""

    entries: tuple[StanzaEntry, ...]
    declared: bool
    shorthand: bool
    base: str | None
    dialect: Dialect
    document: Document | None = field(default=None, compare=False, repr=False)

    def locate(self, index: int | None = None, key: str | None = None) -> Location:
        """Position of ``architectures[index].key`` (as deep as it exists; shorthand: the list)."""
        path: list[str | int] = ["architectures"]
        if index is not None and not self.shorthand:
            path.append(index)
            if key is not None:
                path.append(key)
        if self.document is None:
            return Location(path=key_path(path))
        return self.document.locate(path)


@dataclass(frozen=True)
class Claim:
    """The builder's view: on ``host``, the snap claims ``architectures`` (from ``entry``)."""

    host: str
    architectures: tuple[str, ...]
    entry: int | None
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {"architectures": list(self.architectures), "entry": self.entry}


@dataclass(frozen=True)
class Build:
    """One build of a build set: on ``build_on``, producing a snap that claims ``run_on``."""

    entry: int | None
    build_on: str
    run_on: tuple[str, ...]
    required: bool
    candidates: tuple[str, ...]
    reason: str

    @property
    def build_for(self) -> str | None:
        """The one architecture the snap is built for; None when it claims several."""
        return self.run_on[0] if len(self.run_on) == 1 else None

    def to_json(self) -> dict[str, Any]:
        return {
            "build_on": self.build_on,
            "build_for": self.build_for,
            "run_on": list(self.run_on),
            "required": self.required,
        }


@dataclass(frozen=True)
class Dropped:
    """An entry that no supported architecture can build."""

    entry: int
    build_on: tuple[str, ...]
    required: bool
    reason: str

    def to_json(self) -> dict[str, Any]:
        return {
            "entry": self.entry,
            "build_on": list(self.build_on),
            "required": self.required,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class BuildSet:
    """The CI's view: the builds of one commit, and the entries that cannot be built."""

    builds: tuple[Build, ...]
    dropped: tuple[Dropped, ...]
    supported: tuple[str, ...]
    dialect: Dialect

    def to_json(self) -> dict[str, Any]:
        return {
            "builds": [b.to_json() for b in self.builds],
            "dropped": [d.to_json() for d in self.dropped],
            "supported": list(self.supported),
        }


@dataclass(frozen=True)
class Verdict:
    """What happened to one build: its result and whether its snap is released."""

    build_on: str
    required: bool
    result: Result
    released: bool


@dataclass(frozen=True)
class Outcome:
    """Whether a build set is released, which snaps are, which builds failed, and why."""

    released: tuple[str, ...]
    failed: tuple[str, ...]
    set: SetVerdict
    reason: str
    verdicts: tuple[Verdict, ...] = ()

    def to_json(self) -> dict[str, Any]:
        return {
            "released": list(self.released),
            "failed": list(self.failed),
            "set": self.set,
            "reason": self.reason,
        }


@dataclass(frozen=True)
class PlatformBuild:
    """One core22+ build from craft-platforms: ``platform`` on ``build_on`` for ``build_for``."""

    platform: str
    build_on: str
    build_for: str

    def to_json(self) -> dict[str, Any]:
        return {
            "platform": self.platform,
            "build_on": self.build_on,
            "build_for": self.build_for,
            "run_on": [self.build_for],
        }


@dataclass(frozen=True)
class ModernPlan:
    """The craft-platforms build plan of a core22+ project (every build-on/build-for pair)."""

    base: str
    builds: tuple[PlatformBuild, ...]

    def to_json(self) -> dict[str, Any]:
        return {"builds": [b.to_json() for b in self.builds]}
