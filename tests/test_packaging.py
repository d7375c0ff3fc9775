"""environment.yml and pyproject.toml agree; the README names the two commands."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_matches_pyproject() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r): r for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted.update({_name(r): r for r in extra})
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    listed = {_name(r): r for r in pip if not r.startswith("-e")}
    assert listed == wanted
    assert any(str(d).startswith("python=3.11") for d in env["dependencies"])


def test_readme_names_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    assert "./dev lab" in readme
    assert "./dev test" in readme
    assert "./dev test" in (ROOT / ".ci" / "run").read_text()
    dev = (ROOT / "dev").read_text()
    for package in ("qemu-system-x86", "qemu-utils", "mmdebstrap", "chromium", "linux-image-amd64"):
        assert package in dev
