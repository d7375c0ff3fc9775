"""The ``architectures`` keyword: parse it, plan its build set, judge outcomes, convert it.

A thin set of pure functions over frozen values (see :mod:`.model`)::

    stanza = load("examples/architectures/example-5.yaml")           # Stanza
    claim(stanza, "i386")                                             # builder's view
    build_set = plan(stanza, queue={"amd64": 3, "i386": 0})           # CI's view
    judge(build_set, {"i386": "success"})                             # Outcome
    convert(stanza, "core24").to_yaml()                               # core24 platforms
    plan_modern(load_project("snap/"))                                # core22+ via craft-platforms
    plan_project(load_project("snap/"))                               # either, as the CI would

Dialects (``proposal``, ``snapcraft``, ``launchpad``) and their documented rules live in
:mod:`.dialects`.
"""

from __future__ import annotations

from workbench.architectures.claim import claim, claims
from workbench.architectures.convert import Conversion, RoundTrip, convert, round_trip
from workbench.architectures.dialects import DIALECTS, RULES, Dialect, Rule, get_dialect
from workbench.architectures.matrix import check_github_job, github_job
from workbench.architectures.model import (
    ALL,
    KNOWN_ARCHS,
    ArchitectureProblems,
    Build,
    BuildSet,
    Claim,
    Dropped,
    ModernPlan,
    Outcome,
    PlatformBuild,
    Problem,
    Stanza,
    StanzaEntry,
    Verdict,
)
from workbench.architectures.outcome import judge
from workbench.architectures.parse import load, parse
from workbench.architectures.plan import choose, plan, plan_project, supported_for_base
from workbench.architectures.platforms import plan_modern, plan_platforms
from workbench.project import is_modern, load_project, project_base

__all__ = [
    "ALL",
    "DIALECTS",
    "KNOWN_ARCHS",
    "RULES",
    "ArchitectureProblems",
    "Build",
    "BuildSet",
    "Claim",
    "Conversion",
    "Dialect",
    "Dropped",
    "ModernPlan",
    "Outcome",
    "PlatformBuild",
    "Problem",
    "RoundTrip",
    "Rule",
    "Stanza",
    "StanzaEntry",
    "Verdict",
    "check_github_job",
    "choose",
    "claim",
    "claims",
    "convert",
    "get_dialect",
    "github_job",
    "is_modern",
    "judge",
    "load",
    "load_project",
    "parse",
    "plan",
    "plan_modern",
    "plan_platforms",
    "plan_project",
    "project_base",
    "round_trip",
    "supported_for_base",
]
