"""The GitHub Actions export, checked against the shape GitHub documents for a matrix job."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from workbench.architectures import check_github_job, github_job, load, load_project, plan
from workbench.architectures.platforms import plan_modern

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "architectures"


def job(name: str, **kwargs: Any) -> dict[str, Any]:
    return github_job(plan(load(EXAMPLES / f"example-{name}.yaml", **kwargs)))


@pytest.mark.parametrize("name", ["1", "2", "3", "4", "5", "6"])
def test_every_example_exports_a_valid_job(name: str) -> None:
    exported = job(name)
    assert check_github_job(exported) == []
    assert exported["runs-on"] == "${{ matrix.runner }}"


def test_required_and_optional_builds() -> None:
    exported = job("4")
    strategy = exported["strategy"]
    assert strategy["fail-fast"] is True
    assert exported["continue-on-error"] == "${{ matrix.optional }}"
    include = strategy["matrix"]["include"]
    assert [(i["build-on"], i["run-on"], i["optional"]) for i in include] == [
        ("amd64", "amd64", False),
        ("i386", "i386", False),
        ("armhf", "armhf", True),
    ]
    assert include[0]["runner"] == "ubuntu-24.04"
    assert include[2]["runner"] == ["self-hosted", "linux", "armhf"]


def test_launchpad_has_no_fail_fast() -> None:
    assert job("4", dialect="launchpad")["strategy"]["fail-fast"] is False


def test_multi_arch_run_on_is_one_string() -> None:
    (item,) = job("1")["strategy"]["matrix"]["include"]
    assert item["run-on"] == "amd64,i386"


def test_modern_plan_has_one_job_per_platform_target() -> None:
    exported = github_job(plan_modern(load_project(EXAMPLES / "core24-platforms.yaml")))
    assert check_github_job(exported) == []
    include = exported["strategy"]["matrix"]["include"]
    assert [(i["platform"], i["build-on"], i["build-for"]) for i in include] == [
        ("amd64", "amd64", "amd64"),
        ("raspi", "amd64", "arm64"),
    ]


def _broken(change: str) -> dict[str, Any]:
    exported = copy.deepcopy(job("4"))
    include = exported["strategy"]["matrix"]["include"]
    if change == "fail-fast":
        exported["strategy"]["fail-fast"] = "yes"
    elif change == "include-empty":
        exported["strategy"]["matrix"]["include"] = []
    elif change == "include-item":
        include[1] = "amd64"
    elif change == "missing-key":
        del include[1]["optional"]
    elif change == "continue-on-error":
        exported["continue-on-error"] = "sometimes"
    elif change == "strategy-key":
        exported["strategy"]["fail_fast"] = True
    elif change == "value":
        include[0]["build-on"] = None
    elif change == "too-many":
        exported["strategy"]["matrix"]["include"] = include * 100
    return exported


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ("fail-fast", "strategy.fail-fast must be a boolean or an expression"),
        ("include-empty", "strategy.matrix.include must be a non-empty list"),
        ("include-item", "strategy.matrix.include[1] must be a non-empty object"),
        (
            "missing-key",
            "continue-on-error uses matrix.optional, missing from some include objects",
        ),
        ("continue-on-error", "continue-on-error must be a boolean or an expression"),
        ("strategy-key", "unknown strategy key 'fail_fast'"),
        ("value", "strategy.matrix.include[0].build-on is not a matrix value"),
        ("too-many", "the matrix generates 300 jobs, more than 256"),
    ],
)
def test_schema_check_catches(change: str, message: str) -> None:
    assert message in check_github_job(_broken(change))


def test_schema_check_rejects_non_objects() -> None:
    assert check_github_job([]) == ["the job must be an object"]
    assert check_github_job({"strategy": {"matrix": []}}) == ["strategy.matrix must be an object"]
