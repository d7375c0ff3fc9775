"""Judge a build set: given each build's result, is the set released, and why?

Proposal (rule D11): a failed required build fails the whole set (nothing is released); a failed
optional build (``build-error: ignore``) drops only its own snap. A required entry that no
supported arch can build (rule D10) fails the set before anything runs. Launchpad has no build-set
logic: every successful build is released on its own.

Results are keyed by the build's ``build_on`` arch (unique per set in the proposal).
"""

from __future__ import annotations

from collections.abc import Mapping

from workbench.architectures.model import Build, BuildSet, Outcome, Result, Verdict
from workbench.errors import UsageError

RESULTS: tuple[Result, ...] = ("success", "failure")


def judge(build_set: BuildSet, results: Mapping[str, Result | bool]) -> Outcome:
    """The :class:`Outcome` of ``build_set`` when each build ended as ``results`` says."""
    by_arch = {b.build_on: b for b in build_set.builds}
    unknown = sorted(set(results) - set(by_arch))
    if unknown:
        raise UsageError(
            f"no build on {', '.join(unknown)} in this set",
            hint=f"the set builds on: {', '.join(by_arch) or 'nothing'}",
        )
    missing = [arch for arch in by_arch if arch not in results]
    if missing:
        raise UsageError(
            f"no result for the build on {', '.join(missing)}",
            hint=f"give {missing[0]}=success or {missing[0]}=failure",
        )
    verdicts = [(b, _result(b.build_on, results[b.build_on])) for b in build_set.builds]
    succeeded = tuple(b.build_on for b, r in verdicts if r == "success")
    failed = tuple(b.build_on for b, r in verdicts if r == "failure")

    if not build_set.dialect.set_logic:
        reason = "Launchpad has no build-set logic: each successful build is released on its own"
        return _outcome(verdicts, succeeded, failed, reason)
    blocked = [d for d in build_set.dropped if d.required]
    if blocked:
        d = blocked[0]
        reason = f"required entry {d.entry} cannot be built: {d.reason}; the whole set fails"
        return _outcome(verdicts, (), failed, reason)
    broken = [b for b, r in verdicts if r == "failure" and b.required]
    if broken:
        archs = ", ".join(b.build_on for b in broken)
        return _outcome(verdicts, (), failed, f"required build on {archs} failed: the set fails")
    if not verdicts:
        return _outcome(verdicts, (), (), "the set has no builds: nothing to release")
    if failed:
        reason = f"optional build on {', '.join(failed)} failed (build-error: ignore): "
        return _outcome(verdicts, succeeded, failed, reason + "the rest is released")
    return _outcome(verdicts, succeeded, (), "every build succeeded")


def _result(arch: str, value: Result | bool) -> Result:
    if isinstance(value, bool):
        return "success" if value else "failure"
    if value not in RESULTS:
        raise UsageError(f"result of {arch} must be success or failure, not {value!r}")
    return value


def _outcome(
    verdicts: list[tuple[Build, Result]],
    released: tuple[str, ...],
    failed: tuple[str, ...],
    reason: str,
) -> Outcome:
    per_build = tuple(
        Verdict(b.build_on, b.required, r, b.build_on in released) for b, r in verdicts
    )
    return Outcome(released, failed, "released" if released else "failed", reason, per_build)
