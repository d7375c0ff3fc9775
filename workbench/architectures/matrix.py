"""Export a build set as a GitHub Actions job fragment, and check it against GitHub's shape.

:func:`github_job` returns the keys of one job: ``strategy.matrix.include`` (one object per
build), ``strategy.fail-fast`` and a per-job ``continue-on-error`` read from the matrix, which is
GitHub's documented pattern for letting some matrix jobs fail ("Handling failures" in the
workflow-syntax docs: failures of jobs with ``continue-on-error: true`` do not trigger
fail-fast). With the proposal's set logic a required failure dooms the set, so ``fail-fast`` is on
and optional (``build-error: ignore``) builds continue on error. Launchpad has no set logic:
``fail-fast`` is off. ``runs-on`` comes from :data:`RUNNERS`.

:func:`check_github_job` is a small schema check of that documented shape.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from workbench.architectures.model import BuildSet, ModernPlan

RUNNERS: dict[str, str | list[str]] = {
    "amd64": "ubuntu-24.04",
    "arm64": "ubuntu-24.04-arm",
}
"""GitHub-hosted runner labels per arch; the others need self-hosted runners labelled by arch."""

MAX_JOBS = 256
"""GitHub's limit on the jobs one matrix may generate per workflow run."""

_EXPRESSION = re.compile(r"^\$\{\{\s*(?P<body>.+?)\s*\}\}$")
_MATRIX_REF = re.compile(r"\bmatrix\.([A-Za-z0-9_-]+)")


def runner(arch: str) -> str | list[str]:
    """The ``runs-on`` value for a build on ``arch``."""
    return RUNNERS.get(arch, ["self-hosted", "linux", arch])


def github_job(plan: BuildSet | ModernPlan) -> dict[str, Any]:
    """``strategy`` (fail-fast + matrix.include), ``runs-on`` and ``continue-on-error``."""
    if isinstance(plan, ModernPlan):
        include = _modern_include(plan)
        fail_fast = True
    else:
        include = [
            {
                "build-on": b.build_on,
                "run-on": ",".join(b.run_on),
                "optional": not b.required,
                "runner": runner(b.build_on),
            }
            for b in plan.builds
        ]
        fail_fast = plan.dialect.set_logic
    return {
        "runs-on": "${{ matrix.runner }}",
        "continue-on-error": "${{ matrix.optional }}",
        "strategy": {"fail-fast": fail_fast, "matrix": {"include": include}},
    }


def _modern_include(plan: ModernPlan) -> list[dict[str, Any]]:
    """One job per (platform, build-for): the first build-on craft-platforms lists builds it."""
    seen: set[tuple[str, str]] = set()
    include = []
    for b in plan.builds:
        if (b.platform, b.build_for) in seen:
            continue
        seen.add((b.platform, b.build_for))
        include.append(
            {
                "platform": b.platform,
                "build-on": b.build_on,
                "build-for": b.build_for,
                "optional": False,
                "runner": runner(b.build_on),
            }
        )
    return include


def check_github_job(job: Any) -> list[str]:
    """Problems with ``job`` as a GitHub job's strategy/matrix keys; empty when it conforms."""
    if not isinstance(job, Mapping):
        return ["the job must be an object"]
    problems: list[str] = []
    strategy = job.get("strategy")
    if not isinstance(strategy, Mapping):
        return ["strategy must be an object"]
    problems += [f"unknown strategy key {k!r}" for k in strategy if k not in _STRATEGY_KEYS]
    if not _bool_or_expression(strategy.get("fail-fast", True)):
        problems.append("strategy.fail-fast must be a boolean or an expression")
    matrix = strategy.get("matrix")
    if not isinstance(matrix, Mapping):
        return [*problems, "strategy.matrix must be an object"]
    include = matrix.get("include")
    if not isinstance(include, list) or not include:
        return [*problems, "strategy.matrix.include must be a non-empty list"]
    if len(include) > MAX_JOBS:
        problems.append(f"the matrix generates {len(include)} jobs, more than {MAX_JOBS}")
    for i, item in enumerate(include):
        if not isinstance(item, Mapping) or not item:
            problems.append(f"strategy.matrix.include[{i}] must be a non-empty object")
            continue
        for key, value in item.items():
            if not isinstance(key, str) or not _matrix_value(value):
                problems.append(f"strategy.matrix.include[{i}].{key} is not a matrix value")
    objects = [item for item in include if isinstance(item, Mapping)]
    for key in ("continue-on-error", "runs-on"):
        value = job.get(key)
        if key == "continue-on-error" and not _bool_or_expression(value, default_ok=True):
            problems.append("continue-on-error must be a boolean or an expression")
        for ref in _MATRIX_REF.findall(value) if isinstance(value, str) else ():
            if any(ref not in item for item in objects):
                problems.append(f"{key} uses matrix.{ref}, missing from some include objects")
    return problems


_STRATEGY_KEYS = frozenset({"matrix", "fail-fast", "max-parallel"})


def _bool_or_expression(value: Any, *, default_ok: bool = False) -> bool:
    if value is None:
        return default_ok
    return isinstance(value, bool) or (isinstance(value, str) and bool(_EXPRESSION.match(value)))


def _matrix_value(value: Any) -> bool:
    if isinstance(value, str | bool | int | float):
        return True
    if isinstance(value, list):
        return all(_matrix_value(v) for v in value)
    if isinstance(value, Mapping):
        return all(isinstance(k, str) and _matrix_value(v) for k, v in value.items())
    return False
