"""Dialects: the proposal, and what snapcraft 4.x and Launchpad actually did with it.

A :class:`Dialect` is data: one field per rule below. The parser, the planner and the outcome judge
read these fields and nothing else, so each difference is one switch with one test
(``tests/test_arch_dialects.py``, one test per rule id).

==== ====================== ===================== ============= ============================
id   topic                  proposal (default)    snapcraft 4.x Launchpad build farm
==== ====================== ===================== ============= ============================
D1   build-error key        'ignore' only         schema error  any value; only 'ignore'
                                                                makes a build optional
D2   unknown entry keys     error                 error         ignored
D3   architecture names     checked               checked       unchecked; unknown ones are
                                                                unsupported, so dropped
D4   empty list (stanza,    error                 error         treated as absent
     build-on, run-on)
D5   'all' in a run-on with error (example 7)     error         accepted
     several entries
D6   an arch in two run-ons error                 error         accepted
D7   an arch in two         error                 error         error, except on core22
     build-ons                                                      and core24
D8   choice among build-on  least loaded queue,   n/a (builder) first supported arch in
     archs                  ties by priority                    priority order
D9   build-on: all          any supported arch    every host    the run-on archs if
                            (queue choice)        matches       concrete, else the first
                                                                supported arch
D10  entry that no          reported; a required  reported      dropped silently
     supported arch builds  one fails the set
D11  build-set failure      a required failure    n/a           none: each build is
                            fails the set                       released on its own
D12  build-for key          unknown key           unknown key   alias of run-on
D13  an arch twice in one   error                 error         accepted (deduplicated)
     list
D14  supported list         as given              n/a           only the archs the base's
                                                                series has (DistroArchSeries)
==== ====================== ===================== ============= ============================

Launchpad reads core22 ``architectures`` (D12) and core24 ``platforms`` itself (each platform one
entry: ``build-on`` defaults to the platform name, ``build-for`` to ``build-on``; an empty
platform must be named after an architecture), so its plans cover those bases too.

Sources (read for behaviour, not copied): snapcraft 4.x
``snapcraft/internal/project_loader/_config.py`` (``_validate_architectures``,
``_process_architectures``); the snapcraft 4.x schema rejecting ``build-error`` and ``build-for``
("additional properties are not allowed", quoted in starship/starship#2535 and
canonical/snapcraft#4144); Launchpad ``lib/lp/snappy/adapters/buildarch.py``
(``determine_architectures_to_build``, ``SnapBuildInstance``, ``check_for_duplicate_build_on``,
``SnapBaseFeature.ALLOW_DUPLICATE_BUILD_ON``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Literal

from workbench.errors import UsageError

DialectName = Literal["proposal", "snapcraft", "launchpad"]
View = Literal["snap", "plan"]


@dataclass(frozen=True)
class Rule:
    """One documented difference between the dialects (a row of the table above)."""

    id: str
    topic: str
    proposal: str
    snapcraft: str
    launchpad: str


RULES: tuple[Rule, ...] = (
    Rule(
        "D1", "build-error key", "'ignore' only", "schema error", "any value; 'ignore' = optional"
    ),
    Rule("D2", "unknown entry keys", "error", "error", "ignored"),
    Rule("D3", "architecture names", "checked", "checked", "unchecked; unknown = unsupported"),
    Rule("D4", "empty list", "error", "error", "treated as absent"),
    Rule("D5", "'all' in a run-on with several entries", "error", "error", "accepted"),
    Rule("D6", "an arch in two run-ons", "error", "error", "accepted"),
    Rule("D7", "an arch in two build-ons", "error", "error", "error except on core22 and core24"),
    Rule("D8", "choice among build-on archs", "least loaded queue", "n/a", "first supported"),
    Rule("D9", "build-on: all", "any supported arch", "every host", "run-on archs, else first"),
    Rule("D10", "entry no supported arch can build", "reported, fails set", "n/a", "dropped"),
    Rule("D11", "build-set failure logic", "required failure fails set", "n/a", "none"),
    Rule("D12", "build-for key", "unknown key", "unknown key", "alias of run-on"),
    Rule("D13", "an arch twice in one list", "error", "error", "deduplicated"),
    Rule("D14", "supported list", "as given", "n/a", "only the series' archs"),
)


@dataclass(frozen=True)
class Dialect:
    """The switches that make one dialect; field comments name the rule they implement."""

    name: DialectName
    views: frozenset[View]
    entry_keys: frozenset[str]  # D1, D2, D12
    unknown_keys_are_errors: bool  # D2
    build_error_must_be_ignore: bool  # D1
    check_arch_names: bool  # D3
    empty_is_absent: bool  # D4
    cross_entry_checks: bool  # D5, D6 (and D7 with all-expansion)
    duplicate_build_on_allowed_bases: frozenset[str]  # D7
    least_loaded: bool  # D8
    build_on_all_follows_run_on: bool  # D9
    required_dropped_fails_set: bool  # D10
    set_logic: bool  # D11
    build_for_is_run_on: bool  # D12
    dedupe_lists: bool  # D13
    supported_within_series: bool  # D14

    def require_view(self, view: View) -> None:
        """Refuse a view this dialect has no answer for (e.g. a Launchpad builder)."""
        if view not in self.views:
            offered = ", ".join(d.name for d in DIALECTS.values() if view in d.views)
            raise UsageError(
                f"the {self.name} dialect has no {view!r} view",
                hint=f"use one of: {offered}",
            )


_LEGACY_KEYS = frozenset({"build-on", "run-on"})

PROPOSAL = Dialect(
    name="proposal",
    views=frozenset({"snap", "plan"}),
    entry_keys=_LEGACY_KEYS | {"build-error"},
    unknown_keys_are_errors=True,
    build_error_must_be_ignore=True,
    check_arch_names=True,
    empty_is_absent=False,
    cross_entry_checks=True,
    duplicate_build_on_allowed_bases=frozenset(),
    least_loaded=True,
    build_on_all_follows_run_on=False,
    required_dropped_fails_set=True,
    set_logic=True,
    build_for_is_run_on=False,
    dedupe_lists=False,
    supported_within_series=False,
)

SNAPCRAFT = replace(
    PROPOSAL,
    name="snapcraft",
    views=frozenset({"snap"}),
    entry_keys=_LEGACY_KEYS,  # D1: build-error is a schema error
)

LAUNCHPAD = replace(
    PROPOSAL,
    name="launchpad",
    views=frozenset({"plan"}),
    entry_keys=_LEGACY_KEYS | {"build-error", "build-for"},
    unknown_keys_are_errors=False,
    build_error_must_be_ignore=False,
    check_arch_names=False,
    empty_is_absent=True,
    cross_entry_checks=False,
    duplicate_build_on_allowed_bases=frozenset({"core22", "core24"}),
    least_loaded=False,
    build_on_all_follows_run_on=True,
    required_dropped_fails_set=False,
    set_logic=False,
    build_for_is_run_on=True,
    dedupe_lists=True,
    supported_within_series=True,
)

DIALECTS: dict[str, Dialect] = {d.name: d for d in (PROPOSAL, SNAPCRAFT, LAUNCHPAD)}


def get_dialect(name: str | Dialect) -> Dialect:
    """The dialect called ``name`` (a :class:`Dialect` is returned as is)."""
    if isinstance(name, Dialect):
        return name
    try:
        return DIALECTS[name]
    except KeyError:
        raise UsageError(
            f"unknown dialect {name!r}", hint=f"use one of: {', '.join(DIALECTS)}"
        ) from None
