"""``arch plan --format github-workflow``: a whole GitHub Actions workflow for the build set,
checked with published tools (actionlint and GitHub's workflow schema vendored by
check-jsonschema), not with a checker of our own."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from workbench.architectures import load, load_project, plan, plan_modern
from workbench.architectures.workflow import github_workflow
from workbench.cli import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples" / "architectures"
BIN = Path(sys.executable).parent
FILES = sorted(p.name for p in EXAMPLES.glob("*.yaml"))
SELF_HOSTED = ("armhf", "i386", "ppc64el", "riscv64", "s390x")


def published_checks(*workflows: Path) -> list[str]:
    """The complaints of actionlint and of the vendored GitHub workflow schema (empty: valid).

    actionlint is told the self-hosted runner labels the workflows use, as a repository with
    such runners declares them in its ``actionlint.yaml``.
    """
    config = workflows[0].parent / "actionlint.yaml"
    config.write_text(yaml.safe_dump({"self-hosted-runner": {"labels": sorted(SELF_HOSTED)}}))
    lint = [str(BIN / "actionlint"), "-no-color", "-shellcheck=", "-pyflakes="]
    schema = [str(BIN / "check-jsonschema"), "--builtin-schema", "vendor.github-workflows"]
    problems = []
    for argv in ([*lint, "-config-file", str(config)], schema):
        done = subprocess.run(
            [*argv, *map(str, workflows)], capture_output=True, text=True, timeout=300, check=False
        )
        if done.returncode != 0:
            problems.append(done.stdout + done.stderr)
    return problems


def write_workflow(directory: Path, text: str, name: str = "snap") -> Path:
    path = directory / ".github" / "workflows" / f"{name}.yaml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def cli_workflow(name: str, capsys: pytest.CaptureFixture[str], *extra: str) -> str | None:
    """The workflow ``arch plan --format github-workflow`` prints, or None for a stanza that
    ``arch plan`` refuses too (example 7 is invalid on purpose)."""
    code = main(["arch", "plan", str(EXAMPLES / name), "--format", "github-workflow", *extra])
    out = capsys.readouterr().out
    if code == 2:
        assert main(["arch", "plan", str(EXAMPLES / name)]) == 2
        return None
    assert code == 0
    return out


def test_every_example_gives_a_workflow_the_published_tools_accept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    written = []
    for name in FILES:
        text = cli_workflow(name, capsys)
        if text is None:
            continue
        written.append(write_workflow(tmp_path, text, Path(name).stem))
        for job in yaml.safe_load(text)["jobs"].values():
            runs = [step["run"] for step in job["steps"] if "run" in step]
            assert any(run.startswith("workbench build . --build-on ") for run in runs)
            (upload,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/upload")]
            assert upload["with"]["path"] == "*.snap"
    assert len(written) >= 10
    assert published_checks(*written) == []


def test_one_job_per_entry_with_its_runner_and_failure_policy() -> None:
    built = plan(load(EXAMPLES / "example-4.yaml"))
    workflow = github_workflow(built, name="ex4")
    jobs = list(workflow["jobs"].values())
    assert [(j["name"], j["runs-on"], j.get("continue-on-error", False)) for j in jobs] == [
        ("build on amd64 for amd64", "ubuntu-24.04", False),
        ("build on i386 for i386", ["self-hosted", "linux", "i386"], False),
        (
            "build on armhf for armhf",
            ["self-hosted", "linux", "armhf"],
            True,
        ),  # build-error: ignore
    ]
    assert [b.required for b in built.builds] == [True, True, False]
    runs = [
        next(s["run"] for s in j["steps"] if "workbench build" in s.get("run", "")) for j in jobs
    ]
    assert runs == [f"workbench build . --build-on {arch}" for arch in ("amd64", "i386", "armhf")]
    assert "qemu-system-arm" in jobs[2]["steps"][2]["run"]


def test_modern_platforms_build_for_their_target_on_their_build_on_runner() -> None:
    document = load_project(EXAMPLES / "core24-platforms.yaml")
    workflow: dict[str, Any] = github_workflow(plan_modern(document), name="p")
    commands = sorted(
        next(s["run"] for s in job["steps"] if "workbench build" in s.get("run", ""))
        for job in workflow["jobs"].values()
    )
    assert commands == [
        "workbench build . --build-on amd64 --build-for amd64",
        "workbench build . --build-on amd64 --build-for arm64",
    ]
    assert {job["runs-on"] for job in workflow["jobs"].values()} == {"ubuntu-24.04"}


def test_the_install_requirement_is_a_default_the_repository_can_override(
    capsys: pytest.CaptureFixture[str],
) -> None:
    text = cli_workflow("example-1.yaml", capsys, "--install", "git+https://example.org/wb.git")
    assert text is not None
    env = yaml.safe_load(text)["env"]["WORKBENCH_INSTALL"]
    assert env == "${{ vars.WORKBENCH_INSTALL || 'git+https://example.org/wb.git' }}"


@pytest.mark.parametrize(
    ("break_it", "complaint"),
    [
        (lambda wf: wf["jobs"]["build-1-amd64-all"].pop("runs-on"), "runs-on"),
        (lambda wf: wf["jobs"]["build-1-amd64-all"].update({"steps": [{"run": 1, "uses": 2}]}), ""),
    ],
)
def test_the_published_checks_do_reject_a_broken_workflow(
    break_it: Any, complaint: str, tmp_path: Path
) -> None:
    workflow = github_workflow(plan(load(EXAMPLES / "example-5.yaml")), name="ex5")
    break_it(workflow)
    text = yaml.safe_dump(workflow, sort_keys=False)
    problems = published_checks(write_workflow(tmp_path, text))
    assert problems
    assert complaint in "".join(problems)
